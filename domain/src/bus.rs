//! The Bus port: notifications between Slipway's workers, replicas and open dashboards.
//!
//! The Store is the source of truth; the bus only says "look again" and carries live log lines.
//! Losing a message may delay work but never loses it. Implemented in-process and over Redis.

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

pub type Result<T, E = BusError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("the message bus is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("bus message could not be encoded")]
    Encoding(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// What kind of thing an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Repository,
    PullRequest,
    Preview,
    Pipeline,
    Delivery,
    TransformRun,
}

/// One message on the bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BusEvent {
    /// An entity was created, changed state or was removed; readers refetch it.
    Changed {
        entity: EntityKind,
        id: String,
        status: String,
    },
    /// One (already redacted) line of a log stream, numbered from 1 within the stream.
    LogLine {
        stream: String,
        seq: u64,
        line: String,
    },
    /// Asks the named worker to look for work now instead of at its next poll.
    Wake { worker: String },
}

#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Short name of the backend, as `/readyz` reports it (`in-process`, `redis`).
    fn backend(&self) -> &'static str;

    /// Proves the bus can deliver (a round trip to the broker, if any).
    async fn check(&self) -> Result<()>;

    async fn publish(&self, event: &BusEvent) -> Result<()>;

    /// Every event published from now on, by any process sharing the bus. The stream survives
    /// broker restarts (it resubscribes); it ends only when the bus is dropped.
    async fn subscribe(&self) -> Result<BoxStream<'static, BusEvent>>;
}
