//! Reporting one preview: the notifications its change calls for, then a deployment per
//! attempt, its statuses following the preview, and the previous attempt's deployment marked
//! inactive when a new one starts or the preview goes.

use domain::git_host::{GitHost, GitHostError};
use domain::preview::Preview;
use domain::report::{DeploymentReport, DeploymentState, ReportKind, ReportRecord, deployment_of};
use domain::time::now_ms;

use super::{Outcome, Reporter, fingerprint};

const KIND: ReportKind = ReportKind::Preview;

/// Preview statuses whose report made the deployment inactive.
const INACTIVE: [&str; 3] = ["skipped", "deleting", "deleted"];

pub(super) async fn report(reporter: &Reporter, id: i64) -> Outcome {
    let preview = match reporter.store.get_preview(id).await {
        Ok(preview) => preview,
        Err(domain::StoreError::NotFound { .. }) => return Outcome::Done,
        Err(error) => {
            tracing::warn!(preview.id = id, error = %domain::error_chain(&error), "cannot read a preview to report it");
            return Outcome::Later(super::UNAVAILABLE_PAUSE);
        }
    };
    let Some(record) = reporter.claim(KIND, id).await else {
        return Outcome::Later(super::HELD_PAUSE);
    };
    let url = format!("{}/previews/{id}", reporter.public_url);
    let repository = match reporter
        .store
        .get_repository_named(&preview.repository)
        .await
    {
        Ok(repository) => repository,
        Err(error) => {
            tracing::warn!(preview.id = id, error = %domain::error_chain(&error), "cannot read a preview's repository to report it");
            reporter.release(KIND, id).await;
            return Outcome::Later(super::UNAVAILABLE_PAUSE);
        }
    };
    if let Some(repository) = &repository {
        super::notify::preview(reporter, repository, &preview).await;
    }
    let github = repository
        .as_ref()
        .and_then(|repository| reporter.github_for(repository, |r| r.deployments));
    let (Some(github), Some(report)) = (github, deployment_of(&preview, &url)) else {
        let seen = ReportRecord {
            sent_status: Some(preview.status.as_str().to_owned()),
            ..record
        };
        reporter.finish(KIND, id, &seen).await;
        return Outcome::Done;
    };
    let digest = fingerprint(&report);
    let seen = ReportRecord {
        sent_status: Some(preview.status.as_str().to_owned()),
        remote_key: Some(report.attempt.clone()),
        fingerprint: digest.clone(),
        ..record.clone()
    };
    if digest.is_some() && digest == record.fingerprint {
        reporter.finish(KIND, id, &seen).await;
        return Outcome::Done;
    }
    if let Some(wait) = reporter.coalescing_wait(&record, report.is_final()) {
        reporter.release(KIND, id).await;
        return Outcome::Later(wait);
    }
    match send(github.as_ref(), &preview, &record, &report).await {
        Ok(remote_id) => {
            tracing::debug!(preview.id = id, state = ?report.state, "preview reported to GitHub as a deployment");
            let sent = ReportRecord {
                remote_id,
                sent_at_ms: Some(now_ms()),
                ..seen
            };
            reporter.finish(KIND, id, &sent).await;
            Outcome::Done
        }
        Err(Unsent::Created(deployment, error)) => {
            // The deployment exists without its status: keep its id (so a retry does not make
            // a second one), and send the status again.
            tracing::warn!(preview.id = id, error = %domain::error_chain(&error), "a preview's deployment was made but its status was not sent; trying again");
            let created = ReportRecord {
                remote_id: Some(deployment),
                fingerprint: None,
                sent_status: None,
                ..seen
            };
            reporter.finish(KIND, id, &created).await;
            Outcome::Later(super::UNAVAILABLE_PAUSE)
        }
        Err(Unsent::Refused(error)) => reporter.failed(KIND, id, error, seen).await,
    }
}

/// Why a report did not reach GitHub whole.
enum Unsent {
    /// The attempt's deployment was made, its status was not.
    Created(i64, GitHostError),
    Refused(GitHostError),
}

impl From<GitHostError> for Unsent {
    fn from(error: GitHostError) -> Self {
        Self::Refused(error)
    }
}

/// Sends `report`; the id of the deployment that now stands for the preview.
async fn send(
    github: &dyn GitHost,
    preview: &Preview,
    record: &ReportRecord,
    report: &DeploymentReport,
) -> Result<Option<i64>, Unsent> {
    let repository = &preview.repository;
    let same_attempt = record.remote_key.as_deref() == Some(report.attempt.as_str());
    let already_inactive = record
        .sent_status
        .as_deref()
        .is_some_and(|status| INACTIVE.contains(&status));
    match record.remote_id {
        Some(current) if same_attempt => {
            github
                .set_deployment_status(repository, current, report)
                .await?;
            Ok(Some(current))
        }
        Some(previous) => {
            if !already_inactive {
                let superseded = DeploymentReport {
                    state: DeploymentState::Inactive,
                    environment_url: None,
                    description: format!("Superseded by {}", short(&report.sha)),
                    ..report.clone()
                };
                github
                    .set_deployment_status(repository, previous, &superseded)
                    .await?;
            }
            if report.state == DeploymentState::Inactive {
                return Ok(Some(previous));
            }
            create(github, repository, report).await.map(Some)
        }
        // A preview that never had a deployment has nothing to deactivate.
        None if report.state == DeploymentState::Inactive => Ok(None),
        None => create(github, repository, report).await.map(Some),
    }
}

/// Creates the attempt's deployment with its first status.
async fn create(
    github: &dyn GitHost,
    repository: &str,
    report: &DeploymentReport,
) -> Result<i64, Unsent> {
    let id = github.create_deployment(repository, report).await?;
    github
        .set_deployment_status(repository, id, report)
        .await
        .map_err(|error| Unsent::Created(id, error))?;
    Ok(id)
}

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}
