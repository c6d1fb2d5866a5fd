//! Every metric family Slipway exposes, registered once per process, with the label values
//! known up front already present at zero: a rate over a series that appears only on its first
//! event misses that event, and alert rules would see nothing rather than 0.

use std::sync::LazyLock;

use prometheus::{
    GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
};

use domain::DeliveryStatus;
use domain::pipeline::{PipelineStatus, StepStatus};

use super::{Deploy, Received};

/// Seconds, for webhook processing: most deliveries take milliseconds.
const FAST: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Seconds, for runs, steps and deploys: seconds to an hour.
const SLOW: &[f64] = &[
    1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0,
];

pub(super) struct Families {
    pub registry: Registry,
    pub deliveries_received: IntCounterVec,
    pub delivery_processing: HistogramVec,
    pub pipeline_runs: HistogramVec,
    pub pipeline_steps: HistogramVec,
    pub preview_deploys: HistogramVec,
    pub preview_cleanups: IntCounterVec,
    pub notification_attempts: IntCounterVec,
    pub transform_attempts: IntCounterVec,
    pub transform_durations: HistogramVec,
    pub transform_queue_paused: IntGaugeVec,
    pub kube_requests: IntCounterVec,
    pub dependency_up: IntGaugeVec,
    pub previews: IntGaugeVec,
    pub queue_depth: IntGaugeVec,
    pub queue_oldest_age: GaugeVec,
    pub github_remaining: IntGaugeVec,
    pub github_limit: IntGaugeVec,
    pub github_reset: IntGaugeVec,
}

static FAMILIES: LazyLock<Families> = LazyLock::new(Families::new);

pub(super) fn families() -> &'static Families {
    &FAMILIES
}

fn histogram(name: &str, help: &str, label: &str, buckets: &[f64]) -> HistogramVec {
    let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
    #[expect(
        clippy::expect_used,
        reason = "constant names and buckets, checked by the tests"
    )]
    HistogramVec::new(opts, &[label]).expect("a valid histogram")
}

fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    #[expect(clippy::expect_used, reason = "constant names, checked by the tests")]
    IntCounterVec::new(Opts::new(name, help), labels).expect("a valid counter")
}

fn gauge(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    #[expect(clippy::expect_used, reason = "constant names, checked by the tests")]
    IntGaugeVec::new(Opts::new(name, help), labels).expect("a valid gauge")
}

impl Families {
    fn new() -> Self {
        let families = Self {
            registry: Registry::new(),
            deliveries_received: counter(
                "slipway_webhook_deliveries_received_total",
                "Requests to the GitHub webhook endpoint, by what became of them.",
                &["outcome"],
            ),
            delivery_processing: histogram(
                "slipway_webhook_processing_duration_seconds",
                "Time to process a recorded webhook delivery, by how processing ended.",
                "status",
                FAST,
            ),
            pipeline_runs: histogram(
                "slipway_pipeline_run_duration_seconds",
                "Pipeline runs that ended, by status, and how long they took from their start.",
                "status",
                SLOW,
            ),
            pipeline_steps: histogram(
                "slipway_pipeline_step_duration_seconds",
                "Pipeline steps that ended, by status, and how long they ran.",
                "status",
                SLOW,
            ),
            preview_deploys: histogram(
                "slipway_preview_deploy_duration_seconds",
                "Preview deployment attempts that ended, by outcome, and how long they took.",
                "outcome",
                SLOW,
            ),
            preview_cleanups: counter(
                "slipway_preview_cleanups_total",
                "Preview removals, by outcome (a failed one is retried later).",
                &["outcome"],
            ),
            notification_attempts: counter(
                "slipway_notification_attempts_total",
                "Attempts to deliver a notification to its subscriber, by outcome.",
                &["outcome"],
            ),
            transform_attempts: counter(
                "slipway_transform_attempts_total",
                "Transform execution attempts: started, and how each ended (retried: a failure other than the steps', tried again later).",
                &["outcome"],
            ),
            transform_durations: histogram(
                "slipway_transform_execution_duration_seconds",
                "Transform execution attempts that ran, by how they ended, and how long they took.",
                "status",
                SLOW,
            ),
            transform_queue_paused: gauge(
                "slipway_transform_queue_paused",
                "Whether transform workers are told to take no new executions (1) or not (0).",
                &[],
            ),
            kube_requests: counter(
                "slipway_kubernetes_requests_total",
                "Requests to the Kubernetes API, by verb, resource and HTTP status code.",
                &["verb", "resource", "code"],
            ),
            dependency_up: gauge(
                "slipway_dependency_up",
                "Whether a dependency answers (1) or not (0).",
                &["name", "backend"],
            ),
            previews: gauge(
                "slipway_previews",
                "Preview environments by status (deleted ones not counted).",
                &["status"],
            ),
            queue_depth: gauge(
                "slipway_queue_depth",
                "Work waiting to be taken up, by queue.",
                &["queue"],
            ),
            queue_oldest_age: {
                let opts = Opts::new(
                    "slipway_queue_oldest_age_seconds",
                    "Age of the oldest item waiting in a queue (0 when it is empty).",
                );
                #[expect(clippy::expect_used, reason = "constant names, checked by the tests")]
                GaugeVec::new(opts, &["queue"]).expect("a valid gauge")
            },
            github_remaining: gauge(
                "slipway_github_rate_limit_remaining",
                "GitHub API requests left in the current window (absent without GitHub).",
                &[],
            ),
            github_limit: gauge(
                "slipway_github_rate_limit_limit",
                "GitHub API requests allowed per window (absent without GitHub).",
                &[],
            ),
            github_reset: gauge(
                "slipway_github_rate_limit_reset_time_seconds",
                "When the GitHub API window refills, as Unix time (absent without GitHub).",
                &[],
            ),
        };
        families.preset();
        families.register();
        families
    }

