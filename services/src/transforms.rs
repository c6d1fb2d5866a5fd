//! Transform runs: check a spec, start a run over the repositories it selects (the caller must
//! be able to change every one), list and read runs and their executions, read an execution's
//! log, patch and summary, cancel a run, retry one execution or every failed one. A run is seen
//! through its executions: a caller sees the executions of the repositories they can read, and
//! a run with none of those is not found.

use std::collections::BTreeSet;

use bytes::Bytes;
use domain::time::now_ms;
use domain::transform::definition::DEFAULT_ATTEMPTS;
use domain::transform::run::{ARTIFACTS, artifact_key};
use domain::transform::{
    Execution, ExecutionOutput, ExecutionTotals, ExecutionView, NewTransformRun, TRANSFORM_WORKER,
    TransformRun, TransformRunDetail, TransformRunFilter, TransformRunId, TransformSpec,
};
use domain::{EntityKind, ObjectKey, Repository, RepositoryId};
use serde::{Deserialize, Serialize};

use crate::audit::Record;
use crate::caller::{Action, Caller};
use crate::{Error, Result, Services};

/// Runs a page holds unless `limit` says otherwise, and at most.
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;
/// A spec is a short file.
pub const MAX_SPEC_BYTES: usize = 256 * 1024;

/// Start a run.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct StartTransform {
    /// The spec, as YAML (`slipway schema transform` prints its JSON Schema).
    pub spec: String,
}

/// Which runs to list: newest first.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListTransformRuns {
    /// Runs older than this id (the previous page's `next_before`).
    pub before: Option<i64>,
    /// 1 to 200 (larger asks get 200), default 50.
    #[param(minimum = 0, maximum = 4294967295_u64)]
    pub limit: Option<u32>,
}

/// A page of runs.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TransformRunPage {
    pub items: Vec<TransformRun>,
    /// Pass as `before` for the next page; absent on the last.
    pub next_before: Option<TransformRunId>,
}

/// An execution's artifact, read.
#[derive(Debug, Clone)]
pub struct TransformArtifact {
    pub file: &'static str,
    pub content: Bytes,
}

impl TransformArtifact {
    pub fn content_type(&self) -> &'static str {
        match self.file {
            "summary.json" => "application/json",
            "patch.diff" => "text/x-diff; charset=utf-8",
            _ => "text/plain; charset=utf-8",
        }
    }
}

/// The spec's problems as one message, a line each (`line:column: message`).
fn spec_error(errors: &domain::pipeline::DefinitionErrors) -> Error {
    Error::invalid("spec", errors.to_string())
}

impl Services {
    /// Parses and validates a spec, with every problem's line and column.
    pub fn check_transform(&self, text: &str) -> Result<TransformSpec> {
        if text.len() > MAX_SPEC_BYTES {
            return Err(Error::invalid(
                "spec",
                format!("the spec is larger than {} KiB", MAX_SPEC_BYTES / 1024),
            ));
        }
        domain::transform::parse::parse_transform(text).map_err(|e| spec_error(&e))
    }

    /// Starts a run: one pending execution per repository the spec selects among those the
    /// caller can see, each of which the caller must be able to change.
    pub async fn start_transform(
        &self,
        caller: &Caller,
        input: StartTransform,
    ) -> Result<TransformRun> {
        self.authorize(caller, Action::TransformStart, None).await?;
        let spec = self.check_transform(&input.spec)?;
        let record = Record::of(Action::TransformStart).target(spec.name.clone());
        let started = self.record_transform(caller, spec).await;
        let record = match &started {
            Ok(run) => record.details(format!(
                "on {} repositories{}",
                run.totals.total,
                if run.spec.dry_run { " (dry run)" } else { "" }
            )),
            Err(_) => record,
        };
        self.audited(caller, record, started).await
    }

