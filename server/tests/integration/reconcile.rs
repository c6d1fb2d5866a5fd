//! Reconciliation against a fake GitHub: a pull request whose `opened` delivery was missed is
//! recorded, and one whose `closed` delivery was missed is closed.

use std::sync::Arc;
use std::time::Duration;

use domain::Store;
use domain::pull_request::{PreviewVerdict, PullRequestSnapshot};
use secrecy::SecretString;
use server::github::GitHub;
use server::store::SqliteStore;

use crate::fake_github;

const REPO: &str = "Codertocat/Hello-World";

fn listed_pull_request() -> serde_json::Value {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/github-payloads/pull_request.opened.payload.json");
    let event: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("example")).expect("json");
    // GitHub's pull request list holds the same objects as the events' `pull_request`.
    event["pull_request"].clone()
}

#[tokio::test]
async fn missed_openings_and_closings_are_caught_up() {
    let (url, fake) = fake_github::start().await;
    let github = GitHub::with_token(
        &url,
        &SecretString::from("t".to_owned()),
        Duration::from_secs(5),
    )
    .expect("client");
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("slipway.db"))
            .await
            .expect("store"),
    );
    // Slipway believes #1 is open; GitHub closed it (the delivery was lost) and lists only #2,
    // whose `opened` delivery was lost too.
    let stale = PullRequestSnapshot {
        repository: REPO.into(),
        clone_url: format!("https://github.com/{REPO}.git"),
        default_branch: "master".into(),
        number: 1,
        title: "Old work".into(),
        author: "octocat".into(),
        head_ref: "old".into(),
        head_sha: "1".repeat(40),
        base_ref: "master".into(),
        draft: false,
        labels: Vec::new(),
        open: true,
        merged: false,
        updated_at: "2019-05-01T00:00:00Z".into(),
    };
    store
        .record_pull_request(&stale, &PreviewVerdict::Wanted, 1)
        .await
        .expect("record");
    fake.pulls
        .lock()
        .expect("lock")
        .insert(REPO.into(), vec![listed_pull_request()]);

    let pass = server::reconcile::once(store.as_ref(), &github).await;
    assert_eq!(
        (
            pass.repositories,
            pass.recorded,
            pass.closed,
            pass.errors.len()
        ),
        (1, 1, 1, 0),
        "{pass:?}"
    );
    let opened = store.get_pull_request(REPO, 2).await.expect("caught up");
    assert!(opened.snapshot.open && opened.preview_wanted);
    let closed = store.get_pull_request(REPO, 1).await.expect("known");
    assert!(!closed.snapshot.open && !closed.preview_wanted);
    assert_eq!(
        closed.preview_reason.as_deref(),
        Some("closed on GitHub (found by reconciliation)")
    );

    // A second pass closes nothing more and leaves #2 as it was (re-recording the same
    // description changes nothing).
    let again = server::reconcile::once(store.as_ref(), &github).await;
    assert_eq!(again.closed, 0, "{again:?}");
    assert_eq!(store.get_pull_request(REPO, 2).await.expect("pr"), opened);
}
