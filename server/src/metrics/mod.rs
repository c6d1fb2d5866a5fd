//! Slipway's Prometheus metrics: what its workers count as they go (webhook deliveries,
//! pipeline runs and steps, preview deploys and cleanups, notification attempts, Kubernetes API
//! requests) and what
//! `/metrics` reads at each scrape (dependencies, previews by status, queues, GitHub's budget).
//! One set per process, as a scrape sees one process. Labels are bounded: statuses, outcomes,
//! verbs and resource kinds — never a repository, pull request or commit.

mod families;
pub mod kube_requests;
mod scrape;

use std::time::Duration;

use domain::DeliveryStatus;
use domain::pipeline::{PipelineStatus, StepStatus};

pub use scrape::{Scraped, exposition};

use families::families;

/// What the webhook endpoint did with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Verified and recorded for processing.
    Accepted,
    /// Verified, but that delivery id was recorded before.
    Duplicate,
    /// Not signed with a configured secret (401).
    BadSignature,
    /// Signed, but without the delivery or event header (400).
    Malformed,
    /// No webhook secret is configured (503).
    Disabled,
    /// Verified, but the Store could not record it (GitHub redelivers).
    NotRecorded,
}

impl Received {
    pub const ALL: [Self; 6] = [
        Self::Accepted,
        Self::Duplicate,
        Self::BadSignature,
        Self::Malformed,
        Self::Disabled,
        Self::NotRecorded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Duplicate => "duplicate",
            Self::BadSignature => "bad_signature",
            Self::Malformed => "malformed",
            Self::Disabled => "disabled",
            Self::NotRecorded => "not_recorded",
        }
    }
}

/// Counts a request to `POST /webhooks/github` by what became of it.
pub fn delivery_received(outcome: Received) {
    families()
        .deliveries_received
        .with_label_values(&[outcome.as_str()])
        .inc();
}

/// A delivery's processing ended with `status` after `took`.
pub fn delivery_processed(status: DeliveryStatus, took: Duration) {
    families()
        .delivery_processing
        .with_label_values(&[status.as_str()])
        .observe(took.as_secs_f64());
}

/// A pipeline run ended with `status`, `took_ms` after it started.
pub fn pipeline_ended(status: PipelineStatus, took_ms: i64) {
    families()
        .pipeline_runs
        .with_label_values(&[status.as_str()])
        .observe(seconds(took_ms));
}

/// A step ended with `status`, `took_ms` after it started.
pub fn step_ended(status: StepStatus, took_ms: i64) {
    families()
        .pipeline_steps
        .with_label_values(&[status.as_str()])
        .observe(seconds(took_ms));
}

/// How a preview's deployment attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deploy {
    Succeeded,
    Failed,
    /// Nothing to deploy (no image yet, rules say no).
    Skipped,
}

impl Deploy {
    pub const ALL: [Self; 3] = [Self::Succeeded, Self::Failed, Self::Skipped];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }
}

/// A preview's deployment attempt ended after `took`.
pub fn preview_deployed(outcome: Deploy, took: Duration) {
    families()
        .preview_deploys
        .with_label_values(&[outcome.as_str()])
        .observe(took.as_secs_f64());
}

/// A preview's removal ended: its namespace is gone (`true`), or the removal failed and is
/// retried later.
pub fn preview_cleaned_up(removed: bool) {
    let outcome = if removed { "removed" } else { "failed" };
    families()
        .preview_cleanups
        .with_label_values(&[outcome])
        .inc();
}

/// A notification delivery attempt ended: `delivered`, `retrying` (tried again later) or
/// `given_up` (a day after its event).
pub fn notification_attempted(outcome: &domain::notification::AttemptOutcome) {
    use domain::notification::AttemptOutcome;
    let outcome = match outcome {
        AttemptOutcome::Delivered => "delivered",
        AttemptOutcome::RetryAt(_) => "retrying",
        AttemptOutcome::GaveUp => "given_up",
    };
    families()
        .notification_attempts
        .with_label_values(&[outcome])
        .inc();
}

/// The outcomes `slipway_transform_attempts_total` counts: `started`, `retried`, and every
/// status an execution can end in.
pub const TRANSFORM_OUTCOMES: [&str; 9] = [
    "started",
    "succeeded",
    "no_changes",
    "failed",
    "timed_out",
    "cancelled",
    "dead_lettered",
    "recorded",
    "retried",
];

/// A transform execution's attempt started.
pub fn transform_started() {
    families()
        .transform_attempts
        .with_label_values(&["started"])
        .inc();
}

/// A transform execution's attempt ended (`retried`, or an execution status), after `took`
/// when it ran.
pub fn transform_ended(outcome: &'static str, took: Option<Duration>) {
    let families = families();
    families
        .transform_attempts
        .with_label_values(&[outcome])
        .inc();
    if let Some(took) = took {
        families
            .transform_durations
            .with_label_values(&[outcome])
            .observe(took.as_secs_f64());
    }
}

fn seconds(ms: i64) -> f64 {
    ms.max(0) as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_workers_count_is_in_the_exposition() {
        delivery_received(Received::BadSignature);
        delivery_processed(DeliveryStatus::Failed, Duration::from_millis(30));
        pipeline_ended(PipelineStatus::Succeeded, 61_000);
        step_ended(StepStatus::Failed, 2_500);
        preview_deployed(Deploy::Succeeded, Duration::from_secs(42));
        preview_cleaned_up(false);
        let text = exposition(&Scraped::default());
        for line in [
            "slipway_webhook_deliveries_received_total{outcome=\"bad_signature\"} 1",
            "slipway_webhook_deliveries_received_total{outcome=\"accepted\"} 0",
            "slipway_webhook_processing_duration_seconds_count{status=\"failed\"} 1",
            "slipway_pipeline_run_duration_seconds_bucket{status=\"succeeded\",le=\"120\"} 1",
            "slipway_pipeline_run_duration_seconds_bucket{status=\"succeeded\",le=\"60\"} 0",
            "slipway_pipeline_step_duration_seconds_sum{status=\"failed\"} 2.5",
            "slipway_preview_deploy_duration_seconds_count{outcome=\"succeeded\"} 1",
            "slipway_preview_cleanups_total{outcome=\"failed\"} 1",
            "# TYPE slipway_build_info gauge",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }
}
