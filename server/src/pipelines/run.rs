//! One pipeline run, start to end: fetch the source and resolve the commit, read and validate
//! `.platform.yaml`, record the plan, then run the DAG — independent steps in parallel, a failed
//! step skipping what depends on it, per-step timeouts and the pipeline deadline — and record
//! how every step and the run ended.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use domain::pipeline::parse::parse_pipeline;
use domain::pipeline::runner::human_secs;
use domain::pipeline::{
    Dag, PipelineDefinition, PipelineRun, PipelineStatus, StepExit, StepOutcome, StepSpec,
    StepStatus, StopReason, TriggerKind,
};
use domain::{BusEvent, EntityKind, Repository};

use super::artifacts::ArtifactStorage;
use super::environment::{RunContext, step_environment};
use super::executor::PipelineContext;
use super::logs::{FLUSH_EVERY, StepLog};
use super::now_ms;
use super::redact::Redactor;
use super::source::Source;

/// Steps of one pipeline running at once (the instance-wide limit applies too).
const STEPS_PER_PIPELINE: usize = 4;
/// Infrastructure failures are retried after these pauses.
const RETRY_PAUSES: [Duration; 3] = [
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
}

/// Runs a claimed pipeline to its end (without recording the end: the caller does).
pub async fn execute(ctx: &PipelineContext, run: &PipelineRun, stops: &RunStops) -> Outcome {
    match execute_run(ctx, run, stops).await {
        Ok(end) => Outcome::Ended(end),
        Err(why) => Outcome::NotWanted(why),
    }
}

async fn execute_run(
    ctx: &PipelineContext,
    run: &PipelineRun,
    stops: &RunStops,
) -> Result<RunEnd, String> {
    let repository = match ctx.store.get_repository(run.repository_id).await {
        Ok(repository) => repository,
        Err(error) => {
            return Ok(RunEnd::failed(format!(
                "cannot read the repository: {error}"
            )));
        }
    };
    let secrets = match open_secrets(ctx, &repository).await {
        Ok(secrets) => secrets,
        Err(message) => return Ok(RunEnd::failed(message)),
    };
    let source = match fetch_source(ctx, &repository, run).await {
        Ok(source) => source,
        Err(message) => return Ok(RunEnd::failed(message)),
    };
    let sha = source.commit_sha().to_owned();
    let definition = match read_definition(&source).await {
        Ok(definition) => definition,
        Err(message) => return Ok(RunEnd::failed(message)),
    };
    if let Some(why) = not_wanted(run, &definition) {
        return Err(why);
    }
    if run.branch() == repository.default_branch {
        let schedules =
            super::scheduler::entries(&repository, &definition.triggers.schedules, now_ms());
        if let Err(error) = ctx.store.set_schedules(repository.id, &schedules).await {
            tracing::warn!(pipeline.id = %run.id, error = %error, "cannot record the repository's schedules");
        }
    }
    if let Err(error) = ctx.store.plan_pipeline(run.id, &sha, &definition).await {
        return Ok(RunEnd::failed(format!("cannot record the plan: {error}")));
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
    Ok(run_steps(ctx, Arc::new(plan), stops).await)
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
) -> Result<Source, String> {
    let mut attempt = 0;
    loop {
        match Source::fetch(
            &repository.clone_url,
            &run.git_ref,
            run.commit_sha.as_deref(),
            &ctx.work_root,
        )
        .await
        {
            Ok(source) => return Ok(source),
            // A ref that does not exist will not appear by retrying.
            Err(error @ super::source::SourceError::UnknownRef { .. }) => {
                return Err(error.to_string());
            }
            Err(error) if attempt < RETRY_PAUSES.len() => {
                tracing::warn!(pipeline.id = %run.id, error = %error, "fetching the source failed; retrying");
                tokio::time::sleep(RETRY_PAUSES[attempt]).await;
                attempt += 1;
            }
            Err(error) => return Err(error.to_string()),
        }
    }
}

async fn read_definition(source: &Source) -> Result<PipelineDefinition, String> {
    let short = &source.commit_sha()[..12.min(source.commit_sha().len())];
    let text = source
        .platform_file()
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("commit {short} has no .platform.yaml"))?;
    match parse_pipeline(&text) {
        Ok(Some(definition)) => Ok(definition),
        Ok(None) => Err(format!(
            ".platform.yaml at {short} has no `pipeline:` section"
        )),
        Err(errors) => Err(format!(".platform.yaml at {short} is not valid:\n{errors}")),
    }
}

