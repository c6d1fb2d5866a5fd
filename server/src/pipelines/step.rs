//! One step of a run: its log opened with the run's secrets to mask, its environment, the
//! runner driven with infrastructure errors retried, the outcome recorded, the published image
//! handed to previews, and the step's resources released once its log is stored.

use std::sync::Arc;

use futures::StreamExt;
use futures::channel::mpsc;

use domain::pipeline::runner::human_secs;
use domain::pipeline::{StepExit, StepOutcome, StepSpec, StepStatus, StopReason, StopSignal};

use super::artifacts::ArtifactStorage;
use super::environment::{RunContext, step_environment};
use super::executor::PipelineContext;
use super::logs::{FLUSH_EVERY, StepLog};
use super::now_ms;
use super::redact::Redactor;
use super::run::{Plan, RETRY_PAUSES};

/// Runs one step with its log, retrying infrastructure failures; returns how it ended.
pub(super) async fn run_step(
    ctx: &PipelineContext,
    plan: &Plan,
    index: usize,
    stop: StopSignal,
) -> StepStatus {
    let step = &plan.definition.steps[index];
    let id = plan.run.id;
    let _slot = ctx.step_slots.acquire().await;
    let started = now_ms();
    let _ = ctx.store.start_step(id, &step.name, started).await;
    let mut log = StepLog::open(
        &ctx.hub,
        ctx.objects.clone(),
        ctx.bus.clone(),
        id,
        &step.name,
        Redactor::new(plan.secrets.values().cloned()),
    );
    // Announced once the live log exists: a viewer woken by it follows the log from memory at
    // once, instead of waiting for its next look.
    ctx.announce(id, "running").await;
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
    let outcome = match step_environment(&context, step).and_then(|e| Ok((e, clone_token?))) {
        Err(message) => {
            log.push(&format!("slipway: {message}")).await;
            (StepStatus::Failed, None, Some(message))
        }
        Ok((environment, clone_token)) => {
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
                clone_token,
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
    stop: StopSignal,
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
