//! The Store port: Slipway's source of truth (repositories and webhook deliveries now; PRs,
//! previews and pipelines as they arrive). Implemented for SQLite and PostgreSQL in `server::store`.

use async_trait::async_trait;

use crate::delivery::DeliveryStore;
use crate::identity::IdentityStore;
use crate::notification::NotificationStore;
use crate::pipeline::{PipelineOutputStore, PipelineStore, ScheduleStore};
use crate::preview::PreviewStore;
use crate::pull_request::PullRequestStore;
use crate::report::ReportStore;
use crate::repository::{NewRepository, Repository, RepositoryId};
use crate::secrets::SecretStore;
use crate::transform::TransformStore;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Failures a caller can act on; backend details stay in the `source`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{entity} `{key}` not found")]
    NotFound { entity: &'static str, key: String },
    #[error("{entity} `{key}` already exists")]
    Conflict { entity: &'static str, key: String },
    /// It exists, but its state does not allow the change (the state machine's guard held).
    #[error("{entity} `{key}` is {status}")]
    InvalidState {
        entity: &'static str,
        key: String,
        status: &'static str,
    },
    #[error("the database is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("database error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<crate::state::UnknownState> for StoreError {
    fn from(error: crate::state::UnknownState) -> Self {
        Self::Internal(Box::new(error))
    }
}

/// Persistent state. Every method is one transaction.
#[async_trait]
pub trait Store:
    DeliveryStore
    + PullRequestStore
    + PipelineStore
    + ScheduleStore
    + PipelineOutputStore
    + SecretStore
    + PreviewStore
    + ReportStore
    + NotificationStore
    + IdentityStore
    + TransformStore
    + Send
    + Sync
    + 'static
{
    /// Short name of the backend, as `/readyz` reports it (`sqlite`, `postgres`).
    fn backend(&self) -> &'static str;

    /// Cheap round trip proving the database answers.
    async fn check(&self) -> Result<()>;

    /// How much work waits in each queue, and since when (for `/metrics`).
    async fn queue_depths(&self) -> Result<Vec<crate::health::QueueDepth>>;

    /// Adds a repository; [`StoreError::Conflict`] when the name is taken.
    async fn add_repository(&self, repository: &NewRepository) -> Result<Repository>;

    /// All repositories, by name.
    async fn list_repositories(&self) -> Result<Vec<Repository>>;

    async fn get_repository(&self, id: RepositoryId) -> Result<Repository>;

    /// The repository called `name` (`owner/name`), if Slipway has it.
    async fn get_repository_named(&self, name: &str) -> Result<Option<Repository>>;

    /// Replaces a repository's preview rules; [`StoreError::NotFound`] when there is none.
    async fn set_preview_rules(
        &self,
        id: RepositoryId,
        rules: &crate::repository::PreviewRulesConfig,
    ) -> Result<Repository>;

    /// Replaces what is reported about a repository; [`StoreError::NotFound`] when there is none.
    async fn set_reporting(
        &self,
        id: RepositoryId,
        reporting: &crate::repository::ReportingConfig,
    ) -> Result<Repository>;

    /// Removes a repository; [`StoreError::NotFound`] when there is none.
    async fn remove_repository(&self, id: RepositoryId) -> Result<()>;
}
