//! A preview as GitHub Deployments show it: one deployment per deploy attempt (a commit, and a
//! round bumped by retries) in the pull request's own environment, with statuses that follow
//! the preview — queued, in progress, success with the environment's URL, failure with the
//! reason, inactive once superseded or removed — so the pull request shows "View deployment"
//! and the environment keeps its history.

use serde::{Deserialize, Serialize};

use super::bounded;
use crate::preview::{Preview, PreviewStatus};

/// A deployment status's state, as GitHub names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentState {
    Queued,
    InProgress,
    Success,
    Failure,
    Inactive,
}

/// What GitHub is to show for a preview's newest attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentReport {
    /// `preview/pr-42`.
    pub environment: String,
    pub sha: String,
    /// Which attempt this is (`{sha}@{round}`): a new attempt is a new deployment.
    pub attempt: String,
    pub state: DeploymentState,
    /// The preview's public URL, once it runs.
    pub environment_url: Option<String>,
    /// The preview's page on Slipway.
    pub log_url: String,
    /// At most 140 characters.
    pub description: String,
}

impl DeploymentReport {
    /// Nothing changes on this deployment after this state (a new attempt makes a new one).
    pub fn is_final(&self) -> bool {
        matches!(
            self.state,
            DeploymentState::Success | DeploymentState::Failure | DeploymentState::Inactive
        )
    }
}

/// The environment of pull request `number`'s preview.
pub fn environment_name(number: i64) -> String {
    format!("preview/pr-{number}")
}

/// What GitHub is to show for `preview`; `None` when nothing changes there (a removal that
/// has not finished).
pub fn deployment_of(preview: &Preview, dashboard_url: &str) -> Option<DeploymentReport> {
    let (state, description) = match preview.status {
        PreviewStatus::Pending => (DeploymentState::Queued, "Queued".to_owned()),
        PreviewStatus::Building => (DeploymentState::Queued, "Waiting for the image".to_owned()),
        PreviewStatus::Deploying => (DeploymentState::InProgress, "Deploying".to_owned()),
        PreviewStatus::Running => (DeploymentState::Success, "Preview ready".to_owned()),
        PreviewStatus::Failed => (
            DeploymentState::Failure,
            crate::preview_comment::excerpt(
                preview
                    .reason
                    .as_deref()
                    .and_then(|r| r.lines().next())
                    .unwrap_or("failed"),
            ),
        ),
        PreviewStatus::Skipped => (
            DeploymentState::Inactive,
            "No preview at this commit".to_owned(),
        ),
        PreviewStatus::Deleting | PreviewStatus::Deleted => {
            (DeploymentState::Inactive, "Preview removed".to_owned())
        }
        PreviewStatus::CleanupFailed => return None,
    };
    Some(DeploymentReport {
        environment: environment_name(preview.number),
        sha: preview.head_sha.clone(),
        attempt: format!("{}@{}", preview.head_sha, preview.round),
        state,
        environment_url: preview
            .url
            .clone()
            .filter(|_| state == DeploymentState::Success),
        log_url: dashboard_url.to_owned(),
        description: bounded(&description, 140),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preview(status: PreviewStatus) -> Preview {
        Preview {
            id: 7,
            repository: "acme/shop".into(),
            number: 42,
            title: "Add cart".into(),
            author: "octo".into(),
            branch: "cart".into(),
            namespace: "pr-acme-shop-42".into(),
            status,
            head_sha: "ec26c3e57ca3a959ca5aad62de7213c562f8c821".into(),
            url: Some("https://pr-42.preview.example.com".into()),
            reason: Some("the rollout did not finish: ImagePullBackOff\nmore".into()),
            wanted: true,
            round: 1,
            created_at_ms: 0,
            updated_at_ms: 0,
            last_push_at_ms: 0,
            deployed_at_ms: None,
            expires_at_ms: None,
            comment_id: None,
        }
    }

    const URL: &str = "https://slipway.example/previews/7";

    #[test]
    fn statuses_follow_the_preview() {
        let state = |status| deployment_of(&preview(status), URL).map(|d| d.state);
        assert_eq!(state(PreviewStatus::Pending), Some(DeploymentState::Queued));
        assert_eq!(
            state(PreviewStatus::Building),
            Some(DeploymentState::Queued)
        );
        assert_eq!(
            state(PreviewStatus::Deploying),
            Some(DeploymentState::InProgress)
        );
        assert_eq!(
            state(PreviewStatus::Running),
            Some(DeploymentState::Success)
        );
        assert_eq!(state(PreviewStatus::Failed), Some(DeploymentState::Failure));
        assert_eq!(
            state(PreviewStatus::Deleted),
            Some(DeploymentState::Inactive)
        );
        assert_eq!(
            state(PreviewStatus::Skipped),
            Some(DeploymentState::Inactive)
        );
        assert_eq!(state(PreviewStatus::CleanupFailed), None);
    }

    #[test]
    fn a_running_preview_links_its_url_and_a_failed_one_says_why() {
        let running = deployment_of(&preview(PreviewStatus::Running), URL).expect("report");
        assert_eq!(running.environment, "preview/pr-42");
        assert_eq!(
            running.attempt,
            "ec26c3e57ca3a959ca5aad62de7213c562f8c821@1"
        );
        assert_eq!(
            running.environment_url.as_deref(),
            Some("https://pr-42.preview.example.com")
        );
        assert!(running.is_final());
        let failed = deployment_of(&preview(PreviewStatus::Failed), URL).expect("report");
        assert_eq!(failed.environment_url, None);
        assert_eq!(
            failed.description,
            "the rollout did not finish: ImagePullBackOff"
        );
        assert_eq!(failed.log_url, URL);
        let deploying = deployment_of(&preview(PreviewStatus::Deploying), URL).expect("report");
        assert!(!deploying.is_final());
        assert_eq!(deploying.environment_url, None);
    }
}
