//! The pipeline executor: claims pending runs (woken through the bus, and by a periodic look in
//! case a wake-up was lost), runs each with heartbeats and a watch for cancel requests, records
//! how it ended, and finds runs whose executor died (stale heartbeats). On a runner whose steps
//! run on without Slipway (pods), such a run is taken over and its steps followed again — and
//! when Slipway stops, its runs are let go of for that; on the others (local processes) it is
//! marked failed ("interrupted") and started again once.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use domain::pipeline::{NewPipeline, PipelineRun, PipelineStatus, Runner};
use domain::{Bus, BusEvent, Objects, Store};

use super::logs::LogHub;
use super::run::{Outcome, RunStops, execute};
use domain::time::now_ms;

/// The name wake-ups for this worker carry.
pub use domain::pipeline::PIPELINE_WORKER as WORKER;
/// How often the Store is checked without a wake-up.
const POLL: Duration = Duration::from_secs(5);
/// How often a running run proves it is alive and checks for a cancel request.
const HEARTBEAT: Duration = Duration::from_secs(2);
/// A running run not heard of for this long (four missed heartbeats) lost its executor: it is
/// taken over within this and a `POLL` (14 s; `scripts/chaos` holds it under 15 s).
const STALE_AFTER: Duration = Duration::from_secs(9);
/// How often expired artifacts are removed.
const ARTIFACT_SWEEP: Duration = Duration::from_secs(60);
/// What an interrupted run's reason starts with.
const INTERRUPTED: &str = "interrupted";

/// What the executor and its runs use.
#[derive(Clone)]
pub struct PipelineContext {
    pub store: Arc<dyn Store>,
    pub objects: Arc<dyn Objects>,
    pub bus: Arc<dyn Bus>,
    pub runner: Arc<dyn Runner>,
    pub hub: LogHub,
    /// Opens the repository's secrets for its runs.
    pub secret_box: services::secret_box::SecretBox,
    /// Mints the tokens repositories on GitHub are cloned with, when GitHub is configured.
    pub git_host: Option<Arc<dyn domain::git_host::GitHost>>,
    /// The repositories' mirrors, where sources are read from.
    pub mirrors: super::source::Mirrors,
    /// Where workspaces are checked out.
    pub work_root: PathBuf,
    pub registry: String,
    /// Deliveries not processed yet: runs start once they are taken up.
    pub backlog: crate::webhooks::DeliveryBacklog,
    /// Steps this instance runs at once.
    pub step_slots: Arc<Semaphore>,
    /// Names this instance in claims.
    pub worker_id: String,
}

/// Runs until `stop` is cancelled; runs in flight are then left to their pods (followed again
/// after the restart) or interrupted (and retried later).
pub async fn run(ctx: PipelineContext, stop: CancellationToken) {
    let mut wakes = match ctx.bus.subscribe().await {
        Ok(events) => events
            .filter(|e| {
                futures::future::ready(matches!(e, BusEvent::Wake { worker } if worker == WORKER))
            })
            .boxed(),
        Err(error) => {
            tracing::warn!(error = %error, "pipeline executor cannot hear wake-ups; polling only");
            futures::stream::pending().boxed()
        }
    };
    let runs = TaskTracker::new();
    let max_runs = ctx.step_slots.available_permits().max(1);
    let in_flight = Arc::new(Semaphore::new(max_runs));
    // A finished run frees a place: look for the next pending one at once.
    let freed = Arc::new(tokio::sync::Notify::new());
    let interrupt = stop.child_token();
    let mut next_sweep = std::time::Instant::now();
    // Runs go stale only after seconds: looking for them at start and on each poll is enough.
    let mut polled = true;
    // An interval, not a sleep made afresh each turn: on a busy replica wake-ups and freed
    // slots come more often than this, and would otherwise put recovery off for ever.
    let mut polls = tokio::time::interval(POLL);
    polls.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    polls.tick().await;
    loop {
        let recovered = if polled {
            recover_interrupted(&ctx).await
        } else {
            Vec::new()
        };
        polled = false;
        for run in recovered {
            let (ctx, interrupt, freed) = (ctx.clone(), interrupt.clone(), freed.clone());
            let in_flight = in_flight.clone();
            runs.spawn(async move {
                let Ok(permit) = in_flight.acquire_owned().await else {
                    return;
                };
                run_one(&ctx, run, interrupt, true).await;
                drop(permit);
                freed.notify_one();
            });
        }
        if std::time::Instant::now() >= next_sweep {
            super::artifacts::sweep_expired(ctx.store.as_ref(), ctx.objects.as_ref(), now_ms())
                .await;
            next_sweep = std::time::Instant::now() + ARTIFACT_SWEEP;
        }
        // A burst of deliveries is taken up before runs start.
        ctx.backlog.give_way().await;
        while let Ok(permit) = in_flight.clone().try_acquire_owned() {
            let claimed = match ctx.store.claim_pipeline(&ctx.worker_id, now_ms()).await {
                Ok(Some(run)) => run,
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(error = %error, "cannot look for pending pipelines");
                    break;
                }
            };
            let (ctx, interrupt, freed) = (ctx.clone(), interrupt.clone(), freed.clone());
            runs.spawn(async move {
                run_one(&ctx, claimed, interrupt, false).await;
                drop(permit);
                freed.notify_one();
            });
        }
        tokio::select! {
            () = stop.cancelled() => break,
            _ = wakes.next() => {
                // Wake-ups that came meanwhile are answered by the same pass.
                while let Some(Some(_)) = wakes.next().now_or_never() {}
            }
            () = freed.notified() => {}
            _ = polls.tick() => polled = true,
        }
    }
    runs.close();
    runs.wait().await;
}

