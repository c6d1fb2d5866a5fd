//! One attempt at one repository's execution: the base ref fetched into the repository's
//! mirror (which pins the commit), the steps run as one script — through the local runner in a
//! checkout of the mirror, or as a Job on the cluster (`kubernetes`) — with per-step timeouts
//! and the execution's deadline, cancel and shutdown as stop reasons; every output line
//! redacted, published live and stored as it grows (`live_log`), and what it left — `logs.txt`, `patch.diff`, `summary.json` under
//! `preview/{run_id}/{repo_slug}/` — stored before the outcome is recorded, so an outcome
//! never points at artifacts that are not there.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::channel::mpsc;
use futures::{FutureExt, StreamExt};
use sha2::{Digest, Sha256};

use domain::pipeline::runner::human_secs;
use domain::pipeline::{
    ArtifactDefinition, ArtifactSink, PipelineId, RunnerError, StepDefinition, StepExit, StepSpec,
    StopReason,
};
use domain::transform::run::artifact_key;
use domain::transform::test_report::TestCounts;
use domain::transform::{
    ClaimedExecution, DiffSummary, ExecutionOutcome, ExecutionStatus, TransformSpec,
};
use domain::{ObjectKey, Repository};

use super::kubernetes::JobAttempt;
use super::live_log::LiveLog;
use super::script::{
    NUMSTAT_FILE, OUTPUT_DIR, PATCH_FILE, Progress, RUN_SCRIPT, execution_script, is_machinery,
};
use super::summary::Summary;
use super::{Executor, TransformContext};
use crate::pipelines::redact::Redactor;
use crate::pipelines::source::{Source, SourceError, clone_token};

/// An execution's log keeps at most this many lines (the rest is counted, not kept).
const MAX_LOG_LINES: usize = 50_000;
/// A kept line is cut to this many characters.
const MAX_LINE_CHARS: usize = 2_000;

/// How an attempt ended.
pub enum Attempt {
    /// It ran (or could not, for a reason trying again will not change): record it.
    Ended(ExecutionOutcome),
    /// The machinery failed: try again later (or give up after the last attempt).
    Failed(String),
    /// Slipway is stopping: hand it back.
    Interrupted,
}

/// Runs one claimed execution's attempt until it ends or `stop` says why it must stop.
pub async fn attempt(
    ctx: &TransformContext,
    claimed: &ClaimedExecution,
    stop: futures::future::BoxFuture<'static, StopReason>,
) -> Attempt {
    let execution = &claimed.execution;
    let repository = match ctx.store.get_repository(execution.repository_id).await {
        Ok(repository) => repository,
        Err(domain::StoreError::NotFound { .. }) => {
            return ended(
                ExecutionStatus::Failed,
                None,
                "the repository was removed from Slipway",
            );
        }
        Err(error) => return Attempt::Failed(format!("cannot read the repository: {error}")),
    };
    let (source, clone_token) =
        match fetch(ctx, &repository, claimed.spec.base_ref.as_deref()).await {
            Ok(fetched) => fetched,
            Err(Fetch::Unknown(reason)) => return ended(ExecutionStatus::Failed, None, &reason),
            Err(Fetch::Unavailable(reason)) => return Attempt::Failed(reason),
        };
    if let Err(error) = ctx
        .store
        .start_execution(
            execution.id,
            &ctx.worker_id,
            source.commit_sha(),
            domain::time::now_ms(),
        )
        .await
    {
        return Attempt::Failed(format!("cannot record the start: {error}"));
    }
    // The run page shows it running (and its live log) without waiting for it to end.
    super::announce(ctx, execution).await;
    let secrets = match open_secrets(ctx, &repository).await {
        Ok(secrets) => secrets,
        Err(reason) => return Attempt::Failed(reason),
    };
    let (_, environment) = match execution_script(&claimed.spec, &secrets) {
        Ok(script) => script,
        Err(missing) => return ended(ExecutionStatus::Failed, None, &missing.to_string()),
    };
    let mut redactor = Redactor::new(secrets.into_values());
    let files = Arc::new(Captured::default());
    let (sender, lines) = mpsc::channel(256);
    let started = std::time::Instant::now();
    let running = match &ctx.executor {
        Executor::Local(runner) => runner
            .run_step(
                local_spec(claimed, &source, environment),
                sender,
                stop,
                files.clone(),
            )
            .boxed(),
        Executor::Kubernetes(jobs) => {
            let job = JobAttempt {
                claimed,
                clone_url: &repository.clone_url,
                clone_token: clone_token.as_deref(),
                commit_sha: source.commit_sha(),
                environment: &environment,
            };
            jobs.run(job, sender, stop, files.clone()).boxed()
        }
    };
    let mut live = LiveLog::new(ctx.bus.as_ref(), ctx.objects.as_ref(), claimed);
    let (exit, log, progress, tests) = run_reading(running, lines, &mut redactor, &mut live).await;
    let exit = match exit {
        Ok(exit) => exit,
        Err(error) => return Attempt::Failed(error.explained()),
    };
    let outcome = outcome(&exit, &progress, &files, &claimed.spec);
    let Some(outcome) = outcome else {
        return Attempt::Interrupted;
    };
    let mut summary = Summary::new(claimed, source.commit_sha(), &outcome, started.elapsed());
    summary.tests = tests;
    match keep(ctx, claimed, &log, files.patch(), &summary).await {
        Ok(()) => Attempt::Ended(outcome),
        Err(reason) => Attempt::Failed(reason),
    }
}

