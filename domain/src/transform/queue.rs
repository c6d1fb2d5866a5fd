//! The Redis task stream as the rest of Slipway sees it (readiness, `/metrics`, the Transforms
//! page): a port the stream's adapter implements, and what it reports.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// The task stream's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskStreamState {
    /// `preview.tasks`.
    pub stream: String,
    /// The consumer group every replica reads with.
    pub group: String,
    /// Tasks not yet done with: waiting, or being run.
    pub depth: i64,
    /// Tasks a worker has read and not yet acknowledged.
    pub pending: i64,
    /// Entries in `{stream}.dlq`: tasks that could not run, with the reason.
    pub dead_letters: i64,
    /// When the oldest task was added (Unix milliseconds); absent when none waits.
    pub oldest_at_ms: Option<i64>,
}

/// The Redis task stream.
#[async_trait]
pub trait TaskQueue: Send + Sync {
    /// Its state now; `Unavailable` when Redis does not answer.
    async fn state(&self) -> crate::bus::Result<TaskStreamState>;
}
