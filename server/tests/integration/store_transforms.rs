//! The transform half of the Store conformance suite, against SQLite and PostgreSQL: a run and
//! its executions are recorded together, the same task twice is one execution, a due execution
//! is claimed by one worker at a time (five at once: one wins), a claim nobody renews is taken
//! over, an ended attempt moves the run's status with it, cancel ends what has not started,
//! and retrying brings failed executions back with fresh attempts; and the outbox the Redis
//! task stream is fed from.

use std::sync::Arc;

use domain::transform::{
    DiffSummary, Execution, ExecutionOutcome, ExecutionStatus, KeyedClaim, NewTransformRun,
    Renewal, TransformRunFilter, TransformRunStatus, TransformSpec, TransformStep,
};
use domain::{NewRepository, RepositoryId, Store};
use server::store::{PostgresStore, SqliteStore};

use crate::support::TestPostgres;

fn spec() -> TransformSpec {
    TransformSpec {
        name: "bump".into(),
        repositories: vec!["acme/*".into()],
        exclude: Vec::new(),
        base_ref: None,
        steps: vec![TransformStep {
            name: "edit".into(),
            image: "alpine".into(),
            commands: vec!["true".into()],
            env: Default::default(),
            secrets: Vec::new(),
            timeout_secs: 60,
        }],
        timeout_secs: 600,
        dry_run: false,
    }
}

fn outcome(status: ExecutionStatus) -> ExecutionOutcome {
    ExecutionOutcome {
        status,
        exit_code: Some(0),
        reason: None,
        diff: Some(DiffSummary::from_numstat_z("2\t1\tCargo.toml\0")),
        patch_sha256: Some("ab".repeat(32)),
    }
}

