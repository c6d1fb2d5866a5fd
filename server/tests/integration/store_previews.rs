//! The preview half of the Store conformance suite, against SQLite and PostgreSQL: what pull
//! requests want becomes previews and attempts (one per commit and round), claims happen once
//! whatever the number of workers, newer pushes cancel older attempts, and removals, retries
//! and re-creations move previews as the states allow.

use std::sync::Arc;

use domain::Store;
use domain::preview::{AttemptOutcome, AttemptStatus, PreviewFilter, PreviewStatus};
use domain::pull_request::{PreviewVerdict, PullRequestSnapshot};
use server::store::{PostgresStore, SqliteStore};

use crate::support::TestPostgres;

fn snapshot(number: i64, sha: &str, updated_at: &str) -> PullRequestSnapshot {
    PullRequestSnapshot {
        repository: "acme/shop".into(),
        clone_url: "https://github.com/acme/shop.git".into(),
        default_branch: "main".into(),
        number,
        title: format!("Checkout v{number}"),
        author: "octocat".into(),
        head_ref: "faster".into(),
        head_sha: sha.into(),
        base_ref: "main".into(),
        draft: false,
        labels: Vec::new(),
        open: true,
        merged: false,
        updated_at: updated_at.into(),
    }
}

fn sha(c: char) -> String {
    c.to_string().repeat(40)
}

/// Two repositories whose names read alike as a namespace (`acme/my-shop`, `acme-my/shop`):
/// the second pull request's preview gets the name with a hash instead of failing.
async fn alike_repositories_get_distinct_namespaces(store: Arc<dyn Store>) {
    let wanted = PreviewVerdict::Wanted;
    for repository in ["acme/my-shop", "acme-my/shop"] {
        let pr = PullRequestSnapshot {
            repository: repository.into(),
            ..snapshot(1, &sha('c'), "2026-11-25T10:00:00Z")
        };
        store
            .record_pull_request(&pr, &wanted, 100)
            .await
            .expect("record");
    }
    let filter = PreviewFilter {
        limit: 10,
        ..PreviewFilter::default()
    };
    let mut names: Vec<(String, String)> = store
        .list_previews(&filter)
        .await
        .expect("list")
        .into_iter()
        .map(|p| (p.repository, p.namespace))
        .collect();
    names.sort();
    assert_eq!(
        names[1],
        ("acme/my-shop".to_owned(), "pr-acme-my-shop-1".to_owned())
    );
    assert_eq!(
        names[0],
        (
            "acme-my/shop".to_owned(),
            domain::preview::namespace::distinct_namespace("acme-my/shop", 1)
        )
    );
    // A push to the second keeps its namespace.
    let again = PullRequestSnapshot {
        repository: "acme-my/shop".into(),
        ..snapshot(1, &sha('d'), "2026-11-25T10:00:01Z")
    };
    store
        .record_pull_request(&again, &wanted, 101)
        .await
        .expect("record");
    let kept = store
        .get_preview_by_namespace(&names[0].1)
        .await
        .expect("kept");
    assert_eq!(kept.head_sha, sha('d'));
}

#[tokio::test]
async fn sqlite_alike_repositories_get_distinct_namespaces() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("slipway.db"))
        .await
        .expect("open");
    alike_repositories_get_distinct_namespaces(Arc::new(store)).await;
}

#[tokio::test]
async fn postgres_alike_repositories_get_distinct_namespaces() {
    let db = TestPostgres::create().await;
    let store = PostgresStore::open(&db.url.clone().into(), "test database")
        .await
        .expect("open");
    alike_repositories_get_distinct_namespaces(Arc::new(store)).await;
}

