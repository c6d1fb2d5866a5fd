//! How transform runs end when things go wrong, through the API on the local runner: a step
//! that runs past its timeout, a clone that keeps failing (retried with backoff, dead-lettered
//! with the reason and requeued), a dry run (recorded, nothing run), cancel, Slipway stopping
//! in the middle of an execution (handed back, run once after the restart), and the answers to
//! specs that cannot run (invalid, an unknown repository, one hidden from the caller).

use std::time::Duration;

use crate::pipeline_support::{add_project, sample_repository};
use crate::support::TestServer;
use crate::transforms_local::{executions, finished, of, post, start, text, until_run};

/// Waits (20 s at most) until a step has written `path`.
pub async fn until_file(path: &std::path::Path) {
    let wait = async {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        while !path.exists() {
            tick.tick().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .expect("the step started within 20 s");
}

fn spec(repositories: &str, steps: &str) -> String {
    format!("name: states\nrepositories: [{repositories}]\nsteps:\n{steps}")
}

#[tokio::test]
async fn a_step_past_its_timeout_times_out_saying_which_and_after_how_long() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(dir.path(), &[("README.md", "# slow\n")]);
    let server = TestServer::start(&[]).await;
    add_project(&server, "acme/slow", &repo).await;
    let steps = "  - name: quick\n    image: alpine\n    commands: [echo quick]\n  \
                 - name: slow\n    image: alpine\n    timeout: 1s\n    commands: [\"echo starting\", \"sleep 30\", \"echo never\"]\n";
    let (status, run) = start(&server, &spec("acme/slow", steps)).await;
    assert_eq!(status, 201, "{run}");
    let id = run["id"].as_i64().expect("id");
    let started = std::time::Instant::now();
    let run = until_run(&server, id, finished).await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the 30 s sleep was stopped"
    );
    assert_eq!(run["status"], "partially_failed");
    let all = executions(&server, id).await;
    let execution = of(&all, "acme/slow");
    assert_eq!(execution["status"], "timed_out", "{execution}");
    assert_eq!(execution["reason"], "step `slow` timed out after 1s");
    assert_eq!(execution["ready_to_publish"], false);
    let (_, log) = text(&server, execution["log_url"].as_str().expect("log")).await;
    assert!(log.contains("starting") && !log.contains("never"), "{log}");

    // Retry all failed: it runs again, from a fresh attempt, and times out again.
    let (status, retried) = post(&server, &format!("/api/runs/{id}/retry-failed")).await;
    assert_eq!(status, 200);
    assert_eq!(retried["items"][0]["status"], "pending");
    let run = until_run(&server, id, |r| finished(r) && r["totals"]["waiting"] == 0).await;
    assert_eq!(run["status"], "partially_failed");
    let again = of(&executions(&server, id).await, "acme/slow").clone();
    assert_eq!(
        (again["status"].as_str(), again["attempts"].as_u64()),
        (Some("timed_out"), Some(1))
    );
    server.stop().await;
}

#[tokio::test]
async fn a_clone_that_keeps_failing_is_dead_lettered_with_its_reason_and_can_be_requeued() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(dir.path(), &[("README.md", "# gone\n")]);
    let server = TestServer::start(&[("SLIPWAY_TRANSFORM_RETRY_SECONDS", "1".to_owned())]).await;
    add_project(&server, "acme/gone", &repo).await;
    // The repository disappears: every clone fails.
    let moved = dir.path().join("moved");
    std::fs::rename(&repo, &moved).expect("move away");
    let steps = "  - name: edit\n    image: alpine\n    commands: [\"touch x\"]\n";
    let (_, run) = start(&server, &spec("acme/gone", steps)).await;
    let id = run["id"].as_i64().expect("id");
    let started = std::time::Instant::now();
    let run = until_run(&server, id, finished).await;
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "three attempts, 1 s then 2 s apart"
    );
    assert_eq!(run["status"], "partially_failed");
    let execution = of(&executions(&server, id).await, "acme/gone").clone();
    assert_eq!(execution["status"], "dead_lettered", "{execution}");
    assert_eq!(execution["attempts"], 3);
    let reason = execution["reason"].as_str().expect("reason");
    assert!(reason.starts_with("cannot clone"), "{reason}");
    assert!(execution["log_url"].is_null(), "it never ran");

    // Put back, requeued from the dead letters: it runs, with fresh attempts.
    std::fs::rename(&moved, &repo).expect("move back");
    let eid = execution["id"].as_i64().expect("id");
    let (status, _) = post(&server, &format!("/api/runs/{id}/executions/{eid}/retry")).await;
    assert_eq!(status, 200);
    let run = until_run(&server, id, finished).await;
    assert_eq!(run["status"], "completed", "{run}");
    let execution = of(&executions(&server, id).await, "acme/gone").clone();
    assert_eq!(
        (execution["status"].as_str(), execution["attempts"].as_u64()),
        (Some("succeeded"), Some(1))
    );
    // Retrying a success is refused, saying why.
    let (status, _) = post(&server, &format!("/api/runs/{id}/executions/{eid}/retry")).await;
    assert_eq!(status, 409);
    server.stop().await;
}

