//! What deliveries do once processed, with GitHub's published payloads: pull requests are
//! recorded with whether they want a preview, a late older event never rolls one back, and
//! installations add and remove repositories.

use domain::BusEvent;
use futures::stream::BoxStream;
use serde_json::Value;
use server::webhooks::signature::sign;

use crate::support::TestServer;

const SECRET: &str = "events-secret";

fn example(name: &str) -> Value {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/github-payloads")
        .join(name);
    serde_json::from_slice(&std::fs::read(&path).expect("example payload")).expect("json")
}

struct Harness {
    server: TestServer,
    changes: BoxStream<'static, BusEvent>,
    next_id: u32,
}

impl Harness {
    async fn start() -> Self {
        let server =
            TestServer::start(&[("SLIPWAY_GITHUB_WEBHOOK_SECRET", SECRET.to_owned())]).await;
        let changes = server.running.adapters.bus.subscribe().await.expect("bus");
        Self {
            server,
            changes,
            next_id: 0,
        }
    }

    /// Delivers `payload` and waits until the worker has processed it; its status.
    async fn deliver(&mut self, event: &str, payload: &Value) -> String {
        self.next_id += 1;
        let id = format!("delivery-{}", self.next_id);
        let body = serde_json::to_vec(payload).expect("body");
        let response = self
            .server
            .http
            .post(self.server.url("/webhooks/github"))
            .header("x-github-delivery", &id)
            .header("x-github-event", event)
            .header("x-hub-signature-256", sign(SECRET, &body))
            .body(body)
            .send()
            .await
            .expect("delivery");
        assert_eq!(response.status(), 202);
        crate::support::until_delivery_changed(&mut self.changes, &id).await
    }

    fn store(&self) -> &dyn domain::Store {
        self.server.running.adapters.store.as_ref()
    }
}

fn with(mut payload: Value, sha: &str, updated_at: &str) -> Value {
    payload["pull_request"]["head"]["sha"] = sha.into();
    payload["pull_request"]["updated_at"] = updated_at.into();
    payload
}

#[tokio::test]
async fn pull_requests_are_recorded_and_never_rolled_back() {
    let mut h = Harness::start().await;
    let opened = example("pull_request.opened.payload.json");
    assert_eq!(h.deliver("pull_request", &opened).await, "processed");
    let pr = h
        .store()
        .get_pull_request("Codertocat/Hello-World", 2)
        .await
        .expect("recorded");
    assert_eq!(pr.snapshot.title, "Update the README with new information.");
    assert!(pr.preview_wanted, "{pr:?}");
    assert!(
        h.store()
            .list_repositories()
            .await
            .expect("list")
            .iter()
            .any(|r| r.name == "Codertocat/Hello-World"),
        "the repository appears with its first pull request"
    );

    // Commit B, then a late delivery about the older commit A.
    let sync = example("pull_request.synchronize.payload.json");
    let b = "b".repeat(40);
    let a = "a".repeat(40);
    h.deliver(
        "pull_request",
        &with(sync.clone(), &b, "2030-01-01T10:00:05Z"),
    )
    .await;
    let late = h
        .deliver("pull_request", &with(sync, &a, "2030-01-01T10:00:01Z"))
        .await;
    assert_eq!(late, "processed");
    let pr = h
        .store()
        .get_pull_request("Codertocat/Hello-World", 2)
        .await
        .expect("pr");
    assert_eq!(
        pr.snapshot.head_sha, b,
        "the pull request stays at the newer commit"
    );
    let (delivery, _) = h
        .store()
        .get_delivery("delivery-3")
        .await
        .expect("late one");
    assert!(
        delivery
            .error
            .is_some_and(|e| e.contains("older one changed nothing")),
        "the late delivery says it changed nothing"
    );

    let mut draft = example("pull_request.converted_to_draft.payload.json");
    draft["pull_request"]["updated_at"] = "2030-01-01T10:01:00Z".into();
    h.deliver("pull_request", &draft).await;
    let pr = h
        .store()
        .get_pull_request("Codertocat/Hello-World", 2)
        .await
        .expect("pr");
    assert_eq!(
        (pr.preview_wanted, pr.preview_reason.as_deref()),
        (false, Some("the pull request is a draft"))
    );

    let mut closed = example("pull_request.closed.payload.json");
    closed["pull_request"]["updated_at"] = "2030-01-01T10:02:00Z".into();
    h.deliver("pull_request", &closed).await;
    let pr = h
        .store()
        .get_pull_request("Codertocat/Hello-World", 2)
        .await
        .expect("pr");
    assert!(!pr.snapshot.open && !pr.preview_wanted, "{pr:?}");

    let assigned = example("pull_request.assigned.payload.json");
    assert_eq!(h.deliver("pull_request", &assigned).await, "ignored");
    h.server.stop().await;
}

