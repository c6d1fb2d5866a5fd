//! The pipelines half of the Store conformance suite, against SQLite and PostgreSQL: a pending
//! run is claimed by exactly one of many executors, steps record their outcome, finishing a
//! run settles the steps left over, cancel acts at once on pending runs, and lists filter and
//! page newest first.

use std::sync::Arc;

use domain::pipeline::parse::parse_pipeline;
use domain::pipeline::{
    NewPipeline, PipelineFilter, PipelineId, PipelineStatus, ScheduleEntry, StepOutcome,
    StepStatus, TriggerKind,
};
use domain::{NewRepository, Store, StoreError};
use server::store::{PostgresStore, SqliteStore};

use crate::support::TestPostgres;

const THREE_STEPS: &str = "pipeline:\n  steps:\n    - name: lint\n      image: alpine\n      commands: [make lint]\n    - name: test\n      image: rust:1.85\n      commands: [make test]\n    - name: build\n      image: alpine\n      commands: [make]\n      depends_on: [lint, test]\n";

async fn pipelines_conform(store: Arc<dyn Store>) {
    let repo = store
        .add_repository(&NewRepository::new("demo", "/srv/git/demo.git", "main").expect("valid"))
        .await
        .expect("add");
    let new = |git_ref: &str, trigger| NewPipeline {
        repository_id: repo.id,
        git_ref: git_ref.to_owned(),
        commit_sha: None,
        trigger,
        trigger_detail: None,
        pr_number: None,
        retry_of: None,
        delivery_id: None,
    };
    let mut created = Vec::new();
    for (at, (git_ref, trigger)) in [
        ("main", TriggerKind::Push),
        ("feature", TriggerKind::Api),
        ("main", TriggerKind::Schedule),
    ]
    .into_iter()
    .enumerate()
    {
        let run = store
            .create_pipeline(&new(git_ref, trigger), 1_000 + at as i64)
            .await
            .expect("create");
        assert_eq!(run.status, PipelineStatus::Pending);
        assert_eq!(run.repository, "demo");
        created.push(run.id);
    }

    // Ten executors ask at once: each pending run goes to exactly one of them, oldest first.
    let claims = (0..10).map(|worker| {
        let store = store.clone();
        async move {
            store
                .claim_pipeline(&format!("worker-{worker}"), 5_000)
                .await
                .expect("claim")
        }
    });
    let mut claimed: Vec<PipelineId> = futures::future::join_all(claims)
        .await
        .into_iter()
        .flatten()
        .map(|run| run.id)
        .collect();
    // A claimer that loses a race may come back empty-handed; asking again finds the rest.
    while let Some(run) = store.claim_pipeline("late", 5_000).await.expect("claim") {
        claimed.push(run.id);
    }
    claimed.sort();
    assert_eq!(claimed, created, "every run claimed exactly once");
    let first = store.get_pipeline(created[0]).await.expect("get");
    assert_eq!(first.status, PipelineStatus::Running);
    assert_eq!(first.started_at_ms, Some(5_000));

    let definition = parse_pipeline(THREE_STEPS)
        .expect("valid")
        .expect("pipeline");
    store
        .plan_pipeline(first.id, &"a".repeat(40), &definition)
        .await
        .expect("plan");
    assert_eq!(
        store
            .pipeline_definition(first.id)
            .await
            .expect("definition"),
        Some(definition.clone())
    );
    let planned = store.get_pipeline(first.id).await.expect("get");
    assert_eq!(planned.commit_sha.as_deref(), Some("a".repeat(40).as_str()));
    let names: Vec<&str> = planned.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["lint", "test", "build"], "steps in file order");
    assert_eq!(planned.steps[2].depends_on, ["lint", "test"]);
    assert_eq!(planned.steps[1].image, "rust:1.85");

    store
        .start_step(first.id, "lint", 6_000)
        .await
        .expect("start");
    store
        .start_step(first.id, "test", 6_000)
        .await
        .expect("start");
    store
        .finish_step(
            first.id,
            "lint",
            &StepOutcome {
                status: StepStatus::Succeeded,
                exit_code: Some(0),
                reason: None,
                log_key: Some("logs/pipelines/1/lint.log".into()),
            },
            7_500,
        )
        .await
        .expect("finish");
    store
        .finish_step(
            first.id,
            "test",
            &StepOutcome {
                status: StepStatus::Failed,
                exit_code: Some(101),
                reason: Some("exited with code 101".into()),
                log_key: None,
            },
            8_000,
        )
        .await
        .expect("finish");
    assert!(
        store
            .finish_pipeline(
                first.id,
                PipelineStatus::Failed,
                Some("step `test` failed"),
                9_000
            )
            .await
            .expect("finish")
    );
    assert!(
        !store
            .finish_pipeline(first.id, PipelineStatus::Succeeded, None, 9_500)
            .await
            .expect("finish again"),
        "a finished run stays as it ended"
    );
    let done = store.get_pipeline(first.id).await.expect("get");
    assert_eq!(done.status, PipelineStatus::Failed);
    assert_eq!(done.duration_ms(), Some(4_000));
    let lint = &done.steps[0];
    assert_eq!(
        (
            lint.status,
            lint.exit_code,
            lint.duration_ms(),
            lint.log_key.as_deref()
        ),
        (
            StepStatus::Succeeded,
            Some(0),
            Some(1_500),
            Some("logs/pipelines/1/lint.log")
        )
    );
    assert_eq!(done.steps[1].exit_code, Some(101));
    assert_eq!(
        done.steps[2].status,
        StepStatus::Skipped,
        "dependants of a failure are skipped"
    );

    // Cancel: a running run is flagged for its executor, a pending one ends at once.
    let running = store
        .request_cancel(created[1], 10_000)
        .await
        .expect("cancel");
    assert!(running.cancel_requested);
    assert_eq!(running.status, PipelineStatus::Running);
    let pending = store
        .create_pipeline(&new("main", TriggerKind::Api), 11_000)
        .await
        .expect("create");
    let cancelled = store
        .request_cancel(pending.id, 12_000)
        .await
        .expect("cancel");
    assert_eq!(cancelled.status, PipelineStatus::Cancelled);
    assert_eq!(
        cancelled.reason.as_deref(),
        Some("cancelled before it started")
    );

    // Heartbeats: only the executor that claimed a run proves it alive, and a run whose
    // executor went quiet is found.
    let workers: Vec<String> = (0..10)
        .map(|w| format!("worker-{w}"))
        .chain(["late".to_owned()])
        .collect();
    let beats = futures::future::join_all(
        workers
            .iter()
            .map(|worker| store.heartbeat_pipeline(created[1], worker, 20_000)),
    )
    .await;
    assert_eq!(
        beats.iter().filter(|beat| matches!(beat, Ok(true))).count(),
        1,
        "the claimer's beat lands, no other's: {beats:?}"
    );
    let claimer = workers[beats
        .iter()
        .position(|beat| matches!(beat, Ok(true)))
        .expect("a claimer")]
    .clone();
    let stale: Vec<PipelineId> = store
        .interrupted_pipelines(15_000)
        .await
        .expect("interrupted")
        .into_iter()
        .map(|run| run.id)
        .collect();
    assert_eq!(
        stale,
        [created[2]],
        "only the run last heard of at 5 s is stale"
    );

    // Taking a quiet run over: one of several racers gets it, and a run whose executor is
    // alive is not taken.
    let quiet = created[2];
    let racers = (0..5).map(|n| {
        let store = store.clone();
        async move {
            store
                .take_over_pipeline(quiet, &format!("replica-{n}"), 21_000, 15_000)
                .await
                .expect("take over")
        }
    });
    let won = futures::future::join_all(racers).await;
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    assert!(
        !store
            .take_over_pipeline(created[1], "replica-9", 21_000, 15_000)
            .await
            .expect("take over"),
        "a run heard of at 20 s is not stale at 15 s"
    );
    // Let go of (Slipway stopping while its pods run on), it is stale at once.
    store.let_go_pipeline(created[1]).await.expect("let go");
    assert!(
        store
            .take_over_pipeline(created[1], "replica-9", 22_000, 15_000)
            .await
            .expect("take over")
    );
    assert!(
        !store
            .heartbeat_pipeline(created[1], &claimer, 23_000)
            .await
            .expect("beat"),
        "the executor it was taken from is told it is no longer its run"
    );
    assert!(
        store
            .heartbeat_pipeline(created[1], "replica-9", 23_000)
            .await
            .expect("beat")
    );

    let list = |filter: PipelineFilter| {
        let store = store.clone();
        async move {
            store
                .list_pipelines(&filter)
                .await
                .expect("list")
                .into_iter()
                .map(|run| run.id)
                .collect::<Vec<_>>()
        }
    };
    let all = list(PipelineFilter {
        limit: 50,
        ..Default::default()
    })
    .await;
    assert_eq!(
        all,
        [pending.id, created[2], created[1], created[0]],
        "newest first"
    );
    assert_eq!(
        list(PipelineFilter {
            git_ref: Some("main".into()),
            limit: 50,
            ..Default::default()
        })
        .await,
        [pending.id, created[2], created[0]]
    );
    assert_eq!(
        list(PipelineFilter {
            status: Some(PipelineStatus::Failed),
            limit: 50,
            ..Default::default()
        })
        .await,
        [created[0]]
    );
    assert_eq!(
        list(PipelineFilter {
            trigger: Some(TriggerKind::Schedule),
            limit: 50,
            ..Default::default()
        })
        .await,
        [created[2]]
    );
    assert_eq!(
        list(PipelineFilter {
            before: Some(created[2]),
            limit: 1,
            ..Default::default()
        })
        .await,
        [created[1]],
        "pages continue below the last id seen"
    );
    assert!(matches!(
        store.get_pipeline(PipelineId(9_999)).await,
        Err(StoreError::NotFound {
            entity: "pipeline",
            ..
        })
    ));

    // A newer push to a pull request supersedes its runs that have not ended: a pending one
    // is cancelled, a running one is asked to stop (once), an ended one is left as it was.
    let mut pr_run = new("feature", TriggerKind::PullRequest);
    pr_run.pr_number = Some(7);
    pr_run.trigger_detail = Some("synchronize".into());
    let running = store
        .create_pipeline(&pr_run, 29_000)
        .await
        .expect("create");
    let claimed = store.claim_pipeline("w", 29_500).await.expect("claim");
    assert_eq!(claimed.map(|run| run.id), Some(running.id));
    let older = store
        .create_pipeline(&pr_run, 30_000)
        .await
        .expect("create");
    assert_eq!(older.trigger_detail.as_deref(), Some("synchronize"));
    let superseded = store
        .supersede_pull_request_runs(repo.id, 7, None, 31_000)
        .await
        .expect("supersede");
    assert_eq!(superseded, 2);
    assert_eq!(
        list(PipelineFilter {
            pr_number: Some(7),
            limit: 50,
            ..Default::default()
        })
        .await,
        [older.id, running.id],
        "a pull request's runs"
    );
    let older = store.get_pipeline(older.id).await.expect("get");
    assert_eq!(older.status, PipelineStatus::Cancelled);
    assert_eq!(older.finished_at_ms, Some(31_000));
    assert_eq!(
        older.reason.as_deref(),
        Some("superseded by a newer push to the pull request")
    );
    let running = store.get_pipeline(running.id).await.expect("get");
    assert_eq!(
        (
            running.status,
            running.cancel_requested,
            running.reason,
            running.finished_at_ms
        ),
        (PipelineStatus::Running, true, None, None),
        "a running run is asked to stop and ends through its executor"
    );
    let again = store
        .supersede_pull_request_runs(repo.id, 7, None, 32_000)
        .await
        .expect("supersede");
    assert_eq!(again, 0, "runs already told are not counted again");

    // A delivery queues its run once, however often it is handled, and handling it again does
    // not supersede the run it queued.
    let delivered = NewPipeline {
        delivery_id: Some("delivery-8".into()),
        pr_number: Some(8),
        ..new("feature-8", TriggerKind::PullRequest)
    };
    let first = store
        .create_pipeline(&delivered, 32_100)
        .await
        .expect("create");
    let superseded = store
        .supersede_pull_request_runs(repo.id, 8, Some("delivery-8"), 32_200)
        .await
        .expect("supersede");
    assert_eq!(superseded, 0, "the delivery's own run is kept");
    let second = store
        .create_pipeline(&delivered, 32_300)
        .await
        .expect("create again");
    assert_eq!(
        (second.id, second.status, second.created_at_ms),
        (first.id, PipelineStatus::Pending, 32_100),
        "the same run"
    );
    let newer = store
        .supersede_pull_request_runs(repo.id, 8, Some("delivery-9"), 32_400)
        .await
        .expect("supersede");
    assert_eq!(newer, 1, "another delivery's push supersedes it");

    // A run its `on:` does not want leaves no trace.
    let unwanted = store
        .create_pipeline(&new("docs", TriggerKind::Push), 32_000)
        .await
        .expect("create");
    store.discard_pipeline(unwanted.id).await.expect("discard");
    assert!(matches!(
        store.get_pipeline(unwanted.id).await,
        Err(StoreError::NotFound { .. })
    ));

    // Schedules: replaced as a whole, unchanged ones keep their time, and each due time is
    // advanced by exactly one of the replicas racing for it.
    let entry = |cron: &str, next| ScheduleEntry {
        repository_id: repo.id,
        cron: cron.into(),
        branch: "main".into(),
        next_at_ms: next,
    };
    store
        .set_schedules(
            repo.id,
            &[entry("0 3 * * *", 40_000), entry("0 4 * * *", 50_000)],
        )
        .await
        .expect("set");
    store
        .set_schedules(repo.id, &[entry("0 3 * * *", 99_000)])
        .await
        .expect("replace");
    let due = store.due_schedules(45_000).await.expect("due");
    assert_eq!(
        due,
        [entry("0 3 * * *", 40_000)],
        "kept its time; the 4 o'clock one is gone"
    );
    let races = (0..5).map(|_| {
        let (store, due) = (store.clone(), due[0].clone());
        async move {
            store
                .advance_schedule(&due, 140_000)
                .await
                .expect("advance")
        }
    });
    let won = futures::future::join_all(races).await;
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    assert!(store.due_schedules(45_000).await.expect("due").is_empty());
}

#[tokio::test]
async fn sqlite_pipelines_conform() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("slipway.db"))
        .await
        .expect("open");
    pipelines_conform(Arc::new(store)).await;
}

#[tokio::test]
async fn postgres_pipelines_conform() {
    let db = TestPostgres::create().await;
    let store = PostgresStore::open(&db.url.clone().into(), "test database")
        .await
        .expect("open");
    pipelines_conform(Arc::new(store)).await;
}