/// The one "step" the local runner is given: the script, in a checkout of the mirror at the
/// base commit, the patch collected from `.git/slipway/`.
fn local_spec(
    claimed: &ClaimedExecution,
    source: &Source,
    environment: BTreeMap<String, String>,
) -> StepSpec {
    let execution = &claimed.execution;
    StepSpec {
        pipeline_id: PipelineId(execution.id),
        step: StepDefinition {
            name: "transform".to_owned(),
            image: claimed
                .spec
                .steps
                .first()
                .map(|s| s.image.clone())
                .unwrap_or_default(),
            commands: vec![RUN_SCRIPT.to_owned()],
            environment: BTreeMap::new(),
            depends_on: Vec::new(),
            timeout_secs: claimed.spec.timeout_secs,
            resources: Default::default(),
            publishes_image: false,
        },
        clone_url: source.path().display().to_string(),
        commit_sha: source.commit_sha().to_owned(),
        environment,
        artifacts: vec![ArtifactDefinition {
            name: "patch".to_owned(),
            path: OUTPUT_DIR.to_owned(),
            step: "transform".to_owned(),
            expires_secs: 0,
        }],
        clone_token: None,
    }
}

fn ended(status: ExecutionStatus, exit_code: Option<i32>, reason: &str) -> Attempt {
    Attempt::Ended(ExecutionOutcome {
        status,
        exit_code,
        reason: Some(reason.to_owned()),
        diff: None,
        patch_sha256: None,
    })
}

