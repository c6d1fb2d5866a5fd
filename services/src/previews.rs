//! Preview environments: list and read them (with usage, pods and events), read a pod's log,
//! deploy one again, remove one.

use domain::cluster::{LogOptions, ObjectKind};
use domain::preview::model::PreviewDetail;
use domain::preview::{Preview, PreviewAttempt, PreviewFilter, PreviewStatus};
use domain::time::now_ms;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::audit::Record;
use crate::caller::{Action, Caller};
use crate::parse::{non_empty, parse_choice};
use crate::usage::measure;
use crate::{Error, Result, Services};

/// Rows a page holds unless `limit` says otherwise, and at most.
pub const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 500;
/// Lines a log answer holds unless `tail` says otherwise.
pub const DEFAULT_TAIL: u32 = 500;

pub(crate) const POD: ObjectKind<'static> = ObjectKind {
    api_version: "v1",
    kind: "Pod",
};

/// Which previews to list: most recently changed first.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListPreviews {
    /// One of the preview statuses (blank: any).
    #[param(value_type = Option<domain::preview::PreviewStatus>)]
    pub status: Option<String>,
    /// `owner/name`.
    pub repository: Option<String>,
    /// Matched against namespace, title, author and branch.
    pub search: Option<String>,
    /// Also list removed previews.
    #[serde(default)]
    pub include_deleted: bool,
    /// 1 to 500 (larger asks get 500), default 50.
    #[param(minimum = 0, maximum = 4294967295_u64)]
    pub limit: Option<u32>,
    #[param(minimum = 0, maximum = 4294967295_u64)]
    pub offset: Option<u32>,
}

/// A page of previews.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PreviewPage {
    pub items: Vec<Preview>,
    /// How many match in all.
    pub total: u64,
    /// Where the next page starts; absent on the last.
    pub next_offset: Option<u64>,
    /// The server's clock, for ages.
    pub now_ms: i64,
}

/// Which log of a preview to read.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PreviewLogQuery {
    /// A pod of the preview; its first pod when absent.
    pub pod: Option<String>,
    pub container: Option<String>,
    /// A number of lines, or `all`; default 500.
    #[param(pattern = "^([1-9][0-9]{0,8}|all)$")]
    pub tail: Option<String>,
    #[serde(default)]
    pub timestamps: bool,
    /// Only lines written in the last this many seconds.
    #[param(minimum = 1, maximum = 4294967295_u64)]
    pub since_seconds: Option<u32>,
    /// Keep reading until the container stops.
    #[serde(default)]
    pub follow: bool,
}

/// A preview pod's log: its lines, or why there are none to read.
pub enum PreviewLog {
    Lines(BoxStream<'static, std::result::Result<String, domain::ClusterError>>),
    /// There is no log to read (no pods, or the pod is gone): said in words.
    Gone(String),
}

impl Services {
    /// A page of previews, filtered.
    pub async fn list_previews(&self, caller: &Caller, query: ListPreviews) -> Result<PreviewPage> {
        self.authorize(caller, Action::PreviewRead, None).await?;
        let status = parse_choice("status", query.status.as_deref(), PreviewStatus::parse, &{
            PreviewStatus::ALL.map(|s| s.as_str())
        })?;
        let filter = PreviewFilter {
            status,
            repository: non_empty(query.repository),
            search: non_empty(query.search),
            include_deleted: query.include_deleted || status == Some(PreviewStatus::Deleted),
            visible: caller.visible(),
            limit: query.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE),
            offset: query.offset.unwrap_or(0),
        };
        let (items, total) = futures::join!(
            self.store.list_previews(&filter),
            self.store.count_previews(&filter)
        );
        let (items, total) = (items?, total?);
        let next = u64::from(filter.offset) + items.len() as u64;
        Ok(PreviewPage {
            items,
            total,
            next_offset: (next < total).then_some(next),
            now_ms: now_ms(),
        })
    }

