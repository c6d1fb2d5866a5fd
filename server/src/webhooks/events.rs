//! What each delivery means for Slipway: `ping` is acknowledged; `pull_request` events record
//! the pull request (never rolling it back to an older description) and whether it wants a
//! preview at its head commit (waking the preview worker at once), and queue a pipeline run
//! there; `push` queues a run for the pushed branch; `installation` and
//! `installation_repositories` add and remove repositories. Other events and actions are
//! recorded only, saying why.

use domain::pull_request::{PullRequestSnapshot, Recorded};
use domain::{Bus, BusEvent, DeliveryStatus, Store, StoreError};
use serde_json::Value;

use super::rules::PreviewRules;
use super::{pipeline_triggers, rerun_requests};

/// `pull_request` actions that change what a pull request wants.
const PULL_REQUEST_ACTIONS: [&str; 9] = [
    "opened",
    "reopened",
    "synchronize",
    "closed",
    "ready_for_review",
    "converted_to_draft",
    "labeled",
    "unlabeled",
    "edited",
];

/// How processing one delivery ended: its status and a note for people. `Queued` means "not
/// now": the Store could not be reached, and the delivery is handled again later.
pub type Outcome = (DeliveryStatus, Option<String>);

/// The outcome of a Store error while handling a delivery, `what` saying what could not be
/// done: the Store being unavailable (a lost connection, an outage) hands the delivery back to
/// the queue; any other error fails it.
pub fn store_failure(what: &str, error: &StoreError) -> Outcome {
    let status = match error {
        StoreError::Unavailable(_) => DeliveryStatus::Queued,
        _ => DeliveryStatus::Failed,
    };
    (
        status,
        Some(format!("{what}: {}", domain::error_chain(error))),
    )
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// Why a payload does not describe a pull request Slipway can record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("the payload has no pull_request.number")]
    NoNumber,
    #[error(
        "the payload lacks pull_request.head.sha, pull_request.updated_at or repository.full_name"
    )]
    Incomplete,
}

/// The pull request a `pull_request` payload describes.
pub fn snapshot(payload: &Value) -> Result<PullRequestSnapshot, SnapshotError> {
    let pr = &payload["pull_request"];
    let repository = &payload["repository"];
    let number = pr["number"].as_i64().ok_or(SnapshotError::NoNumber)?;
    let head_sha = text(&pr["head"]["sha"]);
    let full_name = text(&repository["full_name"]);
    let updated_at = text(&pr["updated_at"]);
    if head_sha.is_empty() || full_name.is_empty() || updated_at.is_empty() {
        return Err(SnapshotError::Incomplete);
    }
    Ok(PullRequestSnapshot {
        repository: full_name,
        clone_url: text(&repository["clone_url"]),
        default_branch: text(&repository["default_branch"]),
        number,
        title: text(&pr["title"]),
        author: text(&pr["user"]["login"]),
        head_ref: text(&pr["head"]["ref"]),
        head_sha,
        base_ref: text(&pr["base"]["ref"]),
        draft: pr["draft"].as_bool().unwrap_or(false),
        labels: pr["labels"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l["name"].as_str().map(str::to_owned))
            .collect(),
        open: pr["state"] == "open",
        merged: pr["merged"].as_bool().unwrap_or(false),
        updated_at,
    })
}

async fn pull_request(
    store: &dyn Store,
    bus: &dyn Bus,
    delivery_id: &str,
    action: &str,
    payload: &Value,
    now_ms: i64,
) -> Outcome {
    if !PULL_REQUEST_ACTIONS.contains(&action) {
        return (
            DeliveryStatus::Ignored,
            Some(format!(
                "`{action}` does not change a pull request's preview"
            )),
        );
    }
    let snapshot = match snapshot(payload) {
        Ok(snapshot) => snapshot,
        Err(error) => return (DeliveryStatus::Failed, Some(error.to_string())),
    };
    let repository = match store.get_repository_named(&snapshot.repository).await {
        Ok(repository) => repository,
        Err(error) => return pipeline_triggers::unreadable_repository(&error),
    };
    let rules = repository
        .as_ref()
        .map_or(Ok(PreviewRules::default()), |r| {
            PreviewRules::from_config(&r.preview_rules)
        });
    let rules = match rules {
        Ok(rules) => rules,
        Err(error) => {
            return (
                DeliveryStatus::Failed,
                Some(format!(
                    "the repository's preview rules cannot be used: {}",
                    domain::error_chain(&error)
                )),
            );
        }
    };
    let verdict = rules.verdict(&snapshot);
    match store.record_pull_request(&snapshot, &verdict, now_ms).await {
        Ok(Recorded::Applied) => {
            // What previews are wanted may have changed: the preview worker starts now, while
            // the pipeline run is queued.
            let wake = BusEvent::Wake {
                worker: domain::preview::PREVIEW_WORKER.to_owned(),
            };
            let _ = bus.publish(&wake).await;
            let Some(repository) = repository else {
                return (DeliveryStatus::Processed, None);
            };
            let fork = pipeline_triggers::from_fork(payload);
            match pipeline_triggers::on_pull_request(
                store,
                &repository,
                &snapshot,
                action,
                fork,
                delivery_id,
                now_ms,
            )
            .await
            {
                Ok(note) => (DeliveryStatus::Processed, note),
                Err(error) => store_failure("could not queue a pipeline", &error),
            }
        }
        Ok(Recorded::Stale) => (
            DeliveryStatus::Processed,
            Some(format!(
                "a newer update of #{} was already recorded; this older one changed nothing",
                snapshot.number
            )),
        ),
        Err(error) => store_failure("could not record the pull request", &error),
    }
}