/// What the run's exit says, given what its marker lines said; `None` when Slipway stopped.
fn outcome(
    exit: &StepExit,
    progress: &Progress,
    files: &Captured,
    spec: &TransformSpec,
) -> Option<ExecutionOutcome> {
    let step = progress.step.as_deref().unwrap_or("checkout");
    let with = |status, exit_code, reason: String| ExecutionOutcome {
        status,
        exit_code,
        reason: Some(reason),
        diff: None,
        patch_sha256: None,
    };
    Some(match exit {
        StepExit::Exited(0) => {
            let diff = DiffSummary::from_numstat_z(&String::from_utf8_lossy(&files.numstat()));
            let patch = files.patch();
            let status = if diff.files.is_empty() {
                ExecutionStatus::NoChanges
            } else {
                ExecutionStatus::Succeeded
            };
            ExecutionOutcome {
                status,
                exit_code: Some(0),
                reason: None,
                // An empty patch is not kept: no hash of nothing.
                patch_sha256: (status == ExecutionStatus::Succeeded)
                    .then(|| hex::encode(Sha256::digest(&patch))),
                diff: Some(diff),
            }
        }
        StepExit::Exited(code) if progress.timed_out => {
            let secs = spec
                .steps
                .iter()
                .find(|s| s.name == step)
                .map_or(0, |s| s.timeout_secs);
            with(
                ExecutionStatus::TimedOut,
                Some(*code),
                format!("step `{step}` timed out after {}", human_secs(secs)),
            )
        }
        StepExit::Exited(code) if progress.diffing => with(
            ExecutionStatus::Failed,
            Some(*code),
            format!("the steps succeeded, but staging the changes failed (exit code {code})"),
        ),
        StepExit::Exited(code) => with(
            ExecutionStatus::Failed,
            Some(*code),
            format!("step `{step}` failed with exit code {code}"),
        ),
        StepExit::Stopped(StopReason::Deadline { .. } | StopReason::TimedOut { .. }) => with(
            ExecutionStatus::TimedOut,
            None,
            format!(
                "the execution reached its {} deadline during step `{step}`",
                human_secs(spec.timeout_secs)
            ),
        ),
        StepExit::Stopped(StopReason::Cancelled) => with(
            ExecutionStatus::Cancelled,
            None,
            format!("cancelled during step `{step}`"),
        ),
        StepExit::Stopped(StopReason::Interrupted) => return None,
        StepExit::Refused(reason) => with(ExecutionStatus::Failed, None, reason.clone()),
    })
}

/// Why the base ref could not be had.
enum Fetch {
    /// The ref does not exist: trying again will not help.
    Unknown(String),
    /// The clone or fetch failed (the host, the network, a token): worth another attempt.
    Unavailable(String),
}

/// The base ref fetched into the repository's mirror, and the token it was fetched with (a
/// Job clones with it too).
async fn fetch(
    ctx: &TransformContext,
    repository: &Repository,
    base_ref: Option<&str>,
) -> Result<(Source, Option<String>), Fetch> {
    let token = clone_token(ctx.git_host.as_deref(), repository)
        .await
        .map_err(|e| Fetch::Unavailable(domain::error_chain(&e)))?;
    let wanted = base_ref.unwrap_or(&repository.default_branch);
    let source = Source::fetch(
        &ctx.mirrors,
        &repository.clone_url,
        token.as_deref(),
        wanted,
        None,
    )
    .await
    .map_err(|error| match error {
        SourceError::UnknownRef { .. } => Fetch::Unknown(domain::error_chain(&error)),
        other => Fetch::Unavailable(domain::error_chain(&other)),
    })?;
    Ok((source, token))
}

async fn open_secrets(
    ctx: &TransformContext,
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
            let value = ctx
                .secret_box
                .open(secret)
                .map_err(|e| format!("cannot open secret `{}`: {e}", secret.name))?;
            Ok((secret.name.clone(), value))
        })
        .collect()
}

