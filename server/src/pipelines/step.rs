//! One step of a run: its log opened with the run's secrets to mask, its environment, the
//! runner driven with infrastructure errors retried (or, after a restart, the step that ran on
//! followed again), the outcome recorded, the published image handed to previews, and the
//! step's resources released once its log is stored. When Slipway stops while the runner's
//! steps run on, the step is left running, its log stored so far.

use std::sync::Arc;

use futures::StreamExt;
use futures::channel::mpsc;

use domain::pipeline::runner::human_secs;
use domain::pipeline::{
    StepDefinition, StepExit, StepOutcome, StepSpec, StepStatus, StopReason, StopSignal,
};

use super::artifacts::ArtifactStorage;
use super::environment::{RunContext, step_environment};
use super::executor::PipelineContext;
use super::logs::{FLUSH_EVERY, StepLog};
use super::redact::Redactor;
use super::run::{Plan, RETRY_PAUSES};
use domain::time::now_ms;

/// How a step ended: its status, exit code and reason.
type Ending = (StepStatus, Option<i32>, Option<String>);
/// The step's stop signal, shared by its attempts.
type SharedStop = futures::future::Shared<StopSignal>;

/// Runs one step with its log, retrying infrastructure failures; returns how it ended
/// (`Running` when Slipway stopped and the step runs on). `resumed_from` is when a step that
/// was running before a restart started: it is followed again instead of started.
pub(super) async fn run_step(
    ctx: &PipelineContext,
    plan: &Plan,
    index: usize,
    stop: StopSignal,
    resumed_from: Option<i64>,
) -> StepStatus {
    let step = &plan.definition.steps[index];
    let id = plan.run.id;
    let _slot = ctx.step_slots.acquire().await;
    // The live log exists before the Store says the step runs: a viewer who reads that it
    // runs finds its lines in this process, instead of looking for them elsewhere.
    let mut log = StepLog::open(
        &ctx.hub,
        ctx.objects.clone(),
        ctx.bus.clone(),
        id,
        &step.name,
        Redactor::new(plan.secrets.values().cloned()),
    );
    let started = match resumed_from {
        Some(started) => started,
        None => {
            let started = now_ms();
            let _ = ctx.store.start_step(id, &step.name, started).await;
            started
        }
    };
    // Announced once the live log exists: a viewer woken by it follows the log from memory at
    // once, instead of waiting for its next look.
    ctx.announce(id, "running").await;
    let stop = futures::FutureExt::shared(stop);
    let resumed = match resumed_from {
        Some(_) => {
            // The step's output is read again from its start.
            log.forget_stored_parts().await;
            resume_step(ctx, plan, step, &mut log, Box::pin(stop.clone())).await
        }
        None => None,
    };
    let outcome = match resumed {
        Some(ending) => ending,
        None => start_step(ctx, plan, step, &mut log, stop).await,
    };
    let (status, exit_code, reason) = outcome;
    if status == StepStatus::Running {
        // Slipway is stopping and the step runs on: whoever follows it next finishes it.
        log.detach().await;
        return status;
    }
    crate::metrics::step_ended(status, now_ms() - started);
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
    let ended_at = now_ms();
    let stored = super::persist::until_stored("how a step ended", || {
        ctx.store.finish_step(id, &step.name, &outcome, ended_at)
    })
    .await;
    if let Err(error) = stored {
        tracing::error!(pipeline.id = %id, step = %step.name, error = %error, "cannot record how a step ended");
    }
    if status == StepStatus::Succeeded && step.publishes_image {
        record_image(ctx, plan).await;
    }
    ctx.announce(id, "running").await;
    status
}

/// Starts the step afresh: its environment, then the runner (infrastructure errors retried).
async fn start_step(
    ctx: &PipelineContext,
    plan: &Plan,
    step: &StepDefinition,
    log: &mut StepLog,
    stop: SharedStop,
) -> Ending {
    let context = RunContext {
        repository: &plan.repository,
        run: &plan.run,
        commit_sha: &plan.sha,
        registry: &ctx.registry,
        preview_url: None,
        secrets: &plan.secrets,
    };
    // A runner that clones from the repository itself (pods) needs the credentials Slipway's
    // mirror used.
    let clone_token = if ctx.runner.clones_from_local_source() {
        Ok(None)
    } else {
        super::source::clone_token(ctx.git_host.as_deref(), &plan.repository).await
    };
    let prepared = match (step_environment(&context, step), clone_token) {
        (Ok(environment), Ok(token)) => Ok((environment, token)),
        (Err(missing), _) => Err(domain::error_chain(&missing)),
        (_, Err(no_token)) => Err(domain::error_chain(&no_token)),
    };
    match prepared {
        Err(message) => {
            log.push(&format!("slipway: {message}")).await;
            (StepStatus::Failed, None, Some(message))
        }
        Ok((environment, clone_token)) => {
            let spec = StepSpec {
                pipeline_id: plan.run.id,
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
                clone_token,
            };
            attempt_step(ctx, spec, log, stop).await
        }
    }
}

