//! What starts a pipeline besides the API: signed GitHub deliveries (a push to a matching branch,
//! pull request events, a newer push cancelling a pull request's older run) and cron schedules,
//! with the `on:` section of `.platform.yaml` deciding, and no run for events it does not want.

use domain::{BusEvent, EntityKind};
use futures::StreamExt;
use serde_json::Value;
use server::webhooks::signature::sign;

use crate::pipeline_support::{RunWatcher, add_project, commit, git, sample_repository, step};
use crate::support::TestServer;

const SECRET: &str = "pipeline-triggers-secret";

const PLATFORM: &str = r#"
pipeline:
  steps:
    - name: check
      image: alpine
      commands:
        - echo "checked $COMMIT_BRANCH pr=${PR_NUMBER:-none}"
        - 'if [ -f slow ]; then sleep 60; fi'
  on:
    push:
      branches: [main]
    mr:
      actions: [opened, synchronize]
    schedule:
      - cron: "0 3 * * *"
"#;

fn example(name: &str) -> Value {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/github-payloads")
        .join(name);
    serde_json::from_slice(&std::fs::read(&path).expect("example payload")).expect("json")
}

/// Sends a signed delivery; returns its id once the worker has processed it, with its note.
async fn deliver(
    server: &TestServer,
    events: &mut futures::stream::BoxStream<'static, BusEvent>,
    n: u32,
    event: &str,
    payload: &Value,
) -> (String, Option<String>) {
    let id = format!("trigger-{n}");
    let body = serde_json::to_vec(payload).expect("body");
    let response = server
        .http
        .post(server.url("/webhooks/github"))
        .header("x-github-delivery", &id)
        .header("x-github-event", event)
        .header("x-hub-signature-256", sign(SECRET, &body))
        .body(body)
        .send()
        .await
        .expect("delivery");
    assert_eq!(response.status(), 202);
    let status = crate::support::until_delivery_changed(events, &id).await;
    let (delivery, _) = server
        .running
        .adapters
        .store
        .get_delivery(&id)
        .await
        .expect("delivery");
    (status, delivery.error)
}

/// Waits until the run is announced as discarded (its `on:` did not want the event).
async fn until_discarded(events: &mut futures::stream::BoxStream<'static, BusEvent>, run: i64) {
    let discarded = async {
        loop {
            if let BusEvent::Changed {
                entity: EntityKind::Pipeline,
                id,
                status,
            } = events.next().await.expect("the bus is open")
                && id == run.to_string()
                && status == "discarded"
            {
                return;
            }
        }
    };
    crate::support::within("the run to be discarded", discarded).await;
}