    /// The series whose label values are known up front, at zero.
    fn preset(&self) {
        for outcome in Received::ALL {
            self.deliveries_received
                .with_label_values(&[outcome.as_str()]);
        }
        for status in DeliveryStatus::ALL.into_iter().filter(|s| s.is_finished()) {
            self.delivery_processing
                .with_label_values(&[status.as_str()]);
        }
        for status in [
            PipelineStatus::Succeeded,
            PipelineStatus::Failed,
            PipelineStatus::Cancelled,
        ] {
            self.pipeline_runs.with_label_values(&[status.as_str()]);
        }
        for status in [
            StepStatus::Succeeded,
            StepStatus::Failed,
            StepStatus::Skipped,
            StepStatus::Cancelled,
        ] {
            self.pipeline_steps.with_label_values(&[status.as_str()]);
        }
        for outcome in Deploy::ALL {
            self.preview_deploys.with_label_values(&[outcome.as_str()]);
        }
        for outcome in ["removed", "failed"] {
            self.preview_cleanups.with_label_values(&[outcome]);
        }
        for outcome in ["delivered", "retrying", "given_up"] {
            self.notification_attempts.with_label_values(&[outcome]);
        }
        for outcome in super::TRANSFORM_OUTCOMES {
            self.transform_attempts.with_label_values(&[outcome]);
        }
    }

    fn register(&self) {
        let build = gauge(
            "slipway_build_info",
            "Always 1; its labels say which Slipway is running.",
            &["version"],
        );
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        let all: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(build),
            Box::new(self.deliveries_received.clone()),
            Box::new(self.delivery_processing.clone()),
            Box::new(self.pipeline_runs.clone()),
            Box::new(self.pipeline_steps.clone()),
            Box::new(self.preview_deploys.clone()),
            Box::new(self.preview_cleanups.clone()),
            Box::new(self.notification_attempts.clone()),
            Box::new(self.transform_attempts.clone()),
            Box::new(self.transform_durations.clone()),
            Box::new(self.transform_queue_paused.clone()),
            Box::new(self.kube_requests.clone()),
            Box::new(self.dependency_up.clone()),
            Box::new(self.previews.clone()),
            Box::new(self.queue_depth.clone()),
            Box::new(self.queue_oldest_age.clone()),
            Box::new(self.github_remaining.clone()),
            Box::new(self.github_limit.clone()),
            Box::new(self.github_reset.clone()),
        ];
        for collector in all {
            if let Err(error) = self.registry.register(collector) {
                tracing::error!(%error, "a metric could not be registered");
            }
        }
    }
}