#[tokio::test]
async fn a_dry_run_is_recorded_without_running_anything_and_cancel_ends_what_waits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(dir.path(), &[("README.md", "# dry\n")]);
    let server = TestServer::start(&[]).await;
    add_project(&server, "acme/dry", &repo).await;
    let marker = dir.path().join("ran");
    let steps = format!(
        "  - name: edit\n    image: alpine\n    commands: [\"touch {}\"]\n",
        marker.display()
    );
    let dry = format!("{}dry_run: true\n", spec("acme/dry", &steps));
    let (_, run) = start(&server, &dry).await;
    let id = run["id"].as_i64().expect("id");
    let run = until_run(&server, id, finished).await;
    assert_eq!(run["status"], "completed");
    assert_eq!(run["totals"]["recorded"], 1);
    let execution = of(&executions(&server, id).await, "acme/dry").clone();
    assert_eq!(execution["status"], "recorded");
    assert!(!marker.exists(), "a dry run runs nothing");

    // A long execution is cancelled while it runs.
    let steps = "  - name: wait\n    image: alpine\n    commands: [\"sleep 60\"]\n";
    let (_, run) = start(&server, &spec("acme/dry", steps)).await;
    let id = run["id"].as_i64().expect("id");
    until_run(&server, id, |r| r["totals"]["running"] == 1).await;
    let (status, _) = post(&server, &format!("/api/runs/{id}/cancel")).await;
    assert_eq!(status, 200);
    let run = until_run(&server, id, finished).await;
    assert_eq!(run["status"], "cancelled");
    let execution = of(&executions(&server, id).await, "acme/dry").clone();
    assert_eq!(execution["status"], "cancelled");
    assert_eq!(execution["reason"], "cancelled during step `wait`");
    let (status, _) = post(&server, &format!("/api/runs/{id}/cancel")).await;
    assert_eq!(status, 409, "it already ended");
    server.stop().await;
}

#[tokio::test]
async fn slipway_stopping_mid_execution_hands_it_back_and_it_runs_once_after_the_restart() {
    stopped_mid_execution(&[]).await;
}

