//! The GitHub reports half of the Store conformance suite, against SQLite and PostgreSQL: a
//! report is claimed by one replica at a time (and taken over once its claim runs out), what
//! GitHub was told is kept, and the sweep finds exactly the runs and previews whose status (or
//! attempt) differs from the one last reported.

use std::sync::Arc;

use domain::Store;
use domain::pipeline::{NewPipeline, PipelineStatus, TriggerKind};
use domain::pull_request::{PreviewVerdict, PullRequestSnapshot};
use domain::report::{ReportKind, ReportRecord};
use domain::{NewRepository, RepositoryId};
use server::store::{PostgresStore, SqliteStore};

use crate::support::TestPostgres;

fn run(repository: RepositoryId, sha: Option<&str>) -> NewPipeline {
    NewPipeline {
        repository_id: repository,
        git_ref: "main".into(),
        commit_sha: sha.map(str::to_owned),
        trigger: TriggerKind::Push,
        trigger_detail: None,
        pr_number: None,
        retry_of: None,
        delivery_id: None,
    }
}

async fn reports_conform(store: Arc<dyn Store>) {
    let repo = store
        .add_repository(
            &NewRepository::new("acme/shop", "/srv/git/shop.git", "main").expect("valid"),
        )
        .await
        .expect("add");
    let sha = "a".repeat(40);
    let with_commit = store
        .create_pipeline(&run(repo.id, Some(&sha)), 10_000)
        .await
        .expect("create");
    // A run whose commit is not known yet has nothing to report on.
    store
        .create_pipeline(&run(repo.id, None), 10_001)
        .await
        .expect("create");
    let old = store
        .create_pipeline(&run(repo.id, Some(&sha)), 1_000)
        .await
        .expect("create");
    let unreported = store
        .unreported(ReportKind::Pipeline, 5_000, 10)
        .await
        .expect("sweep");
    assert_eq!(
        unreported,
        [with_commit.id.0],
        "recent runs with a commit only ({old:?} is older)"
    );

    // Five replicas ask at once: one gets the claim.
    let claims = (0..5).map(|n| {
        let store = store.clone();
        async move {
            store
                .claim_report(
                    ReportKind::Pipeline,
                    with_commit.id.0,
                    &format!("replica-{n}"),
                    20_000,
                    50_000,
                )
                .await
                .expect("claim")
        }
    });
    let claimed: Vec<_> = futures::future::join_all(claims).await;
    let winners: Vec<usize> = claimed
        .iter()
        .enumerate()
        .filter_map(|(n, claim)| claim.as_ref().map(|_| n))
        .collect();
    assert_eq!(winners.len(), 1, "{claimed:?}");
    assert_eq!(
        claimed[winners[0]],
        Some(ReportRecord::default()),
        "nothing sent yet"
    );
    let owner = format!("replica-{}", winners[0]);
    let other = if winners[0] == 0 {
        "replica-1"
    } else {
        "replica-0"
    };

    // Its claim runs out: another replica takes the report over.
    assert_eq!(
        store
            .claim_report(
                ReportKind::Pipeline,
                with_commit.id.0,
                other,
                49_999,
                80_000
            )
            .await
            .expect("claim"),
        None
    );
    assert!(
        store
            .claim_report(
                ReportKind::Pipeline,
                with_commit.id.0,
                other,
                50_001,
                80_000
            )
            .await
            .expect("claim")
            .is_some()
    );
    // The first replica's late finish changes nothing; the holder's does.
    let sent = ReportRecord {
        remote_id: Some(4_200_000_001),
        remote_key: None,
        fingerprint: Some("f1".into()),
        sent_status: Some("pending".into()),
        sent_at_ms: Some(50_002),
    };
    store
        .finish_report(
            ReportKind::Pipeline,
            with_commit.id.0,
            &owner,
            &sent,
            50_002,
        )
        .await
        .expect("finish");
    assert_eq!(
        store
            .claim_report(
                ReportKind::Pipeline,
                with_commit.id.0,
                &owner,
                50_003,
                80_000
            )
            .await
            .expect("claim"),
        None,
        "still held by the replica that took it over"
    );
    store
        .finish_report(ReportKind::Pipeline, with_commit.id.0, other, &sent, 50_004)
        .await
        .expect("finish");
    assert_eq!(
        store
            .claim_report(
                ReportKind::Pipeline,
                with_commit.id.0,
                &owner,
                50_005,
                80_000
            )
            .await
            .expect("claim"),
        Some(sent.clone()),
        "what GitHub was told is kept"
    );
    store
        .release_report(ReportKind::Pipeline, with_commit.id.0, &owner)
        .await
        .expect("release");
    assert!(
        store
            .unreported(ReportKind::Pipeline, 5_000, 10)
            .await
            .expect("sweep")
            .is_empty(),
        "reported at its status"
    );
    // The run ends: its new status is unreported until sent.
    store
        .request_cancel(with_commit.id, 60_000)
        .await
        .expect("cancel");
    assert_eq!(
        store
            .get_pipeline(with_commit.id)
            .await
            .expect("get")
            .status,
        PipelineStatus::Cancelled
    );
    assert_eq!(
        store
            .unreported(ReportKind::Pipeline, 5_000, 10)
            .await
            .expect("sweep"),
        [with_commit.id.0]
    );

    // Previews: one recorded, never reported; then reported at its status and attempt; a new
    // push is a new attempt, unreported again.
    let pr = |sha: &str, updated_at: &str| PullRequestSnapshot {
        repository: "acme/shop".into(),
        clone_url: "/srv/git/shop.git".into(),
        default_branch: "main".into(),
        number: 42,
        title: "Cart".into(),
        author: "octocat".into(),
        head_ref: "cart".into(),
        head_sha: sha.into(),
        base_ref: "main".into(),
        draft: false,
        labels: Vec::new(),
        open: true,
        merged: false,
        updated_at: updated_at.into(),
    };
    store
        .record_pull_request(
            &pr(&"b".repeat(40), "2026-11-25T10:00:00Z"),
            &PreviewVerdict::Wanted,
            70_000,
        )
        .await
        .expect("record");
    let previews = store
        .unreported(ReportKind::Preview, 65_000, 10)
        .await
        .expect("sweep");
    assert_eq!(previews.len(), 1);
    let preview = store.get_preview(previews[0]).await.expect("preview");
    store
        .claim_report(ReportKind::Preview, preview.id, "replica-0", 70_001, 80_000)
        .await
        .expect("claim")
        .expect("claimed");
    let deployed = ReportRecord {
        remote_id: Some(7),
        remote_key: Some(format!("{}@{}", preview.head_sha, preview.round)),
        fingerprint: Some("d1".into()),
        sent_status: Some(preview.status.as_str().into()),
        sent_at_ms: Some(70_002),
    };
    store
        .finish_report(
            ReportKind::Preview,
            preview.id,
            "replica-0",
            &deployed,
            70_002,
        )
        .await
        .expect("finish");
    assert!(
        store
            .unreported(ReportKind::Preview, 65_000, 10)
            .await
            .expect("sweep")
            .is_empty()
    );
    store
        .record_pull_request(
            &pr(&"c".repeat(40), "2026-11-25T10:01:00Z"),
            &PreviewVerdict::Wanted,
            71_000,
        )
        .await
        .expect("record");
    assert_eq!(
        store
            .unreported(ReportKind::Preview, 65_000, 10)
            .await
            .expect("sweep"),
        [preview.id],
        "a new commit is a new attempt"
    );
}

#[tokio::test]
async fn sqlite_reports_conform() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("slipway.db"))
        .await
        .expect("open");
    reports_conform(Arc::new(store)).await;
}

#[tokio::test]
async fn postgres_reports_conform() {
    let db = TestPostgres::create().await;
    let store = PostgresStore::open(&db.url.clone().into(), "test database")
        .await
        .expect("open");
    reports_conform(Arc::new(store)).await;
    db.drop_database().await;
}
