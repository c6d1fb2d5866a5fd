//! The transform worker: takes due executions from the Store's queue (woken through the bus,
//! and by a periodic look in case a wake-up was lost), runs each attempt while renewing its
//! claim (a claim not renewed is taken over by another worker; a cancel request stops the
//! attempt at the next renewal), and records how it ended — or, when the machinery failed,
//! retries it with exponential backoff until its last attempt sends it to the dead letters.
//! When Slipway stops, attempts in flight are stopped and handed back. While the queue is
//! paused (in the Store, so on every replica), no new execution is taken; running ones go on.
//! With Redis, executions travel as tasks on a stream (`intake`, `stream`). Nothing here
//! writes to GitHub: a repository on GitHub is only cloned.

pub mod execute;
mod intake;
pub mod job;
pub mod kubernetes;
pub mod live_log;
pub mod script;
pub mod stream;
pub mod summary;
pub mod upload;

use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use domain::pipeline::{Runner, StopReason};
use domain::time::now_ms;
use domain::transform::{Execution, ExecutionOutcome, ExecutionStatus, Renewal, TRANSFORM_WORKER};
use domain::{Bus, BusEvent, EntityKind, Objects, Store};

use execute::{Attempt, attempt};
use intake::{Settled, Work};

/// How often the Store is checked without a wake-up.
const POLL: Duration = Duration::from_secs(2);
/// How often a running attempt renews its claim (and hears of a cancel request).
const RENEW_EVERY: Duration = Duration::from_secs(2);

/// Where executions run: as processes on this host (no cluster configured), or as Jobs on
/// the default cluster.
#[derive(Clone)]
pub enum Executor {
    Local(Arc<dyn Runner>),
    Kubernetes(Arc<kubernetes::TransformJobs>),
}

/// What the worker uses.
#[derive(Clone)]
pub struct TransformContext {
    pub store: Arc<dyn Store>,
    pub objects: Arc<dyn Objects>,
    pub bus: Arc<dyn Bus>,
    /// Where an execution's script runs.
    pub executor: Executor,
    pub secret_box: services::secret_box::SecretBox,
    /// Mints the tokens repositories on GitHub are cloned with (only that).
    pub git_host: Option<Arc<dyn domain::git_host::GitHost>>,
    pub mirrors: crate::pipelines::source::Mirrors,
    /// Executions this instance runs at once.
    pub slots: usize,
    /// The first retry of a failed attempt waits this long; each next one twice as long.
    pub retry_after: Duration,
    /// Names this instance in claims (and on Redis, as the group's consumer).
    pub worker_id: String,
    /// How long a claim lasts without a renewal (and a stream entry without a heartbeat).
    pub claim_for: Duration,
    /// With Redis: the task stream executions are taken from.
    pub tasks: Option<Arc<stream::TaskStream>>,
}

