//! `POST /webhooks/github` end to end, with GitHub's published example payloads: signatures
//! (valid, wrong, missing, tampered, rotated), exactly-once recording under concurrent
//! duplicates, form-encoded bodies, size limits, and the deliveries API.

use std::path::PathBuf;

use domain::{BusEvent, EntityKind};
use futures::StreamExt;
use serde_json::Value;
use server::webhooks::signature::sign;

use crate::support::TestServer;

const SECRET: &str = "webhook-secret-for-tests";

fn example(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/github-payloads")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn started(secrets: &str) -> TestServer {
    TestServer::start(&[("SLIPWAY_GITHUB_WEBHOOK_SECRET", secrets.to_owned())]).await
}

/// Posts `body` as GitHub would, signed with `secret` (unsigned when `None`).
async fn deliver(
    server: &TestServer,
    id: &str,
    event: &str,
    body: &[u8],
    secret: Option<&str>,
) -> (u16, Value) {
    let mut request = server
        .http
        .post(server.url("/webhooks/github"))
        .header("content-type", "application/json")
        .header("x-github-delivery", id)
        .header("x-github-event", event)
        .body(body.to_vec());
    if let Some(secret) = secret {
        request = request.header("x-hub-signature-256", sign(secret, body));
    }
    let response = request.send().await.expect("delivery");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// GitHub's example ping as a delivery recorded straight into the Store.
fn recorded_ping(id: &str) -> domain::NewDelivery {
    domain::NewDelivery {
        delivery_id: id.into(),
        event: "ping".into(),
        action: None,
        repository: None,
        pull_request: None,
        payload: String::from_utf8(example("ping.payload.json")).expect("utf-8"),
        received_at_ms: 1,
        error: None,
    }
}

async fn api(server: &TestServer, path: &str) -> (u16, Value) {
    let response = server.http.get(server.url(path)).send().await.expect("api");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

fn ids(list: &Value) -> Vec<&str> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|d| d["delivery_id"].as_str())
        .collect()
}

#[tokio::test]
async fn only_signed_deliveries_are_recorded() {
    let server = started(SECRET).await;
    let body = example("pull_request.opened.payload.json");

    let (status, answer) = deliver(&server, "unsigned", "pull_request", &body, None).await;
    assert_eq!(status, 401);
    assert!(answer["error"].as_str().expect("error").contains("missing"));
    let (status, _) = deliver(&server, "wrong", "pull_request", &body, Some("guess")).await;
    assert_eq!(status, 401);
    // Signed, then changed on the way.
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let signature = sign(SECRET, &body);
    let response = server
        .http
        .post(server.url("/webhooks/github"))
        .header("x-github-delivery", "tampered")
        .header("x-github-event", "pull_request")
        .header("x-hub-signature-256", signature)
        .body(tampered)
        .send()
        .await
        .expect("delivery");
    assert_eq!(response.status(), 401);

    let (_, list) = api(&server, "/api/deliveries").await;
    assert!(
        ids(&list).is_empty(),
        "refused deliveries leave no trace: {list}"
    );

    let (status, answer) = deliver(&server, "good", "pull_request", &body, Some(SECRET)).await;
    assert_eq!((status, answer["status"].as_str()), (202, Some("queued")));
    let (_, shown) = api(&server, "/api/deliveries/good").await;
    assert_eq!(shown["delivery"]["event"], "pull_request");
    assert_eq!(shown["delivery"]["action"], "opened");
    assert_eq!(shown["delivery"]["repository"], "Codertocat/Hello-World");
    assert_eq!(shown["delivery"]["pull_request"], 2);
    assert_eq!(shown["payload"]["pull_request"]["head"]["ref"], "changes");
    server.stop().await;
}

#[tokio::test]
async fn a_rotated_secret_is_accepted_alongside_the_new_one() {
    let server = started("new-secret, old-secret").await;
    let body = example("ping.payload.json");
    let (old, _) = deliver(&server, "by-old", "ping", &body, Some("old-secret")).await;
    let (new, _) = deliver(&server, "by-new", "ping", &body, Some("new-secret")).await;
    assert_eq!((old, new), (202, 202));
    server.stop().await;
}

#[tokio::test]
async fn the_same_delivery_ten_times_at_once_is_recorded_and_processed_once() {
    let server = started(SECRET).await;
    let mut changes = server.running.adapters.bus.subscribe().await.expect("bus");
    let body = example("ping.payload.json");
    let copies = (0..10).map(|_| deliver(&server, "ping-1", "ping", &body, Some(SECRET)));
    let answers = futures::future::join_all(copies).await;
    let mut statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 200, 200, 200, 200, 202]);

    // The worker processes it once and says so.
    let processed = crate::support::within("the delivery to be processed", async {
        loop {
            match changes.next().await.expect("bus open") {
                BusEvent::Changed {
                    entity: EntityKind::Delivery,
                    id,
                    status,
                } if id == "ping-1" => break status,
                _ => {}
            }
        }
    })
    .await;
    assert_eq!(processed, "processed");
    let (_, shown) = api(&server, "/api/deliveries/ping-1").await;
    assert_eq!(shown["delivery"]["status"], "processed");
    assert_eq!(shown["delivery"]["attempts"], 1);
    assert!(shown["payload"]["zen"].is_string(), "the payload is kept");
    server.stop().await;
}