/// `owner/name` of each repository listed under `field`.
fn repositories<'a>(payload: &'a Value, field: &str) -> impl Iterator<Item = &'a str> {
    payload[field]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["full_name"].as_str())
}

async fn add_and_remove(
    store: &dyn Store,
    added: Vec<&str>,
    removed: Vec<&str>,
    now_ms: i64,
) -> Outcome {
    for name in &added {
        // Installation payloads do not carry clone URLs; GitHub's follow from the name.
        let clone_url = format!("https://github.com/{name}.git");
        if let Err(error) = store
            .add_github_repository(name, &clone_url, "main", now_ms)
            .await
        {
            return store_failure(&format!("could not add {name}"), &error);
        }
    }
    for name in &removed {
        if let Err(error) = store.remove_repository_named(name).await {
            return store_failure(&format!("could not remove {name}"), &error);
        }
    }
    (DeliveryStatus::Processed, None)
}

/// Processes one delivery's event.
pub async fn handle(
    store: &dyn Store,
    bus: &dyn Bus,
    delivery_id: &str,
    event: &str,
    payload: &str,
    now_ms: i64,
) -> Outcome {
    let payload: Value = match serde_json::from_str(payload) {
        Ok(payload) => payload,
        Err(error) => {
            return (
                DeliveryStatus::Failed,
                Some(format!("the payload is not JSON: {error}")),
            );
        }
    };
    let action = payload["action"].as_str().unwrap_or_default();
    match (event, action) {
        ("ping", _) => (DeliveryStatus::Processed, None),
        ("pull_request", action) => {
            pull_request(store, bus, delivery_id, action, &payload, now_ms).await
        }
        ("installation", "created") => {
            add_and_remove(
                store,
                repositories(&payload, "repositories").collect(),
                Vec::new(),
                now_ms,
            )
            .await
        }
        ("installation", "deleted") => {
            add_and_remove(
                store,
                Vec::new(),
                repositories(&payload, "repositories").collect(),
                now_ms,
            )
            .await
        }
        ("installation_repositories", _) => {
            add_and_remove(
                store,
                repositories(&payload, "repositories_added").collect(),
                repositories(&payload, "repositories_removed").collect(),
                now_ms,
            )
            .await
        }
        ("installation", other) => (
            DeliveryStatus::Ignored,
            Some(format!("installation `{other}` changes no repositories")),
        ),
        ("push", _) => pipeline_triggers::on_push(store, delivery_id, &payload, now_ms).await,
        ("check_run", action) => {
            rerun_requests::on_check_run(store, delivery_id, action, &payload, now_ms).await
        }
        ("check_suite", action) => {
            rerun_requests::on_check_suite(store, delivery_id, action, &payload, now_ms).await
        }
        (other, _) => (
            DeliveryStatus::Ignored,
            Some(format!("Slipway does not use `{other}` events")),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_synchronize_payload_becomes_a_snapshot() {
        let payload: Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/github-payloads/pull_request.synchronize.payload.json"
        ))
        .expect("json");
        let pr = snapshot(&payload).expect("snapshot");
        assert_eq!(
            (
                pr.repository.as_str(),
                pr.number,
                pr.head_ref.as_str(),
                pr.base_ref.as_str()
            ),
            ("Codertocat/Hello-World", 2, "changes", "master")
        );
        assert_eq!(pr.head_sha, "ec26c3e57ca3a959ca5aad62de7213c562f8c821");
        assert_eq!(
            (pr.open, pr.draft, pr.labels.as_slice()),
            (true, false, &["bug".to_owned()][..])
        );
        assert!(snapshot(&serde_json::json!({ "action": "opened" })).is_err());
    }
}
