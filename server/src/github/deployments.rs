//! Deployments (`POST /repos/{repository}/deployments`) and their statuses
//! (`POST …/deployments/{id}/statuses`) from a [`DeploymentReport`]. A preview's deployment is
//! made for its commit without merging anything and without waiting for other checks
//! (`auto_merge: false`, `required_contexts: []`), in a transient environment of its own;
//! statuses never deactivate other deployments on GitHub's initiative (`auto_inactive: false`):
//! Slipway says when one is superseded.

use axum::http::Method;
use domain::git_host::Result;
use domain::report::DeploymentReport;
use serde_json::{Value, json};

use super::checks::created_id;
use super::{GitHub, refused};

fn deployment_body(report: &DeploymentReport) -> Value {
    json!({
        "ref": report.sha,
        "environment": report.environment,
        "description": report.description,
        "auto_merge": false,
        "required_contexts": [],
        "transient_environment": true,
        "production_environment": false,
        "payload": { "attempt": report.attempt },
    })
}

fn status_body(report: &DeploymentReport) -> Value {
    let mut body = json!({
        "state": report.state,
        "log_url": report.log_url,
        "description": report.description,
        "auto_inactive": false,
    });
    if let Some(url) = &report.environment_url {
        body["environment_url"] = json!(url);
    }
    body
}

pub(super) async fn create(
    github: &GitHub,
    repository: &str,
    report: &DeploymentReport,
) -> Result<i64> {
    let path = format!("/repos/{repository}/deployments");
    let (status, text) = github
        .send(Method::POST, &path, Some(&deployment_body(report)))
        .await?;
    if !status.is_success() {
        return Err(refused(
            &format!("deployments of {repository}"),
            status,
            &text,
        ));
    }
    created_id(&text)
}

pub(super) async fn set_status(
    github: &GitHub,
    repository: &str,
    id: i64,
    report: &DeploymentReport,
) -> Result<()> {
    let path = format!("/repos/{repository}/deployments/{id}/statuses");
    let (status, text) = github
        .send(Method::POST, &path, Some(&status_body(report)))
        .await?;
    if status.is_success() {
        Ok(())
    } else {
        Err(refused(
            &format!("deployment {id} of {repository}"),
            status,
            &text,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::report::DeploymentState;

    #[test]
    fn a_deployment_merges_nothing_and_waits_for_no_checks() {
        let report = DeploymentReport {
            environment: "preview/pr-42".into(),
            sha: "abc".into(),
            attempt: "abc@0".into(),
            state: DeploymentState::Success,
            environment_url: Some("https://pr-42.preview.example.com".into()),
            log_url: "https://slipway.example/previews/7".into(),
            description: "Preview ready".into(),
        };
        let created = deployment_body(&report);
        assert_eq!(created["ref"], "abc");
        assert_eq!(created["auto_merge"], false);
        assert_eq!(created["required_contexts"], json!([]));
        let status = status_body(&report);
        assert_eq!(status["state"], "success");
        assert_eq!(
            status["environment_url"],
            "https://pr-42.preview.example.com"
        );
        let queued = status_body(&DeploymentReport {
            state: DeploymentState::Queued,
            environment_url: None,
            ..report
        });
        assert_eq!(queued["state"], "queued");
        assert_eq!(queued.get("environment_url"), None);
    }
}