/// Follows a step that ran on while Slipway restarted; `None` when there is nothing left of it
/// to follow (it is then started afresh).
async fn resume_step(
    ctx: &PipelineContext,
    plan: &Plan,
    step: &StepDefinition,
    log: &mut StepLog,
    stop: StopSignal,
) -> Option<Ending> {
    let (sender, lines) = mpsc::channel::<String>(64);
    let runner = ctx.runner.resume_step(plan.run.id, step, sender, stop);
    match relay(runner, lines, log).await {
        Ok(Some(exit)) => Some(ending(ctx, exit, log).await),
        Ok(None) => {
            log.push(
                "slipway: the step's earlier attempt left nothing to follow; starting it again",
            )
            .await;
            None
        }
        Err(error) => {
            let message = format!("cannot follow the step again: {}", error.message);
            log.push(&format!("slipway: {message}")).await;
            Some((StepStatus::Failed, None, Some(message)))
        }
    }
}

/// Relays the lines a runner sends into the log until the runner is done; returns its result.
async fn relay<T>(
    runner: impl std::future::Future<Output = T>,
    mut lines: mpsc::Receiver<String>,
    log: &mut StepLog,
) -> T {
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
    result
}

/// What a step's exit means for it. Interrupted by Slipway stopping, a step whose runner
/// survives restarts is still running.
async fn ending(ctx: &PipelineContext, exit: StepExit, log: &mut StepLog) -> Ending {
    match exit {
        StepExit::Exited(0) => (StepStatus::Succeeded, Some(0), None),
        StepExit::Exited(code) => (
            StepStatus::Failed,
            Some(code),
            Some(format!("exited with code {code}")),
        ),
        StepExit::Stopped(StopReason::Cancelled) => {
            (StepStatus::Cancelled, None, Some("cancelled".into()))
        }
        StepExit::Stopped(StopReason::Interrupted) if ctx.runner.survives_restart() => {
            (StepStatus::Running, None, None)
        }
        StepExit::Stopped(reason) => (StepStatus::Failed, None, Some(reason.to_string())),
        StepExit::Refused(why) => {
            log.push(&format!("slipway: {why}")).await;
            (StepStatus::Failed, None, Some(why))
        }
    }
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
    stop: SharedStop,
) -> Ending {
    let mut attempt = 0;
    loop {
        // Small: lines wait in the step's pipe rather than here, so viewers see them promptly.
        let (sender, lines) = mpsc::channel::<String>(64);
        let sink = Arc::new(ArtifactStorage {
            store: ctx.store.clone(),
            objects: ctx.objects.clone(),
            pipeline: spec.pipeline_id,
        });
        let runner = ctx
            .runner
            .run_step(spec.clone(), sender, Box::pin(stop.clone()), sink);
        match relay(runner, lines, log).await {
            Ok(exit) => return ending(ctx, exit, log).await,
            Err(error) if attempt < RETRY_PAUSES.len() && !error.is_permanent() => {
                let pause = RETRY_PAUSES[attempt];
                log.push(&format!(
                    "slipway: {}; retrying in {} s (attempt {} of {})",
                    error.explained(),
                    pause.as_secs(),
                    attempt + 2,
                    RETRY_PAUSES.len() + 1
                ))
                .await;
                tokio::time::sleep(pause).await;
                attempt += 1;
            }
            Err(error) if error.is_permanent() => {
                let message = error.explained();
                log.push(&format!("slipway: {message}")).await;
                return (StepStatus::Failed, None, Some(message));
            }
            Err(error) => {
                let message = format!(
                    "{} (gave up after {} attempts)",
                    error.explained(),
                    attempt + 1
                );
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