async fn transforms_conform(store: Arc<dyn Store>) {
    let mut repositories = Vec::new();
    for name in ["acme/api", "acme/web"] {
        let repository = store
            .add_repository(&NewRepository::new(name, "/srv/git/x.git", "main").expect("valid"))
            .await
            .expect("add");
        repositories.push((repository.id, repository.name));
    }
    let new = NewTransformRun {
        spec: spec(),
        repositories: repositories.clone(),
        started_by: Some("ada".into()),
        max_attempts: 3,
    };
    let run = store
        .create_transform_run(&new, 1_000)
        .await
        .expect("create");
    assert_eq!(run.status, TransformRunStatus::Queued);
    assert_eq!(run.totals.total, 2);
    assert_eq!(run.totals.waiting, 2);
    assert_eq!(run.spec, spec());
    assert_eq!(run.started_by.as_deref(), Some("ada"));

    // The same task again is the same execution.
    let (api, api_name) = &repositories[0];
    assert!(
        !store
            .enqueue_execution(run.id, *api, api_name, 3, 1_100)
            .await
            .expect("enqueue")
    );
    let executions = store.list_executions(run.id).await.expect("list");
    assert_eq!(executions.len(), 2);
    assert_eq!(executions[0].key, format!("preview:{}:acme/api", run.id));

    // Five workers at once: each execution goes to one of them.
    let claims = futures::future::join_all((0..5).map(|n| {
        let store = store.clone();
        async move {
            store
                .claim_execution(&format!("w{n}"), 2_000, 32_000)
                .await
                .expect("claim")
        }
    }))
    .await;
    let claimed: Vec<_> = claims.into_iter().flatten().collect();
    assert_eq!(claimed.len(), 2, "two executions, two claims");
    assert_ne!(claimed[0].execution.id, claimed[1].execution.id);
    assert!(
        claimed
            .iter()
            .all(|c| c.execution.attempts == 1 && c.spec == spec())
    );
    let run_now = store.get_transform_run(run.id).await.expect("get");
    assert_eq!(run_now.status, TransformRunStatus::Running);

    let workers: Vec<String> = futures::future::join_all(claimed.iter().map(|c| {
        let store = store.clone();
        let id = c.execution.id;
        async move {
            for n in 0..5 {
                let worker = format!("w{n}");
                if store
                    .renew_execution(id, &worker, 40_000)
                    .await
                    .expect("renew")
                    == Renewal::Held
                {
                    return worker;
                }
            }
            panic!("nobody holds execution {id}");
        }
    }))
    .await;

    // A claim nobody renews is taken over, counting another attempt.
    assert!(
        store
            .claim_execution("late", 39_000, 70_000)
            .await
            .expect("claim")
            .is_none()
    );
    let taken = store
        .claim_execution("rescuer", 40_001, 70_000)
        .await
        .expect("claim")
        .expect("an expired claim is taken over");
    assert_eq!(taken.execution.attempts, 2);
    let lost = claimed
        .iter()
        .position(|c| c.execution.id == taken.execution.id)
        .expect("one of the two");
    assert_eq!(
        store
            .renew_execution(taken.execution.id, &workers[lost], 80_000)
            .await
            .expect("renew"),
        Renewal::Lost
    );
    // The rescuer ends it with a patch; the first worker's late end changes nothing.
    store
        .start_execution(taken.execution.id, "rescuer", &"a".repeat(40), 41_000)
        .await
        .expect("start");
    let done = store
        .finish_execution(
            taken.execution.id,
            "rescuer",
            &outcome(ExecutionStatus::Succeeded),
            42_000,
        )
        .await
        .expect("finish");
    assert!(done.ready_to_publish());
    assert_eq!(done.base_sha.as_deref(), Some("a".repeat(40).as_str()));
    assert_eq!(done.diff.as_ref().map(|d| d.additions), Some(2));
    assert!(matches!(
        store
            .finish_execution(
                taken.execution.id,
                &workers[lost],
                &outcome(ExecutionStatus::Failed),
                43_000
            )
            .await,
        Err(domain::StoreError::InvalidState { .. })
    ));

    // The other one fails its attempt, is due again later, and after its last attempt is
    // dead-lettered; the run then ended partially failed.
    let other = &claimed[1 - lost];
    let worker = &workers[1 - lost];
    let again = store
        .fail_execution_attempt(
            other.execution.id,
            worker,
            "cannot clone",
            Some(50_000),
            44_000,
        )
        .await
        .expect("fail");
    assert_eq!(again.status, ExecutionStatus::Pending);
    assert!(
        store
            .claim_execution("w9", 49_999, 80_000)
            .await
            .expect("claim")
            .is_none(),
        "not due yet"
    );
    let retried = store
        .claim_execution("w9", 50_000, 80_000)
        .await
        .expect("claim")
        .expect("due");
    assert_eq!(retried.execution.attempts, 2);
    let dead = store
        .fail_execution_attempt(retried.execution.id, "w9", "cannot clone", None, 51_000)
        .await
        .expect("dead letter");
    assert_eq!(dead.status, ExecutionStatus::DeadLettered);
    let ended = store.get_transform_run(run.id).await.expect("get");
    assert_eq!(ended.status, TransformRunStatus::PartiallyFailed);
    assert_eq!(ended.finished_at_ms, Some(51_000));
    assert_eq!((ended.totals.succeeded, ended.totals.failed), (1, 1));

    // Retrying the failed ones brings back only the dead letter, with fresh attempts.
    let back = store
        .retry_executions(run.id, None, 60_000)
        .await
        .expect("retry");
    assert_eq!(back.len(), 1);
    assert_eq!(
        (back[0].status, back[0].attempts),
        (ExecutionStatus::Pending, 0)
    );
    let running_again = store.get_transform_run(run.id).await.expect("get");
    assert_eq!(running_again.status, TransformRunStatus::Running);
    assert_eq!(running_again.finished_at_ms, None);

    // Cancel: what has not started ends at once.
    let cancelled = store
        .cancel_transform_run(run.id, 61_000)
        .await
        .expect("cancel");
    assert_eq!(cancelled.status, TransformRunStatus::Cancelled);
    assert!(cancelled.cancel_requested);

    // A worker handing back what it holds: pending again, the attempt not counted.
    let second = store
        .create_transform_run(
            &NewTransformRun {
                repositories: vec![repositories[1].clone()],
                ..new.clone()
            },
            70_000,
        )
        .await
        .expect("create");
    let held = store
        .claim_execution("stopping", 70_001, 100_000)
        .await
        .expect("claim")
        .expect("due");
    assert_eq!(held.execution.run_id, second.id);
    assert_eq!(
        store.release_executions("stopping").await.expect("release"),
        1
    );
    let handed = store.get_execution(held.execution.id).await.expect("get");
    assert_eq!(
        (handed.status, handed.attempts),
        (ExecutionStatus::Pending, 0)
    );
    assert_eq!(
        store
            .get_transform_run(second.id)
            .await
            .expect("get")
            .status,
        TransformRunStatus::Queued
    );

    // Pausing the queue is kept, with who did it.
    assert!(!store.transform_queue_state().await.expect("state").paused);
    let paused = store
        .set_transform_queue_paused(true, Some("ada"), 80_000)
        .await
        .expect("pause");
    assert_eq!(store.transform_queue_state().await.expect("state"), paused);
    assert_eq!(
        (paused.paused, paused.changed_by.as_deref()),
        (true, Some("ada"))
    );
    let resumed = store
        .set_transform_queue_paused(false, None, 81_000)
        .await
        .expect("resume");
    assert_eq!(
        (resumed.paused, resumed.changed_at_ms),
        (false, Some(81_000))
    );

    // Lists: newest first, only runs with a visible repository.
    let all = store
        .list_transform_runs(&TransformRunFilter {
            visible: None,
            before: None,
            limit: 10,
        })
        .await
        .expect("list");
    assert_eq!(
        all.iter().map(|r| r.id).collect::<Vec<_>>(),
        [second.id, run.id]
    );
    assert_eq!(all[1].totals.total, 2);
    let only_api = store
        .list_transform_runs(&TransformRunFilter {
            visible: Some(vec![*api]),
            before: None,
            limit: 10,
        })
        .await
        .expect("list");
    assert_eq!(only_api.iter().map(|r| r.id).collect::<Vec<_>>(), [run.id]);
    assert_eq!(
        only_api[0].totals.total, 1,
        "the totals count only the executions the caller sees"
    );
    let none = store
        .list_transform_runs(&TransformRunFilter {
            visible: Some(vec![RepositoryId(999)]),
            before: None,
            limit: 10,
        })
        .await
        .expect("list");
    assert!(none.is_empty());
}

