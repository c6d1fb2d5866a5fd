//! Where the worker takes executions from, and how a taken task is settled. Without Redis,
//! straight from the Store's queue. With Redis, from the task stream: the Store marks each
//! execution due to run as added to the stream (an outbox, so a task is never lost while
//! Redis is away: it is added when Redis is back), a worker reads an entry, checks its task
//! against the schema (dead-lettering one that fails, with the path and reason), and claims
//! the execution by key in the Store, which stays the authority on who runs what — so the same
//! task twice, or a task a stopped worker left and another took over, runs once.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use domain::time::now_ms;
use domain::transform::task::{ExecuteTransform, read};
use domain::transform::{ClaimedExecution, KeyedClaim, TRANSFORM_WORKER};
use domain::{BusEvent, Store};

use super::stream::{Entry, TaskStream, group_is_gone};
use super::{TransformContext, millis};

/// Executions added to the stream at once.
const PUBLISH_BATCH: u32 = 100;
/// How often due executions are looked for without a wake-up (retries come due this way).
const PUBLISH_EVERY: Duration = Duration::from_secs(1);

/// An execution this worker claimed, and the stream entry that carried it (on Redis).
pub(super) struct Work {
    pub claimed: ClaimedExecution,
    pub entry: Option<String>,
}

/// What one look for work found.
pub(super) struct Taken {
    pub work: Vec<Work>,
    /// There may be more to take now: look again at once.
    pub more: bool,
}

/// Up to `free` executions to run now.
pub(super) async fn take(ctx: &TransformContext, free: usize) -> Taken {
    match &ctx.tasks {
        None => Taken {
            work: take_from_store(ctx, free).await,
            more: false,
        },
        Some(tasks) => take_from_stream(ctx, tasks, free).await,
    }
}

async fn take_from_store(ctx: &TransformContext, free: usize) -> Vec<Work> {
    let mut work = Vec::new();
    while work.len() < free {
        let until = now_ms() + millis(ctx.claim_for);
        match ctx
            .store
            .claim_execution(&ctx.worker_id, now_ms(), until)
            .await
        {
            Ok(Some(claimed)) => work.push(Work {
                claimed,
                entry: None,
            }),
            Ok(None) => break,
            Err(error) => {
                tracing::warn!(error = %error, "cannot look for due transform executions");
                break;
            }
        }
    }
    work
}

async fn take_from_stream(ctx: &TransformContext, tasks: &TaskStream, free: usize) -> Taken {
    let entries = match tasks.take(&ctx.worker_id, free, ctx.claim_for).await {
        Ok(entries) => entries,
        Err(error) => {
            if group_is_gone(&error) {
                recreate_group(ctx, tasks).await;
            } else {
                tracing::warn!(error = %error, "cannot read the transform task stream");
            }
            return Taken {
                work: Vec::new(),
                more: false,
            };
        }
    };
    let more = entries.len() >= free;
    let mut work = Vec::new();
    for entry in entries {
        if let Some(claimed) = resolve(ctx, tasks, &entry).await {
            work.push(Work {
                claimed,
                entry: Some(entry.id),
            });
        }
    }
    Taken { work, more }
}

/// The execution `entry` asks for, now this worker's; `None` when there is nothing to run:
/// the entry was dead-lettered, acknowledged (its task ran already), or left for later.
async fn resolve(
    ctx: &TransformContext,
    tasks: &TaskStream,
    entry: &Entry,
) -> Option<ClaimedExecution> {
    let task = match entry.text.clone().and_then(|text| read(&text)) {
        Ok(task) => task,
        Err(problem) => {
            let text = entry.text.as_deref().unwrap_or_default();
            reject(
                tasks,
                &entry.id,
                text,
                &format!("not a valid task: {problem}"),
            )
            .await;
            return None;
        }
    };
    let until = now_ms() + millis(ctx.claim_for);
    let found = ctx
        .store
        .claim_execution_by_key(&task.task_id, &ctx.worker_id, now_ms(), until)
        .await;
    match found {
        Ok(KeyedClaim::Claimed(claimed)) => return Some(claimed),
        // Its holder acknowledges it; should the holder stop, it is taken over later.
        Ok(KeyedClaim::Held) => {}
        // Done already, or to be added again when due.
        Ok(KeyedClaim::Ended(_) | KeyedClaim::NotDue) => acknowledge(tasks, &entry.id).await,
        Ok(KeyedClaim::Unknown) => {
            let reason = format!(
                "no execution `{}`: tasks run executions of runs started through Slipway",
                task.task_id
            );
            reject(tasks, &entry.id, &task.to_json(), &reason).await;
        }
        Err(error) => {
            tracing::warn!(error = %error, task = %task.task_id, "cannot claim a transform task; it is taken over later");
        }
    }
    None
}

