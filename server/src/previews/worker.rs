//! The preview worker: woken through the bus (and by a periodic look in case a wake-up was
//! lost), it starts removals first (closed, expired, unwanted or deleted previews), then claims
//! pending deployment attempts atomically — one replica deploys each — up to a bound, and
//! sweeps orphaned namespaces every few minutes.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domain::BusEvent;
use domain::preview::ClaimedAttempt;
use futures::{FutureExt, StreamExt};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::PreviewContext;
use domain::time::now_ms;

pub use domain::preview::PREVIEW_WORKER as WORKER;
/// How often the Store is checked without a wake-up.
const POLL: Duration = Duration::from_secs(5);
/// An attempt whose heartbeat is older than this (three missed heartbeats) was left by a
/// replica that stopped: it is taken over within this and a `POLL` (14 s).
const ABANDONED: Duration = Duration::from_secs(9);
/// How soon a failed removal is tried again.
const RETRY_REMOVAL: Duration = Duration::from_secs(60);
/// How often orphaned namespaces are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(5 * 60);
/// Attempts one replica runs at once (each mostly waits on the cluster).
const MAX_DEPLOYS: usize = 256;

/// Runs until `stop` is cancelled; running attempts stop with it and are claimed again later.
pub async fn run(ctx: PreviewContext, stop: CancellationToken) {
    let mut wakes = match ctx.services.bus.subscribe().await {
        Ok(events) => events
            .filter(|e| {
                futures::future::ready(matches!(e, BusEvent::Wake { worker } if worker == WORKER))
            })
            .boxed(),
        Err(error) => {
            tracing::warn!(error = %domain::error_chain(&error), "preview worker cannot hear wake-ups; polling only");
            futures::stream::pending().boxed()
        }
    };
    let tasks = TaskTracker::new();
    let removing: Arc<Mutex<HashSet<i64>>> = Arc::default();
    let mut sweeping: Option<tokio::task::JoinHandle<()>> = None;
    // The first sweep runs at start: a restart is when leftovers are most likely.
    let mut next_sweep = Instant::now();
    loop {
        remove_due(&ctx, &tasks, &removing, &stop).await;
        claim_pending(&ctx, &tasks, &stop).await;
        if Instant::now() >= next_sweep && sweeping.as_ref().is_none_or(|s| s.is_finished()) {
            next_sweep = Instant::now() + SWEEP_EVERY;
            let ctx = ctx.clone();
            let stop = stop.clone();
            sweeping = Some(tasks.spawn(async move {
                tokio::select! {
                    () = stop.cancelled() => {}
                    (removed, errors) = ctx.sweep_orphans() => {
                        if removed > 0 || !errors.is_empty() {
                            tracing::info!(removed, errors = ?errors, "orphan sweep");
                        }
                    }
                }
            }));
        }
        tokio::select! {
            () = stop.cancelled() => break,
            _ = wakes.next() => {
                // Wake-ups that came meanwhile are answered by the same pass.
                while let Some(Some(_)) = wakes.next().now_or_never() {}
            }
            () = tokio::time::sleep(POLL) => {}
        }
    }
    tasks.close();
    tasks.wait().await;
}

/// Starts removing every preview that is due, once per preview on this replica.
async fn remove_due(
    ctx: &PreviewContext,
    tasks: &TaskTracker,
    removing: &Arc<Mutex<HashSet<i64>>>,
    stop: &CancellationToken,
) {
    let now = now_ms();
    let due = match ctx
        .services
        .store
        .previews_to_remove(now, now - RETRY_REMOVAL.as_millis() as i64)
        .await
    {
        Ok(due) => due,
        Err(error) => {
            tracing::warn!(error = %domain::error_chain(&error), "cannot look for previews to remove");
            return;
        }
    };
    for preview in due {
        let id = preview.id;
        let fresh = removing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id);
        if !fresh {
            continue;
        }
        let (ctx, removing, stop) = (ctx.clone(), removing.clone(), stop.clone());
        tasks.spawn(async move {
            tokio::select! {
                () = stop.cancelled() => {}
                () = ctx.remove(preview) => {}
            }
            removing
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&id);
        });
    }
}

/// Claims pending attempts while this replica has room (many in one statement), and runs each.
async fn claim_pending(ctx: &PreviewContext, tasks: &TaskTracker, stop: &CancellationToken) {
    loop {
        let room = MAX_DEPLOYS.saturating_sub(ctx.deploying_count());
        if room == 0 {
            return;
        }
        let now = now_ms();
        let claimed = match ctx
            .services
            .store
            .claim_preview_attempts(
                now,
                now - ABANDONED.as_millis() as i64,
                u32::try_from(room).unwrap_or(u32::MAX),
            )
            .await
        {
            Ok(claimed) if claimed.is_empty() => return,
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(error = %domain::error_chain(&error), "cannot claim preview attempts");
                return;
            }
        };
        for attempt in claimed {
            let (preview, attempt_id) = (attempt.preview_id, attempt.id);
            tracing::info!(preview.id = preview, attempt.id = attempt_id, sha = %attempt.sha, "deploying a preview");
            let token = ctx.start_deploying(preview, attempt_id, stop);
            let ctx = ctx.clone();
            tasks.spawn(async move {
                match ctx.services.store.get_preview(preview).await {
                    Ok(found) => {
                        let claimed = ClaimedAttempt {
                            preview: found,
                            attempt,
                        };
                        ctx.deploy(claimed, token).await;
                    }
                    // Without heartbeats the attempt is claimed again once abandoned.
                    Err(error) => {
                        tracing::warn!(preview.id = preview, error = %domain::error_chain(&error), "cannot read a claimed preview")
                    }
                }
                ctx.done_deploying(preview, attempt_id);
                // A slot is free: look for more work now.
                ctx.services.wake_previews().await;
            });
        }
    }
}
