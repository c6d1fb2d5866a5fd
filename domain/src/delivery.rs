//! Webhook deliveries: what GitHub sent, recorded once per delivery id (GitHub's
//! `X-GitHub-Delivery`), and what became of it. The Store keeps them; a worker claims each
//! queued delivery atomically, so several replicas process it once.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::store::Result;

/// The delivery worker's name on the bus (`BusEvent::Wake { worker }`).
pub const DELIVERY_WORKER: &str = "deliveries";

/// Where a delivery is in its processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DeliveryStatus {
    /// Recorded, waiting for a worker.
    Queued,
    /// A worker has claimed it.
    Processing,
    /// Acted on.
    Processed,
    /// Recorded only: an event Slipway does not act on.
    Ignored,
    /// Processing failed; the error says why, and it can be processed again.
    Failed,
}

impl DeliveryStatus {
    pub const ALL: [Self; 5] = [
        Self::Queued,
        Self::Processing,
        Self::Processed,
        Self::Ignored,
        Self::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Processing => "processing",
            Self::Processed => "processed",
            Self::Ignored => "ignored",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Processing is over (acted on, ignored or failed).
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Processed | Self::Ignored | Self::Failed)
    }

    /// Whether a person may queue it again: once processing is over (or while it waits, which
    /// changes nothing), never while a worker holds it.
    pub fn can_redeliver(self) -> bool {
        self == Self::Queued || self.is_finished()
    }
}

impl crate::state::StateMachine for DeliveryStatus {
    const ENTITY: &'static str = "delivery";
    const ALL: &'static [Self] = &Self::ALL;

    fn name(self) -> &'static str {
        self.as_str()
    }

    /// A worker claims a queued delivery and finishes it; a claim whose worker died goes back
    /// to the queue; a finished delivery may be queued again.
    fn can_become(self, next: Self) -> bool {
        use DeliveryStatus::*;
        matches!(
            (self, next),
            (Queued, Processing)
                | (Processing, Processed | Ignored | Failed | Queued)
                | (Processed | Ignored | Failed, Queued)
        )
    }
}

/// A verified delivery to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub delivery_id: String,
    /// `X-GitHub-Event`: `pull_request`, `push`, `ping`, ...
    pub event: String,
    pub action: Option<String>,
    /// `owner/name`, when the payload names a repository.
    pub repository: Option<String>,
    pub pull_request: Option<i64>,
    /// The payload as JSON text (the `payload` field of a form-encoded body).
    pub payload: String,
    pub received_at_ms: i64,
    /// Set when the payload could not be read: the delivery is recorded as failed.
    pub error: Option<String>,
}

/// A recorded delivery, without its payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delivery {
    /// Position in the record, for paging (newest first).
    pub seq: i64,
    pub delivery_id: String,
    pub event: String,
    pub action: Option<String>,
    pub repository: Option<String>,
    pub pull_request: Option<i64>,
    pub received_at_ms: i64,
    pub status: DeliveryStatus,
    pub error: Option<String>,
    /// How many times a worker took it up.
    pub attempts: i64,
    pub processed_at_ms: Option<i64>,
}

/// Which deliveries to list: newest first, optionally filtered, a page at a time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryFilter {
    pub event: Option<String>,
    pub status: Option<DeliveryStatus>,
    pub repository: Option<String>,
    /// Only deliveries older than this `seq` (the last one of the previous page).
    pub before: Option<i64>,
    /// Only deliveries about these repositories (`None`: every delivery); the caller's reach.
    pub visible: Option<Vec<crate::RepositoryId>>,
    pub limit: u32,
}

#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Records a delivery as queued (or failed, with its error); `false` when its id was
    /// recorded before, in which case nothing changes.
    async fn record_delivery(&self, delivery: &NewDelivery) -> Result<bool>;

    async fn list_deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<Delivery>>;

    /// A delivery and its payload; `NotFound` for an unknown id.
    async fn get_delivery(&self, delivery_id: &str) -> Result<(Delivery, String)>;

    /// Takes a queued delivery for processing (at `at_ms`), returning it with its payload;
    /// `None` when another worker took it first or it is not queued.
    async fn claim_delivery(
        &self,
        delivery_id: &str,
        at_ms: i64,
    ) -> Result<Option<(Delivery, String)>>;

    /// Queues again the deliveries claimed before `before_ms` and never finished (their worker
    /// died); how many.
    async fn release_stale_claims(&self, before_ms: i64) -> Result<u64>;

    /// Renews the claim of a delivery its worker is still processing (its lease's heartbeat);
    /// `false` when no worker holds it any more.
    async fn renew_delivery_claim(&self, delivery_id: &str, at_ms: i64) -> Result<bool>;

    /// Records how processing ended; `InvalidState` when no worker holds it (its claim went
    /// stale and was released).
    async fn finish_delivery(
        &self,
        delivery_id: &str,
        status: DeliveryStatus,
        error: Option<&str>,
        at_ms: i64,
    ) -> Result<()>;

    /// Queues a delivery again ("process again") and returns it; `NotFound` for an unknown id,
    /// `InvalidState` while a worker is processing it.
    async fn requeue_delivery(&self, delivery_id: &str) -> Result<Delivery>;

    /// Queued deliveries (without their payloads) after position `after_seq`, oldest first: a
    /// page of the queue, the next one starting after the last `seq` of this one.
    async fn queued_deliveries(&self, after_seq: i64, limit: u32) -> Result<Vec<Delivery>>;
}

/// Keys whose values are never shown: these words, or keys ending in them (`client_secret`),
/// case-insensitively.
const SECRET_KEYS: [&str; 5] = [
    "secret",
    "token",
    "password",
    "private_key",
    "authorization",
];

/// Replaces the value of every secret-looking key in `value` with `"***"`, at any depth.
pub fn mask_secrets(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                let key = key.to_ascii_lowercase();
                if SECRET_KEYS.iter().any(|s| key.ends_with(s)) && !field.is_null() {
                    *field = serde_json::Value::String("***".into());
                } else {
                    mask_secrets(field);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_secrets),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_at_any_depth_and_the_rest_is_kept() {
        let mut payload = serde_json::json!({
            "hook": { "config": { "url": "https://slipway.example/webhooks/github", "secret": "s3cr3t" } },
            "installation": { "access_tokens_url": "https://api.github.com/x", "id": 7, "access_token": "ghs_x" },
            "list": [{ "Password": "hunter2" }],
            "zen": "Keep it logically awesome.",
        });
        mask_secrets(&mut payload);
        assert_eq!(payload["hook"]["config"]["secret"], "***");
        assert_eq!(payload["installation"]["access_token"], "***");
        assert_eq!(
            payload["installation"]["access_tokens_url"],
            "https://api.github.com/x"
        );
        assert_eq!(payload["list"][0]["Password"], "***");
        assert_eq!(
            payload["hook"]["config"]["url"],
            "https://slipway.example/webhooks/github"
        );
        assert_eq!(payload["installation"]["id"], 7);
    }

    #[test]
    fn statuses_read_back_what_they_write() {
        for status in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(DeliveryStatus::parse("done"), None);
    }
}