/// The run id in a delivery note such as "pipeline 3 queued …".
fn queued(note: &Option<String>) -> i64 {
    note.as_deref()
        .and_then(|n| n.strip_prefix("pipeline "))
        .and_then(|n| n.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no run queued: {note:?}"))
}

fn push(branch: &str, sha: &str) -> Value {
    let mut payload = example("push.payload.json");
    payload["ref"] = format!("refs/heads/{branch}").into();
    payload["after"] = sha.into();
    payload["deleted"] = false.into();
    payload["repository"]["full_name"] = "acme/shop".into();
    payload
}

fn pull_request(action: &str, branch: &str, sha: &str, updated_at: &str) -> Value {
    let mut payload = example("pull_request.opened.payload.json");
    payload["action"] = action.into();
    payload["repository"]["full_name"] = "acme/shop".into();
    payload["pull_request"]["head"]["repo"]["full_name"] = "acme/shop".into();
    payload["pull_request"]["head"]["ref"] = branch.into();
    payload["pull_request"]["head"]["sha"] = sha.into();
    payload["pull_request"]["updated_at"] = updated_at.into();
    payload
}

#[tokio::test]
async fn pushes_and_pull_requests_run_the_pipeline_as_its_on_section_says() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, main_sha) = sample_repository(dir.path(), &[(".platform.yaml", PLATFORM)]);
    let server = TestServer::start(&[("SLIPWAY_GITHUB_WEBHOOK_SECRET", SECRET.to_owned())]).await;
    add_project(&server, "acme/shop", &repo).await;
    let mut events = server.running.adapters.bus.subscribe().await.expect("bus");
    let mut watcher = RunWatcher::new(&server).await;

    // A push to main runs at the pushed commit.
    let (status, note) = deliver(&server, &mut events, 1, "push", &push("main", &main_sha)).await;
    assert_eq!(status, "processed");
    let id = queued(&note);
    let run = watcher.until(&server, id, &["succeeded", "failed"]).await;
    assert_eq!(
        (run["status"].as_str(), run["trigger"].as_str()),
        (Some("succeeded"), Some("push"))
    );
    assert_eq!(run["commit_sha"], main_sha.as_str());

    // A push to another branch: `on.push.branches` does not want it, so no run remains.
    git(&repo, &["checkout", "--quiet", "-b", "feature"]);
    let (_, feature_sha) = commit(&repo, &[("slow", "")], "a slow change");
    let (_, note) = deliver(
        &server,
        &mut events,
        2,
        "push",
        &push("feature", &feature_sha),
    )
    .await;
    let discarded = queued(&note);
    until_discarded(&mut events, discarded).await;
    let gone = server
        .http
        .get(server.url(&format!("/api/pipelines/{discarded}")))
        .send()
        .await
        .expect("get");
    assert_eq!(gone.status(), 404);

    // A pull request opened from that branch runs (its step waits: the branch has `slow`)…
    let (_, note) = deliver(
        &server,
        &mut events,
        3,
        "pull_request",
        &pull_request("opened", "feature", &feature_sha, "2026-11-25T10:00:00Z"),
    )
    .await;
    let first = queued(&note);
    watcher.until_step_runs(&server, first, "check").await;
    // …and a newer push to it cancels that run and runs the new head.
    git(&repo, &["rm", "--quiet", "slow"]);
    let (_, newer_sha) = commit(&repo, &[], "faster");
    let (_, note) = deliver(
        &server,
        &mut events,
        4,
        "pull_request",
        &pull_request("synchronize", "feature", &newer_sha, "2026-11-25T10:05:00Z"),
    )
    .await;
    assert!(
        note.as_deref()
            .is_some_and(|n| n.contains("1 older run(s) of #2 cancelled")),
        "{note:?}"
    );
    let second = queued(&note);
    let cancelled = watcher
        .until(&server, first, &["cancelled", "failed", "succeeded"])
        .await;
    assert_eq!(cancelled["status"], "cancelled");
    let run = watcher
        .until(&server, second, &["succeeded", "failed"])
        .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(
        (
            run["trigger"].as_str(),
            run["trigger_detail"].as_str(),
            run["pr_number"].as_i64()
        ),
        (Some("pull_request"), Some("synchronize"), Some(2))
    );
    let log = crate::pipeline_support::log_text(&server, second, "check").await;
    assert!(log.contains("checked feature pr=2"), "{log}");
    assert_eq!(step(&run, "check")["status"], "succeeded");

    // A pull request from a fork is someone else's code: no run until the repository trusts forks.
    let mut forked = pull_request("opened", "feature", &newer_sha, "2026-11-25T10:07:00Z");
    forked["number"] = 9.into();
    forked["pull_request"]["number"] = 9.into();
    forked["pull_request"]["head"]["repo"]["full_name"] = "mallory/shop".into();
    let (status, note) = deliver(&server, &mut events, 6, "pull_request", &forked).await;
    assert_eq!(status, "processed");
    assert_eq!(
        note.as_deref(),
        Some(
            "no pipeline: #9 comes from a fork, and acme/shop does not trust forks (Settings → Pull request rules)"
        )
    );
    let store = server.running.adapters.store.clone();
    let repository = store
        .get_repository_named("acme/shop")
        .await
        .expect("get")
        .expect("exists");
    let trusting = domain::repository::PreviewRulesConfig {
        trust_forks: true,
        ..repository.preview_rules.clone()
    };
    store
        .set_preview_rules(repository.id, &trusting)
        .await
        .expect("trust forks");
    forked["pull_request"]["updated_at"] = "2026-11-25T10:08:00Z".into();
    let (_, note) = deliver(&server, &mut events, 7, "pull_request", &forked).await;
    let trusted = queued(&note);
    watcher
        .until(&server, trusted, &["succeeded", "failed"])
        .await;

    // A label change is not in on.mr.actions: the queued run is discarded.
    let (_, note) = deliver(
        &server,
        &mut events,
        5,
        "pull_request",
        &pull_request("labeled", "feature", &newer_sha, "2026-11-25T10:06:00Z"),
    )
    .await;
    let labeled = queued(&note);
    until_discarded(&mut events, labeled).await;

    // A commit whose file describes only a preview has no pipeline: its push runs nothing
    // (rather than a failed run on every push).
    git(&repo, &["checkout", "--quiet", "main"]);
    let (_, preview_only) = commit(
        &repo,
        &[(".platform.yaml", "preview:\n  app:\n    image: nginx\n")],
        "previews only",
    );
    let (_, note) = deliver(
        &server,
        &mut events,
        8,
        "push",
        &push("main", &preview_only),
    )
    .await;
    let nothing = queued(&note);
    until_discarded(&mut events, nothing).await;
    server.stop().await;
}

