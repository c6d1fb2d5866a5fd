//! The notifications half of the Store conformance suite, against SQLite and PostgreSQL:
//! subscriptions keep their events and sealed secret, a subject event is one delivery per
//! subscription however often it is enqueued, a due delivery is claimed by one sender, each
//! attempt is kept, a failed attempt makes it due again later, and a redelivery is a new
//! delivery of the same body.

use std::sync::Arc;

use domain::notification::{
    AttemptOutcome, NewNotificationDelivery, NewSubscription, NotificationAttempt,
    NotificationEvent, NotificationStatus,
};
use domain::secrets::SealedSecret;
use domain::{NewRepository, Store};
use server::store::{PostgresStore, SqliteStore};

use crate::support::TestPostgres;

fn attempt(n: u32, code: Option<u16>, at_ms: i64) -> NotificationAttempt {
    NotificationAttempt {
        attempt: n,
        at_ms,
        status_code: code,
        error: code
            .filter(|c| *c >= 300)
            .map(|c| format!("the receiver answered {c}")),
        duration_ms: 12,
        response: Some("ok".into()),
    }
}

async fn notifications_conform(store: Arc<dyn Store>) {
    let repo = store
        .add_repository(
            &NewRepository::new("acme/shop", "/srv/git/shop.git", "main").expect("valid"),
        )
        .await
        .expect("add");
    let url = "https://hooks.example.com/slipway";
    let subscription = store
        .create_subscription(
            &NewSubscription {
                repository_id: repo.id,
                url: url.into(),
                events: vec![
                    NotificationEvent::PipelineFailed,
                    NotificationEvent::PreviewRunning,
                ],
                secret: SealedSecret {
                    name: "ignored".into(),
                    nonce: vec![1; 24],
                    ciphertext: vec![2; 40],
                    updated_at_ms: 0,
                },
            },
            1_000,
        )
        .await
        .expect("subscribe");
    assert_eq!(
        subscription.events,
        [
            NotificationEvent::PipelineFailed,
            NotificationEvent::PreviewRunning
        ]
    );
    assert_eq!(
        store.list_subscriptions(repo.id).await.expect("list"),
        std::slice::from_ref(&subscription)
    );
    assert_eq!(
        store
            .subscriptions_for(repo.id, NotificationEvent::PipelineSucceeded)
            .await
            .expect("for"),
        []
    );
    assert_eq!(
        store
            .subscriptions_for(repo.id, NotificationEvent::PipelineFailed)
            .await
            .expect("for")
            .len(),
        1
    );

    // The same subject event twice (two replicas saw it): one delivery.
    let new = |id: &str| NewNotificationDelivery {
        id: id.into(),
        subscription_id: subscription.id,
        event: NotificationEvent::PipelineFailed,
        subject_key: "pipeline:12:pipeline.failed".into(),
        payload: r#"{"event":"pipeline.failed"}"#.into(),
        created_at_ms: 2_000,
    };
    assert!(
        store
            .enqueue_notification(&new("d-1"))
            .await
            .expect("enqueue")
    );
    assert!(
        !store
            .enqueue_notification(&new("d-2"))
            .await
            .expect("enqueue")
    );

    // Two senders claim at once: one gets it, with the URL and the sealed secret.
    let (a, b) = futures::join!(
        store.claim_due_notifications("sender-a", 2_000, 32_000, 10),
        store.claim_due_notifications("sender-b", 2_000, 32_000, 10),
    );
    let (a, b) = (a.expect("claim"), b.expect("claim"));
    assert_eq!(a.len() + b.len(), 1, "{a:?} {b:?}");
    let due = a.into_iter().chain(b).next().expect("claimed");
    assert_eq!(due.url, url);
    assert_eq!(due.delivery.id, "d-1");
    assert_eq!(due.secret.nonce, vec![1; 24]);
    assert_eq!(due.secret.ciphertext, vec![2; 40]);
    assert_eq!(
        due.secret.name,
        domain::notification::Subscription::secret_name(repo.id, url)
    );

    // A failed attempt: kept, due again at the time given, not before.
    store
        .record_notification_attempt(
            "d-1",
            &attempt(1, Some(500), 2_100),
            AttemptOutcome::RetryAt(12_000),
        )
        .await
        .expect("attempt");
    assert!(
        store
            .claim_due_notifications("sender-a", 11_999, 40_000, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    let again = store
        .claim_due_notifications("sender-a", 12_000, 40_000, 10)
        .await
        .expect("claim");
    assert_eq!(again.len(), 1);
    store
        .record_notification_attempt(
            "d-1",
            &attempt(2, Some(204), 12_100),
            AttemptOutcome::Delivered,
        )
        .await
        .expect("attempt");
    let (delivered, attempts) = store.get_notification_delivery("d-1").await.expect("get");
    assert_eq!(delivered.status, NotificationStatus::Delivered);
    assert_eq!(delivered.attempts, 2);
    assert_eq!(delivered.last_status_code, Some(204));
    assert_eq!(delivered.last_error, None);
    assert_eq!(delivered.delivered_at_ms, Some(12_112));
    assert_eq!(
        attempts
            .iter()
            .map(|a| (a.attempt, a.status_code))
            .collect::<Vec<_>>(),
        [(1, Some(500)), (2, Some(204))]
    );
    assert_eq!(
        attempts[0].error.as_deref(),
        Some("the receiver answered 500")
    );

    // A redelivery: a new delivery of the same body, due now; listed newest first.
    let redelivered = store
        .redeliver_notification("d-1", "d-3", 20_000)
        .await
        .expect("redeliver");
    assert_eq!(
        (
            redelivered.status,
            redelivered.redelivery_of.as_deref(),
            redelivered.payload.as_str()
        ),
        (
            NotificationStatus::Pending,
            Some("d-1"),
            r#"{"event":"pipeline.failed"}"#
        )
    );
    let listed = store
        .list_notification_deliveries(subscription.id, 10)
        .await
        .expect("list");
    assert_eq!(
        listed.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["d-3", "d-1"]
    );
    assert!(matches!(
        store.redeliver_notification("d-none", "d-4", 20_000).await,
        Err(domain::StoreError::NotFound { .. })
    ));

    // Given up after a day: failed, never claimed again.
    store
        .claim_due_notifications("sender-a", 20_000, 50_000, 10)
        .await
        .expect("claim");
    store
        .record_notification_attempt("d-3", &attempt(1, None, 20_001), AttemptOutcome::GaveUp)
        .await
        .expect("attempt");
    let (failed, _) = store.get_notification_delivery("d-3").await.expect("get");
    assert_eq!(failed.status, NotificationStatus::Failed);
    assert!(
        store
            .claim_due_notifications("sender-a", i64::MAX / 2, i64::MAX / 2, 10)
            .await
            .expect("claim")
            .is_empty()
    );

    // Removing the subscription removes its deliveries.
    assert!(
        store
            .delete_subscription(subscription.id)
            .await
            .expect("delete")
    );
    assert!(
        !store
            .delete_subscription(subscription.id)
            .await
            .expect("delete")
    );
    assert!(matches!(
        store.get_notification_delivery("d-1").await,
        Err(domain::StoreError::NotFound { .. })
    ));
}

#[tokio::test]
async fn sqlite_notifications_conform() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("slipway.db"))
        .await
        .expect("open");
    notifications_conform(Arc::new(store)).await;
}

#[tokio::test]
async fn postgres_notifications_conform() {
    let db = TestPostgres::create().await;
    let store = PostgresStore::open(&db.url.clone().into(), "test database")
        .await
        .expect("open");
    notifications_conform(Arc::new(store)).await;
    db.drop_database().await;
}
