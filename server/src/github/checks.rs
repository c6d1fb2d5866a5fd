//! Check runs (`POST /repos/{repository}/check-runs`, `PATCH …/check-runs/{id}`) from a
//! [`CheckReport`]: its status and conclusion with their times, the title and summary, the
//! run's page as `details_url`, the run's id as `external_id`, and a "Re-run failed steps"
//! button on a failed run.

use axum::http::Method;
use domain::git_host::{GitHostError, Result};
use domain::report::check::RERUN_FAILED;
use domain::report::{CheckReport, CheckStatus};
use serde_json::{Value, json};

use super::{GitHub, refused};

fn rfc3339(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// The request body GitHub's Checks API takes for `report`.
fn body(report: &CheckReport, create: bool) -> Value {
    let mut body = json!({
        "name": report.name,
        "details_url": report.details_url,
        "external_id": report.external_id,
        "status": report.status,
        "output": { "title": report.title, "summary": report.summary },
    });
    if create {
        body["head_sha"] = json!(report.head_sha);
    }
    if let Some(started) = report.started_at_ms.and_then(rfc3339) {
        body["started_at"] = json!(started);
    }
    if report.status == CheckStatus::Completed {
        body["conclusion"] = json!(report.conclusion);
        if let Some(completed) = report.completed_at_ms.and_then(rfc3339) {
            body["completed_at"] = json!(completed);
        }
    }
    body["actions"] = if report.rerun_failed_action {
        json!([{
            "label": "Re-run failed steps",
            "description": "Run the steps that failed again",
            "identifier": RERUN_FAILED,
        }])
    } else {
        json!([])
    };
    body
}

pub(super) async fn create(github: &GitHub, repository: &str, report: &CheckReport) -> Result<i64> {
    let path = format!("/repos/{repository}/check-runs");
    let (status, text) = github
        .send(Method::POST, &path, Some(&body(report, true)))
        .await?;
    if !status.is_success() {
        return Err(refused(&format!("checks of {repository}"), status, &text));
    }
    created_id(&text)
}

pub(super) async fn update(
    github: &GitHub,
    repository: &str,
    id: i64,
    report: &CheckReport,
) -> Result<()> {
    let path = format!("/repos/{repository}/check-runs/{id}");
    let (status, text) = github
        .send(Method::PATCH, &path, Some(&body(report, false)))
        .await?;
    if status.is_success() {
        Ok(())
    } else {
        Err(refused(
            &format!("check run {id} of {repository}"),
            status,
            &text,
        ))
    }
}

/// The `id` of what GitHub just created.
pub(super) fn created_id(text: &str) -> Result<i64> {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v["id"].as_i64())
        .ok_or_else(|| GitHostError::Invalid("GitHub's answer has no id".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::report::CheckConclusion;

    #[test]
    fn a_completed_failure_carries_its_conclusion_times_and_re_run_button() {
        let report = CheckReport {
            name: "slipway/pipeline".into(),
            head_sha: "abc".into(),
            external_id: "12".into(),
            details_url: "https://slipway.example/pipelines/12".into(),
            status: CheckStatus::Completed,
            conclusion: Some(CheckConclusion::TimedOut),
            started_at_ms: Some(1_795_548_245_000),
            completed_at_ms: Some(1_795_548_305_000),
            title: "Timed out".into(),
            summary: "…".into(),
            rerun_failed_action: true,
        };
        let created = body(&report, true);
        assert_eq!(created["head_sha"], "abc");
        assert_eq!(created["status"], "completed");
        assert_eq!(created["conclusion"], "timed_out");
        assert_eq!(created["started_at"], "2026-11-24T19:24:05Z");
        assert_eq!(created["completed_at"], "2026-11-24T19:25:05Z");
        assert_eq!(created["actions"][0]["identifier"], RERUN_FAILED);
        let updated = body(
            &CheckReport {
                status: CheckStatus::InProgress,
                conclusion: None,
                rerun_failed_action: false,
                ..report
            },
            false,
        );
        assert_eq!(updated.get("head_sha"), None);
        assert_eq!(updated.get("conclusion"), None);
        assert_eq!(updated["actions"], json!([]));
    }
}
