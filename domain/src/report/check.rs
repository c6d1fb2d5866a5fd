//! A pipeline run as GitHub shows it on its commit: one check run (the Checks API, for a GitHub
//! App) or, with a plain token, one commit status under the same name. Its title and summary
//! are what a developer reads on the pull request: the steps as a table with their status and
//! duration, links to each step's log on Slipway, and the failing step's last lines.

use serde::{Deserialize, Serialize};

use super::{bounded, duration};
use crate::git_host::{CommitState, CommitStatus};
use crate::pipeline::runner::is_timeout;
use crate::pipeline::{PipelineRun, PipelineStatus, StepRun, StepStatus};

/// The check run's name, and the commit status context without the Checks API: what branch
/// protection requires.
pub const CHECK_NAME: &str = "slipway/pipeline";
/// Lines of the failing step shown, and characters per line.
pub const EXCERPT_LINES: usize = 30;
const EXCERPT_LINE_CHARS: usize = 300;
/// GitHub takes 65,535 characters of summary.
const SUMMARY_MAX: usize = 60_000;
/// The "Re-run failed steps" button's identifier (GitHub's `requested_action` events carry it).
pub const RERUN_FAILED: &str = "rerun-failed";

/// A check run's status, as GitHub names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Queued,
    InProgress,
    Completed,
}

/// How a completed check run ended, as GitHub names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckConclusion {
    Success,
    Failure,
    Cancelled,
    TimedOut,
}

/// What GitHub is to show for one pipeline run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    pub name: String,
    pub head_sha: String,
    /// The run's id: GitHub's re-run requests name the run by it.
    pub external_id: String,
    /// The run's page on Slipway.
    pub details_url: String,
    pub status: CheckStatus,
    pub conclusion: Option<CheckConclusion>,
    pub started_at_ms: Option<i64>,
    pub completed_at_ms: Option<i64>,
    pub title: String,
    /// Markdown.
    pub summary: String,
    /// Offer "Re-run failed steps" (a run that failed or timed out).
    pub rerun_failed_action: bool,
}

impl CheckReport {
    /// Nothing changes on GitHub after this one.
    pub fn is_final(&self) -> bool {
        self.status == CheckStatus::Completed
    }

    /// The same report as a commit status, for a GitHub that takes no check runs from Slipway.
    pub fn as_commit_status(&self) -> CommitStatus {
        let state = match self.conclusion {
            None => CommitState::Pending,
            Some(CheckConclusion::Success) => CommitState::Success,
            Some(CheckConclusion::Failure | CheckConclusion::TimedOut) => CommitState::Failure,
            Some(CheckConclusion::Cancelled) => CommitState::Error,
        };
        CommitStatus {
            state,
            target_url: self.details_url.clone(),
            description: bounded(&self.title, 140),
            context: self.name.clone(),
        }
    }
}

/// The last lines of the step a failed run is explained by, read from its stored log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureExcerpt {
    pub step: String,
    /// Redacted when they were logged.
    pub lines: Vec<String>,
    /// Lines the log has before these.
    pub lines_left_out: usize,
}

/// The step whose log explains a failed run: the first that failed.
pub fn failing_step(run: &PipelineRun) -> Option<&StepRun> {
    run.steps.iter().find(|s| s.status == StepStatus::Failed)
}

