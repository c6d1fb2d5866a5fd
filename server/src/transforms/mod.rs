//! The transform worker: takes due executions from the Store's queue (woken through the bus,
//! and by a periodic look in case a wake-up was lost), runs each attempt while renewing its
//! claim (a claim not renewed is taken over by another worker; a cancel request stops the
//! attempt at the next renewal), and records how it ended — or, when the machinery failed,
//! retries it with exponential backoff until its last attempt sends it to the dead letters.
//! When Slipway stops, attempts in flight are stopped and handed back. While the queue is
//! paused (in the Store, so on every replica), no new execution is taken; running ones go on. Nothing here writes to
//! GitHub: a repository on GitHub is only cloned.

pub mod execute;
pub mod job;
pub mod kubernetes;
pub mod live_log;
pub mod script;
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
use domain::transform::{
    ClaimedExecution, Execution, ExecutionOutcome, ExecutionStatus, Renewal, TRANSFORM_WORKER,
};
use domain::{Bus, BusEvent, EntityKind, Objects, Store};

use execute::{Attempt, CLAIM_FOR, attempt};

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
    /// Names this instance in claims.
    pub worker_id: String,
}

/// Runs until `stop` is cancelled, then stops the attempts in flight and hands them back.
pub async fn run(ctx: TransformContext, stop: CancellationToken) {
    let mut wakes = match ctx.bus.subscribe().await {
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
    };
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
        while !paused && let Ok(permit) = slots.clone().try_acquire_owned() {
            let claimed = match ctx
                .store
                .claim_execution(&ctx.worker_id, now_ms(), now_ms() + millis(CLAIM_FOR))
                .await
            {
                Ok(Some(claimed)) => claimed,
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(error = %error, "cannot look for due transform executions");
                    break;
                }
            };
            let (ctx, interrupt, freed) = (ctx.clone(), interrupt.clone(), freed.clone());
            attempts.spawn(async move {
                run_one(&ctx, claimed, interrupt).await;
                drop(permit);
                freed.notify_one();
            });
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
    match ctx.store.release_executions(&ctx.worker_id).await {
        Ok(0) => {}
        Ok(count) => tracing::info!(count, "transform executions handed back for later"),
        Err(error) => {
            tracing::warn!(error = %error, "cannot hand transform executions back; they are taken over once their claim runs out")
        }
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// One attempt of a claimed execution, from its claim to its recorded end.
async fn run_one(ctx: &TransformContext, claimed: ClaimedExecution, interrupt: CancellationToken) {
    let execution = &claimed.execution;
    let span = tracing::info_span!("transform", transform.run = %execution.run_id, transform.execution = execution.id, repository = %execution.repository);
    run_attempt(ctx, &claimed, interrupt).instrument(span).await;
}

async fn run_attempt(
    ctx: &TransformContext,
    claimed: &ClaimedExecution,
    interrupt: CancellationToken,
) {
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
        record_failure(ctx, execution, &reason, None).await;
        return;
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
        finish(ctx, execution, &recorded).await;
        return;
    }
    crate::metrics::transform_started();
    let began = std::time::Instant::now();
    let cancel = CancellationToken::new();
    let renewing = renew_while_running(ctx, execution, cancel.clone());
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
        () = renewing => return,
    };
    match ended {
        Attempt::Ended(outcome) => {
            crate::metrics::transform_ended(outcome.status.as_str(), Some(began.elapsed()));
            finish(ctx, execution, &outcome).await;
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
            record_failure(ctx, execution, &reason, retry_at).await;
        }
        Attempt::Interrupted => {}
    }
}

/// Renews the claim until it is lost (then resolves); cancels `cancel` when the run is to stop
/// (and goes on renewing while the attempt stops).
async fn renew_while_running(
    ctx: &TransformContext,
    execution: &Execution,
    cancel: CancellationToken,
) {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let until = now_ms() + millis(CLAIM_FOR);
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

async fn finish(ctx: &TransformContext, execution: &Execution, outcome: &ExecutionOutcome) {
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
        }
        Err(error) => {
            tracing::warn!(error = %error, "cannot record how a transform execution ended")
        }
    }
}

async fn record_failure(
    ctx: &TransformContext,
    execution: &Execution,
    reason: &str,
    retry_at: Option<i64>,
) {
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
        }
        Err(error) => tracing::warn!(error = %error, "cannot record a failed transform attempt"),
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
