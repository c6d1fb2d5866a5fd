//! What `/metrics` reads at each scrape (dependencies, previews by status, queues, GitHub's
//! budget), set on the gauges, and the whole registry in the Prometheus text format.

use std::sync::Mutex;

use prometheus::{Encoder, TextEncoder};

use domain::git_host::RateBudget;
use domain::health::{DependencyCheck, QueueDepth};

use super::families::families;

/// What a scrape read from the Store, the dependencies and GitHub.
#[derive(Debug, Default)]
pub struct Scraped {
    pub dependencies: Vec<DependencyCheck>,
    /// Previews by status name (deleted ones left out).
    pub previews: Vec<(&'static str, i64)>,
    pub queues: Vec<QueueDepth>,
    /// When it was read, for the queues' ages.
    pub now_ms: i64,
    /// GitHub's budget, when GitHub is configured and has answered once.
    pub github: Option<RateBudget>,
    /// Whether the transform queue is paused (absent when the Store did not say).
    pub transforms_paused: Option<bool>,
}

/// Scrapes set the gauges one at a time, so that one scrape's answer is one moment's.
static SCRAPING: Mutex<()> = Mutex::new(());

/// The text `/metrics` answers: every family, the gauges set from `scraped`.
pub fn exposition(scraped: &Scraped) -> String {
    let _one_at_a_time = SCRAPING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let families = families();
    families.dependency_up.reset();
    for check in &scraped.dependencies {
        families
            .dependency_up
            .with_label_values(&[check.name.as_str(), check.backend.as_str()])
            .set(i64::from(check.ok));
    }
    families.transform_queue_paused.reset();
    if let Some(paused) = scraped.transforms_paused {
        families
            .transform_queue_paused
            .with_label_values::<&str>(&[])
            .set(i64::from(paused));
    }
    families.previews.reset();
    for (status, count) in &scraped.previews {
        families.previews.with_label_values(&[status]).set(*count);
    }
    families.queue_depth.reset();
    families.queue_oldest_age.reset();
    for queue in &scraped.queues {
        families
            .queue_depth
            .with_label_values(&[queue.queue])
            .set(queue.depth);
        let age_ms = queue
            .oldest_at_ms
            .map_or(0, |oldest| scraped.now_ms.saturating_sub(oldest).max(0));
        families
            .queue_oldest_age
            .with_label_values(&[queue.queue])
            .set(age_ms as f64 / 1000.0);
    }
    for gauge in [
        &families.github_remaining,
        &families.github_limit,
        &families.github_reset,
    ] {
        gauge.reset();
    }
    if let Some(budget) = &scraped.github {
        families
            .github_remaining
            .with_label_values::<&str>(&[])
            .set(budget.remaining);
        families
            .github_limit
            .with_label_values::<&str>(&[])
            .set(budget.limit);
        families
            .github_reset
            .with_label_values::<&str>(&[])
            .set(budget.reset_at);
    }
    let mut text = Vec::new();
    if let Err(error) = TextEncoder::new().encode(&families.registry.gather(), &mut text) {
        tracing::error!(%error, "the metrics could not be written out");
    }
    String::from_utf8_lossy(&text).into_owned()
}