/// What GitHub is to show for `run`. `None` while it must show nothing: a run without a commit,
/// and a run that has not read its `.platform.yaml` yet — its `on:` may still discard it, and a
/// discarded run leaves nothing on the commit.
pub fn check_of(
    run: &PipelineRun,
    excerpt: Option<&FailureExcerpt>,
    run_url: &str,
) -> Option<CheckReport> {
    let sha = run.commit_sha.clone()?;
    if run.steps.is_empty() && !run.status.is_finished() {
        return None;
    }
    let started = run.steps.iter().any(|s| s.started_at_ms.is_some());
    let (status, conclusion) = match run.status {
        PipelineStatus::Pending | PipelineStatus::Running if !started => {
            (CheckStatus::Queued, None)
        }
        PipelineStatus::Pending | PipelineStatus::Running => (CheckStatus::InProgress, None),
        PipelineStatus::Succeeded => (CheckStatus::Completed, Some(CheckConclusion::Success)),
        PipelineStatus::Cancelled => (CheckStatus::Completed, Some(CheckConclusion::Cancelled)),
        PipelineStatus::Failed if timed_out(run) => {
            (CheckStatus::Completed, Some(CheckConclusion::TimedOut))
        }
        PipelineStatus::Failed => (CheckStatus::Completed, Some(CheckConclusion::Failure)),
    };
    Some(CheckReport {
        name: CHECK_NAME.to_owned(),
        head_sha: sha,
        external_id: run.id.to_string(),
        details_url: run_url.to_owned(),
        status,
        conclusion,
        started_at_ms: run.started_at_ms,
        completed_at_ms: run
            .finished_at_ms
            .filter(|_| status == CheckStatus::Completed),
        title: title(run, conclusion),
        summary: bounded(&summary(run, excerpt, run_url), SUMMARY_MAX),
        rerun_failed_action: matches!(
            conclusion,
            Some(CheckConclusion::Failure | CheckConclusion::TimedOut)
        ) && !run.steps.is_empty(),
    })
}

fn timed_out(run: &PipelineRun) -> bool {
    run.reason.as_deref().is_some_and(is_timeout)
        || run
            .steps
            .iter()
            .any(|s| s.status == StepStatus::Failed && s.reason.as_deref().is_some_and(is_timeout))
}

fn title(run: &PipelineRun, conclusion: Option<CheckConclusion>) -> String {
    let total = run.steps.len();
    let done = run.steps.iter().filter(|s| s.status.is_finished()).count();
    let took = run
        .duration_ms()
        .map(|ms| format!(" in {}", duration(ms)))
        .unwrap_or_default();
    let why = || run.reason.clone().unwrap_or_else(|| "failed".into());
    match conclusion {
        None if done == 0 && run.steps.iter().all(|s| s.started_at_ms.is_none()) => {
            format!("Queued: {total} steps")
        }
        None => format!("Running: {done} of {total} steps done"),
        Some(CheckConclusion::Success) => format!("Succeeded{took}: {total} steps"),
        Some(CheckConclusion::Cancelled) => format!("Cancelled{took}"),
        Some(CheckConclusion::TimedOut) => format!("Timed out{took}: {}", why()),
        Some(CheckConclusion::Failure) => format!("Failed{took}: {}", why()),
    }
}

fn icon(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Pending => "⏳ Pending",
        StepStatus::Running => "🔄 Running",
        StepStatus::Succeeded => "✅ Succeeded",
        StepStatus::Failed => "❌ Failed",
        StepStatus::Skipped => "⏭️ Skipped",
        StepStatus::Cancelled => "⛔ Cancelled",
    }
}

/// A step's log on Slipway.
fn step_url(run_url: &str, step: &str) -> String {
    let name: String = step
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("{run_url}?step={name}")
}

/// Table cells hold no pipes or line breaks.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn summary(run: &PipelineRun, excerpt: Option<&FailureExcerpt>, run_url: &str) -> String {
    let short: String = run
        .commit_sha
        .as_deref()
        .unwrap_or("")
        .chars()
        .take(7)
        .collect();
    let mut text = format!(
        "**Run #{}** of `{}` at `{short}` · [Open on Slipway]({run_url})\n",
        run.id,
        cell(run.branch())
    );
    if let Some(previous) = run.retry_of {
        text.push_str(&format!("\nRetry of run #{previous}.\n"));
    }
    if run.steps.is_empty() {
        if let Some(reason) = &run.reason {
            text.push_str(&format!("\n{}\n", crate::preview_comment::excerpt(reason)));
        }
        return text;
    }
    text.push_str("\n| Step | Status | Duration |\n| --- | --- | --- |\n");
    for step in &run.steps {
        let mut status = icon(step.status).to_owned();
        if step.status == StepStatus::Failed {
            match (step.exit_code, &step.reason) {
                (Some(code), _) if code != 0 => status.push_str(&format!(" (exit code {code})")),
                (_, Some(reason)) => status.push_str(&format!(": {}", bounded(reason, 80))),
                _ => {}
            }
        }
        let took = step.duration_ms().map(duration).unwrap_or_default();
        text.push_str(&format!(
            "| [{}]({}) | {} | {took} |\n",
            cell(&step.name),
            step_url(run_url, &step.name),
            cell(&status)
        ));
    }
    if let Some(excerpt) = excerpt.filter(|e| !e.lines.is_empty()) {
        text.push_str(&format!(
            "\n### Last lines of `{}`\n\n",
            cell(&excerpt.step)
        ));
        if excerpt.lines_left_out > 0 {
            text.push_str(&format!(
                "{} earlier lines are in [the full log]({}).\n\n",
                excerpt.lines_left_out,
                step_url(run_url, &excerpt.step)
            ));
        }
        text.push_str("```text\n");
        for line in excerpt.lines.iter().rev().take(EXCERPT_LINES).rev() {
            let clean = crate::preview_comment::sanitise_line(&strip_ansi(line));
            text.push_str(&bounded(&clean, EXCERPT_LINE_CHARS).replace("```", "'''"));
            text.push('\n');
        }
        text.push_str("```\n");
    }
    text
}

