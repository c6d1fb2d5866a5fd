//! Pipeline runs: list and read them, start one at a ref, cancel and retry, and the image a run
//! published for a commit. A run can be named alone or within its repository ("project"): a
//! run that is not that repository's is not found.

use domain::pipeline::{
    NewPipeline, PipelineFilter, PipelineId, PipelineRun, PipelineStatus, PublishedImage,
    TriggerKind,
};
use domain::time::now_ms;
use domain::{Repository, RepositoryId};
use serde::{Deserialize, Serialize};

use crate::audit::Record;
use crate::caller::{Action, Caller};
use crate::parse::{non_empty, parse_choice, parse_id};
use crate::{Error, Result, Services};

/// Rows a page holds unless `limit` says otherwise, and at most.
pub const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

/// A run, optionally within the repository it must belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineRef {
    pub project: Option<RepositoryId>,
    pub id: PipelineId,
}

impl PipelineRef {
    /// A run named by its id alone.
    pub fn id(id: i64) -> Self {
        Self {
            project: None,
            id: PipelineId(id),
        }
    }

    /// A run named within its repository.
    pub fn in_project(project: i64, id: i64) -> Self {
        Self {
            project: Some(RepositoryId(project)),
            id: PipelineId(id),
        }
    }
}

/// Which runs to list: newest first.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListPipelines {
    /// A repository id (within a project's route, that project's, or absent).
    #[param(value_type = Option<i64>)]
    pub repository: Option<String>,
    /// A run status; `success` and `failure` are read as `succeeded` and `failed` (blank: any).
    #[param(value_type = Option<StatusWord>, inline)]
    pub status: Option<String>,
    /// A branch, tag or commit.
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// What started the runs (blank: any).
    #[param(value_type = Option<TriggerKind>)]
    pub trigger: Option<String>,
    /// Only the runs of this pull request (by number).
    pub pull_request: Option<i64>,
    /// Runs older than this id (the previous page's `next_before`).
    pub before: Option<i64>,
    /// 1 to 200 (larger asks get 200), default 50.
    #[param(minimum = 0, maximum = 4294967295_u64)]
    pub limit: Option<u32>,
}

/// The words a run status filter takes: Slipway's, and the build-engine design's
/// `success`/`failure` (documentation of the filter; runs answer with Slipway's words).
#[derive(Debug, Clone, Copy, utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum StatusWord {
    Pending,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Success,
    Failure,
}

/// A page of runs.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PipelinePage {
    pub items: Vec<PipelineRun>,
    /// Pass as `before` for the next page; absent on the last.
    pub next_before: Option<PipelineId>,
}

/// Start a run of a repository's pipeline.
#[derive(Debug, Clone)]
pub struct TriggerPipeline {
    pub repository: RepositoryId,
    /// A branch, tag or commit.
    pub git_ref: String,
}

/// Run a finished pipeline again.
#[derive(Debug, Clone, Copy)]
pub struct RetryPipeline {
    pub run: PipelineRef,
    /// Only the steps that did not succeed; the others keep their outcome and log.
    pub failed_only: bool,
}

/// A status as the Store knows it, or as the build-engine design words it.
fn parse_status(text: &str) -> Option<PipelineStatus> {
    match text {
        "success" => Some(PipelineStatus::Succeeded),
        "failure" => Some(PipelineStatus::Failed),
        other => PipelineStatus::parse(other),
    }
}