/// Runs one claimed (or, `resumed`, taken over) pipeline and records its end.
async fn run_one(
    ctx: &PipelineContext,
    run: PipelineRun,
    interrupt: CancellationToken,
    resumed: bool,
) {
    let id = run.id;
    if !resumed {
        tracing::info!(pipeline.id = %id, repository = %run.repository, git_ref = %run.git_ref, "pipeline started");
    }
    ctx.announce(id, "running").await;
    let stops = RunStops {
        cancel: CancellationToken::new(),
        // This run's own: its watcher interrupts it when the run is no longer this executor's.
        interrupt: interrupt.child_token(),
    };
    let lost = CancellationToken::new();
    let watcher = tokio::spawn(watch_run(ctx.clone(), id, stops.clone(), lost.clone()));
    let outcome = execute(ctx, &run, &stops, resumed).await;
    // Read before `lost`: the watcher marks the run lost before it interrupts it, so an
    // interruption seen here with the run not lost is Slipway stopping.
    let interrupted = stops.interrupt.is_cancelled();
    if lost.is_cancelled() {
        watcher.abort();
        tracing::warn!(pipeline.id = %id, "another executor took the pipeline over while this one's heartbeats did not land; this one stops following it");
        return;
    }
    let end = match outcome {
        Outcome::Ended(end) => end,
        Outcome::LeftRunning => {
            // No heartbeat may land after the run is let go of.
            watcher.abort();
            let _ = watcher.await;
            tracing::info!(pipeline.id = %id, "Slipway is stopping; the pipeline's pods run on and are followed again after the restart");
            if let Err(error) = ctx.store.let_go_pipeline(id).await {
                tracing::warn!(pipeline.id = %id, error = %error, "cannot let go of a pipeline; it is taken over once its heartbeat is stale");
            }
            return;
        }
        Outcome::NotWanted(why) => {
            watcher.abort();
            tracing::info!(pipeline.id = %id, reason = %why, "pipeline not wanted; discarded");
            if let Err(error) = ctx.store.discard_pipeline(id).await {
                tracing::error!(pipeline.id = %id, error = %error, "cannot discard a pipeline");
            }
            ctx.announce(id, "discarded").await;
            return;
        }
    };
    // The heartbeats go on until the end is stored: while it is tried again, the run is not
    // stale, and no other executor takes it over.
    let ended_at = now_ms();
    let stored = super::persist::until_stored("how a pipeline ended", || {
        ctx.store
            .finish_pipeline(id, end.status, end.reason.as_deref(), ended_at)
    })
    .await;
    watcher.abort();
    match stored {
        Ok(_) => {}
        Err(error) => {
            tracing::error!(pipeline.id = %id, error = %error, "cannot record how a pipeline ended")
        }
    }
    tracing::info!(pipeline.id = %id, status = end.status.as_str(), reason = end.reason.as_deref().unwrap_or(""), "pipeline ended");
    crate::metrics::pipeline_ended(end.status, ran_ms(&run));
    ctx.announce(id, end.status.as_str()).await;
    if interrupted {
        retry_once(ctx, &run).await;
    }
}

