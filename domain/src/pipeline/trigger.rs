//! Whether an event runs a pipeline: push branches (globs), pull request actions and cron
//! schedules, as the definition's `on:` section says.

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use super::definition::Triggers;

/// A branch pattern: `*` stays within one path segment (`release/*`), `**` crosses them.
pub fn branch_glob(pattern: &str) -> Result<Glob, globset::Error> {
    GlobBuilder::new(pattern).literal_separator(true).build()
}

/// A five-field cron expression (minute hour day-of-month month day-of-week) or a nickname
/// such as `@daily`.
pub fn parse_cron(expression: &str) -> Result<croner::Cron, String> {
    if !expression.trim_start().starts_with('@') && expression.split_whitespace().count() != 5 {
        return Err(
            "use five fields (minute hour day-of-month month day-of-week) or @daily, @hourly, …"
                .to_owned(),
        );
    }
    croner::parser::CronParser::new()
        .parse(expression)
        .map_err(|error| error.to_string())
}

/// When `expression` next fires after `after_ms` (UTC), in ms since the epoch.
pub fn next_occurrence_ms(expression: &str, after_ms: i64) -> Option<i64> {
    let cron = parse_cron(expression).ok()?;
    let start = jiff::Timestamp::from_millisecond(after_ms)
        .ok()?
        .to_zoned(jiff::tz::TimeZone::UTC);
    let next = cron.find_next_occurrence(&start, false).ok()?;
    Some(next.timestamp().as_millisecond())
}

impl Triggers {
    /// Whether a push to `branch` runs the pipeline.
    pub fn runs_on_push(&self, branch: &str) -> bool {
        self.push_branches
            .as_ref()
            .is_some_and(|patterns| branch_set(patterns).is_match(branch))
    }

    /// Whether a pull request event with this action runs the pipeline.
    pub fn runs_on_pull_request(&self, action: &str) -> bool {
        let action = if action == "synchronized" {
            "synchronize"
        } else {
            action
        };
        self.pull_request_actions
            .as_ref()
            .is_some_and(|actions| actions.iter().any(|a| a == action))
    }
}

/// Patterns that do not compile match nothing (validation already reported them).
fn branch_set(patterns: &[String]) -> GlobSet {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        if let Ok(glob) = branch_glob(pattern) {
            builder.add(glob);
        }
    }
    builder.build().unwrap_or_else(|_| GlobSet::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_globs_respect_path_segments() {
        let triggers = Triggers {
            push_branches: Some(vec!["main".into(), "release/*".into()]),
            pull_request_actions: None,
            schedules: Vec::new(),
        };
        assert!(triggers.runs_on_push("main"));
        assert!(triggers.runs_on_push("release/1.2"));
        assert!(!triggers.runs_on_push("release/1.2/hotfix"));
        assert!(!triggers.runs_on_push("feature/x"));
        assert!(!triggers.runs_on_pull_request("opened"));
    }

    #[test]
    fn default_triggers_run_every_push_and_pull_request_update() {
        let triggers = Triggers::default();
        assert!(triggers.runs_on_push("feature/deep/branch"));
        assert!(triggers.runs_on_pull_request("synchronize"));
        assert!(triggers.runs_on_pull_request("synchronized"));
        assert!(!triggers.runs_on_pull_request("closed"));
    }

    #[test]
    fn the_next_occurrence_is_in_utc() {
        // 2026-11-25 14:00:00 UTC → the next 03:00 on a weekday is Thursday 26th.
        let now = 1_795_615_200_000;
        assert_eq!(
            next_occurrence_ms("0 3 * * 1-5", now),
            Some(1_795_662_000_000)
        );
        assert_eq!(next_occurrence_ms("not cron", now), None);
    }

    #[test]
    fn cron_needs_five_valid_fields() {
        assert!(parse_cron("0 3 * * 1-5").is_ok());
        assert!(parse_cron("0 25 * * *").is_err());
        assert!(parse_cron("* * * * * *").is_err());
    }
}