    /// The key (id) of the newest preview of pull request `number` in `repository`, for
    /// callers who name a preview as a person does; `NotFound` when there is none they can see.
    pub async fn preview_of_pull_request(
        &self,
        caller: &Caller,
        repository: &str,
        number: i64,
    ) -> Result<String> {
        let repository = self.repository_named(caller, repository).await?;
        self.authorize(caller, Action::PreviewRead, Some(&repository))
            .await?;
        let filter = PreviewFilter {
            repository: Some(repository.name.clone()),
            include_deleted: true,
            visible: caller.visible(),
            limit: MAX_PAGE,
            ..PreviewFilter::default()
        };
        self.store
            .list_previews(&filter)
            .await?
            .into_iter()
            .filter(|p| p.number == number)
            .max_by_key(|p| p.id)
            .map(|p| p.id.to_string())
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "no preview of {} pull request #{number}",
                    repository.name
                ))
            })
    }

    /// A preview with its attempts, and from its cluster its usage, pods and recent events.
    pub async fn get_preview(&self, caller: &Caller, key: &str) -> Result<PreviewDetail> {
        let (preview, _) = self.find_preview(caller, Action::PreviewRead, key).await?;
        let attempts = self.store.preview_attempts(preview.id).await?;
        let mut detail = PreviewDetail {
            preview,
            attempts,
            usage: None,
            events: Vec::new(),
            pods: Vec::new(),
            cluster_error: None,
            now_ms: now_ms(),
        };
        if !detail.preview.status.may_have_namespace() {
            return Ok(detail);
        }
        let Some(cluster) = self.preview_cluster(&detail.preview).await? else {
            return Ok(detail);
        };
        let namespace = detail.preview.namespace.clone();
        let (usage, events, pods) = futures::join!(
            measure(cluster.cluster.as_ref(), &namespace),
            cluster.cluster.events(&namespace),
            cluster.cluster.list_objects(&namespace, POD, "")
        );
        let mut errors = Vec::new();
        match usage {
            Ok(usage) => detail.usage = Some(usage),
            Err(error) => errors.push(error.to_string()),
        }
        match events {
            Ok(events) => detail.events = events,
            Err(error) => errors.push(error.to_string()),
        }
        match pods {
            Ok(pods) => detail.pods = pods.iter().map(|p| p.name().to_owned()).collect(),
            Err(error) => errors.push(error.to_string()),
        }
        if !errors.is_empty() {
            detail.cluster_error = Some(errors.join("; "));
        }
        Ok(detail)
    }

    /// Deploys the head commit again (after a failure, or to refresh a running preview);
    /// `Conflict` when the pull request no longer wants a preview, saying why.
    pub async fn retry_preview(&self, caller: &Caller, key: &str) -> Result<PreviewAttempt> {
        let (preview, repository) = self.find_preview(caller, Action::PreviewRetry, key).await?;
        let record = Record::of(Action::PreviewRetry)
            .on(repository.as_ref())
            .target(format!("preview {}", preview.namespace));
        let retried = self.retry_found(preview).await;
        self.audited(caller, record, retried).await
    }

    async fn retry_found(&self, preview: Preview) -> Result<PreviewAttempt> {
        let Some(attempt) = self.store.retry_preview(preview.id, now_ms()).await? else {
            let why = if preview.status == PreviewStatus::Deleting {
                "it is being removed".to_owned()
            } else {
                format!(
                    "the pull request does not want one ({})",
                    preview.reason.as_deref().unwrap_or("closed")
                )
            };
            return Err(Error::Conflict(format!(
                "preview {} cannot be deployed again: {why}",
                preview.namespace
            )));
        };
        tracing::info!(
            preview.id = preview.id,
            attempt.id = attempt.id,
            "preview retry requested"
        );
        let preview = self.store.get_preview(preview.id).await?;
        self.announce_preview(&preview).await;
        self.wake_previews().await;
        Ok(attempt)
    }

    /// Removes a preview now; it comes back with the pull request's next push.
    pub async fn delete_preview(&self, caller: &Caller, key: &str) -> Result<Preview> {
        let (preview, repository) = self
            .find_preview(caller, Action::PreviewDelete, key)
            .await?;
        let record = Record::of(Action::PreviewDelete)
            .on(repository.as_ref())
            .target(format!("preview {}", preview.namespace));
        let deleted = self.delete_found(preview).await;
        self.audited(caller, record, deleted).await
    }

    async fn delete_found(&self, preview: Preview) -> Result<Preview> {
        if !preview.status.may_have_namespace() && !preview.wanted {
            return Err(Error::Conflict(format!(
                "preview {} is already removed",
                preview.namespace
            )));
        }
        let preview = self
            .store
            .request_preview_removal(preview.id, "deleted from the dashboard", now_ms())
            .await?;
        tracing::info!(preview.id = preview.id, preview.namespace = %preview.namespace, "preview removal requested");
        self.announce_preview(&preview).await;
        self.wake_previews().await;
        Ok(preview)
    }

    /// A pod's log of the preview: its last lines, or followed until the container stops.
    pub async fn preview_log(
        &self,
        caller: &Caller,
        key: &str,
        query: PreviewLogQuery,
    ) -> Result<PreviewLog> {
        let tail = match query.tail.as_deref() {
            None | Some("") => Some(DEFAULT_TAIL),
            Some("all") => None,
            Some(n) => match n.parse::<u32>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    let message = format!("tail `{n}` is not a number of lines or `all`");
                    return Err(Error::invalid("tail", message));
                }
            },
        };
        let (preview, _) = self.find_preview(caller, Action::PreviewRead, key).await?;
        let Some(cluster) = self.preview_cluster(&preview).await? else {
            return Err(Error::invalid("key", crate::bundle::NO_CLUSTER));
        };
        let namespace = preview.namespace;
        let pod = match non_empty(query.pod) {
            Some(pod) => pod,
            None => {
                let pods = cluster.cluster.list_objects(&namespace, POD, "").await;
                match pods.map_err(cluster_failure)?.first() {
                    Some(pod) => pod.name().to_owned(),
                    None => {
                        return Ok(PreviewLog::Gone(format!("preview {namespace} has no pods")));
                    }
                }
            }
        };
        let options = LogOptions {
            tail,
            timestamps: query.timestamps,
            follow: query.follow,
            since_seconds: query.since_seconds,
        };
        let container = query.container.as_deref();
        match cluster
            .cluster
            .read_logs(&namespace, &pod, container, options)
            .await
        {
            Ok(lines) => Ok(PreviewLog::Lines(lines)),
            Err(domain::ClusterError::NotFound { .. }) => Ok(PreviewLog::Gone(format!(
                "pod {pod} is no longer in {namespace}"
            ))),
            Err(error) => Err(cluster_failure(error)),
        }
    }

    /// A preview by id, or by namespace when `key` is not a number, that the caller may act on.
    /// Also answers the preview's repository (`None` if it was removed).
    async fn find_preview(
        &self,
        caller: &Caller,
        action: Action,
        key: &str,
    ) -> Result<(Preview, Option<domain::Repository>)> {
        let key = key.trim();
        let preview = match key.parse::<i64>() {
            Ok(id) => self.store.get_preview(id).await?,
            Err(_) => self.store.get_preview_by_namespace(key).await?,
        };
        let repository = self.store.get_repository_named(&preview.repository).await?;
        let missing = || Error::NotFound(format!("preview `{key}` not found"));
        self.authorize_found(caller, action, repository.as_ref(), missing)
            .await?;
        Ok((preview, repository))
    }
}

/// A cluster read that failed: refused by the cluster's RBAC (the API server's words, which name
/// the permission Slipway lacks), or not answered.
pub fn cluster_failure(error: domain::ClusterError) -> Error {
    match error {
        domain::ClusterError::Forbidden(message) => {
            Error::Forbidden(format!("the cluster refused Slipway: {message}"))
        }
        other => Error::Unavailable {
            dependency: "the cluster",
            source: Box::new(other),
        },
    }
}
