//! Outgoing notifications: a repository's webhook subscriptions (a URL, a secret, the events
//! it wants), the deliveries made for each event — signed like GitHub's
//! (`X-Slipway-Signature-256`), retried with growing gaps for a day, each attempt kept with
//! GitHub-style detail — and the events and payloads themselves, made from the Store's
//! records of pipeline runs and previews.

pub mod payload;
pub mod store;

use serde::{Deserialize, Serialize};

pub use store::{DueNotification, NotificationStore};

/// What a subscription can ask to hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum NotificationEvent {
    #[serde(rename = "pipeline.started")]
    PipelineStarted,
    #[serde(rename = "pipeline.succeeded")]
    PipelineSucceeded,
    #[serde(rename = "pipeline.failed")]
    PipelineFailed,
    #[serde(rename = "pipeline.cancelled")]
    PipelineCancelled,
    #[serde(rename = "preview.running")]
    PreviewRunning,
    #[serde(rename = "preview.failed")]
    PreviewFailed,
    #[serde(rename = "preview.removed")]
    PreviewRemoved,
}

impl NotificationEvent {
    pub const ALL: [Self; 7] = [
        Self::PipelineStarted,
        Self::PipelineSucceeded,
        Self::PipelineFailed,
        Self::PipelineCancelled,
        Self::PreviewRunning,
        Self::PreviewFailed,
        Self::PreviewRemoved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PipelineStarted => "pipeline.started",
            Self::PipelineSucceeded => "pipeline.succeeded",
            Self::PipelineFailed => "pipeline.failed",
            Self::PipelineCancelled => "pipeline.cancelled",
            Self::PreviewRunning => "preview.running",
            Self::PreviewFailed => "preview.failed",
            Self::PreviewRemoved => "preview.removed",
        }
    }

    /// An event by name; `build.success` and `build.failure` (the build engine's names for
    /// the two pipeline endings) are taken as `pipeline.succeeded` and `pipeline.failed`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "build.success" => Some(Self::PipelineSucceeded),
            "build.failure" => Some(Self::PipelineFailed),
            name => Self::ALL.into_iter().find(|e| e.as_str() == name),
        }
    }

    /// Every event's name, for an error that lists them.
    pub fn names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }
}

/// A repository's webhook subscription. Its secret is kept sealed and never shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Subscription {
    pub id: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub repository_id: crate::RepositoryId,
    /// Where deliveries are POSTed.
    pub url: String,
    pub events: Vec<NotificationEvent>,
    pub created_at_ms: i64,
}

impl Subscription {
    /// The name its secret is sealed under: bound to the repository and URL, so a sealed
    /// secret cannot be moved to another receiver.
    pub fn secret_name(repository: crate::RepositoryId, url: &str) -> String {
        format!("notification {repository} {url}")
    }
}

/// A subscription to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscription {
    pub repository_id: crate::RepositoryId,
    pub url: String,
    pub events: Vec<NotificationEvent>,
    pub secret: crate::secrets::SealedSecret,
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum NotificationStatus {
    /// Not delivered yet: waiting for its (next) attempt.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt within a day failed; Slipway stopped trying (it can be redelivered).
    Failed,
}

impl NotificationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// One event sent (or to be sent) to one subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NotificationDelivery {
    /// Sent as `X-Slipway-Delivery`.
    pub id: String,
    pub subscription_id: i64,
    pub event: NotificationEvent,
    /// The JSON body, exactly as sent.
    pub payload: String,
    pub status: NotificationStatus,
    pub attempts: u32,
    /// When it is tried next (pending only).
    pub next_attempt_at_ms: i64,
    /// The last answer's status code, if the receiver answered.
    pub last_status_code: Option<u16>,
    /// Why the last attempt failed, in words.
    pub last_error: Option<String>,
    /// The delivery this one sends again, for a redelivery.
    pub redelivery_of: Option<String>,
    pub created_at_ms: i64,
    pub delivered_at_ms: Option<i64>,
}

/// A delivery to record: one per subscription and subject event (`subject_key`), so the same
/// event observed twice, or by two replicas, is delivered once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotificationDelivery {
    pub id: String,
    pub subscription_id: i64,
    pub event: NotificationEvent,
    /// `pipeline:12:pipeline.failed`, `preview:7:{sha}@{round}:preview.running`.
    pub subject_key: String,
    pub payload: String,
    pub created_at_ms: i64,
}

/// One try at delivering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NotificationAttempt {
    /// 1 for the first.
    pub attempt: u32,
    pub at_ms: i64,
    /// The receiver's answer, if it answered.
    pub status_code: Option<u16>,
    /// Why it failed when there was no answer (refused, timed out) or it was not 2xx.
    pub error: Option<String>,
    pub duration_ms: i64,
    /// The start of the answer's body (at most 2,000 characters).
    pub response: Option<String>,
}

/// How an attempt leaves the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    /// Try again at this time.
    RetryAt(i64),
    /// A day of attempts failed.
    GaveUp,
}

/// Deliveries are tried for this long after the event.
pub const GIVE_UP_AFTER_MS: i64 = 24 * 3600 * 1000;
/// The longest gap between attempts.
const LONGEST_GAP_MS: i64 = 3600 * 1000;

/// What comes after failed attempt number `attempt` (1 for the first) of a delivery made at
/// `created_at_ms`: gaps double from `first_gap_ms`, up to an hour, until a day has passed.
pub fn after_failure(
    attempt: u32,
    first_gap_ms: i64,
    created_at_ms: i64,
    now_ms: i64,
) -> AttemptOutcome {
    let doubling = 1_i64 << attempt.saturating_sub(1).min(30);
    let gap = first_gap_ms.saturating_mul(doubling).min(LONGEST_GAP_MS);
    let next = now_ms + gap;
    if next > created_at_ms + GIVE_UP_AFTER_MS {
        AttemptOutcome::GaveUp
    } else {
        AttemptOutcome::RetryAt(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_by_name_and_the_build_engine_s_names() {
        assert_eq!(
            NotificationEvent::parse("pipeline.failed"),
            Some(NotificationEvent::PipelineFailed)
        );
        assert_eq!(
            NotificationEvent::parse("build.success"),
            Some(NotificationEvent::PipelineSucceeded)
        );
        assert_eq!(
            NotificationEvent::parse("build.failure"),
            Some(NotificationEvent::PipelineFailed)
        );
        assert_eq!(NotificationEvent::parse("pipeline.exploded"), None);
        assert_eq!(
            serde_json::to_string(&NotificationEvent::PreviewRemoved)
                .ok()
                .as_deref(),
            Some("\"preview.removed\"")
        );
    }

    #[test]
    fn gaps_double_up_to_an_hour_and_end_after_a_day() {
        let gaps: Vec<i64> = (1..=4)
            .map(|n| match after_failure(n, 10_000, 0, 0) {
                AttemptOutcome::RetryAt(at) => at,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(gaps, [10_000, 20_000, 40_000, 80_000]);
        assert_eq!(
            after_failure(20, 10_000, 0, 0),
            AttemptOutcome::RetryAt(LONGEST_GAP_MS)
        );
        assert_eq!(
            after_failure(30, 10_000, 0, GIVE_UP_AFTER_MS - 1_000),
            AttemptOutcome::GaveUp
        );
    }
}