/// Runs until `stop` is cancelled, then stops the attempts in flight and hands them back.
pub async fn run(ctx: TransformContext, stop: CancellationToken) {
    let mut wakes = wake_ups(&ctx).await;
    let publishing = TaskTracker::new();
    if let Some(tasks) = &ctx.tasks {
        publishing.spawn(intake::publish(ctx.clone(), tasks.clone(), stop.clone()));
    }
    let attempts = TaskTracker::new();
    let slots = Arc::new(Semaphore::new(ctx.slots.max(1)));
    let freed = Arc::new(tokio::sync::Notify::new());
    let interrupt = stop.child_token();
    loop {
        let paused = match ctx.store.transform_queue_state().await {
            Ok(state) => state.paused,
            Err(error) => {
                tracing::warn!(error = %error, "cannot read whether the transform queue is paused");
                true
            }
        };
        let free = slots.available_permits();
        if !paused && free > 0 {
            let taken = tokio::select! {
                () = stop.cancelled() => break,
                taken = intake::take(&ctx, free) => taken,
            };
            for work in taken.work {
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    break;
                };
                let (ctx, interrupt, freed) = (ctx.clone(), interrupt.clone(), freed.clone());
                attempts.spawn(async move {
                    run_one(&ctx, work, interrupt).await;
                    drop(permit);
                    freed.notify_one();
                });
            }
            if taken.more {
                continue;
            }
        }
        tokio::select! {
            () = stop.cancelled() => break,
            _ = wakes.next() => {
                while let Some(Some(_)) = wakes.next().now_or_never() {}
            }
            () = freed.notified() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
    attempts.close();
    attempts.wait().await;
    publishing.close();
    publishing.wait().await;
    match ctx.store.release_executions(&ctx.worker_id).await {
        Ok(0) => {}
        Ok(count) => tracing::info!(count, "transform executions handed back for later"),
        Err(error) => {
            tracing::warn!(error = %error, "cannot hand transform executions back; they are taken over once their claim runs out")
        }
    }
}

/// The worker's wake-ups from the bus (none when it cannot subscribe: it polls then).
async fn wake_ups(ctx: &TransformContext) -> futures::stream::BoxStream<'static, BusEvent> {
    match ctx.bus.subscribe().await {
        Ok(events) => events
            .filter(|e| {
                futures::future::ready(
                    matches!(e, BusEvent::Wake { worker } if worker == TRANSFORM_WORKER),
                )
            })
            .boxed(),
        Err(error) => {
            tracing::warn!(error = %error, "transform worker cannot hear wake-ups; polling only");
            futures::stream::pending().boxed()
        }
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// One attempt of a claimed execution, from its claim to its recorded end; then its stream
/// entry (on Redis) is settled.
async fn run_one(ctx: &TransformContext, work: Work, interrupt: CancellationToken) {
    let execution = &work.claimed.execution;
    let span = tracing::info_span!("transform", transform.run = %execution.run_id, transform.execution = execution.id, repository = %execution.repository);
    let settled = run_attempt(ctx, &work, interrupt).instrument(span).await;
    intake::settle(ctx, &work, settled).await;
}

async fn run_attempt(ctx: &TransformContext, work: &Work, interrupt: CancellationToken) -> Settled {
    let claimed = &work.claimed;
    let execution = &claimed.execution;
    if execution.attempts > execution.max_attempts {
        let reason = format!(
            "gave up after {} attempts: {}",
            execution.max_attempts,
            execution
                .reason
                .as_deref()
                .unwrap_or("its worker stopped answering")
        );
        crate::metrics::transform_ended("dead_lettered", None);
        return record_failure(ctx, execution, &reason, None).await;
    }
    if claimed.spec.dry_run {
        crate::metrics::transform_ended("recorded", None);
        let recorded = ExecutionOutcome {
            status: ExecutionStatus::Recorded,
            exit_code: None,
            reason: None,
            diff: None,
            patch_sha256: None,
        };
        return finish(ctx, execution, &recorded).await;
    }
    crate::metrics::transform_started();
    let began = std::time::Instant::now();
    let cancel = CancellationToken::new();
    let renewing = renew_while_running(ctx, execution, work.entry.as_deref(), cancel.clone());
    let stop = {
        let (interrupt, cancel) = (interrupt.clone(), cancel.clone());
        async move {
            tokio::select! {
                () = interrupt.cancelled() => StopReason::Interrupted,
                () = cancel.cancelled() => StopReason::Cancelled,
            }
        }
        .boxed()
    };
    let ended = tokio::select! {
        ended = attempt(ctx, claimed, stop) => ended,
        // The claim was lost (another worker took it over): this attempt is not ours to end.
        () = renewing => return Settled::Left,
    };
    match ended {
        Attempt::Ended(outcome) => {
            crate::metrics::transform_ended(outcome.status.as_str(), Some(began.elapsed()));
            finish(ctx, execution, &outcome).await
        }
        Attempt::Failed(reason) => {
            let retry_at = (execution.attempts < execution.max_attempts).then(|| {
                let factor = 2u32.saturating_pow(execution.attempts.saturating_sub(1));
                now_ms() + millis(ctx.retry_after.saturating_mul(factor))
            });
            let outcome = if retry_at.is_some() {
                "retried"
            } else {
                "dead_lettered"
            };
            crate::metrics::transform_ended(outcome, None);
            record_failure(ctx, execution, &reason, retry_at).await
        }
        // Handed back when the worker stops; the entry stays until then.
        Attempt::Interrupted => Settled::Left,
    }
}

/// Renews the claim (and heartbeats the stream entry) until it is lost (then resolves);
/// cancels `cancel` when the run is to stop (and goes on renewing while the attempt stops).
async fn renew_while_running(
    ctx: &TransformContext,
    execution: &Execution,
    entry: Option<&str>,
    cancel: CancellationToken,
) {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        if let (Some(tasks), Some(entry)) = (&ctx.tasks, entry)
            && let Err(error) = tasks.heartbeat(&ctx.worker_id, entry).await
        {
            tracing::warn!(error = %error, "cannot keep a transform task's stream entry alive");
        }
        let until = now_ms() + millis(ctx.claim_for);
        match ctx
            .store
            .renew_execution(execution.id, &ctx.worker_id, until)
            .await
        {
            Ok(Renewal::Held) => {}
            Ok(Renewal::CancelRequested) => cancel.cancel(),
            Ok(Renewal::Lost) => {
                tracing::warn!("another worker took this transform execution over");
                return;
            }
            Err(error) => {
                tracing::warn!(error = %error, "cannot renew the claim of a transform execution");
            }
        }
    }
}

async fn finish(
    ctx: &TransformContext,
    execution: &Execution,
    outcome: &ExecutionOutcome,
) -> Settled {
    match ctx
        .store
        .finish_execution(execution.id, &ctx.worker_id, outcome, now_ms())
        .await
    {
        Ok(done) => {
            tracing::info!(
                status = done.status.as_str(),
                reason = done.reason.as_deref(),
                "transform execution ended"
            );
            announce(ctx, &done).await;
            Settled::Stored
        }
        Err(error) => {
            tracing::warn!(error = %error, "cannot record how a transform execution ended");
            Settled::Left
        }
    }
}

async fn record_failure(
    ctx: &TransformContext,
    execution: &Execution,
    reason: &str,
    retry_at: Option<i64>,
) -> Settled {
    match ctx
        .store
        .fail_execution_attempt(execution.id, &ctx.worker_id, reason, retry_at, now_ms())
        .await
    {
        Ok(done) => {
            tracing::warn!(
                status = done.status.as_str(),
                reason,
                attempt = execution.attempts,
                "transform execution attempt failed"
            );
            announce(ctx, &done).await;
            if retry_at.is_some() {
                // To be added to the stream again when due.
                Settled::Stored
            } else {
                Settled::GaveUp(reason.to_owned())
            }
        }
        Err(error) => {
            tracing::warn!(error = %error, "cannot record a failed transform attempt");
            Settled::Left
        }
    }
}

/// Tells followers (pages, `/api/events`) that `execution`'s run changed.
pub(crate) async fn announce(ctx: &TransformContext, execution: &Execution) {
    let status = match ctx.store.get_transform_run(execution.run_id).await {
        Ok(run) => run.status.as_str(),
        Err(_) => execution.status.as_str(),
    };
    let event = BusEvent::Changed {
        entity: EntityKind::TransformRun,
        id: execution.run_id.to_string(),
        status: status.to_owned(),
    };
    if let Err(error) = ctx.bus.publish(&event).await {
        tracing::debug!(error = %error, "cannot announce a transform change");
    }
}