    async fn record_transform(&self, caller: &Caller, spec: TransformSpec) -> Result<TransformRun> {
        if !spec.dry_run && !self.clusters.is_empty() {
            // On a cluster the steps run one after another in one container.
            spec.single_image()
                .map_err(|e| Error::invalid("steps", e.to_string()))?;
        }
        let visible: Vec<Repository> = self
            .store
            .list_repositories()
            .await?
            .into_iter()
            .filter(|r| caller.level_on(r.id).is_some())
            .collect();
        let names: Vec<String> = visible.iter().map(|r| r.name.clone()).collect();
        let chosen = domain::transform::select::select(&spec, &names)
            .map_err(|e| Error::invalid("repositories", e.to_string()))?;
        let mut repositories = Vec::with_capacity(chosen.len());
        for name in chosen {
            let Some(repository) = visible.iter().find(|r| r.name == name) else {
                continue;
            };
            self.authorize(caller, Action::TransformStart, Some(repository))
                .await?;
            repositories.push((repository.id, repository.name.clone()));
        }
        let new = NewTransformRun {
            spec,
            repositories,
            started_by: caller.identity().map(|i| i.user.login.clone()),
            max_attempts: DEFAULT_ATTEMPTS,
        };
        let run = self.store.create_transform_run(&new, now_ms()).await?;
        tracing::info!(transform.run = %run.id, name = %run.name, repositories = run.totals.total, dry_run = run.spec.dry_run, "transform run queued");
        self.announce_transform(&run).await;
        self.wake(TRANSFORM_WORKER).await;
        Ok(run)
    }