/// Slipway (with `settings`) stopped while an execution runs: after the restart the execution,
/// handed back, runs once to its end, the interrupted attempt not counted.
pub async fn stopped_mid_execution(settings: &[(&'static str, String)]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(dir.path(), &[("README.md", "# restart\n")]);
    let server = TestServer::start(settings).await;
    add_project(&server, "acme/restart", &repo).await;
    let tally = dir.path().join("tally");
    let steps = format!(
        "  - name: edit\n    image: alpine\n    commands: [\"echo run >> {}\", \"sleep 2\", \"echo done > DONE.md\"]\n",
        tally.display()
    );
    let (_, run) = start(&server, &spec("acme/restart", &steps)).await;
    let id = run["id"].as_i64().expect("id");
    until_file(&tally).await;
    let settings = server.settings.clone();
    let data = server.stop_keeping_data().await;
    let store_settings: Vec<(&'static str, String)> = settings
        .into_iter()
        .filter(|(name, _)| *name != "SLIPWAY_PUBLIC_URL")
        .collect();
    let server = TestServer::start_in(data, &store_settings).await;
    let run = until_run(&server, id, finished).await;
    assert_eq!(run["status"], "completed", "{run}");
    let execution = of(&executions(&server, id).await, "acme/restart").clone();
    assert_eq!(execution["status"], "succeeded");
    assert_eq!(
        execution["attempts"], 1,
        "the interrupted attempt is not counted"
    );
    let runs = std::fs::read_to_string(&tally).expect("tally");
    assert_eq!(
        runs.lines().count(),
        2,
        "stopped once, then run to its end once: {runs}"
    );
    server.stop().await;
}

#[tokio::test]
async fn specs_that_cannot_run_are_refused_saying_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(dir.path(), &[("README.md", "# x\n")]);
    let server = TestServer::start(&[]).await;
    add_project(&server, "acme/web", &repo).await;
    let (status, body) = start(&server, "name: x\nrepositories: [acme/web]\nsteps:\n  - name: a\n    commands: [true]\n    timeout: soon\n").await;
    assert_eq!(status, 400);
    assert_eq!(body["field"], "spec");
    let error = body["error"].as_str().expect("error");
    assert!(
        error.contains("4:11: step `a`: image is required"),
        "{error}"
    );
    assert!(
        error.contains("6:14: step `a`: timeout `soon` is not a duration"),
        "{error}"
    );

    let steps = "  - name: a\n    image: alpine\n    commands: [true]\n";
    let (status, body) = start(&server, &spec("acme/wbe", steps)).await;
    assert_eq!(status, 400);
    assert_eq!(body["field"], "repositories");
    assert_eq!(
        body["error"],
        "repository `acme/wbe` is not known to Slipway (did you mean `acme/web`?)"
    );

    // A reader may not start one.
    server.slipway(&["users", "create", "rita"], None).await;
    let token = server.token_for("rita", "write").await;
    let rita = crate::support::client_with_token(&token);
    let response = rita
        .post(server.url("/api/runs"))
        .header("content-type", "application/yaml")
        .body(spec("acme/web", steps))
        .send()
        .await
        .expect("start");
    assert_eq!(
        response.status(),
        400,
        "acme/web is hidden from rita: not known"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_paused_queue_starts_nothing_until_it_is_resumed_and_says_so_everywhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(dir.path(), &[("README.md", "# paused\n")]);
    let server = TestServer::start(&[]).await;
    add_project(&server, "acme/paused", &repo).await;
    let (_, paused) = post(&server, "/api/transform-queue/pause").await;
    assert_eq!(
        (paused["paused"].as_bool(), paused["changed_by"].as_str()),
        (Some(true), Some("admin"))
    );
    let (_, readiness) = server.readiness().await;
    assert_eq!(readiness["ready"], true, "a paused queue is still ready");
    assert_eq!(readiness["transform_queue"]["paused"], true);
    let metrics = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("slipway_transform_queue_paused 1"),
        "{metrics}"
    );

    let steps = "  - name: edit\n    image: alpine\n    commands: [\"echo resumed | tee R.md\"]\n";
    let (_, run) = start(&server, &spec("acme/paused", steps)).await;
    let id = run["id"].as_i64().expect("id");
    // Someone follows the waiting execution's log: it shows the attempt once it starts.
    let waiting = of(&executions(&server, id).await, "acme/paused").clone();
    let log = server.url(&format!(
        "/api/runs/{id}/executions/{}/log",
        waiting["id"].as_i64().expect("id")
    ));
    let (sender, mut heard) = tokio::sync::mpsc::unbounded_channel();
    let http = server.http.clone();
    let follower = tokio::spawn(async move {
        crate::pipeline_support::stream_events(&http, log, None, sender).await;
    });
    // For three seconds (the worker looks every two), nothing of it starts.
    let watch_until = tokio::time::Instant::now() + Duration::from_secs(3);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    while tokio::time::Instant::now() < watch_until {
        tick.tick().await;
        let execution = of(&executions(&server, id).await, "acme/paused").clone();
        assert_eq!(execution["status"], "pending", "paused: {execution}");
    }
    let (_, resumed) = post(&server, "/api/transform-queue/resume").await;
    assert_eq!(resumed["paused"], false);
    let run = until_run(&server, id, finished).await;
    assert_eq!(run["status"], "completed", "{run}");
    tokio::time::timeout(Duration::from_secs(20), follower)
        .await
        .expect("the follower is told the execution ended")
        .expect("follower");
    let mut events = Vec::new();
    while let Ok(event) = heard.try_recv() {
        events.push(event);
    }
    assert!(
        events
            .iter()
            .any(|e| e.event == "line" && e.data["text"] == "resumed"),
        "{events:?}"
    );
    let last = events.last().expect("events");
    assert_eq!(
        (last.event.as_str(), &last.data["status"]),
        ("end", &"succeeded".into())
    );
    server.stop().await;
}