impl Services {
    /// A page of runs, filtered; `NotFound` for a repository that does not exist.
    pub async fn list_pipelines(
        &self,
        caller: &Caller,
        query: ListPipelines,
    ) -> Result<PipelinePage> {
        let mut known: Vec<&str> = PipelineStatus::ALL.iter().map(|s| s.as_str()).collect();
        known.extend(["success", "failure"]);
        let status = parse_choice("status", query.status.as_deref(), parse_status, &known)?;
        let triggers = TriggerKind::ALL.map(|t| t.as_str());
        let trigger = parse_choice(
            "trigger",
            query.trigger.as_deref(),
            TriggerKind::parse,
            &triggers,
        )?;
        let repository_id = match parse_id("repository", query.repository.as_deref())? {
            Some(id) => Some(
                self.repository(caller, Action::PipelineRead, RepositoryId(id))
                    .await?
                    .id,
            ),
            None => {
                self.authorize(caller, Action::PipelineRead, None).await?;
                None
            }
        };
        let filter = PipelineFilter {
            repository_id,
            status,
            git_ref: non_empty(query.git_ref),
            trigger,
            pr_number: query.pull_request,
            before: query.before.map(PipelineId),
            visible: caller.visible(),
            limit: query.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE),
        };
        let items = self.store.list_pipelines(&filter).await?;
        let full_page = items.len() >= filter.limit as usize;
        let next_before = items.last().filter(|_| full_page).map(|run| run.id);
        Ok(PipelinePage { items, next_before })
    }

    /// A page of one repository's runs; a `repository` filter, if given, must name it.
    pub async fn list_project_pipelines(
        &self,
        caller: &Caller,
        project: RepositoryId,
        query: ListPipelines,
    ) -> Result<PipelinePage> {
        if let Some(other) = parse_id("repository", query.repository.as_deref())?
            && other != project.0
        {
            return Err(Error::invalid(
                "repository",
                format!("repository {other} is not this project's ({project})"),
            ));
        }
        let query = ListPipelines {
            repository: Some(project.to_string()),
            ..query
        };
        self.list_pipelines(caller, query).await
    }

    /// A run with its steps.
    pub async fn get_pipeline(&self, caller: &Caller, run: PipelineRef) -> Result<PipelineRun> {
        self.pipeline(caller, Action::PipelineRead, run).await
    }

    /// Starts a run of a repository's pipeline at `git_ref` (a branch, tag or commit).
    pub async fn trigger_pipeline(
        &self,
        caller: &Caller,
        input: TriggerPipeline,
    ) -> Result<PipelineRun> {
        let git_ref = input.git_ref.trim();
        if git_ref.is_empty() {
            return Err(Error::invalid(
                "git_ref",
                "git_ref is required: a branch, tag or commit, e.g. main",
            ));
        }
        if git_ref.starts_with('-') || git_ref.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(Error::invalid(
                "git_ref",
                format!("git_ref `{git_ref}` is not a valid branch, tag or commit"),
            ));
        }
        let repository = self
            .repository(caller, Action::PipelineTrigger, input.repository)
            .await?;
        let record = Record::of(Action::PipelineTrigger)
            .on(Some(&repository))
            .details(format!("at {git_ref}"));
        let new = NewPipeline {
            repository_id: repository.id,
            git_ref: git_ref.to_owned(),
            commit_sha: None,
            trigger: TriggerKind::Api,
            trigger_detail: None,
            pr_number: None,
            retry_of: None,
            delivery_id: None,
        };
        let started = self.start_pipeline(caller, &new).await;
        self.audited(caller, record, started).await
    }

    /// Stops a run: a pending run ends at once, a running one within seconds.
    pub async fn cancel_pipeline(&self, caller: &Caller, run: PipelineRef) -> Result<PipelineRun> {
        let (found, repository) = self
            .pipeline_in(caller, Action::PipelineCancel, run)
            .await?;
        let record = Record::of(Action::PipelineCancel)
            .on(repository.as_ref())
            .target(format!("pipeline {}", found.id));
        let cancelled = async {
            if found.status.is_finished() {
                return Err(Error::Conflict(format!(
                    "pipeline {} already ended ({})",
                    found.id,
                    found.status.as_str()
                )));
            }
            let found = self.store.request_cancel(found.id, now_ms()).await?;
            tracing::info!(pipeline.id = %found.id, "pipeline cancel requested");
            self.announce_pipeline(&found).await;
            Ok(found)
        }
        .await;
        self.audited(caller, record, cancelled).await
    }

    /// Runs a finished pipeline again, at the same commit: every step, or with `failed_only`
    /// only those that did not succeed (the others keep their outcome and log).
    pub async fn retry_pipeline(
        &self,
        caller: &Caller,
        input: RetryPipeline,
    ) -> Result<PipelineRun> {
        let (run, repository) = self
            .pipeline_in(caller, Action::PipelineRetry, input.run)
            .await?;
        let record = Record::of(Action::PipelineRetry)
            .on(repository.as_ref())
            .target(format!("pipeline {}", run.id));
        if !run.status.is_finished() {
            let refused = Err(Error::Conflict(format!(
                "pipeline {} is still {}; cancel it first",
                run.id,
                run.status.as_str()
            )));
            return self.audited(caller, record, refused).await;
        }
        let new = NewPipeline::retry(&run, input.failed_only);
        let started = self.start_pipeline(caller, &new).await;
        self.audited(caller, record, started).await
    }

    /// Records a pending run and wakes the executors (the executor also polls the Store: a run
    /// whose wake-up is lost starts late, not never).
    pub async fn start_pipeline(&self, caller: &Caller, new: &NewPipeline) -> Result<PipelineRun> {
        self.repository(caller, Action::PipelineTrigger, new.repository_id)
            .await?;
        let run = self.store.create_pipeline(new, now_ms()).await?;
        tracing::info!(pipeline.id = %run.id, repository = %run.repository, git_ref = %run.git_ref, trigger = run.trigger.as_str(), "pipeline queued");
        self.announce_pipeline(&run).await;
        self.wake_pipelines().await;
        Ok(run)
    }

    /// The image a run of `repository` published for commit `sha`: what its preview deploys.
    pub async fn published_image(
        &self,
        caller: &Caller,
        repository: RepositoryId,
        sha: &str,
    ) -> Result<PublishedImage> {
        let repository = self
            .repository(caller, Action::PipelineRead, repository)
            .await?;
        self.store
            .published_image(repository.id, sha)
            .await?
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "no pipeline of repository {} published an image for {sha}",
                    repository.id
                ))
            })
    }

    /// A run the caller may do `action` on; `NotFound` when it is not `run.project`'s.
    pub(crate) async fn pipeline(
        &self,
        caller: &Caller,
        action: Action,
        run: PipelineRef,
    ) -> Result<PipelineRun> {
        Ok(self.pipeline_in(caller, action, run).await?.0)
    }

    /// [`Services::pipeline`], with the run's repository (`None` if it was removed).
    async fn pipeline_in(
        &self,
        caller: &Caller,
        action: Action,
        run: PipelineRef,
    ) -> Result<(PipelineRun, Option<Repository>)> {
        let found = self.store.get_pipeline(run.id).await?;
        if run
            .project
            .is_some_and(|project| project != found.repository_id)
        {
            return Err(Error::NotFound(format!(
                "pipeline `{}` not found in repository {}",
                run.id,
                run.project.map_or(0, |p| p.0)
            )));
        }
        let repository = self.store.get_repository(found.repository_id).await.ok();
        let missing = || Error::NotFound(format!("pipeline `{}` not found", run.id));
        self.authorize_found(caller, action, repository.as_ref(), missing)
            .await?;
        Ok((found, repository))
    }

    /// A repository the caller may do `action` on.
    pub(crate) async fn repository(
        &self,
        caller: &Caller,
        action: Action,
        id: RepositoryId,
    ) -> Result<Repository> {
        let repository = self.store.get_repository(id).await?;
        let missing = || Error::NotFound(format!("repository `{id}` not found"));
        self.authorize_or_missing(caller, action, &repository, missing)
            .await?;
        Ok(repository)
    }
}
