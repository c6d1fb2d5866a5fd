//! Status everywhere: after the Store records a preview's change, the change is announced on
//! the bus (pages update live), the sticky pull-request comment is rewritten and the commit
//! status set (unless the repository turned its comment off; its GitHub Deployment is the
//! reporter's, `crate::reports`). GitHub failures are logged and never undo or block the change
//! itself.

use domain::git_host::{CommitState, CommitStatus};
use domain::preview::{Preview, PreviewStatus};
use domain::preview_comment::{self, PreviewComment, PreviewState};

use super::PreviewContext;

/// The commit status context previews report under.
pub const STATUS_CONTEXT: &str = "slipway/preview";

impl PreviewContext {
    /// Publishes the preview's new status and tells GitHub, reading the preview afresh.
    pub(crate) async fn report(&self, preview_id: i64) {
        let preview = match self.services.store.get_preview(preview_id).await {
            Ok(preview) => preview,
            Err(error) => {
                tracing::warn!(preview.id = preview_id, error = %domain::error_chain(&error), "cannot read a preview to report it");
                return;
            }
        };
        tracing::info!(preview.id = preview.id, preview.namespace = %preview.namespace, status = preview.status.as_str(), reason = preview.reason.as_deref().unwrap_or(""), "preview changed");
        self.services.announce_preview(&preview).await;
        self.tell_github(&preview).await;
    }

    async fn tell_github(&self, preview: &Preview) {
        let Some(github) = &self.services.git_host else {
            return;
        };
        // The repository may have turned the comment (and this status) off.
        if let Ok(Some(repository)) = self
            .services
            .store
            .get_repository_named(&preview.repository)
            .await
            && !repository.reporting.comment
        {
            return;
        }
        // Not configured, or never deployed and now gone: nothing to say on the pull request.
        let Some(state) = comment_state(preview) else {
            return;
        };
        let comment = PreviewComment {
            state: state.clone(),
            sha: preview.head_sha.clone(),
            updated_at_ms: preview.updated_at_ms,
            dashboard_url: self.dashboard_url(preview.id),
        };
        let known = preview.comment_id.and_then(|id| u64::try_from(id).ok());
        match github
            .upsert_comment(
                &preview.repository,
                preview.number,
                known,
                preview_comment::MARKER,
                &preview_comment::render(&comment),
            )
            .await
        {
            Ok(id) if Some(id) != known => {
                if let Err(error) = self
                    .services
                    .store
                    .set_preview_comment(preview.id, i64::try_from(id).unwrap_or_default())
                    .await
                {
                    tracing::warn!(preview.id = preview.id, error = %domain::error_chain(&error), "cannot record the preview's comment");
                }
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(preview.id = preview.id, error = %domain::error_chain(&error), "cannot update the preview's pull request comment");
            }
        }
        if let Some(status) = commit_status(&state, self.dashboard_url(preview.id))
            && let Err(error) = github
                .set_status(&preview.repository, &preview.head_sha, &status)
                .await
        {
            tracing::warn!(preview.id = preview.id, error = %domain::error_chain(&error), "cannot set the preview's commit status");
        }
    }

    fn dashboard_url(&self, id: i64) -> String {
        format!("{}/previews/{id}", self.services.public_url)
    }
}

/// What the comment says for a status; `None` when the pull request hears nothing.
fn comment_state(preview: &Preview) -> Option<PreviewState> {
    Some(match preview.status {
        PreviewStatus::Pending | PreviewStatus::Building => PreviewState::Building,
        PreviewStatus::Deploying => PreviewState::Deploying,
        PreviewStatus::Running => PreviewState::Ready {
            url: preview.url.clone().unwrap_or_default(),
        },
        PreviewStatus::Failed => PreviewState::Failed {
            reason: preview.reason.clone().unwrap_or_else(|| "unknown".into()),
        },
        PreviewStatus::Deleted if preview.comment_id.is_some() => PreviewState::Removed,
        // Said only where a comment already tells of an earlier commit's environment.
        PreviewStatus::Skipped if preview.comment_id.is_some() => PreviewState::NotConfigured {
            reason: preview.reason.clone().unwrap_or_default(),
        },
        PreviewStatus::Deleted
        | PreviewStatus::Skipped
        | PreviewStatus::Deleting
        | PreviewStatus::CleanupFailed => return None,
    })
}

/// The commit status for a state; removals leave the last status as it was.
fn commit_status(state: &PreviewState, target_url: String) -> Option<CommitStatus> {
    let (state, description) = match state {
        PreviewState::Building => (CommitState::Pending, "Waiting for the image".to_owned()),
        PreviewState::Deploying => (CommitState::Pending, "Deploying the preview".to_owned()),
        PreviewState::Ready { url } => (CommitState::Success, format!("Preview ready at {url}")),
        PreviewState::Failed { reason } => (
            CommitState::Failure,
            format!(
                "Preview failed: {}",
                preview_comment::excerpt(reason.lines().next().unwrap_or_default())
            ),
        ),
        PreviewState::NotConfigured { .. } | PreviewState::Removed => return None,
    };
    Some(CommitStatus {
        state,
        target_url,
        description,
        context: STATUS_CONTEXT.to_owned(),
    })
}
