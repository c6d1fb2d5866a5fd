//! One pipeline run, start to end: fetch the source and resolve the commit, read and validate
//! `.platform.yaml`, record the plan, then run the DAG — independent steps in parallel, a failed
//! step skipping what depends on it, per-step timeouts and the pipeline deadline — and record
//! how the run ended (each step runs in `step`). A run taken over after a restart goes on from
//! its stored plan: finished steps stay as they were, running ones are followed again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use domain::pipeline::parse::parse_pipeline;
use domain::pipeline::runner::human_secs;
use domain::pipeline::{
    Dag, PipelineDefinition, PipelineRun, PipelineStatus, StepOutcome, StepStatus, StopReason,
    TriggerKind,
};
use domain::{BusEvent, EntityKind, Repository};

use super::executor::PipelineContext;
use super::source::Source;
use domain::time::now_ms;

/// Steps of one pipeline running at once (the instance-wide limit applies too).
const STEPS_PER_PIPELINE: usize = 4;
/// Infrastructure failures are retried after these pauses.
pub(super) const RETRY_PAUSES: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEnd {
    pub status: PipelineStatus,
    pub reason: Option<String>,
}

impl RunEnd {
    fn failed(reason: impl Into<String>) -> Self {
        Self {
            status: PipelineStatus::Failed,
            reason: Some(reason.into()),
        }
    }
}