/// What every step of a run shares.
struct Plan {
    run: PipelineRun,
    repository: Repository,
    definition: PipelineDefinition,
    sha: String,
    clone_url: String,
    /// The repository's secrets, opened: for steps' environments, and masked in every log.
    secrets: BTreeMap<String, String>,
}

/// The repository's secrets, decrypted for this run.
async fn open_secrets(
    ctx: &PipelineContext,
    repository: &Repository,
) -> Result<BTreeMap<String, String>, String> {
    let sealed = ctx
        .store
        .sealed_secrets(repository.id)
        .await
        .map_err(|e| format!("cannot read the repository's secrets: {e}"))?;
    sealed
        .iter()
        .map(|secret| {
            ctx.secret_box
                .open(secret)
                .map(|value| (secret.name.clone(), value))
                .map_err(|e| e.to_string())
        })
        .collect()
}

async fn run_steps(ctx: &PipelineContext, plan: Arc<Plan>, stops: &RunStops) -> RunEnd {
    let steps = &plan.definition.steps;
    let dag = Dag::new(&plan.definition);
    let mut statuses = vec![StepStatus::Pending; steps.len()];
    keep_succeeded_steps(ctx, &plan, &mut statuses).await;
    let deadline_secs = plan.definition.timeout_secs;
    let deadline = Instant::now() + Duration::from_secs(deadline_secs);
    let mut running: JoinSet<(usize, StepStatus)> = JoinSet::new();
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
                    let status = run_step(&ctx, &plan, index, stop).await;
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
    if stops.interrupt.is_cancelled() {
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
    }
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

/// Runs one step with its log, retrying infrastructure failures; returns how it ended.
async fn run_step(
    ctx: &PipelineContext,
    plan: &Plan,
    index: usize,
    stop: domain::pipeline::StopSignal,
) -> StepStatus {
    let step = &plan.definition.steps[index];
    let id = plan.run.id;
    let _slot = ctx.step_slots.acquire().await;
    let started = now_ms();
    let _ = ctx.store.start_step(id, &step.name, started).await;
    ctx.announce(id, "running").await;

    let mut log = StepLog::open(
        &ctx.hub,
        ctx.objects.clone(),
        ctx.bus.clone(),
        id,
        &step.name,
        Redactor::new(plan.secrets.values().cloned()),
    );
    let context = RunContext {
        repository: &plan.repository,
        run: &plan.run,
        commit_sha: &plan.sha,
        registry: &ctx.registry,
        preview_url: None,
        secrets: &plan.secrets,
    };
    let outcome = match step_environment(&context, step) {
        Err(message) => {
            log.push(&format!("slipway: {message}")).await;
            (StepStatus::Failed, None, Some(message))
        }
        Ok(environment) => {
            let spec = StepSpec {
                pipeline_id: id,
                step: step.clone(),
                clone_url: plan.clone_url.clone(),
                commit_sha: plan.sha.clone(),
                environment,
                artifacts: plan
                    .definition
                    .artifacts
                    .iter()
                    .filter(|artifact| artifact.step == step.name)
                    .cloned()
                    .collect(),
            };
            attempt_step(ctx, spec, &mut log, stop).await
        }
    };
    let (status, exit_code, reason) = outcome;
    let took = human_ms(now_ms() - started);
    let summary = match status {
        StepStatus::Succeeded => format!("slipway: step `{}` succeeded in {took}", step.name),
        _ => format!(
            "slipway: step `{}` {} after {took}",
            step.name,
            reason.as_deref().unwrap_or("failed")
        ),
    };
    log.push(&summary).await;
    let log_key = match log.finish().await {
        Ok(key) => Some(key),
        Err(error) => {
            tracing::warn!(pipeline.id = %id, step = %step.name, error = %error, "cannot store a step log");
            None
        }
    };
    // Only now that the log is stored may the step's pod go.
    ctx.runner.release(id, &step.name).await;
    let outcome = StepOutcome {
        status,
        exit_code,
        reason,
        log_key,
    };
    if let Err(error) = ctx
        .store
        .finish_step(id, &step.name, &outcome, now_ms())
        .await
    {
        tracing::error!(pipeline.id = %id, step = %step.name, error = %error, "cannot record how a step ended");
    }
    if status == StepStatus::Succeeded && step.publishes_image {
        record_image(ctx, plan).await;
    }
    ctx.announce(id, "running").await;
    status
}

/// Records `$REGISTRY/$PROJECT:$COMMIT_SHA` as the image previews of this commit deploy.
async fn record_image(ctx: &PipelineContext, plan: &Plan) {
    let image = domain::pipeline::PublishedImage {
        repository_id: plan.repository.id,
        commit_sha: plan.sha.clone(),
        image_ref: format!(
            "{}/{}:{}",
            ctx.registry,
            super::environment::project_name(&plan.repository.name),
            plan.sha
        ),
        pipeline_id: plan.run.id,
        published_at_ms: now_ms(),
    };
    match ctx.store.record_published_image(&image).await {
        Ok(()) => {
            tracing::info!(pipeline.id = %plan.run.id, image = %image.image_ref, "image published")
        }
        Err(error) => {
            tracing::error!(pipeline.id = %plan.run.id, error = %error, "cannot record a published image")
        }
    }
}

/// Runs the step through the runner, relaying its output to the log; infrastructure errors
/// are retried (1 s, 2 s, 4 s) before the step fails.
async fn attempt_step(
    ctx: &PipelineContext,
    spec: StepSpec,
    log: &mut StepLog,
    stop: domain::pipeline::StopSignal,
) -> (StepStatus, Option<i32>, Option<String>) {
    let stop = futures::FutureExt::shared(stop);
    let mut attempt = 0;
    loop {
        // Small: lines wait in the step's pipe rather than here, so viewers see them promptly.
        let (sender, mut lines) = mpsc::channel::<String>(64);
        let sink = Arc::new(ArtifactStorage {
            store: ctx.store.clone(),
            objects: ctx.objects.clone(),
            pipeline: spec.pipeline_id,
        });
        let runner = ctx
            .runner
            .run_step(spec.clone(), sender, Box::pin(stop.clone()), sink);
        tokio::pin!(runner);
        let mut flush = tokio::time::interval(FLUSH_EVERY);
        let result = loop {
            tokio::select! {
                result = &mut runner => break result,
                Some(line) = lines.next() => {
                    // Take every line already waiting, so viewers are woken once for them.
                    let mut batch = vec![line];
                    while batch.len() < 256 {
                        match lines.try_recv() {
                            Ok(line) => batch.push(line),
                            Err(_) => break,
                        }
                    }
                    log.push_all(batch).await;
                }
                _ = flush.tick() => if log.flush_due() { log.flush().await },
            }
        };
        // Output sent just before the step ended.
        while let Ok(line) = lines.try_recv() {
            log.push(&line).await;
        }
        match result {
            Ok(StepExit::Exited(0)) => return (StepStatus::Succeeded, Some(0), None),
            Ok(StepExit::Exited(code)) => {
                return (
                    StepStatus::Failed,
                    Some(code),
                    Some(format!("exited with code {code}")),
                );
            }
            Ok(StepExit::Stopped(StopReason::Cancelled)) => {
                return (StepStatus::Cancelled, None, Some("cancelled".into()));
            }
            Ok(StepExit::Stopped(reason)) => {
                return (StepStatus::Failed, None, Some(reason.to_string()));
            }
            Ok(StepExit::Refused(why)) => {
                log.push(&format!("slipway: {why}")).await;
                return (StepStatus::Failed, None, Some(why));
            }
            Err(error) if attempt < RETRY_PAUSES.len() => {
                let pause = RETRY_PAUSES[attempt];
                log.push(&format!(
                    "slipway: {}; retrying in {} s (attempt {} of {})",
                    error.message,
                    pause.as_secs(),
                    attempt + 2,
                    RETRY_PAUSES.len() + 1
                ))
                .await;
                tokio::time::sleep(pause).await;
                attempt += 1;
            }
            Err(error) => {
                let message = format!("{} (gave up after {} attempts)", error.message, attempt + 1);
                log.push(&format!("slipway: {message}")).await;
                return (StepStatus::Failed, None, Some(message));
            }
        }
    }
}

/// `1234` → `1.2 s`, `75000` → `1m15s`.
fn human_ms(ms: i64) -> String {
    if ms < 60_000 {
        format!("{:.1} s", ms.max(0) as f64 / 1000.0)
    } else {
        human_secs((ms / 1000) as u64)
    }
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
