//! The pull-request half of the Store conformance suite, against SQLite and PostgreSQL: newer
//! descriptions win, older ones change nothing, and each (pull request, commit) has one
//! preview decision.

use std::sync::Arc;

use domain::pull_request::{PreviewVerdict, PullRequestSnapshot, Recorded};
use domain::{Store, StoreError};
use server::store::{PostgresStore, SqliteStore};

use crate::support::TestPostgres;

fn snapshot(sha: &str, updated_at: &str) -> PullRequestSnapshot {
    PullRequestSnapshot {
        repository: "acme/shop".into(),
        clone_url: "https://github.com/acme/shop.git".into(),
        default_branch: "main".into(),
        number: 7,
        title: "Faster checkout".into(),
        author: "octocat".into(),
        head_ref: "faster".into(),
        head_sha: sha.into(),
        base_ref: "main".into(),
        draft: false,
        labels: vec!["preview".into()],
        open: true,
        merged: false,
        updated_at: updated_at.into(),
    }
}

async fn pull_requests_conform(store: Arc<dyn Store>) {
    let first = snapshot("aaa", "2026-11-24T10:00:00Z");
    assert_eq!(
        store
            .record_pull_request(&first, &PreviewVerdict::Wanted, 1)
            .await
            .expect("record"),
        Recorded::Applied
    );
    let newer = snapshot("bbb", "2026-11-24T10:05:00Z");
    store
        .record_pull_request(&newer, &PreviewVerdict::Wanted, 2)
        .await
        .expect("record");
    let older = snapshot("ccc", "2026-11-24T10:01:00Z");
    assert_eq!(
        store
            .record_pull_request(&older, &PreviewVerdict::Wanted, 3)
            .await
            .expect("record"),
        Recorded::Stale
    );
    let pr = store.get_pull_request("acme/shop", 7).await.expect("get");
    assert_eq!(pr.snapshot, newer);
    assert!(pr.preview_wanted);

    // Same commit, new decision (it became a draft): one decision per (PR, commit).
    let draft = PullRequestSnapshot {
        draft: true,
        updated_at: "2026-11-24T10:06:00Z".into(),
        ..newer.clone()
    };
    store
        .record_pull_request(&draft, &PreviewVerdict::NotWanted("draft".into()), 4)
        .await
        .expect("record");
    let pr = store.get_pull_request("acme/shop", 7).await.expect("get");
    assert_eq!(
        (
            pr.preview_wanted,
            pr.preview_reason.as_deref(),
            pr.snapshot.draft
        ),
        (false, Some("draft"), true)
    );
    assert!(
        store
            .list_repositories()
            .await
            .expect("list")
            .iter()
            .any(|r| r.name == "acme/shop"),
        "the repository was added with its pull request"
    );
    assert!(matches!(
        store.get_pull_request("acme/shop", 8).await,
        Err(StoreError::NotFound { .. })
    ));

    store
        .add_github_repository("acme/api", "https://github.com/acme/api.git", "main", 5)
        .await
        .expect("add");
    store
        .add_github_repository("acme/api", "https://elsewhere", "dev", 6)
        .await
        .expect("adding again changes nothing");
    assert!(
        store
            .remove_repository_named("acme/api")
            .await
            .expect("remove")
    );
    assert!(
        !store
            .remove_repository_named("acme/api")
            .await
            .expect("remove")
    );
}

#[tokio::test]
async fn sqlite_pull_requests_conform() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("slipway.db"))
        .await
        .expect("open");
    pull_requests_conform(Arc::new(store)).await;
}

#[tokio::test]
async fn postgres_pull_requests_conform() {
    let db = TestPostgres::create().await;
    let store = PostgresStore::open(&db.url.clone().into(), "test database")
        .await
        .expect("open");
    pull_requests_conform(Arc::new(store)).await;
}
