//! Cron schedules: every few seconds, the schedules whose time has come start a run on their
//! branch. Each replica may look; advancing a schedule is a compare-and-set in the Store, so an
//! occurrence starts exactly one run. Schedules come from `.platform.yaml` on the repository's
//! default branch: read again every few minutes (and at start) from each repository's mirror,
//! and whenever a run reads the file there.

use std::time::Duration;

use domain::pipeline::parse::parse_pipeline;
use domain::pipeline::trigger::next_occurrence_ms;
use domain::pipeline::{NewPipeline, ScheduleEntry, TriggerKind};
use tokio_util::sync::CancellationToken;

use super::source::{Mirrors, Source, clone_token};
use domain::time::now_ms;
use services::Services;

/// How often due schedules are looked for.
const TICK: Duration = Duration::from_secs(15);
/// How often each repository's default branch is read again for its schedules.
const REFRESH: Duration = Duration::from_secs(5 * 60);

/// Runs until `stop` is cancelled.
pub async fn run(services: Services, mirrors: Mirrors, stop: CancellationToken) {
    let firing = async {
        let mut tick = tokio::time::interval(TICK);
        loop {
            tick.tick().await;
            fire_due(&services, now_ms()).await;
        }
    };
    // A slow fetch must not hold up schedules that are due: the two run side by side.
    let refreshing = async {
        let mut tick = tokio::time::interval(REFRESH);
        loop {
            tick.tick().await;
            refresh_schedules(&services, &mirrors, now_ms()).await;
        }
    };
    tokio::select! {
        () = stop.cancelled() => {}
        () = firing => {}
        () = refreshing => {}
    }
}

/// Records each repository's schedules as `.platform.yaml` at the head of its default branch
/// says (none when it has no pipeline), so a schedule runs without a run having read the file
/// first, and a removed one stops. A repository that cannot be fetched, or whose file is not
/// valid, keeps what was recorded.
pub async fn refresh_schedules(services: &Services, mirrors: &Mirrors, now: i64) {
    let repositories = match services.store.list_repositories().await {
        Ok(repositories) => repositories,
        Err(error) => {
            tracing::warn!(error = %error, "cannot list repositories to read their schedules");
            return;
        }
    };
    for repository in repositories {
        let branch = &repository.default_branch;
        let file = match clone_token(services.git_host.as_deref(), &repository).await {
            Ok(token) => {
                let url = &repository.clone_url;
                match Source::fetch(mirrors, url, token.as_deref(), branch, None).await {
                    Ok(source) => source
                        .platform_file()
                        .await
                        .map_err(|e| domain::error_chain(&e)),
                    Err(error) => Err(domain::error_chain(&error)),
                }
            }
            Err(error) => Err(domain::error_chain(&error)),
        };
        let schedules = match file.map(|text| text.map(|t| parse_pipeline(&t))) {
            Ok(Some(Ok(Some(definition)))) => definition.triggers.schedules,
            Ok(None | Some(Ok(None))) => Vec::new(),
            Ok(Some(Err(_))) => continue,
            Err(error) => {
                tracing::warn!(repository = %repository.name, error = %error, "cannot read the default branch's schedules");
                continue;
            }
        };
        let entries = entries(&repository, &schedules, now);
        if let Err(error) = services.store.set_schedules(repository.id, &entries).await {
            tracing::warn!(repository = %repository.name, error = %error, "cannot record schedules");
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
        delivery_id: None,
    };
    if let Err(error) = services
        .start_pipeline(&services::Caller::System, &new)
        .await
    {
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