/// What a second replica's workers would use.
fn services(server: &TestServer) -> services::Services {
    let adapters = &server.running.adapters;
    services::Services {
        store: adapters.store.clone(),
        objects: adapters.objects.clone(),
        bus: adapters.bus.clone(),
        clusters: Vec::new(),
        public_url: server.base.clone(),
        webhook_secrets: 0,
        git_host: None,
        secret_box: adapters.secret_box.clone(),
        github_levels: None,
        github_sign_in: None,
        task_queue: None,
    }
}

#[tokio::test]
async fn schedules_follow_the_default_branch_without_waiting_for_a_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(dir.path(), &[(".platform.yaml", PLATFORM)]);
    let server = TestServer::start(&[]).await;
    add_project(&server, "acme/shop", &repo).await;
    let store = server.running.adapters.store.clone();
    let crons = || async {
        let due = store.due_schedules(i64::MAX - 1).await.expect("schedules");
        due.into_iter().map(|s| s.cron).collect::<Vec<_>>()
    };
    assert!(crons().await.is_empty(), "no run has read the file");

    let mirrors = server::pipelines::source::Mirrors::new(dir.path().join("mirrors"));
    let services = services(&server);
    let refresh = || {
        server::pipelines::scheduler::refresh_schedules(&services, &mirrors, domain::time::now_ms())
    };
    refresh().await;
    assert_eq!(crons().await, ["0 3 * * *"]);

    // The default branch stops asking for it: the schedule goes.
    commit(
        &repo,
        &[(".platform.yaml", "preview:\n  app:\n    image: nginx\n")],
        "previews only",
    );
    refresh().await;
    assert!(crons().await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn a_schedule_read_on_the_default_branch_runs_once_per_occurrence() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(dir.path(), &[(".platform.yaml", PLATFORM)]);
    let server = TestServer::start(&[]).await;
    let project = add_project(&server, "acme/shop", &repo).await;
    let mut watcher = RunWatcher::new(&server).await;
    // Reading the file on the default branch records its schedule.
    let id = crate::pipeline_support::trigger(&server, project, "main").await;
    watcher.until(&server, id, &["succeeded"]).await;
    let store = server.running.adapters.store.clone();
    let next = store.due_schedules(i64::MAX - 1).await.expect("schedules");
    assert_eq!(next.len(), 1);
    assert_eq!(
        (next[0].cron.as_str(), next[0].branch.as_str()),
        ("0 3 * * *", "main")
    );

    // Two replicas find it due at once: one run starts.
    let services = services(&server);
    let at = next[0].next_at_ms;
    futures::join!(
        server::pipelines::scheduler::fire_due(&services, at),
        server::pipelines::scheduler::fire_due(&services, at),
    );
    let list: Value = server
        .http
        .get(server.url("/api/pipelines?trigger=schedule"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["git_ref"], "main");
    assert_eq!(items[0]["trigger_detail"], "0 3 * * *");
    let later = store.due_schedules(i64::MAX - 1).await.expect("schedules");
    assert_eq!(
        later[0].next_at_ms,
        at + 24 * 3600 * 1000,
        "moved to the next day"
    );
    server.stop().await;
}
