//! What Slipway tells GitHub about pipeline runs and previews beyond the sticky comment: a check
//! run (or, with a plain token, a commit status) per pipeline run, and a GitHub Deployment per
//! preview deploy attempt. The reports are made here from the Store's records alone, so every
//! replica and every retry says the same; [`store`] keeps what GitHub was last told.

pub mod check;
pub mod deployment;
pub mod store;

pub use check::{CheckConclusion, CheckReport, CheckStatus, FailureExcerpt, check_of};
pub use deployment::{DeploymentReport, DeploymentState, deployment_of};
pub use store::{ReportKind, ReportRecord, ReportStore};

/// Cuts `text` to at most `max` characters, marking the cut.
pub fn bounded(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `1_500` → `1s`, `72_000` → `1m12s`.
fn duration(ms: i64) -> String {
    crate::pipeline::runner::human_secs(u64::try_from(ms / 1000).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_text_keeps_short_text_and_marks_a_cut() {
        assert_eq!(bounded("short", 10), "short");
        let cut = bounded(&"x".repeat(200), 140);
        assert_eq!(cut.chars().count(), 140);
        assert!(cut.ends_with('…'));
        assert_eq!(duration(72_400), "1m12s");
    }
}