async fn reject(tasks: &TaskStream, id: &str, text: &str, reason: &str) {
    tracing::warn!(entry = id, reason, "transform task dead-lettered");
    crate::metrics::transform_ended("dead_lettered", None);
    if let Err(error) = tasks.dead_letter(id, text, reason).await {
        tracing::warn!(error = %error, entry = id, "cannot dead-letter a transform task; it is read again later");
    }
}

pub(super) async fn acknowledge(tasks: &TaskStream, id: &str) {
    if let Err(error) = tasks.ack(id).await {
        tracing::warn!(error = %error, entry = id, "cannot acknowledge a transform task; it is read again and found done");
    }
}

/// How an attempt ended, for its stream entry.
pub(super) enum Settled {
    /// Its outcome is stored: the task is done with.
    Stored,
    /// It gave up, its outcome stored: the task goes to the dead letters.
    GaveUp(String),
    /// Not ours to settle (another worker took it over), or not stored: the entry stays, to
    /// be taken over once its claim runs out.
    Left,
}

/// Acknowledges or dead-letters `work`'s entry as `settled` says.
pub(super) async fn settle(ctx: &TransformContext, work: &Work, settled: Settled) {
    let (Some(tasks), Some(id)) = (&ctx.tasks, &work.entry) else {
        return;
    };
    match settled {
        Settled::Stored => acknowledge(tasks, id).await,
        Settled::GaveUp(reason) => {
            let execution = &work.claimed.execution;
            let task = ExecuteTransform::new(execution.run_id, &execution.repository);
            if let Err(error) = tasks.dead_letter(id, &task.to_json(), &reason).await {
                tracing::warn!(error = %error, entry = %id, "cannot dead-letter a transform task; it is read again and found done");
            }
        }
        Settled::Left => {}
    }
}

/// A new group means a new (or emptied) stream: every execution waiting is added again.
async fn recreate_group(ctx: &TransformContext, tasks: &TaskStream) {
    match tasks.ensure_group().await {
        Ok(true) => republish(&*ctx.store).await,
        Ok(false) => {}
        Err(error) => tracing::warn!(error = %error, "cannot create the transform task group"),
    }
}

async fn republish(store: &dyn Store) {
    match store.unpublish_executions(None).await {
        Ok(0) => {}
        Ok(count) => tracing::info!(count, "transform tasks to add to a new task stream"),
        Err(error) => tracing::warn!(error = %error, "cannot mark transform tasks to add again"),
    }
}

/// Adds each execution due to run to the stream, once (the outbox's other half), and wakes
/// the workers, until `stop`; woken when an execution is enqueued, and every second for
/// retries coming due.
pub(super) async fn publish(
    ctx: TransformContext,
    tasks: Arc<TaskStream>,
    stop: CancellationToken,
) {
    let mut wakes = super::wake_ups(&ctx).await;
    recreate_group(&ctx, &tasks).await;
    loop {
        let paused = ctx
            .store
            .transform_queue_state()
            .await
            .map(|state| state.paused)
            .unwrap_or(true);
        let mut full = false;
        if !paused {
            full = publish_due(&ctx, &tasks).await;
        }
        if full {
            continue;
        }
        tokio::select! {
            () = stop.cancelled() => return,
            _ = wakes.next() => {}
            () = tokio::time::sleep(PUBLISH_EVERY) => {}
        }
    }
}

/// One batch; whether it was full (more may be due).
async fn publish_due(ctx: &TransformContext, tasks: &TaskStream) -> bool {
    let due = match ctx
        .store
        .publish_due_executions(now_ms(), PUBLISH_BATCH)
        .await
    {
        Ok(due) => due,
        Err(error) => {
            tracing::warn!(error = %error, "cannot look for transform tasks to add");
            return false;
        }
    };
    let full = due.len() == PUBLISH_BATCH as usize;
    for (index, execution) in due.iter().enumerate() {
        let task = ExecuteTransform::new(execution.run_id, &execution.repository);
        if let Err(error) = tasks.add(&task).await {
            tracing::warn!(error = %error, task = %task.task_id, "transform tasks not added; they are tried again");
            for left in &due[index..] {
                if let Err(error) = ctx.store.unpublish_executions(Some(left.id)).await {
                    tracing::warn!(error = %error, "cannot mark a transform task to add again");
                }
            }
            return false;
        }
    }
    if !due.is_empty() {
        let wake = BusEvent::Wake {
            worker: TRANSFORM_WORKER.to_owned(),
        };
        if let Err(error) = ctx.bus.publish(&wake).await {
            tracing::debug!(error = %error, "cannot wake the transform workers; they look within 2 s");
        }
    }
    full
}
