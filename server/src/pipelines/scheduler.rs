//! Cron schedules: every few seconds, the schedules whose time has come start a run on their
//! branch. Each replica may look; advancing a schedule is a compare-and-set in the Store, so an
//! occurrence starts exactly one run. Schedules come from `.platform.yaml` on the repository's
//! default branch, recorded whenever a run reads it there.

use std::time::Duration;

use domain::pipeline::trigger::next_occurrence_ms;
use domain::pipeline::{NewPipeline, ScheduleEntry, TriggerKind};
use tokio_util::sync::CancellationToken;

use super::now_ms;
use app::services::Services;

/// How often due schedules are looked for.
const TICK: Duration = Duration::from_secs(15);

/// Runs until `stop` is cancelled.
pub async fn run(services: Services, stop: CancellationToken) {
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => fire_due(&services, now_ms()).await,
        }
    }
}

/// Starts one run for each schedule that is due, unless another replica already did.
pub async fn fire_due(services: &Services, now: i64) {
    let due = match services.store.due_schedules(now).await {
        Ok(due) => due,
        Err(error) => {
            tracing::warn!(error = %error, "cannot look for due schedules");
            return;
        }
    };
    for entry in due {
        // An unreadable expression was refused when the file was read; park it far away.
        let next = next_occurrence_ms(&entry.cron, now).unwrap_or(i64::MAX);
        match services.store.advance_schedule(&entry, next).await {
            Ok(true) => start(services, &entry).await,
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(error = %error, cron = %entry.cron, "cannot advance a schedule")
            }
        }
    }
}

async fn start(services: &Services, entry: &ScheduleEntry) {
    let new = NewPipeline {
        repository_id: entry.repository_id,
        git_ref: entry.branch.clone(),
        commit_sha: None,
        trigger: TriggerKind::Schedule,
        trigger_detail: Some(entry.cron.clone()),
        pr_number: None,
        retry_of: None,
    };
    if let Err(error) = services.start_pipeline(&new).await {
        tracing::warn!(error = %error, cron = %entry.cron, "cannot start a scheduled pipeline");
    }
}

/// The schedules a definition read on the default branch asks for, each with its next time.
pub fn entries(
    repository: &domain::Repository,
    schedules: &[domain::pipeline::Schedule],
    now: i64,
) -> Vec<ScheduleEntry> {
    schedules
        .iter()
        .filter_map(|schedule| {
            Some(ScheduleEntry {
                repository_id: repository.id,
                cron: schedule.cron.clone(),
                branch: schedule
                    .branch
                    .clone()
                    .unwrap_or_else(|| repository.default_branch.clone()),
                next_at_ms: next_occurrence_ms(&schedule.cron, now)?,
            })
        })
        .collect()
}