/// Why a run could not start its steps (stored, with its causes, as the run's reason).
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error("cannot read the repository")]
    Repository(#[source] domain::StoreError),
    #[error("cannot read the repository's secrets")]
    Secrets(#[source] domain::StoreError),
    #[error(transparent)]
    Secret(#[from] services::secret_box::SecretBoxError),
    #[error(transparent)]
    Token(#[from] super::source::CloneTokenError),
    #[error(transparent)]
    Source(#[from] super::source::SourceError),
    #[error("cannot record the plan")]
    Plan(#[source] domain::StoreError),
}

impl RunEnd {
    /// A run that failed before its steps, saying why.
    fn could_not_start(error: &RunError) -> Self {
        Self::failed(domain::error_chain(error))
    }
}

/// Why a run's steps must stop early, shared by all its steps.
#[derive(Clone)]
pub struct RunStops {
    pub cancel: CancellationToken,
    pub interrupt: CancellationToken,
}

/// What became of a claimed run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ended(RunEnd),
    /// Its `on:` section does not want the event that queued it, and why.
    NotWanted(String),
    /// Slipway stopped while steps ran on (pods): the run is still running, to be followed again.
    LeftRunning,
}

/// Runs a claimed pipeline to its end (without recording the end: the caller does). A run
/// taken over after a restart (`resumed`, read with its steps) keeps what its steps did and
/// follows those still running.
pub async fn execute(
    ctx: &PipelineContext,
    run: &PipelineRun,
    stops: &RunStops,
    resumed: bool,
) -> Outcome {
    if resumed && let Some(outcome) = resume_run(ctx, run, stops).await {
        return outcome;
    }
    execute_run(ctx, run, stops).await
}

/// Goes on with a run planned before a restart, on a runner that clones by itself (a stored
/// plan needs no source); `None` when it must start from the beginning instead.
async fn resume_run(ctx: &PipelineContext, run: &PipelineRun, stops: &RunStops) -> Option<Outcome> {
    if ctx.runner.clones_from_local_source() {
        return None;
    }
    let sha = run.commit_sha.clone()?;
    let definition = ctx.store.pipeline_definition(run.id).await.ok()??;
    let (repository, secrets) = match repository_and_secrets(ctx, run).await {
        Ok(found) => found,
        Err(error) => return Some(Outcome::Ended(RunEnd::could_not_start(&error))),
    };
    tracing::info!(pipeline.id = %run.id, "pipeline taken over after a restart; following its steps again");
    let plan = Plan {
        run: run.clone(),
        clone_url: repository.clone_url.clone(),
        repository,
        definition,
        sha,
        secrets,
    };
    Some(run_steps(ctx, Arc::new(plan), stops).await)
}

/// The run's repository and its secrets, opened; or why they cannot be had.
async fn repository_and_secrets(
    ctx: &PipelineContext,
    run: &PipelineRun,
) -> Result<(Repository, BTreeMap<String, String>), RunError> {
    let repository = ctx
        .store
        .get_repository(run.repository_id)
        .await
        .map_err(RunError::Repository)?;
    let secrets = open_secrets(ctx, &repository).await?;
    Ok((repository, secrets))
}

async fn execute_run(ctx: &PipelineContext, run: &PipelineRun, stops: &RunStops) -> Outcome {
    let (repository, secrets) = match repository_and_secrets(ctx, run).await {
        Ok(found) => found,
        Err(error) => return Outcome::Ended(RunEnd::could_not_start(&error)),
    };
    let source = match fetch_source(ctx, &repository, run).await {
        Ok(source) => source,
        Err(error) => return Outcome::Ended(RunEnd::could_not_start(&error)),
    };
    let sha = source.commit_sha().to_owned();
    let definition = match read_definition(&source).await {
        Ok(definition) => definition,
        // A repository without a pipeline (only previews, say) runs nothing on its events.
        Err(Unreadable::NoPipeline(why))
            if matches!(run.trigger, TriggerKind::Push | TriggerKind::PullRequest) =>
        {
            return Outcome::NotWanted(why);
        }
        Err(Unreadable::NoPipeline(message) | Unreadable::Invalid(message)) => {
            return Outcome::Ended(RunEnd::failed(message));
        }
    };
    // Even a run its `on:` does not want tells the default branch's schedules.
    if run.branch() == repository.default_branch {
        let schedules =
            super::scheduler::entries(&repository, &definition.triggers.schedules, now_ms());
        if let Err(error) = ctx.store.set_schedules(repository.id, &schedules).await {
            tracing::warn!(pipeline.id = %run.id, error = %error, "cannot record the repository's schedules");
        }
    }
    if let Some(why) = not_wanted(run, &definition) {
        return Outcome::NotWanted(why);
    }
    if let Err(error) = ctx.store.plan_pipeline(run.id, &sha, &definition).await {
        return Outcome::Ended(RunEnd::could_not_start(&RunError::Plan(error)));
    }
    ctx.announce(run.id, "running").await;
    let clone_url = if ctx.runner.clones_from_local_source() {
        source.path().display().to_string()
    } else {
        repository.clone_url.clone()
    };
    let plan = Plan {
        run: run.clone(),
        repository,
        definition,
        sha,
        clone_url,
        secrets,
    };
    run_steps(ctx, Arc::new(plan), stops).await
}

/// Why the run's `on:` section does not want the event that queued it, if it does not.
fn not_wanted(run: &PipelineRun, definition: &PipelineDefinition) -> Option<String> {
    let triggers = &definition.triggers;
    match run.trigger {
        TriggerKind::Push if !triggers.runs_on_push(run.branch()) => Some(format!(
            "pushes to `{}` do not run this pipeline (on.push.branches)",
            run.branch()
        )),
        TriggerKind::PullRequest => {
            let action = run.trigger_detail.as_deref().unwrap_or("opened");
            (!triggers.runs_on_pull_request(action)).then(|| {
                format!("pull request `{action}` events do not run this pipeline (on.mr.actions)")
            })
        }
        _ => None,
    }
}

async fn fetch_source(
    ctx: &PipelineContext,
    repository: &Repository,
    run: &PipelineRun,
) -> Result<Source, RunError> {
    let token = super::source::clone_token(ctx.git_host.as_deref(), repository).await?;
    let mut attempt = 0;
    loop {
        match Source::fetch(
            &ctx.mirrors,
            &repository.clone_url,
            token.as_deref(),
            &run.git_ref,
            run.commit_sha.as_deref(),
        )
        .await
        {
            Ok(source) => return Ok(source),
            // A ref that does not exist will not appear by retrying.
            Err(error @ super::source::SourceError::UnknownRef { .. }) => {
                return Err(error.into());
            }
            Err(error) if attempt < RETRY_PAUSES.len() => {
                tracing::warn!(pipeline.id = %run.id, error = %domain::error_chain(&error), "fetching the source failed; retrying");
                tokio::time::sleep(RETRY_PAUSES[attempt]).await;
                attempt += 1;
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// Why a commit's pipeline cannot run.
enum Unreadable {
    /// The commit has no `.platform.yaml`, or one without a `pipeline:` section.
    NoPipeline(String),
    /// The file cannot be read or is not valid.
    Invalid(String),
}

async fn read_definition(source: &Source) -> Result<PipelineDefinition, Unreadable> {
    let short = &source.commit_sha()[..12.min(source.commit_sha().len())];
    let text = source
        .platform_file()
        .await
        .map_err(|e| Unreadable::Invalid(domain::error_chain(&e)))?
        .ok_or_else(|| Unreadable::NoPipeline(format!("commit {short} has no .platform.yaml")))?;
    match parse_pipeline(&text) {
        Ok(Some(definition)) => Ok(definition),
        Ok(None) => Err(Unreadable::NoPipeline(format!(
            ".platform.yaml at {short} has no `pipeline:` section"
        ))),
        Err(errors) => Err(Unreadable::Invalid(format!(
            ".platform.yaml at {short} is not valid:\n{errors}"
        ))),
    }
}

/// What every step of a run shares.
pub(super) struct Plan {
    pub(super) run: PipelineRun,
    pub(super) repository: Repository,
    pub(super) definition: PipelineDefinition,
    pub(super) sha: String,
    pub(super) clone_url: String,
    /// The repository's secrets, opened: for steps' environments, and masked in every log.
    pub(super) secrets: BTreeMap<String, String>,
}

/// The repository's secrets, decrypted for this run.
async fn open_secrets(
    ctx: &PipelineContext,
    repository: &Repository,
) -> Result<BTreeMap<String, String>, RunError> {
    let sealed = ctx
        .store
        .sealed_secrets(repository.id)
        .await
        .map_err(RunError::Secrets)?;
    sealed
        .iter()
        .map(|secret| {
            let value = ctx.secret_box.open(secret)?;
            Ok((secret.name.clone(), value))
        })
        .collect()
}

async fn run_steps(ctx: &PipelineContext, plan: Arc<Plan>, stops: &RunStops) -> Outcome {
    let steps = &plan.definition.steps;
    let dag = Dag::new(&plan.definition);
    // A run followed again after a restart keeps what its steps did; the others start pending.
    let stored: Vec<Option<&domain::pipeline::StepRun>> = steps
        .iter()
        .map(|step| plan.run.steps.iter().find(|s| s.name == step.name))
        .collect();
    let mut statuses: Vec<StepStatus> = stored
        .iter()
        .map(|s| s.map_or(StepStatus::Pending, |s| s.status))
        .collect();
    keep_succeeded_steps(ctx, &plan, &mut statuses).await;
    let deadline_secs = plan.definition.timeout_secs;
    // The deadline counts from when the run started, before any restart.
    let elapsed = plan
        .run
        .started_at_ms
        .map_or(0, |started| u64::try_from(now_ms() - started).unwrap_or(0));
    let deadline = Instant::now()
        + Duration::from_secs(deadline_secs).saturating_sub(Duration::from_millis(elapsed));
    let mut running: JoinSet<(usize, StepStatus)> = JoinSet::new();
    for (index, status) in statuses.iter().enumerate() {
        if *status != StepStatus::Running {
            continue;
        }
        let started = stored[index]
            .and_then(|s| s.started_at_ms)
            .unwrap_or_else(now_ms);
        let stop = stop_signal(stops, steps[index].timeout_secs, deadline, deadline_secs);
        let (ctx, plan) = (ctx.clone(), plan.clone());
        running.spawn(async move {
            let status = super::step::run_step(&ctx, &plan, index, stop, Some(started)).await;
            (index, status)
        });
    }
    loop {
        for index in dag.blocked(&statuses) {
            if stops.cancel.is_cancelled() {
                statuses[index] = StepStatus::Cancelled;
                let outcome = StepOutcome {
                    status: StepStatus::Cancelled,
                    exit_code: None,
                    reason: Some("cancelled".into()),
                    log_key: None,
                };
                let _ = ctx
                    .store
                    .finish_step(plan.run.id, &steps[index].name, &outcome, now_ms())
                    .await;
                continue;
            }
            statuses[index] = StepStatus::Skipped;
            let failed: Vec<&str> = steps[index]
                .depends_on
                .iter()
                .filter(|dep| {
                    steps
                        .iter()
                        .position(|s| &s.name == *dep)
                        .is_some_and(|i| statuses[i] != StepStatus::Succeeded)
                })
                .map(String::as_str)
                .collect();
            let outcome = StepOutcome {
                status: StepStatus::Skipped,
                exit_code: None,
                reason: Some(format!(
                    "skipped: `{}` did not succeed",
                    failed.join("`, `")
                )),
                log_key: None,
            };
            let _ = ctx
                .store
                .finish_step(plan.run.id, &steps[index].name, &outcome, now_ms())
                .await;
        }
        let stopping = stops.cancel.is_cancelled() || stops.interrupt.is_cancelled();
        if !stopping && Instant::now() < deadline {
            for index in dag.ready(&statuses) {
                if running.len() >= STEPS_PER_PIPELINE {
                    break;
                }
                statuses[index] = StepStatus::Running;
                let stop = stop_signal(stops, steps[index].timeout_secs, deadline, deadline_secs);
                let (ctx, plan) = (ctx.clone(), plan.clone());
                running.spawn(async move {
                    let status = super::step::run_step(&ctx, &plan, index, stop, None).await;
                    (index, status)
                });
            }
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        match joined {
            Ok((index, status)) => statuses[index] = status,
            Err(error) => {
                tracing::error!(pipeline.id = %plan.run.id, error = %error, "a step task ended abnormally")
            }
        }
    }
    let failed: Vec<&str> = steps
        .iter()
        .zip(&statuses)
        .filter(|(_, status)| **status == StepStatus::Failed)
        .map(|(step, _)| step.name.as_str())
        .collect();
    let end = if stops.interrupt.is_cancelled() {
        // Pods run on, and the steps still pending start once the run is taken over.
        if ctx.runner.survives_restart() {
            return Outcome::LeftRunning;
        }
        RunEnd::failed(StopReason::Interrupted.to_string())
    } else if stops.cancel.is_cancelled() {
        RunEnd {
            status: PipelineStatus::Cancelled,
            reason: Some("cancelled".into()),
        }
    } else if statuses.iter().all(|s| *s == StepStatus::Succeeded) {
        RunEnd {
            status: PipelineStatus::Succeeded,
            reason: None,
        }
    } else if Instant::now() >= deadline {
        RunEnd::failed(format!(
            "the pipeline reached its {} deadline",
            human_secs(deadline_secs)
        ))
    } else if !failed.is_empty() {
        RunEnd::failed(format!("step `{}` failed", failed.join("`, `")))
    } else {
        RunEnd::failed("the pipeline did not finish")
    };
    Outcome::Ended(end)
}

/// For a retry of failed steps: the steps that succeeded in the retried run keep that outcome
/// (and its log) instead of running again.
async fn keep_succeeded_steps(ctx: &PipelineContext, plan: &Plan, statuses: &mut [StepStatus]) {
    let run = &plan.run;
    let (Some(previous), Some(domain::pipeline::RETRY_FAILED_STEPS)) =
        (run.retry_of, run.trigger_detail.as_deref())
    else {
        return;
    };
    let Ok(previous) = ctx.store.get_pipeline(previous).await else {
        return;
    };
    // Only a retry of the same commit can reuse what succeeded.
    if previous.commit_sha.as_deref() != Some(plan.sha.as_str()) {
        return;
    }
    for (index, step) in plan.definition.steps.iter().enumerate() {
        let kept = previous
            .steps
            .iter()
            .find(|s| s.name == step.name && s.status == StepStatus::Succeeded);
        let Some(kept) = kept else { continue };
        let outcome = StepOutcome {
            status: StepStatus::Succeeded,
            exit_code: kept.exit_code,
            reason: Some(format!("succeeded in run #{}; not run again", previous.id)),
            log_key: kept.log_key.clone(),
        };
        if ctx
            .store
            .finish_step(run.id, &step.name, &outcome, now_ms())
            .await
            .is_ok()
        {
            statuses[index] = StepStatus::Succeeded;
        }
    }
}

/// Resolves when the step must stop: cancel, interruption, its timeout or the run's deadline.
fn stop_signal(
    stops: &RunStops,
    timeout_secs: u64,
    deadline: Instant,
    deadline_secs: u64,
) -> domain::pipeline::StopSignal {
    let (cancel, interrupt) = (stops.cancel.clone(), stops.interrupt.clone());
    Box::pin(async move {
        tokio::select! {
            () = cancel.cancelled() => StopReason::Cancelled,
            () = interrupt.cancelled() => StopReason::Interrupted,
            () = tokio::time::sleep(Duration::from_secs(timeout_secs)) => StopReason::TimedOut { after_secs: timeout_secs },
            () = tokio::time::sleep_until(deadline) => StopReason::Deadline { after_secs: deadline_secs },
        }
    })
}

impl PipelineContext {
    /// Tells dashboards (and other replicas) that the run changed.
    pub(super) async fn announce(&self, id: domain::pipeline::PipelineId, status: &str) {
        let event = BusEvent::Changed {
            entity: EntityKind::Pipeline,
            id: id.to_string(),
            status: status.to_owned(),
        };
        if let Err(error) = self.bus.publish(&event).await {
            tracing::warn!(pipeline.id = %id, error = %error, "cannot announce a pipeline change");
        }
    }
}