async fn previews_conform(store: Arc<dyn Store>) {
    let wanted = PreviewVerdict::Wanted;
    store
        .record_pull_request(
            &snapshot(7, &sha('a'), "2026-11-25T10:00:00Z"),
            &wanted,
            100,
        )
        .await
        .expect("record");
    let preview = store
        .get_preview_by_namespace("pr-acme-shop-7")
        .await
        .expect("created");
    assert_eq!(
        (preview.status, preview.wanted, preview.round),
        (PreviewStatus::Pending, true, 0)
    );
    assert_eq!(
        (preview.title.as_str(), preview.branch.as_str()),
        ("Checkout v7", "faster")
    );
    // The same commit again adds nothing.
    store
        .record_pull_request(
            &snapshot(7, &sha('a'), "2026-11-25T10:00:01Z"),
            &wanted,
            101,
        )
        .await
        .expect("record");
    assert_eq!(
        store
            .preview_attempts(preview.id)
            .await
            .expect("attempts")
            .len(),
        1
    );

    // Five workers claim at once: one wins.
    let claims =
        futures::future::join_all((0..5).map(|_| store.claim_preview_attempts(200, 0, 10))).await;
    let won: Vec<_> = claims.into_iter().flat_map(|c| c.expect("claim")).collect();
    assert_eq!(won.len(), 1);
    let first = won[0].clone();
    assert!(
        store
            .set_attempt_progress(first.id, PreviewStatus::Deploying, None, 210)
            .await
            .expect("progress")
    );
    assert_eq!(
        store.get_preview(preview.id).await.expect("get").status,
        PreviewStatus::Deploying
    );

    // A newer push cancels the attempt in flight; the old worker learns it from its heartbeat.
    store
        .record_pull_request(
            &snapshot(7, &sha('b'), "2026-11-25T10:05:00Z"),
            &wanted,
            300,
        )
        .await
        .expect("record");
    assert!(
        !store
            .heartbeat_preview_attempt(first.id, 301)
            .await
            .expect("heartbeat")
    );
    assert!(
        !store
            .finish_preview_attempt(
                first.id,
                AttemptOutcome::Succeeded { url: "https://old" },
                None,
                302
            )
            .await
            .expect("finish")
    );
    let attempts = store.preview_attempts(preview.id).await.expect("attempts");
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[1].status, AttemptStatus::Cancelled);
    assert_eq!(attempts[1].reason.as_deref(), Some("superseded by bbbbbbb"));
    let claimed = store
        .claim_preview_attempts(400, 0, 10)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1, "the new commit only");
    let second = claimed[0].clone();
    assert_eq!(second.sha, sha('b'));
    assert!(
        store
            .claim_preview_attempts(401, 0, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    // A claim whose worker stopped heartbeating is taken again.
    let again = store
        .claim_preview_attempts(500, 450, 10)
        .await
        .expect("claim");
    assert_eq!(again.len(), 1, "stale claim");
    assert_eq!(again[0].id, second.id);
    assert!(
        store
            .finish_preview_attempt(
                second.id,
                AttemptOutcome::Succeeded {
                    url: "https://pr-7.example.com"
                },
                Some(10_000),
                600
            )
            .await
            .expect("finish")
    );
    let running = store.get_preview(preview.id).await.expect("get");
    assert_eq!(
        (
            running.status,
            running.url.as_deref(),
            running.expires_at_ms,
            running.deployed_at_ms
        ),
        (
            PreviewStatus::Running,
            Some("https://pr-7.example.com"),
            Some(10_000),
            Some(600)
        )
    );

    // Lists: filters, search and counts.
    store
        .record_pull_request(
            &snapshot(8, &sha('c'), "2026-11-25T11:00:00Z"),
            &wanted,
            700,
        )
        .await
        .expect("record");
    let running_only = PreviewFilter {
        status: Some(PreviewStatus::Running),
        limit: 10,
        ..PreviewFilter::default()
    };
    let list = store.list_previews(&running_only).await.expect("list");
    assert_eq!(list.iter().map(|p| p.number).collect::<Vec<_>>(), [7]);
    let search = PreviewFilter {
        search: Some("V8".into()),
        limit: 10,
        ..PreviewFilter::default()
    };
    assert_eq!(
        store
            .list_previews(&search)
            .await
            .expect("list")
            .iter()
            .map(|p| p.number)
            .collect::<Vec<_>>(),
        [8]
    );
    let all = PreviewFilter {
        repository: Some("acme/shop".into()),
        limit: 1,
        ..PreviewFilter::default()
    };
    assert_eq!(store.list_previews(&all).await.expect("list").len(), 1);
    assert_eq!(store.count_previews(&all).await.expect("count"), 2);

    // Expired or unwanted previews are due for removal, once.
    assert_eq!(
        store
            .previews_to_remove(10_001, 0)
            .await
            .expect("due")
            .iter()
            .map(|p| p.number)
            .collect::<Vec<_>>(),
        [7]
    );
    store
        .close_pull_request("acme/shop", 8, "the pull request was closed", 800)
        .await
        .expect("close");
    let due = store.previews_to_remove(900, 0).await.expect("due");
    assert_eq!(due.iter().map(|p| p.number).collect::<Vec<_>>(), [8]);
    let eight = due[0].id;
    assert!(
        store
            .begin_preview_removal(eight, "the pull request was closed", 900)
            .await
            .expect("begin")
    );
    assert!(
        !store
            .begin_preview_removal(eight, "again", 901)
            .await
            .expect("begin")
    );
    // The replica removing it proves it alive; a removal whose replica stopped is due again,
    // and taken over, once its heartbeat is 9 s old.
    assert!(
        store
            .heartbeat_preview_removal(eight, 905)
            .await
            .expect("beat")
    );
    let due_at = |at_ms: i64| {
        let store = store.clone();
        async move {
            store
                .previews_to_remove(at_ms, 0)
                .await
                .expect("due")
                .iter()
                .any(|p| p.id == eight)
        }
    };
    assert!(
        !due_at(9_905).await,
        "heard of 9 s ago: still its replica's"
    );
    assert!(due_at(9_906).await, "abandoned");
    assert!(
        store
            .begin_preview_removal(eight, "the pull request was closed", 9_906)
            .await
            .expect("take over")
    );
    let removed = store
        .finish_preview_removal(eight, None, 950)
        .await
        .expect("finish");
    assert!(
        !store
            .heartbeat_preview_removal(eight, 9_910)
            .await
            .expect("beat"),
        "a finished removal is no one's to heartbeat"
    );
    assert_eq!(
        (removed.status, removed.reason.as_deref()),
        (PreviewStatus::Deleted, Some("the pull request was closed"))
    );
    assert_eq!(
        store.live_preview_namespaces().await.expect("live"),
        ["pr-acme-shop-7"]
    );
    assert!(
        !store
            .list_previews(&PreviewFilter {
                limit: 10,
                ..PreviewFilter::default()
            })
            .await
            .expect("list")
            .iter()
            .any(|p| p.id == eight)
    );

    // Reopened at the same commit: a new round deploys it again.
    let mut reopened = snapshot(8, &sha('c'), "2026-11-25T12:00:00Z");
    reopened.open = true;
    store
        .record_pull_request(&reopened, &wanted, 1_000)
        .await
        .expect("record");
    let back = store.get_preview(eight).await.expect("get");
    assert_eq!(
        (back.status, back.round, back.wanted),
        (PreviewStatus::Pending, 1, true)
    );
    assert_eq!(
        store.preview_attempts(eight).await.expect("attempts").len(),
        2
    );

    // Retry: another round of the head commit; a failed removal is kept for operators.
    let retried = store
        .retry_preview(preview.id, 1_100)
        .await
        .expect("retry")
        .expect("wanted");
    assert_eq!(
        (retried.sha.as_str(), retried.round, retried.status),
        (sha('b').as_str(), 1, AttemptStatus::Pending)
    );
    let removal = store
        .request_preview_removal(preview.id, "deleted from the dashboard", 1_200)
        .await
        .expect("remove");
    assert!(!removal.wanted);
    assert!(
        store
            .retry_preview(preview.id, 1_201)
            .await
            .expect("retry")
            .is_none()
    );
    assert!(
        store
            .begin_preview_removal(preview.id, "deleted from the dashboard", 1_300)
            .await
            .expect("begin")
    );
    let failed = store
        .finish_preview_removal(preview.id, Some("namespace is not gone"), 1_400)
        .await
        .expect("finish");
    assert_eq!(
        (failed.status, failed.reason.as_deref()),
        (PreviewStatus::CleanupFailed, Some("namespace is not gone"))
    );
    assert!(
        store
            .previews_to_remove(1_401, 1_000)
            .await
            .expect("due")
            .is_empty()
    );
    assert_eq!(
        store
            .previews_to_remove(70_000, 60_000)
            .await
            .expect("due")
            .iter()
            .map(|p| p.id)
            .collect::<Vec<_>>(),
        [preview.id]
    );
}

#[tokio::test]
async fn sqlite_previews_conform() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("slipway.db"))
        .await
        .expect("open");
    previews_conform(Arc::new(store)).await;
}

#[tokio::test]
async fn postgres_previews_conform() {
    let db = TestPostgres::create().await;
    let store = PostgresStore::open(&db.url.clone().into(), "test database")
        .await
        .expect("open");
    previews_conform(Arc::new(store)).await;
}
