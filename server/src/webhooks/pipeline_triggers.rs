//! Pipeline runs from GitHub events: a push to a branch queues a run at the pushed commit; a
//! pull request event queues one at the head commit and cancels that pull request's older runs.
//! Whether the pipeline's `on:` section wants the event is decided by the run once it has read
//! `.platform.yaml` at that commit (a run it does not want is discarded, leaving no trace).

use domain::pipeline::parse::PULL_REQUEST_ACTIONS;
use domain::pipeline::{NewPipeline, TriggerKind};
use domain::pull_request::PullRequestSnapshot;
use domain::{DeliveryStatus, Repository, Store};
use serde_json::Value;

use super::events::{Outcome, store_failure};

fn is_commit(sha: &str) -> bool {
    sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit())
}

/// Whether a `pull_request` payload's head lives in another repository (a fork; a deleted fork
/// counts as one).
pub fn from_fork(payload: &Value) -> bool {
    let head = payload["pull_request"]["head"]["repo"]["full_name"].as_str();
    head != payload["repository"]["full_name"].as_str()
}

/// The outcome of a delivery whose repository could not be read.
pub fn unreadable_repository(error: &domain::StoreError) -> Outcome {
    store_failure("could not read the repository", error)
}

/// A `push` delivery: queues a run for a pushed branch of a repository Slipway builds (once,
/// however often the delivery is handled).
pub async fn on_push(
    store: &dyn Store,
    delivery_id: &str,
    payload: &Value,
    now_ms: i64,
) -> Outcome {
    let git_ref = payload["ref"].as_str().unwrap_or_default();
    let Some(branch) = git_ref.strip_prefix("refs/heads/") else {
        return (
            DeliveryStatus::Ignored,
            Some(format!(
                "`{git_ref}` is not a branch; only branch pushes run pipelines"
            )),
        );
    };
    if payload["deleted"].as_bool() == Some(true) {
        return (
            DeliveryStatus::Ignored,
            Some(format!("branch `{branch}` was deleted")),
        );
    }
    let sha = payload["after"].as_str().unwrap_or_default();
    let name = payload["repository"]["full_name"]
        .as_str()
        .unwrap_or_default();
    if !is_commit(sha) || name.is_empty() {
        return (
            DeliveryStatus::Failed,
            Some("the payload lacks `after` (a commit) or repository.full_name".into()),
        );
    }
    let repository = match store.get_repository_named(name).await {
        Ok(Some(repository)) => repository,
        Ok(None) => {
            return (
                DeliveryStatus::Ignored,
                Some(format!(
                    "{name} is not a repository Slipway builds; add it in Settings"
                )),
            );
        }
        Err(error) => return unreadable_repository(&error),
    };
    let new = NewPipeline {
        repository_id: repository.id,
        git_ref: branch.to_owned(),
        commit_sha: Some(sha.to_owned()),
        trigger: TriggerKind::Push,
        trigger_detail: None,
        pr_number: None,
        retry_of: None,
        delivery_id: Some(delivery_id.to_owned()),
    };
    match store.create_pipeline(&new, now_ms).await {
        Ok(run) => (
            DeliveryStatus::Processed,
            Some(format!(
                "pipeline {} queued for `{branch}` at {}",
                run.id,
                &sha[..12]
            )),
        ),
        Err(error) => store_failure("could not queue a pipeline", &error),
    }
}

/// After a pull request event was recorded: queues a run at its head commit (cancelling its
/// older runs), unless it comes from a fork the repository does not trust. Returns a note for
/// the delivery, or why it could not.
pub async fn on_pull_request(
    store: &dyn Store,
    repository: &Repository,
    snapshot: &PullRequestSnapshot,
    action: &str,
    from_fork: bool,
    delivery_id: &str,
    now_ms: i64,
) -> Result<Option<String>, domain::StoreError> {
    if !snapshot.open || !PULL_REQUEST_ACTIONS.contains(&action) || !is_commit(&snapshot.head_sha) {
        return Ok(None);
    }
    if from_fork && !repository.preview_rules.trust_forks {
        return Ok(Some(format!(
            "no pipeline: #{} comes from a fork, and {} does not trust forks (Settings → Pull request rules)",
            snapshot.number, repository.name
        )));
    }
    let superseded = store
        .supersede_pull_request_runs(repository.id, snapshot.number, Some(delivery_id), now_ms)
        .await?;
    let new = NewPipeline {
        repository_id: repository.id,
        git_ref: snapshot.head_ref.clone(),
        commit_sha: Some(snapshot.head_sha.clone()),
        trigger: TriggerKind::PullRequest,
        trigger_detail: Some(action.to_owned()),
        pr_number: Some(snapshot.number),
        retry_of: None,
        delivery_id: Some(delivery_id.to_owned()),
    };
    let run = store.create_pipeline(&new, now_ms).await?;
    let mut note = format!("pipeline {} queued at {}", run.id, &snapshot.head_sha[..12]);
    if superseded > 0 {
        note.push_str(&format!(
            "; {superseded} older run(s) of #{} cancelled",
            snapshot.number
        ));
    }
    Ok(Some(note))
}
