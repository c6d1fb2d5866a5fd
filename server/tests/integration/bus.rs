//! The Bus: in-process delivery, and Redis shared by two Slipway buses, surviving a restart.

use std::time::Duration;

use domain::{Bus, BusEvent, EntityKind};
use futures::StreamExt;
use futures::stream::BoxStream;
use secrecy::SecretString;
use server::bus::{InProcessBus, RedisBus};

use crate::support::TestRedis;

const PATIENCE: Duration = Duration::from_secs(10);

fn changed(id: &str) -> BusEvent {
    BusEvent::Changed {
        entity: EntityKind::Preview,
        id: id.into(),
        status: "running".into(),
    }
}

async fn next(stream: &mut BoxStream<'static, BusEvent>) -> BusEvent {
    tokio::time::timeout(PATIENCE, stream.next())
        .await
        .expect("an event arrives in time")
        .expect("stream open")
}

async fn open_redis(redis: &TestRedis) -> RedisBus {
    RedisBus::open(&SecretString::from(redis.url()), &redis.url())
        .await
        .expect("connect")
}

#[tokio::test]
async fn in_process_subscribers_each_get_every_event_in_order() {
    let bus = InProcessBus::default();
    let mut first = bus.subscribe().await.expect("subscribe");
    let mut second = bus.subscribe().await.expect("subscribe");
    bus.publish(&changed("1")).await.expect("publish");
    bus.publish(&BusEvent::LogLine {
        stream: "p/1/build".into(),
        seq: 1,
        line: "hello".into(),
    })
    .await
    .expect("publish");
    assert_eq!(next(&mut first).await, changed("1"));
    assert_eq!(next(&mut second).await, changed("1"));
    assert!(matches!(
        next(&mut first).await,
        BusEvent::LogLine { seq: 1, .. }
    ));
}

#[tokio::test]
async fn two_slipway_processes_sharing_redis_see_each_others_events() {
    let redis = TestRedis::start().await;
    let (a, b) = (open_redis(&redis).await, open_redis(&redis).await);
    let mut on_a = a.subscribe().await.expect("subscribe");
    let mut on_b = b.subscribe().await.expect("subscribe");
    a.publish(&changed("from-a")).await.expect("publish");
    b.publish(&changed("from-b")).await.expect("publish");
    assert_eq!(next(&mut on_b).await, changed("from-a"));
    assert_eq!(next(&mut on_b).await, changed("from-b"));
    assert_eq!(next(&mut on_a).await, changed("from-a"));
    a.check().await.expect("healthy");
}

#[tokio::test]
async fn a_subscriber_keeps_receiving_after_redis_restarts() {
    let mut redis = TestRedis::start().await;
    let publisher = open_redis(&redis).await;
    let listener = open_redis(&redis).await;
    let mut events = listener.subscribe().await.expect("subscribe");
    publisher
        .publish(&changed("before"))
        .await
        .expect("publish");
    assert_eq!(next(&mut events).await, changed("before"));

    redis.stop().await;
    assert!(
        publisher.check().await.is_err(),
        "the check notices Redis is gone"
    );
    redis.restart().await;

    // Publish until the listener has resubscribed: messages published before that are lost by
    // Redis pub/sub design (the Store is the source of truth), later ones must arrive.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let _ = publisher
            .publish(&changed(&format!("after-{attempt}")))
            .await;
        match tokio::time::timeout(Duration::from_millis(200), events.next()).await {
            Ok(Some(BusEvent::Changed { id, .. })) => {
                assert!(id.starts_with("after-"), "{id}");
                break;
            }
            Ok(other) => panic!("unexpected {other:?}"),
            Err(_) => assert!(
                tokio::time::Instant::now() < deadline,
                "no event after Redis came back"
            ),
        }
    }
    // Each connection notices the restart and reconnects on its own schedule.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while let Err(error) = publisher.check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not healthy again without reopening: {error}"
        );
        publisher
            .wait_until_connected(Duration::from_millis(500))
            .await;
    }
}