#[tokio::test]
async fn installations_add_and_remove_repositories() {
    let mut h = Harness::start().await;
    let names = |h: &Harness| {
        let store = h.server.running.adapters.store.clone();
        async move {
            store
                .list_repositories()
                .await
                .expect("list")
                .into_iter()
                .map(|r| r.name)
                .collect::<Vec<_>>()
        }
    };
    let added = example("installation_repositories.added.payload.json");
    assert_eq!(
        h.deliver("installation_repositories", &added).await,
        "processed"
    );
    let expected: Vec<String> = added["repositories_added"]
        .as_array()
        .expect("list")
        .iter()
        .map(|r| r["full_name"].as_str().expect("name").to_owned())
        .collect();
    let listed = names(&h).await;
    assert!(expected.iter().all(|n| listed.contains(n)), "{listed:?}");

    // The repository the published "removed" example removes is added first, so that its
    // removal can be seen.
    let removed = example("installation_repositories.removed.payload.json");
    let mut add_it = added.clone();
    add_it["repositories_added"] = removed["repositories_removed"].clone();
    h.deliver("installation_repositories", &add_it).await;
    assert!(names(&h).await.contains(&"octocat/Hello-World".to_owned()));
    h.deliver("installation_repositories", &removed).await;
    let gone: Vec<String> = removed["repositories_removed"]
        .as_array()
        .expect("list")
        .iter()
        .map(|r| r["full_name"].as_str().expect("name").to_owned())
        .collect();
    let listed = names(&h).await;
    assert!(gone.iter().all(|n| !listed.contains(n)), "{listed:?}");
    h.server.stop().await;
}

#[tokio::test]
async fn a_repository_s_preview_rules_decide_which_pull_requests_get_previews() {
    let mut h = Harness::start().await;
    let opened = example("pull_request.opened.payload.json");
    assert_eq!(h.deliver("pull_request", &opened).await, "processed");
    let repository = h
        .store()
        .get_repository_named("Codertocat/Hello-World")
        .await
        .expect("get")
        .expect("added with its first pull request");

    // Only `main` and release branches get previews; the example targets `master`.
    let answer = h
        .server
        .http
        .post(h.server.url("/rpc/set_preview_rules"))
        .header("accept", "application/json")
        .form(&[
            ("input[id]", repository.id.0.to_string()),
            ("input[target_branches]", "main, release/*".to_owned()),
            ("input[ignore_drafts]", "on".to_owned()),
        ])
        .send()
        .await
        .expect("rules");
    assert_eq!(answer.status(), 200);
    let mut later = opened.clone();
    later["pull_request"]["updated_at"] = "2030-01-01T00:00:00Z".into();
    h.deliver("pull_request", &later).await;
    let pr = h
        .store()
        .get_pull_request("Codertocat/Hello-World", 2)
        .await
        .expect("pr");
    assert_eq!(
        (pr.preview_wanted, pr.preview_reason.as_deref()),
        (false, Some("branch `master` does not get previews"))
    );

    let invalid: Value = h
        .server
        .http
        .post(h.server.url("/rpc/set_preview_rules"))
        .header("accept", "application/json")
        .form(&[
            ("input[id]", repository.id.0.to_string()),
            ("input[target_branches]", "[oops".to_owned()),
        ])
        .send()
        .await
        .expect("rules")
        .json()
        .await
        .expect("json");
    assert_eq!(invalid["kind"], "invalid_input");
    assert!(
        invalid["message"]
            .as_str()
            .expect("message")
            .contains("`[oops` is not a valid glob"),
        "{invalid}"
    );
    h.server.stop().await;
}
