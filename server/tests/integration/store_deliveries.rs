//! The deliveries half of the Store conformance suite, against SQLite and PostgreSQL: each
//! delivery id is recorded once even when it arrives ten times at once, a delivery is claimed
//! by one worker only, and the list pages newest first with filters.

use std::sync::Arc;

use domain::{DeliveryFilter, DeliveryStatus, NewDelivery, Store, StoreError};
use server::store::{PostgresStore, SqliteStore};

use crate::support::TestPostgres;

fn delivery(id: &str, event: &str, repository: &str, at: i64) -> NewDelivery {
    NewDelivery {
        delivery_id: id.into(),
        event: event.into(),
        action: Some("opened".into()),
        repository: Some(repository.into()),
        pull_request: Some(7),
        payload: format!(r#"{{"delivery":"{id}"}}"#),
        received_at_ms: at,
        error: None,
    }
}

async fn deliveries_conform(store: Arc<dyn Store>) {
    // Ten copies of one delivery at once: exactly one is recorded.
    let copies = (0..10).map(|_| {
        let store = store.clone();
        async move {
            store
                .record_delivery(&delivery("d-1", "pull_request", "acme/shop", 1_000))
                .await
                .expect("record")
        }
    });
    let recorded = futures::future::join_all(copies).await;
    assert_eq!(recorded.iter().filter(|r| **r).count(), 1, "{recorded:?}");

    for (id, event, repository, at) in [
        ("d-2", "push", "acme/shop", 2_000),
        ("d-3", "pull_request", "acme/api", 3_000),
        ("d-4", "ping", "acme/api", 4_000),
    ] {
        assert!(
            store
                .record_delivery(&delivery(id, event, repository, at))
                .await
                .expect("record")
        );
    }
    let mut unreadable = delivery("d-5", "pull_request", "acme/api", 5_000);
    unreadable.error = Some("the payload is not JSON".into());
    store.record_delivery(&unreadable).await.expect("record");

    let ids = |list: Vec<domain::Delivery>| -> Vec<String> {
        list.into_iter().map(|d| d.delivery_id).collect()
    };
    let all = store
        .list_deliveries(&DeliveryFilter {
            limit: 50,
            ..DeliveryFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(
        ids(all.clone()),
        ["d-5", "d-4", "d-3", "d-2", "d-1"],
        "newest first"
    );
    assert_eq!(
        all[0].status,
        DeliveryStatus::Failed,
        "an unreadable payload is recorded as failed"
    );
    let page = store
        .list_deliveries(&DeliveryFilter {
            limit: 2,
            before: Some(all[1].seq),
            ..DeliveryFilter::default()
        })
        .await
        .expect("page");
    assert_eq!(ids(page), ["d-3", "d-2"]);
    let filtered = store
        .list_deliveries(&DeliveryFilter {
            event: Some("pull_request".into()),
            repository: Some("acme/api".into()),
            status: Some(DeliveryStatus::Queued),
            limit: 50,
            ..DeliveryFilter::default()
        })
        .await
        .expect("filtered");
    assert_eq!(ids(filtered), ["d-3"]);

    let queued = store.queued_deliveries(0, 10).await.expect("queued");
    assert_eq!(
        ids(queued.clone()),
        ["d-1", "d-2", "d-3", "d-4"],
        "oldest first"
    );
    assert_eq!(
        ids(store
            .queued_deliveries(queued[1].seq, 10)
            .await
            .expect("queued")),
        ["d-3", "d-4"],
        "the next page starts after the last position seen"
    );
    // Two workers race for one delivery: one wins.
    let (a, b) = futures::join!(
        store.claim_delivery("d-1", 8_000),
        store.claim_delivery("d-1", 8_000)
    );
    let (a, b) = (a.expect("claim"), b.expect("claim"));
    assert_ne!(a.is_some(), b.is_some(), "one of them wins");
    let (claimed, claimed_payload) = a.or(b).expect("claimed");
    assert_eq!(
        (
            claimed.delivery_id.as_str(),
            claimed.status,
            claimed.attempts
        ),
        ("d-1", DeliveryStatus::Processing, 1)
    );
    assert_eq!(
        claimed_payload, r#"{"delivery":"d-1"}"#,
        "the claim hands the payload over"
    );
    store
        .finish_delivery("d-1", DeliveryStatus::Processed, None, 9_000)
        .await
        .expect("finish");
    let (done, payload) = store.get_delivery("d-1").await.expect("get");
    assert_eq!(
        (done.status, done.attempts, done.processed_at_ms),
        (DeliveryStatus::Processed, 1, Some(9_000))
    );
    assert_eq!(payload, r#"{"delivery":"d-1"}"#);
    assert!(
        store
            .claim_delivery("d-1", 8_000)
            .await
            .expect("claim")
            .is_none(),
        "done is done"
    );

    let again = store.requeue_delivery("d-1").await.expect("process again");
    assert_eq!(again.status, DeliveryStatus::Queued, "answered as queued");
    assert!(
        store
            .claim_delivery("d-1", 8_000)
            .await
            .expect("claim again")
            .is_some()
    );
    // "Process again" while a worker holds it changes nothing: the worker's outcome stands.
    assert!(matches!(
        store.requeue_delivery("d-1").await,
        Err(StoreError::InvalidState {
            status: "processing",
            ..
        })
    ));
    assert_eq!(
        store.get_delivery("d-1").await.expect("get").0.status,
        DeliveryStatus::Processing,
        "still the worker's"
    );

    // A live worker renews its claim; once its worker dies the claim is released when it is
    // older than the cut-off.
    assert!(
        store
            .renew_delivery_claim("d-1", 8_500)
            .await
            .expect("renew")
    );
    assert_eq!(
        store.release_stale_claims(8_500).await.expect("release"),
        0,
        "renewed, so not yet stale"
    );
    assert_eq!(store.release_stale_claims(8_501).await.expect("release"), 1);
    assert!(
        !store
            .renew_delivery_claim("d-1", 9_000)
            .await
            .expect("renew"),
        "a released claim is no worker's to renew"
    );
    assert!(
        ids(store.queued_deliveries(0, 10).await.expect("queued")).contains(&"d-1".to_owned()),
        "queued again"
    );
    // A worker that hands a delivery back (the Store was out of reach while it worked) leaves
    // it queued, with no processing time: it has not been processed.
    store
        .claim_delivery("d-1", 9_500)
        .await
        .expect("claim")
        .expect("queued, so claimable");
    store
        .finish_delivery(
            "d-1",
            DeliveryStatus::Queued,
            Some("the store was away"),
            9_600,
        )
        .await
        .expect("hand back");
    let (handed_back, _) = store.get_delivery("d-1").await.expect("get");
    assert_eq!(
        (handed_back.status, handed_back.processed_at_ms),
        (DeliveryStatus::Queued, None)
    );
    assert!(matches!(
        store.get_delivery("nope").await,
        Err(StoreError::NotFound {
            entity: "delivery",
            ..
        })
    ));
    assert!(matches!(
        store.requeue_delivery("nope").await,
        Err(StoreError::NotFound { .. })
    ));
}

/// A status this version does not know, read back: an error naming the value, not a default.
async fn unknown_status_is_an_error(store: Arc<dyn Store>, corrupt: impl AsyncFnOnce()) {
    store
        .record_delivery(&delivery("d-odd", "push", "acme/shop", 1_000))
        .await
        .expect("record");
    corrupt().await;
    let error = store
        .get_delivery("d-odd")
        .await
        .err()
        .map(|e| domain::error_chain(&e));
    assert_eq!(
        error.as_deref(),
        Some("database error: unknown delivery status `exploded` in the database")
    );
    let listed = store
        .list_deliveries(&DeliveryFilter {
            limit: 10,
            ..Default::default()
        })
        .await;
    assert!(listed.is_err(), "a list holding it fails too: {listed:?}");
}

const CORRUPT: &str = "UPDATE deliveries SET status = 'exploded' WHERE delivery_id = 'd-odd'";

#[tokio::test]
async fn sqlite_unknown_delivery_status_is_an_error() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("slipway.db");
    let store = SqliteStore::open(&path).await.expect("open");
    unknown_status_is_an_error(Arc::new(store), async || {
        let url = format!("sqlite://{}", path.display());
        let mut conn = sqlx::SqliteConnection::connect(&url)
            .await
            .expect("connect");
        sqlx::query(CORRUPT)
            .execute(&mut conn)
            .await
            .expect("corrupt");
    })
    .await;
}

#[tokio::test]
async fn postgres_unknown_delivery_status_is_an_error() {
    use sqlx::Connection;
    let db = TestPostgres::create().await;
    let store = PostgresStore::open(&db.url.clone().into(), "test database")
        .await
        .expect("open");
    unknown_status_is_an_error(Arc::new(store), async || {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.expect("connect");
        sqlx::query(CORRUPT)
            .execute(&mut conn)
            .await
            .expect("corrupt");
    })
    .await;
}

#[tokio::test]
async fn sqlite_deliveries_conform() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("slipway.db"))
        .await
        .expect("open");
    deliveries_conform(Arc::new(store)).await;
}

#[tokio::test]
async fn postgres_deliveries_conform() {
    let db = TestPostgres::create().await;
    let store = PostgresStore::open(&db.url.clone().into(), "test database")
        .await
        .expect("open");
    deliveries_conform(Arc::new(store)).await;
}