/// Runs the attempt while reading every output line, redacted, into a bounded log (noting the
/// script's markers), each kept line published for followers and the log so far stored as it
/// grows. Once the run ended, lines still coming (from processes it left behind holding its
/// output open) are read for [`DRAIN`] at most.
async fn run_reading(
    running: impl std::future::Future<Output = Result<StepExit, RunnerError>>,
    mut lines: mpsc::Receiver<String>,
    redactor: &mut Redactor,
    live: &mut LiveLog<'_>,
) -> (
    Result<StepExit, RunnerError>,
    String,
    Progress,
    Option<TestCounts>,
) {
    let mut log = Log::default();
    let mut running = std::pin::pin!(running);
    let mut flush = tokio::time::interval(super::live_log::FLUSH_EVERY);
    let exit = loop {
        tokio::select! {
            line = lines.next() => match line {
                Some(raw) => {
                    if let Some((seq, kept)) = log.push(&raw, redactor) {
                        live.line(seq, kept).await;
                    }
                }
                None => break running.await,
            },
            exit = &mut running => break exit,
            _ = flush.tick() => live.flush_if_due(&log.text, log.kept).await,
        }
    };
    let drain = async {
        while let Some(raw) = lines.next().await {
            if let Some((seq, kept)) = log.push(&raw, redactor) {
                live.line(seq, kept).await;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN, drain).await;
    (exit, log.finish(), log.progress, log.tests)
}

/// Lines still coming once an attempt ended are read this long at most.
const DRAIN: Duration = Duration::from_secs(2);

/// An execution's log as it is read.
#[derive(Default)]
struct Log {
    text: String,
    kept: usize,
    dropped: usize,
    progress: Progress,
    /// Test totals the steps printed, added up.
    tests: Option<TestCounts>,
}

impl Log {
    /// Takes in an output line; its number and the line as kept (redacted, cut), if it is kept.
    fn push(&mut self, raw: &str, redactor: &mut Redactor) -> Option<(usize, &str)> {
        self.progress.note(raw);
        if is_machinery(raw) {
            return None;
        }
        if self.kept >= MAX_LOG_LINES {
            self.dropped += 1;
            return None;
        }
        // `+ command` lines echo what runs, not what it printed.
        if let Some(counts) = TestCounts::in_line(raw).filter(|_| !raw.starts_with("+ ")) {
            self.tests.get_or_insert_default().add(counts);
        }
        let line = redactor.line(raw);
        let start = self.text.len();
        self.text.extend(line.chars().take(MAX_LINE_CHARS));
        self.text.push('\n');
        self.kept += 1;
        Some((self.kept, &self.text[start..self.text.len() - 1]))
    }

    fn finish(&mut self) -> String {
        if self.dropped > 0 {
            self.text.push_str(&format!(
                "slipway: {} more lines were not kept\n",
                self.dropped
            ));
        }
        std::mem::take(&mut self.text)
    }
}

/// Stores the three artifacts (the patch only when there is one).
async fn keep(
    ctx: &TransformContext,
    claimed: &ClaimedExecution,
    log: &str,
    patch: Bytes,
    summary: &Summary,
) -> Result<(), String> {
    let execution = &claimed.execution;
    let summary = serde_json::to_vec_pretty(summary).map_err(|e| e.to_string())?;
    let mut files = vec![
        ("logs.txt", Bytes::from(log.to_owned())),
        ("summary.json", Bytes::from(summary)),
    ];
    if !patch.is_empty() {
        files.push(("patch.diff", patch));
    }
    for (file, content) in files {
        let key = ObjectKey::new(&artifact_key(execution.run_id, &execution.repository, file))
            .map_err(|e| e.to_string())?;
        ctx.objects
            .put(&key, content)
            .await
            .map_err(|e| format!("cannot store {file}: {}", domain::error_chain(&e)))?;
    }
    Ok(())
}

/// The files the runner hands over from `.git/slipway/`.
#[derive(Default)]
struct Captured {
    files: Mutex<BTreeMap<String, Bytes>>,
}

impl Captured {
    fn file(&self, name: &str) -> Bytes {
        self.files
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .cloned()
            .unwrap_or_default()
    }

    fn patch(&self) -> Bytes {
        self.file(PATCH_FILE)
    }

    fn numstat(&self) -> Bytes {
        self.file(NUMSTAT_FILE)
    }
}

#[async_trait::async_trait]
impl ArtifactSink for Captured {
    async fn store(
        &self,
        _artifact: &ArtifactDefinition,
        path: &str,
        content: Bytes,
    ) -> Result<(), RunnerError> {
        self.files
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(path.to_owned(), content);
        Ok(())
    }
}