    /// A page of the runs with an execution the caller can see.
    pub async fn list_transform_runs(
        &self,
        caller: &Caller,
        query: ListTransformRuns,
    ) -> Result<TransformRunPage> {
        self.authorize(caller, Action::TransformRead, None).await?;
        let filter = TransformRunFilter {
            visible: caller.visible(),
            before: query.before.map(TransformRunId),
            limit: query.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE),
        };
        // The Store counts only what the caller can see: one query for the page's totals.
        let items = self.store.list_transform_runs(&filter).await?;
        let full_page = items.len() >= filter.limit as usize;
        let next_before = items.last().filter(|_| full_page).map(|run| run.id);
        Ok(TransformRunPage { items, next_before })
    }

    /// A run, its totals counting the executions the caller can see.
    pub async fn get_transform_run(&self, caller: &Caller, id: i64) -> Result<TransformRun> {
        Ok(self.get_transform_run_detail(caller, id).await?.run)
    }

    /// A run with the executions the caller can see, its totals counting only those.
    pub async fn get_transform_run_detail(
        &self,
        caller: &Caller,
        id: i64,
    ) -> Result<TransformRunDetail> {
        let (run, executions) = self
            .transform_run(caller, Action::TransformRead, id)
            .await?;
        Ok(TransformRunDetail {
            run: TransformRun {
                totals: totals(&executions),
                ..run
            },
            executions: executions.into_iter().map(ExecutionView::of).collect(),
        })
    }

    /// The execution of `repository` (`owner/name`) in run `run`, as the caller sees it.
    pub async fn transform_execution_in(
        &self,
        caller: &Caller,
        run: i64,
        repository: &str,
    ) -> Result<ExecutionView> {
        let (_, executions) = self
            .transform_run(caller, Action::TransformRead, run)
            .await?;
        executions
            .into_iter()
            .find(|e| e.repository == repository)
            .map(ExecutionView::of)
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "transform run {run} has no execution in {repository}"
                ))
            })
    }

    /// What an opened execution shows: the end of its log and its patch, file by file.
    pub async fn transform_output(
        &self,
        caller: &Caller,
        run: i64,
        execution: i64,
    ) -> Result<ExecutionOutput> {
        let text = |found: Option<TransformArtifact>| {
            found.map(|found| String::from_utf8_lossy(&found.content).into_owned())
        };
        let log = text(
            self.read_transform_artifact(caller, run, execution, "logs.txt")
                .await?,
        );
        let patch = text(
            self.read_transform_artifact(caller, run, execution, "patch.diff")
                .await?,
        );
        Ok(ExecutionOutput::of(log.as_deref(), patch.as_deref()))
    }

    /// One execution as the caller may read it: its status and attempt, for following its log.
    pub async fn get_transform_execution(
        &self,
        caller: &Caller,
        run: i64,
        execution: i64,
    ) -> Result<Execution> {
        self.execution(caller, Action::TransformRead, run, execution)
            .await
    }

    /// A run's executions the caller can see, by repository.
    pub async fn list_transform_executions(
        &self,
        caller: &Caller,
        id: i64,
    ) -> Result<Vec<ExecutionView>> {
        let (_, executions) = self
            .transform_run(caller, Action::TransformRead, id)
            .await?;
        Ok(executions.into_iter().map(ExecutionView::of).collect())
    }

    /// One of an execution's artifacts: `logs.txt`, `patch.diff` or `summary.json`;
    /// `NotFound` also when the execution has not made it (yet).
    pub async fn transform_artifact(
        &self,
        caller: &Caller,
        run: i64,
        execution: i64,
        file: &str,
    ) -> Result<TransformArtifact> {
        self.read_transform_artifact(caller, run, execution, file)
            .await?
            .ok_or_else(|| Error::NotFound(format!("execution {execution} has no {file} (yet)")))
    }

    /// Like [`Services::transform_artifact`], with `None` for an artifact the execution has
    /// not made (yet).
    pub async fn read_transform_artifact(
        &self,
        caller: &Caller,
        run: i64,
        execution: i64,
        file: &str,
    ) -> Result<Option<TransformArtifact>> {
        let Some(file) = ARTIFACTS.into_iter().find(|name| *name == file) else {
            return Err(Error::NotFound(format!(
                "executions keep {}, not `{file}`",
                ARTIFACTS.join(", ")
            )));
        };
        let found = self
            .execution(caller, Action::TransformRead, run, execution)
            .await?;
        let key = ObjectKey::new(&artifact_key(found.run_id, &found.repository, file))
            .map_err(|e| Error::Internal(Box::new(e)))?;
        match self.objects.get(&key).await {
            Ok(content) => Ok(Some(TransformArtifact { file, content })),
            Err(domain::ObjectsError::NotFound(_)) => Ok(None),
            Err(error) => Err(Error::Unavailable {
                dependency: "object storage",
                source: Box::new(error),
            }),
        }
    }

    /// Cancels a run: executions not started end at once, running ones within seconds.
    pub async fn cancel_transform_run(&self, caller: &Caller, id: i64) -> Result<TransformRun> {
        let (run, _) = self
            .transform_run(caller, Action::TransformCancel, id)
            .await?;
        let record = Record::of(Action::TransformCancel).target(format!("transform run {id}"));
        let cancelled = async {
            if run.status.is_finished() {
                return Err(Error::Conflict(format!(
                    "transform run {id} already ended ({})",
                    run.status.as_str()
                )));
            }
            let run = self.store.cancel_transform_run(run.id, now_ms()).await?;
            self.announce_transform(&run).await;
            Ok(run)
        }
        .await;
        self.audited(caller, record, cancelled).await
    }

    /// Runs every failed, timed-out, dead-lettered or cancelled execution of a run again.
    pub async fn retry_failed_transforms(
        &self,
        caller: &Caller,
        id: i64,
    ) -> Result<Vec<ExecutionView>> {
        let (run, _) = self
            .transform_run(caller, Action::TransformRetry, id)
            .await?;
        let record = Record::of(Action::TransformRetry).target(format!("transform run {id}"));
        let retried = self.retry_transforms(run.id, None).await;
        self.audited(caller, record, retried).await
    }

    /// Runs one ended execution again (also one from the dead letters).
    pub async fn retry_transform_execution(
        &self,
        caller: &Caller,
        run: i64,
        execution: i64,
    ) -> Result<ExecutionView> {
        let found = self
            .execution(caller, Action::TransformRetry, run, execution)
            .await?;
        let record = Record::of(Action::TransformRetry).target(format!(
            "transform execution {execution} ({})",
            found.repository
        ));
        let retried = async {
            let moved = self.retry_transforms(found.run_id, Some(found.id)).await?;
            moved.into_iter().next().ok_or_else(|| {
                Error::Conflict(format!(
                    "execution {execution} is {}: only an ended execution that did not succeed is retried",
                    found.status.as_str()
                ))
            })
        }
        .await;
        self.audited(caller, record, retried).await
    }

    async fn retry_transforms(
        &self,
        run: TransformRunId,
        execution: Option<i64>,
    ) -> Result<Vec<ExecutionView>> {
        let moved = self
            .store
            .retry_executions(run, execution, now_ms())
            .await?;
        if !moved.is_empty() {
            let run = self.store.get_transform_run(run).await?;
            self.announce_transform(&run).await;
            self.wake(TRANSFORM_WORKER).await;
        }
        Ok(moved.into_iter().map(ExecutionView::of).collect())
    }

    pub async fn announce_transform(&self, run: &TransformRun) {
        let id = run.id.to_string();
        self.announce(EntityKind::TransformRun, id, run.status.as_str())
            .await;
    }

    /// The run and the executions the caller can see; `NotFound` when they see none. A change
    /// (`action` above read) needs that action on every repository the run touches.
    async fn transform_run(
        &self,
        caller: &Caller,
        action: Action,
        id: i64,
    ) -> Result<(TransformRun, Vec<Execution>)> {
        let missing = || Error::NotFound(format!("transform run {id} not found"));
        self.authorize(caller, Action::TransformRead, None).await?;
        let run = match self.store.get_transform_run(TransformRunId(id)).await {
            Err(domain::StoreError::NotFound { .. }) => return Err(missing()),
            other => other?,
        };
        let executions = self.visible_executions(caller, run.id).await?;
        if executions.is_empty() && caller.visible().is_some() {
            return Err(missing());
        }
        if action != Action::TransformRead {
            let all = self.store.list_executions(run.id).await?;
            let repositories: BTreeSet<RepositoryId> =
                all.iter().map(|e| e.repository_id).collect();
            for repository in repositories {
                let found = self.existing_repository(repository).await?;
                self.authorize_found(caller, action, found.as_ref(), missing)
                    .await?;
            }
        }
        Ok((run, executions))
    }

    /// An execution of run `run` the caller may do `action` on.
    async fn execution(
        &self,
        caller: &Caller,
        action: Action,
        run: i64,
        execution: i64,
    ) -> Result<Execution> {
        let missing =
            || Error::NotFound(format!("transform run {run} has no execution {execution}"));
        self.authorize(caller, Action::TransformRead, None).await?;
        let found = match self.store.get_execution(execution).await {
            Ok(found) if found.run_id.0 == run => found,
            Ok(_) | Err(domain::StoreError::NotFound { .. }) => return Err(missing()),
            Err(other) => return Err(other.into()),
        };
        let repository = self.existing_repository(found.repository_id).await?;
        self.authorize_found(caller, action, repository.as_ref(), missing)
            .await?;
        Ok(found)
    }

    async fn existing_repository(&self, id: RepositoryId) -> Result<Option<Repository>> {
        match self.store.get_repository(id).await {
            Ok(repository) => Ok(Some(repository)),
            Err(domain::StoreError::NotFound { .. }) => Ok(None),
            Err(other) => Err(other.into()),
        }
    }

    async fn visible_executions(
        &self,
        caller: &Caller,
        run: TransformRunId,
    ) -> Result<Vec<Execution>> {
        let executions = self.store.list_executions(run).await?;
        Ok(match caller.visible() {
            None => executions,
            Some(visible) => executions
                .into_iter()
                .filter(|e| visible.contains(&e.repository_id))
                .collect(),
        })
    }
}

fn totals(executions: &[Execution]) -> ExecutionTotals {
    let statuses: Vec<_> = executions.iter().map(|e| e.status).collect();
    ExecutionTotals::of(&statuses)
}