#[tokio::test]
async fn form_encoded_unreadable_oversized_and_unconfigured_deliveries() {
    let server = started(SECRET).await;
    // GitHub's "application/x-www-form-urlencoded" content type: the JSON is in `payload`.
    let json = example("push.payload.json");
    let form: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &String::from_utf8(json).expect("utf-8"))
        .finish();
    let response = server
        .http
        .post(server.url("/webhooks/github"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-github-delivery", "form-1")
        .header("x-github-event", "push")
        .header("x-hub-signature-256", sign(SECRET, form.as_bytes()))
        .body(form)
        .send()
        .await
        .expect("delivery");
    assert_eq!(response.status(), 202);
    let (_, shown) = api(&server, "/api/deliveries/form-1").await;
    assert_eq!(shown["delivery"]["repository"], "Codertocat/Hello-World");
    assert_eq!(shown["payload"]["ref"], "refs/tags/simple-tag");

    // Signed but not JSON: recorded as failed, with where the JSON breaks; still 2xx.
    let (status, _) = deliver(&server, "broken-1", "push", b"{\"ref\": ", Some(SECRET)).await;
    assert_eq!(status, 202);
    let (_, shown) = api(&server, "/api/deliveries/broken-1").await;
    assert_eq!(shown["delivery"]["status"], "failed");
    let error = shown["delivery"]["error"].as_str().expect("error");
    assert!(error.contains("line 1, column 8"), "{error}");

    let huge = vec![b' '; 26 * 1024 * 1024];
    let (status, _) = deliver(&server, "huge-1", "push", &huge, Some(SECRET)).await;
    assert_eq!(status, 413);

    let (_, list) = api(&server, "/api/deliveries?status=failed").await;
    assert_eq!(ids(&list), ["broken-1"]);
    let (_, list) = api(&server, "/api/deliveries?event=push&limit=1").await;
    assert_eq!(ids(&list), ["broken-1"]);
    let next = list["next_before"].as_i64().expect("a next page");
    let (_, list) = api(
        &server,
        &format!("/api/deliveries?event=push&before={next}"),
    )
    .await;
    assert_eq!(ids(&list), ["form-1"]);
    let (status, _) = api(&server, "/api/deliveries?status=done").await;
    assert_eq!(status, 400);
    let (status, _) = api(&server, "/api/deliveries/unknown").await;
    assert_eq!(status, 404);
    server.stop().await;

    let unconfigured = TestServer::start(&[]).await;
    let (status, answer) = deliver(&unconfigured, "x", "ping", b"{}", Some(SECRET)).await;
    assert_eq!(status, 503);
    assert!(
        answer["error"]
            .as_str()
            .expect("error")
            .contains("SLIPWAY_GITHUB_WEBHOOK_SECRET")
    );
    let (status, readiness) = unconfigured.readiness().await;
    assert_eq!(status, 200, "ready without webhooks: {readiness}");
    let webhooks = crate::support::check_named(&readiness, "github-webhooks");
    assert_eq!(webhooks["ok"], false);
    unconfigured.stop().await;
}

#[tokio::test]
async fn a_delivery_can_be_processed_again() {
    let server = started(SECRET).await;
    let mut changes = server.running.adapters.bus.subscribe().await.expect("bus");
    let body = example("ping.payload.json");
    deliver(&server, "again-1", "ping", &body, Some(SECRET)).await;
    let mut processed = 0;
    loop {
        let next = crate::support::within("the delivery's next change", changes.next()).await;
        let BusEvent::Changed { id, .. } = next.expect("bus") else {
            continue;
        };
        if id != "again-1" {
            continue;
        }
        processed += 1;
        if processed == 2 {
            break;
        }
        let response = server
            .http
            .post(server.url("/api/deliveries/again-1/redeliver"))
            .send()
            .await
            .expect("redeliver");
        assert_eq!(response.status(), 202);
    }
    let (_, shown) = api(&server, "/api/deliveries/again-1").await;
    assert_eq!(shown["delivery"]["attempts"], 2);
    let missing = server
        .http
        .post(server.url("/api/deliveries/nope/redeliver"))
        .send()
        .await
        .expect("redeliver");
    assert_eq!(missing.status(), 404);
    server.stop().await;
}

#[tokio::test]
async fn a_delivery_recorded_but_not_processed_before_a_stop_is_processed_after_the_restart() {
    use domain::delivery::DeliveryStore;
    let data = started(SECRET).await.stop_keeping_data().await;
    // What an instance stopped between recording a delivery and processing it leaves behind:
    // a queued delivery that no worker was handed.
    {
        let store = server::store::SqliteStore::open(&data.path().join("slipway.db"))
            .await
            .expect("store");
        let left = recorded_ping("left-1");
        assert!(store.record_delivery(&left).await.expect("recorded"));
    }
    let server =
        TestServer::start_in(data, &[("SLIPWAY_GITHUB_WEBHOOK_SECRET", SECRET.into())]).await;
    let mut changes = server.running.adapters.bus.subscribe().await.expect("bus");
    let processed = async {
        loop {
            let (_, shown) = api(&server, "/api/deliveries/left-1").await;
            if shown["delivery"]["status"] == "processed" {
                return shown;
            }
            // Look again after the next change anywhere.
            changes.next().await.expect("bus");
        }
    };
    // Well before the worker's 10 s poll: the look at start finds it.
    let shown = tokio::time::timeout(std::time::Duration::from_secs(5), processed)
        .await
        .expect("processed at the restart");
    assert_eq!(shown["delivery"]["attempts"], 1);
    server.stop().await;
}

#[tokio::test]
async fn a_delivery_a_dead_replica_held_is_taken_over_within_seconds() {
    use domain::delivery::DeliveryStore;
    // A replica that claimed this delivery and was killed before it finished: the claim is in
    // the shared database, and nobody renews it. (Made before this server starts, so its own
    // worker cannot take the delivery first.)
    let data = tempfile::tempdir().expect("tempdir");
    {
        let dead = server::store::SqliteStore::open(&data.path().join("slipway.db"))
            .await
            .expect("store");
        let held = recorded_ping("held-by-the-dead");
        assert!(dead.record_delivery(&held).await.expect("recorded"));
        let claimed = dead
            .claim_delivery("held-by-the-dead", domain::time::now_ms())
            .await
            .expect("claim");
        assert!(claimed.is_some(), "claimed by the replica that then died");
    }
    let server =
        TestServer::start_in(data, &[("SLIPWAY_GITHUB_WEBHOOK_SECRET", SECRET.into())]).await;
    let mut changes = server.running.adapters.bus.subscribe().await.expect("bus");
    let processed = async {
        loop {
            let (_, shown) = api(&server, "/api/deliveries/held-by-the-dead").await;
            if shown["delivery"]["status"] == "processed" {
                return shown;
            }
            changes.next().await.expect("bus");
        }
    };
    // The lease (10 s) runs out and the next look for expired leases (every 5 s) finds it;
    // before leases, a dead worker's claim was kept for 5 minutes.
    let shown = tokio::time::timeout(std::time::Duration::from_secs(30), processed)
        .await
        .expect("taken over well within the old 5-minute claim timeout");
    assert_eq!(
        shown["delivery"]["attempts"], 2,
        "claimed by the dead replica, then by this one"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_deliveries_page_lists_filters_and_shows_deliveries() {
    let server = started(SECRET).await;
    let empty = server.page("/deliveries").await;
    assert!(
        empty.contains("No deliveries received") && empty.contains("/webhooks/github"),
        "says where to point GitHub"
    );
    let opened = example("pull_request.opened.payload.json");
    deliver(
        &server,
        "pr-opened-1",
        "pull_request",
        &opened,
        Some(SECRET),
    )
    .await;
    deliver(&server, "broken-2", "push", b"not json", Some(SECRET)).await;

    let all = server.page("/deliveries").await;
    assert!(
        all.contains("pr-opened-1") && all.contains("broken-2"),
        "both listed"
    );
    assert!(all.contains("pull_request.opened") && all.contains("Codertocat/Hello-World"));
    let failed = server.page("/deliveries?status=failed").await;
    assert!(failed.contains("broken-2") && !failed.contains("pr-opened-1"));
    let none = server.page("/deliveries?repository=acme%2Fnothing").await;
    assert!(none.contains("No delivery matches these filters."));

    let detail = server.page("/deliveries/pr-opened-1").await;
    assert!(detail.contains("Process again"));
    assert!(
        detail.contains("&quot;full_name&quot;: &quot;Codertocat/Hello-World&quot;")
            || detail.contains("\"full_name\": \"Codertocat/Hello-World\""),
        "the payload is shown, pretty-printed"
    );
    let missing = server.page("/deliveries/nope").await;
    assert!(missing.contains("delivery `nope` not found"), "{missing}");
    server.stop().await;
}

#[tokio::test]
async fn open_pages_hear_about_deliveries_as_server_sent_events() {
    let server = started(SECRET).await;
    let mut events = server
        .http
        .get(server.url("/api/events"))
        .send()
        .await
        .expect("events")
        .bytes_stream();
    deliver(
        &server,
        "live-1",
        "ping",
        &example("ping.payload.json"),
        Some(SECRET),
    )
    .await;
    let mut seen = String::new();
    while !seen.contains(r#""id":"live-1""#) {
        let chunk = crate::support::within("the delivery on /api/events", events.next())
            .await
            .expect("stream open")
            .expect("chunk");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        seen.contains(r#"data: {"type":"changed","entity":"delivery","id":"live-1""#),
        "{seen}"
    );
    server.stop().await;
}