/// How long a run has taken so far, from its start (its creation if it never started).
fn ran_ms(run: &PipelineRun) -> i64 {
    now_ms() - run.started_at_ms.unwrap_or(run.created_at_ms)
}

/// Heartbeats, and cancels the run when someone asked (through any replica). A heartbeat the
/// Store refuses means the run is no longer this executor's (taken over while its heartbeats
/// did not land): the run is interrupted here and `lost` says why.
async fn watch_run(
    ctx: PipelineContext,
    id: domain::pipeline::PipelineId,
    stops: RunStops,
    lost: CancellationToken,
) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    loop {
        tick.tick().await;
        if let Ok(false) = ctx
            .store
            .heartbeat_pipeline(id, &ctx.worker_id, now_ms())
            .await
        {
            lost.cancel();
            stops.interrupt.cancel();
            return;
        }
        // Once cancelled, it goes on beating while its steps wind down.
        if !stops.cancel.is_cancelled()
            && let Ok(run) = ctx.store.get_pipeline(id).await
            && run.cancel_requested
        {
            stops.cancel.cancel();
        }
    }
}

/// Runs whose executor went quiet: on a runner whose steps run on without Slipway, those this
/// executor took over (returned, with their steps, to be followed again); on the others, each
/// is marked interrupted and started again once.
async fn recover_interrupted(ctx: &PipelineContext) -> Vec<PipelineRun> {
    let stale_before = now_ms() - STALE_AFTER.as_millis() as i64;
    let Ok(stale) = ctx.store.interrupted_pipelines(stale_before).await else {
        return Vec::new();
    };
    let mut taken = Vec::new();
    for run in stale {
        if ctx.runner.survives_restart() {
            match ctx
                .store
                .take_over_pipeline(run.id, &ctx.worker_id, now_ms(), stale_before)
                .await
            {
                Ok(true) => match ctx.store.get_pipeline(run.id).await {
                    Ok(run) => taken.push(run),
                    // Its heartbeat goes stale again, and it is taken over later.
                    Err(error) => {
                        tracing::warn!(pipeline.id = %run.id, error = %error, "cannot read a pipeline taken over")
                    }
                },
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(pipeline.id = %run.id, error = %error, "cannot take a pipeline over")
                }
            }
            continue;
        }
        let reason = "interrupted: the Slipway instance running it stopped";
        if let Ok(true) = ctx
            .store
            .finish_pipeline(run.id, PipelineStatus::Failed, Some(reason), now_ms())
            .await
        {
            tracing::warn!(pipeline.id = %run.id, "pipeline interrupted; its executor stopped");
            crate::metrics::pipeline_ended(PipelineStatus::Failed, ran_ms(&run));
            ctx.announce(run.id, "failed").await;
            retry_once(ctx, &run).await;
        }
    }
    taken
}

/// Starts an interrupted run again, unless it was itself the retry of an interrupted run.
async fn retry_once(ctx: &PipelineContext, run: &PipelineRun) {
    if let Some(previous) = run.retry_of
        && let Ok(previous) = ctx.store.get_pipeline(previous).await
        && previous
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with(INTERRUPTED))
    {
        return;
    }
    let retry = NewPipeline::retry(run, false);
    match ctx.store.create_pipeline(&retry, now_ms()).await {
        Ok(new) => {
            tracing::info!(pipeline.id = %new.id, retry_of = %run.id, "interrupted pipeline queued again");
            ctx.announce(new.id, "pending").await;
        }
        Err(error) => {
            tracing::error!(pipeline.id = %run.id, error = %error, "cannot queue an interrupted pipeline again")
        }
    }
}