/// The Redis task stream's half: an execution due is handed out for the stream once, is taken
/// by its key once (then held, not due, or ended), and is handed out again after a failed
/// attempt comes due, or when the stream was lost.
async fn task_outbox_conforms(store: Arc<dyn Store>) {
    let mut repositories = Vec::new();
    for name in ["acme/api", "acme/web"] {
        let repository = store
            .add_repository(&NewRepository::new(name, "/srv/git/x.git", "main").expect("valid"))
            .await
            .expect("add");
        repositories.push((repository.id, repository.name));
    }
    let run = store
        .create_transform_run(
            &NewTransformRun {
                spec: spec(),
                repositories,
                started_by: None,
                max_attempts: 3,
            },
            1_000,
        )
        .await
        .expect("create");
    let names = |executions: Vec<Execution>| {
        executions
            .into_iter()
            .map(|e| e.repository)
            .collect::<Vec<_>>()
    };
    let due = store.publish_due_executions(1_000, 10).await.expect("due");
    assert_eq!(names(due), ["acme/api", "acme/web"]);
    assert!(
        store
            .publish_due_executions(1_000, 10)
            .await
            .expect("due")
            .is_empty(),
        "handed out once"
    );

    let key = Execution::key_for(run.id, "acme/api");
    let KeyedClaim::Claimed(first) = store
        .claim_execution_by_key(&key, "w1", 1_001, 5_000)
        .await
        .expect("claim")
    else {
        panic!("a due execution is claimed by its key");
    };
    assert_eq!(
        (
            first.execution.repository.as_str(),
            first.execution.attempts
        ),
        ("acme/api", 1)
    );
    assert_eq!(first.spec.name, "bump");
    let held = store.claim_execution_by_key(&key, "w2", 1_002, 5_000).await;
    assert!(matches!(held, Ok(KeyedClaim::Held)), "{held:?}");
    let unknown = store
        .claim_execution_by_key("preview:999:acme/none", "w2", 1_002, 5_000)
        .await;
    assert!(matches!(unknown, Ok(KeyedClaim::Unknown)), "{unknown:?}");

    // Taken over once w1 stops renewing; a failed attempt is handed out again when it is due.
    let KeyedClaim::Claimed(second) = store
        .claim_execution_by_key(&key, "w2", 6_000, 40_000)
        .await
        .expect("claim")
    else {
        panic!("a claim nobody renewed is taken over");
    };
    assert_eq!(second.execution.attempts, 2);
    let id = second.execution.id;
    store
        .fail_execution_attempt(id, "w2", "cannot clone", Some(10_000), 6_500)
        .await
        .expect("fail");
    assert!(
        store
            .publish_due_executions(7_000, 10)
            .await
            .expect("due")
            .is_empty()
    );
    let early = store
        .claim_execution_by_key(&key, "w3", 7_000, 40_000)
        .await;
    assert!(matches!(early, Ok(KeyedClaim::NotDue)), "{early:?}");
    let due = store.publish_due_executions(10_000, 10).await.expect("due");
    assert_eq!(names(due), ["acme/api"]);
    let KeyedClaim::Claimed(third) = store
        .claim_execution_by_key(&key, "w3", 10_001, 40_000)
        .await
        .expect("claim")
    else {
        panic!("a retry due is claimed");
    };
    store
        .start_execution(id, "w3", "abc123", 10_500)
        .await
        .expect("start");
    store
        .finish_execution(id, "w3", &outcome(ExecutionStatus::Succeeded), 11_000)
        .await
        .expect("finish");
    assert_eq!(third.execution.attempts, 3);
    let ended = store
        .claim_execution_by_key(&key, "w1", 12_000, 40_000)
        .await;
    assert!(
        matches!(&ended, Ok(KeyedClaim::Ended(e)) if e.status == ExecutionStatus::Succeeded),
        "{ended:?}"
    );

    // The stream was lost: what has not ended (acme/web) is handed out again, once.
    assert_eq!(
        store.unpublish_executions(None).await.expect("unpublish"),
        1
    );
    let due = store.publish_due_executions(13_000, 10).await.expect("due");
    assert_eq!(names(due), ["acme/web"]);
}

#[tokio::test]
async fn sqlite_task_outbox_conforms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("slipway.db"))
        .await
        .expect("open");
    task_outbox_conforms(Arc::new(store)).await;
}

#[tokio::test]
async fn postgres_task_outbox_conforms() {
    let db = TestPostgres::create().await;
    let store = PostgresStore::open(&db.url.clone().into(), "test database")
        .await
        .expect("open");
    task_outbox_conforms(Arc::new(store)).await;
}

#[tokio::test]
async fn sqlite_transforms_conform() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("slipway.db"))
        .await
        .expect("open");
    transforms_conform(Arc::new(store)).await;
}

#[tokio::test]
async fn postgres_transforms_conform() {
    let db = TestPostgres::create().await;
    let store = PostgresStore::open(&db.url.clone().into(), "test database")
        .await
        .expect("open");
    transforms_conform(Arc::new(store)).await;
    db.drop_database().await;
}