/// The text without terminal colour and cursor sequences (`ESC [ … letter`).
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for next in chars.by_ref() {
                    if next.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{PipelineId, TriggerKind};
    use crate::repository::RepositoryId;

    fn step(name: &str, status: StepStatus, started: bool) -> StepRun {
        StepRun {
            name: name.into(),
            image: "alpine".into(),
            depends_on: Vec::new(),
            status,
            exit_code: (status == StepStatus::Failed).then_some(2),
            reason: None,
            log_key: None,
            started_at_ms: started.then_some(1_000),
            finished_at_ms: status.is_finished().then_some(4_500),
        }
    }

    fn run(status: PipelineStatus, steps: Vec<StepRun>) -> PipelineRun {
        PipelineRun {
            id: PipelineId(12),
            repository_id: RepositoryId(1),
            repository: "acme/shop".into(),
            git_ref: "refs/heads/feature".into(),
            commit_sha: Some("ec26c3e57ca3a959ca5aad62de7213c562f8c821".into()),
            trigger: TriggerKind::PullRequest,
            trigger_detail: Some("synchronize".into()),
            pr_number: Some(7),
            status,
            reason: None,
            retry_of: None,
            cancel_requested: false,
            created_at_ms: 0,
            started_at_ms: Some(500),
            finished_at_ms: status.is_finished().then_some(73_000),
            steps,
        }
    }

    const URL: &str = "https://slipway.example/pipelines/12";

    #[test]
    fn a_run_that_has_not_read_its_file_shows_nothing_yet() {
        assert_eq!(
            check_of(&run(PipelineStatus::Pending, vec![]), None, URL),
            None
        );
        assert_eq!(
            check_of(&run(PipelineStatus::Running, vec![]), None, URL),
            None
        );
        let mut no_commit = run(PipelineStatus::Succeeded, vec![]);
        no_commit.commit_sha = None;
        assert_eq!(check_of(&no_commit, None, URL), None);
    }

    #[test]
    fn a_run_moves_from_queued_to_in_progress_to_its_conclusion() {
        let planned = run(
            PipelineStatus::Running,
            vec![step("build", StepStatus::Pending, false)],
        );
        let queued = check_of(&planned, None, URL).expect("report");
        assert_eq!(
            (queued.status, queued.conclusion),
            (CheckStatus::Queued, None)
        );
        assert_eq!(queued.external_id, "12");
        assert!(!queued.is_final());
        let running = run(
            PipelineStatus::Running,
            vec![
                step("build", StepStatus::Running, true),
                step("test", StepStatus::Pending, false),
            ],
        );
        let report = check_of(&running, None, URL).expect("report");
        assert_eq!(report.status, CheckStatus::InProgress);
        assert_eq!(report.title, "Running: 0 of 2 steps done");
        let done = run(
            PipelineStatus::Succeeded,
            vec![step("build", StepStatus::Succeeded, true)],
        );
        let report = check_of(&done, None, URL).expect("report");
        assert_eq!(
            (report.status, report.conclusion),
            (CheckStatus::Completed, Some(CheckConclusion::Success))
        );
        assert_eq!(report.title, "Succeeded in 1m12s: 1 steps");
        assert_eq!(report.completed_at_ms, Some(73_000));
        assert!(!report.rerun_failed_action);
        assert_eq!(report.as_commit_status().state, CommitState::Success);
    }

    #[test]
    fn a_failed_run_shows_its_steps_and_the_failing_step_s_last_lines() {
        let mut failed = run(
            PipelineStatus::Failed,
            vec![
                step("build", StepStatus::Succeeded, true),
                step("unit tests", StepStatus::Failed, true),
                step("deploy", StepStatus::Skipped, false),
            ],
        );
        failed.reason = Some("step `unit tests` failed".into());
        let excerpt = FailureExcerpt {
            step: "unit tests".into(),
            lines: (1..=40)
                .map(|n| format!("\u{1b}[31mline {n}\u{1b}[0m token=ghp_abcdefghijklmnop"))
                .collect(),
            lines_left_out: 100,
        };
        let report = check_of(&failed, Some(&excerpt), URL).expect("report");
        assert_eq!(report.conclusion, Some(CheckConclusion::Failure));
        assert_eq!(report.title, "Failed in 1m12s: step `unit tests` failed");
        assert!(report.rerun_failed_action);
        let summary = &report.summary;
        assert!(
            summary.contains(
                "| [build](https://slipway.example/pipelines/12?step=build) | ✅ Succeeded | 3s |"
            ),
            "{summary}"
        );
        assert!(summary.contains("[unit tests](https://slipway.example/pipelines/12?step=unit%20tests) | ❌ Failed (exit code 2)"), "{summary}");
        assert!(summary.contains("| ⏭️ Skipped |  |"), "{summary}");
        assert!(summary.contains("### Last lines of `unit tests`"));
        assert!(summary.contains("100 earlier lines"));
        assert!(summary.contains("line 40 token=[redacted]"), "{summary}");
        assert!(summary.contains("line 11 "), "the last 30 lines");
        assert!(!summary.contains("line 10 "), "only the last 30 lines");
        assert!(!summary.contains('\u{1b}'), "no terminal colours");
        assert!(!summary.contains("ghp_"), "no token");
    }

    #[test]
    fn timeouts_and_cancels_have_their_own_conclusions() {
        let mut slow = run(
            PipelineStatus::Failed,
            vec![step("build", StepStatus::Failed, true)],
        );
        slow.steps[0].reason = Some("timed out after 10m".into());
        slow.steps[0].exit_code = None;
        slow.reason = Some("step `build` failed".into());
        let report = check_of(&slow, None, URL).expect("report");
        assert_eq!(report.conclusion, Some(CheckConclusion::TimedOut));
        assert!(
            report.summary.contains("❌ Failed: timed out after 10m"),
            "{}",
            report.summary
        );
        let mut deadline = run(
            PipelineStatus::Failed,
            vec![step("a", StepStatus::Cancelled, true)],
        );
        deadline.reason = Some("the pipeline reached its 45m deadline".into());
        assert_eq!(
            check_of(&deadline, None, URL).and_then(|r| r.conclusion),
            Some(CheckConclusion::TimedOut)
        );
        let cancelled = run(
            PipelineStatus::Cancelled,
            vec![step("a", StepStatus::Cancelled, true)],
        );
        let report = check_of(&cancelled, None, URL).expect("report");
        assert_eq!(report.conclusion, Some(CheckConclusion::Cancelled));
        assert_eq!(report.as_commit_status().state, CommitState::Error);
    }

    #[test]
    fn a_file_that_cannot_be_read_fails_the_check_with_the_reason() {
        let mut broken = run(PipelineStatus::Failed, vec![]);
        broken.reason = Some(".platform.yaml line 3 column 5: unknown field `stpes`".into());
        let report = check_of(&broken, None, URL).expect("report");
        assert_eq!(report.conclusion, Some(CheckConclusion::Failure));
        assert!(report.summary.contains("line 3 column 5"));
        assert!(!report.rerun_failed_action);
    }

    #[test]
    fn ansi_sequences_are_removed() {
        assert_eq!(strip_ansi("\u{1b}[1;32mok\u{1b}[0m done"), "ok done");
    }
}
