//! Pipelines on the local runner, end to end: a repository in a local git remote is added
//! through the API, a run is triggered, and what a developer sees is checked — statuses, exit
//! codes, parallel steps, skipped dependants, timeouts, cancel, logs (redacted, stored, followed
//! live exactly once) and a restart in the middle of a run.

use futures::StreamExt;
use serde_json::{Value, json};

use crate::pipeline_support::{
    RunWatcher, add_project, commit, detail, follow_log, log_text, sample_repository, step, trigger,
};
use crate::support::TestServer;

const SUCCESSFUL: &str = r#"
pipeline:
  steps:
    - name: lint
      image: alpine
      commands:
        - echo "lint starts"
        - sleep 1
    - name: test
      image: rust:1.85-slim
      environment:
        GREETING: hello
      commands:
        - echo "sha=$COMMIT_SHA branch=$COMMIT_BRANCH project=$PROJECT step=$STEP_NAME $GREETING"
        - echo "leaked ghp_abcdefghijklmnopqrstuvwxyz012345 here"
        - env | sort
        - sleep 1
    - name: build
      image: alpine
      depends_on: [lint, test]
      commands:
        - test -f README.md
        - echo built
"#;

#[tokio::test]
async fn a_pipeline_runs_parallel_steps_and_keeps_redacted_logs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, sha) = sample_repository(
        dir.path(),
        &[(".platform.yaml", SUCCESSFUL), ("README.md", "# demo\n")],
    );
    let server = TestServer::start(&[]).await;
    let project = add_project(&server, "demo", &repo).await;
    let mut watcher = RunWatcher::new(&server).await;
    let id = trigger(&server, project, "main").await;
    let run = watcher.until(&server, id, &["succeeded", "failed"]).await;

    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(
        run["commit_sha"],
        sha.as_str(),
        "the branch resolved to its head"
    );
    assert_eq!(run["trigger"], "api");
    let (lint, test, build) = (step(&run, "lint"), step(&run, "test"), step(&run, "build"));
    for s in [lint, test, build] {
        assert_eq!(
            (s["status"].as_str(), s["exit_code"].as_i64()),
            (Some("succeeded"), Some(0)),
            "{s}"
        );
    }
    let at = |s: &Value, key: &str| s[key].as_i64().expect("time");
    assert!(
        at(lint, "started_at_ms") < at(test, "finished_at_ms")
            && at(test, "started_at_ms") < at(lint, "finished_at_ms"),
        "independent steps overlap: {lint} {test}"
    );
    assert!(
        at(build, "started_at_ms") >= at(lint, "finished_at_ms").max(at(test, "finished_at_ms")),
        "build waits for both: {run}"
    );
    assert_eq!(build["depends_on"], json!(["lint", "test"]));

    let log = log_text(&server, id, "test").await;
    assert!(
        log.contains(&format!(
            "sha={sha} branch=main project=demo step=test hello"
        )),
        "{log}"
    );
    assert!(
        log.contains("leaked *** here") && !log.contains("ghp_abcdef"),
        "{log}"
    );
    assert_eq!(
        log.matches("image `rust:1.85-slim` is ignored").count(),
        1,
        "{log}"
    );
    assert!(
        log.contains("+ echo \"sha=$COMMIT_SHA"),
        "commands are echoed: {log}"
    );
    assert!(
        !log.contains("CARGO_") && !log.contains("SLIPWAY_"),
        "steps do not inherit Slipway's environment: {log}"
    );
    assert!(log.contains("slipway: step `test` succeeded in"), "{log}");

    let key = test["log_key"].as_str().expect("log stored");
    assert_eq!(key, format!("logs/pipelines/{id}/test.log"));
    let stored = server
        .running
        .adapters
        .objects
        .get(&domain::ObjectKey::new(key).expect("key"))
        .await
        .expect("stored log");
    let stored = String::from_utf8_lossy(&stored);
    assert!(stored.contains("leaked *** here") && !stored.contains("ghp_abcdef"));

    let listed: Value = server
        .http
        .get(server.url(&format!(
            "/api/projects/{project}/pipelines?status=succeeded"
        )))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(listed["items"][0]["id"], id);
    server.stop().await;
}

const FAILING: &str = r#"
pipeline:
  steps:
    - name: fails
      image: alpine
      commands:
        - echo before
        - exit 3
        - echo never
    - name: after
      image: alpine
      depends_on: [fails]
      commands: [echo after]
    - name: slow
      image: alpine
      timeout: 1s
      commands:
        - sleep 30 &
        - sleep 30
"#;

#[tokio::test]
async fn a_failed_step_skips_its_dependants_and_a_timeout_stops_a_step() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(dir.path(), &[(".platform.yaml", FAILING)]);
    let server = TestServer::start(&[]).await;
    let project = add_project(&server, "demo", &repo).await;
    let mut watcher = RunWatcher::new(&server).await;
    let id = trigger(&server, project, "main").await;
    let run = watcher.until(&server, id, &["succeeded", "failed"]).await;

    assert_eq!(run["status"], "failed");
    assert_eq!(run["reason"], "step `fails`, `slow` failed");
    let fails = step(&run, "fails");
    assert_eq!(
        (fails["exit_code"].as_i64(), fails["reason"].as_str()),
        (Some(3), Some("exited with code 3"))
    );
    let after = step(&run, "after");
    assert_eq!(after["status"], "skipped");
    assert_eq!(after["reason"], "skipped: `fails` did not succeed");
    let slow = step(&run, "slow");
    assert_eq!(
        (slow["status"].as_str(), slow["reason"].as_str()),
        (Some("failed"), Some("timed out after 1s"))
    );
    assert!(
        slow["finished_at_ms"].as_i64().unwrap_or(0) - slow["started_at_ms"].as_i64().unwrap_or(0)
            < 10_000,
        "the step (and the sleep it left in the background) did not hold the run: {slow}"
    );
    let log = log_text(&server, id, "fails").await;
    assert!(log.contains("before") && !log.contains("\nnever"), "{log}");
    server.stop().await;
}

#[tokio::test]
async fn bad_definitions_and_refs_fail_the_run_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(
        dir.path(),
        &[(
            ".platform.yaml",
            "pipeline:\n  steps:\n    - name: build\n      image: alpine\n      commands: [make]\n      depends_on: [tset]\n",
        )],
    );
    let server = TestServer::start(&[]).await;
    let project = add_project(&server, "demo", &repo).await;
    let mut watcher = RunWatcher::new(&server).await;

    let invalid = trigger(&server, project, "main").await;
    let run = watcher.until(&server, invalid, &["failed"]).await;
    let reason = run["reason"].as_str().expect("reason");
    assert!(
        reason.contains("is not valid:\n6:20: step `build` depends on unknown step `tset`"),
        "{reason}"
    );

    let unknown = trigger(&server, project, "no-such-branch").await;
    let run = watcher.until(&server, unknown, &["failed"]).await;
    assert!(
        run["reason"]
            .as_str()
            .expect("reason")
            .contains("`no-such-branch` is not a branch, tag or commit"),
        "{run}"
    );

    commit(&repo, &[("other.txt", "x")], "drop the file");
    crate::pipeline_support::git(&repo, &["rm", "--quiet", ".platform.yaml"]);
    let (_, bare) = commit(&repo, &[], "no platform file");
    let missing = trigger(&server, project, "main").await;
    let run = watcher.until(&server, missing, &["failed"]).await;
    assert_eq!(
        run["reason"],
        format!("commit {} has no .platform.yaml", &bare[..12])
    );

    // A 2 MB `.platform.yaml` is refused by its size, before it is read.
    let padding = "# padding\n".repeat(200_000);
    commit(
        &repo,
        &[(".platform.yaml", &padding)],
        "a huge platform file",
    );
    let huge = trigger(&server, project, "main").await;
    let run = watcher.until(&server, huge, &["failed"]).await;
    assert!(
        run["reason"].as_str().is_some_and(|r| r.contains(
            "`.platform.yaml` is 2000000 bytes; Slipway reads files of at most 1048576 bytes"
        )),
        "{run}"
    );

    let no_ref = server
        .http
        .post(server.url(&format!("/api/projects/{project}/pipelines")))
        .json(&json!({}))
        .send()
        .await
        .expect("trigger");
    assert_eq!(no_ref.status(), 400);
    let unknown_project = server
        .http
        .post(server.url("/api/projects/999/pipelines"))
        .json(&json!({ "git_ref": "main" }))
        .send()
        .await
        .expect("trigger");
    assert_eq!(unknown_project.status(), 404);
    server.stop().await;
}

#[tokio::test]
async fn cancel_stops_a_running_step() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(
        dir.path(),
        &[(
            ".platform.yaml",
            "pipeline:\n  steps:\n    - name: wait\n      image: alpine\n      commands: [echo waiting, sleep 60]\n    - name: next\n      image: alpine\n      depends_on: [wait]\n      commands: [echo next]\n",
        )],
    );
    let server = TestServer::start(&[]).await;
    let project = add_project(&server, "demo", &repo).await;
    let mut watcher = RunWatcher::new(&server).await;
    let id = trigger(&server, project, "main").await;
    watcher.until_step_runs(&server, id, "wait").await;

    let asked = std::time::Instant::now();
    let response = server
        .http
        .post(server.url(&format!("/api/pipelines/{id}/cancel")))
        .send()
        .await
        .expect("cancel");
    assert_eq!(response.status(), 202);
    let run = watcher
        .until(&server, id, &["cancelled", "failed", "succeeded"])
        .await;
    assert_eq!(run["status"], "cancelled", "{run}");
    assert!(
        asked.elapsed().as_secs() < 10,
        "cancel takes effect within seconds"
    );
    assert_eq!(step(&run, "wait")["status"], "cancelled");
    assert_eq!(step(&run, "next")["status"], "cancelled");

    let again = server
        .http
        .post(server.url(&format!("/api/pipelines/{id}/cancel")))
        .send()
        .await
        .expect("cancel");
    assert_eq!(again.status(), 409, "a finished run cannot be cancelled");

    let retried: Value = server
        .http
        .post(server.url(&format!("/api/pipelines/{id}/retry")))
        .send()
        .await
        .expect("retry")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (retried["trigger"].as_str(), retried["retry_of"].as_i64()),
        (Some("retry"), Some(id))
    );
    assert_eq!(
        retried["commit_sha"], run["commit_sha"],
        "a retry runs the same commit"
    );
    let retry_id = retried["id"].as_i64().expect("id");
    watcher.until_step_runs(&server, retry_id, "wait").await;
    server
        .http
        .post(server.url(&format!("/api/pipelines/{retry_id}/cancel")))
        .send()
        .await
        .expect("cancel");
    watcher.until(&server, retry_id, &["cancelled"]).await;
    server.stop().await;
}

#[tokio::test]
async fn a_log_stream_delivers_every_line_once_in_order_from_the_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(
        dir.path(),
        &[(
            ".platform.yaml",
            "pipeline:\n  steps:\n    - name: count\n      image: alpine\n      commands:\n        - for i in $(seq 1 300); do echo line $i; done\n        - sleep 1\n        - for i in $(seq 301 600); do echo line $i; done\n",
        )],
    );
    let server = TestServer::start(&[]).await;
    let project = add_project(&server, "demo", &repo).await;
    let mut watcher = RunWatcher::new(&server).await;
    let id = trigger(&server, project, "main").await;

    // One viewer connects before the run has read its file, another while the step runs:
    // both get the earlier lines first, then the rest, then the outcome.
    let (early, live) = tokio::join!(follow_log(&server, id, "count", None), async {
        watcher.until_step_runs(&server, id, "count").await;
        follow_log(&server, id, "count", None).await
    });
    let (lines, end) = live.split_at(live.len() - 1);
    assert_eq!(end[0].event, "end");
    assert_eq!(end[0].data["status"], "succeeded");
    let seqs: Vec<u64> = lines
        .iter()
        .map(|e| e.data["seq"].as_u64().expect("seq"))
        .collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "every line once, in order");
    let texts: Vec<&str> = lines
        .iter()
        .map(|e| e.data["text"].as_str().expect("text"))
        .collect();
    let counted: Vec<&&str> = texts.iter().filter(|t| t.starts_with("line ")).collect();
    assert_eq!(counted.len(), 600);
    assert_eq!((*counted[0], *counted[599]), ("line 1", "line 600"));
    assert!(
        lines
            .iter()
            .all(|e| e.id.as_deref() == Some(e.data["seq"].to_string().as_str()))
    );
    let early_texts: Vec<&str> = early
        .iter()
        .filter(|e| e.event == "line")
        .map(|e| e.data["text"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(early_texts, texts, "the early viewer saw the same log");

    // After the end: the stored log, the same lines; a reconnect continues after its last id.
    let replay = follow_log(&server, id, "count", None).await;
    let replayed: Vec<&str> = replay
        .iter()
        .filter(|e| e.event == "line")
        .map(|e| e.data["text"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(replayed, texts);
    let resumed = follow_log(&server, id, "count", Some(100)).await;
    assert_eq!(resumed[0].data["seq"], 101);
    server.stop().await;
}

#[tokio::test]
async fn a_run_interrupted_by_a_restart_is_marked_and_retried_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The first run waits long; its retry (another pipeline id) finishes at once.
    let (repo, _) = sample_repository(
        dir.path(),
        &[(
            ".platform.yaml",
            "pipeline:\n  steps:\n    - name: work\n      image: alpine\n      commands:\n        - 'if [ \"$PIPELINE_ID\" = 1 ]; then sleep 60; fi'\n        - echo done\n",
        )],
    );
    let server = TestServer::start(&[]).await;
    let project = add_project(&server, "demo", &repo).await;
    let mut watcher = RunWatcher::new(&server).await;
    let id = trigger(&server, project, "main").await;
    assert_eq!(id, 1);
    watcher.until_step_runs(&server, id, "work").await;
    let data = server.stop_keeping_data().await;

    let server = TestServer::start_in(data, &[]).await;
    let mut watcher = RunWatcher::new(&server).await;
    let first = detail(&server, id).await;
    assert_eq!(first["status"], "failed");
    assert_eq!(first["reason"], "interrupted: Slipway stopped");
    let list: Value = server
        .http
        .get(server.url("/api/pipelines?trigger=retry"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let retry = list["items"][0]["id"].as_i64().expect("a retry was queued");
    assert_eq!(list["items"][0]["retry_of"], id);
    let run = watcher
        .until(&server, retry, &["succeeded", "failed"])
        .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    server.stop().await;
}

#[tokio::test]
async fn a_secret_reaches_its_step_but_never_a_log_the_bus_or_the_database() {
    const SECRET: &str = "s3cr3t-value-9f8e7d";
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(
        dir.path(),
        &[(
            ".platform.yaml",
            "pipeline:\n  steps:\n    - name: deploy\n      image: alpine\n      environment:\n        TOKEN: ${{ secrets.API_TOKEN }}\n        URL: https://deploy:${{secrets.API_TOKEN}}@example.com\n      commands:\n        - echo \"token=$TOKEN\"\n        - echo \"url=$URL\"\n        - test ${#TOKEN} -eq 19\n    - name: other\n      image: alpine\n      environment:\n        KEY: ${{ secrets.MISSING }}\n      commands: [echo never]\n",
        )],
    );
    let server = TestServer::start(&[]).await;
    let project = add_project(&server, "demo", &repo).await;
    let put = server
        .http
        .put(server.url(&format!("/api/projects/{project}/secrets/API_TOKEN")))
        .json(&json!({ "value": SECRET }))
        .send()
        .await
        .expect("put");
    assert_eq!(put.status(), 200);
    let bad = server
        .http
        .put(server.url(&format!("/api/projects/{project}/secrets/bad-name")))
        .json(&json!({ "value": "x" }))
        .send()
        .await
        .expect("put");
    assert_eq!(bad.status(), 400);
    let listed: Value = server
        .http
        .get(server.url(&format!("/api/projects/{project}/secrets")))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(listed["items"][0]["name"], "API_TOKEN");
    assert!(
        !listed.to_string().contains(SECRET),
        "values are never shown back"
    );

    let mut bus = server.running.adapters.bus.subscribe().await.expect("bus");
    let mut watcher = RunWatcher::new(&server).await;
    let id = trigger(&server, project, "main").await;
    let run = watcher.until(&server, id, &["succeeded", "failed"]).await;

    let deploy = step(&run, "deploy");
    assert_eq!(
        deploy["status"], "succeeded",
        "the step had the value: {run}"
    );
    let other = step(&run, "other");
    assert_eq!(other["status"], "failed");
    assert_eq!(
        other["reason"],
        "`KEY` refers to secret `MISSING`, which is not set for demo"
    );
    let log = log_text(&server, id, "deploy").await;
    assert!(
        log.contains("token=***") && log.contains("url=https://deploy:***@example.com"),
        "{log}"
    );
    assert!(!log.contains(SECRET), "{log}");

    // Nothing on the bus carried it.
    let mut lines = 0;
    while let Ok(Some(event)) =
        tokio::time::timeout(std::time::Duration::from_millis(50), bus.next()).await
    {
        if let domain::BusEvent::LogLine { line, .. } = &event {
            lines += 1;
            assert!(!line.contains(SECRET), "{line}");
        }
    }
    assert!(lines > 0, "the log lines went over the bus");
    // Neither the stored log nor the database holds it in clear.
    let stored = server
        .running
        .adapters
        .objects
        .get(&domain::ObjectKey::new(&format!("logs/pipelines/{id}/deploy.log")).expect("key"))
        .await
        .expect("stored");
    assert!(!String::from_utf8_lossy(&stored).contains(SECRET));
    let data = server.stop_keeping_data().await;
    for entry in std::fs::read_dir(data.path()).expect("data dir").flatten() {
        if entry.path().is_file() {
            let bytes = std::fs::read(entry.path()).expect("read");
            assert!(
                !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
                "{} holds the secret in clear",
                entry.path().display()
            );
        }
    }
}

#[tokio::test]
async fn a_step_that_builds_an_image_records_it_for_previews() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, sha) = sample_repository(
        dir.path(),
        &[(
            ".platform.yaml",
            "pipeline:\n  steps:\n    - name: build-image\n      image: gcr.io/kaniko-project/executor:latest\n      commands: [echo \"pushing $REGISTRY/$PROJECT:$COMMIT_SHA\"]\n    - name: other-image\n      image: alpine\n      publishes: image\n      commands: [exit 1]\n",
        )],
    );
    let server =
        TestServer::start(&[("SLIPWAY_REGISTRY", "registry.example.com/acme".to_owned())]).await;
    let project = add_project(&server, "Demo.App", &repo).await;
    let url = server.url(&format!("/api/projects/{project}/images/{sha}"));
    assert_eq!(
        server.http.get(&url).send().await.expect("get").status(),
        404,
        "nothing published yet"
    );
    let mut watcher = RunWatcher::new(&server).await;
    let id = trigger(&server, project, "main").await;
    let run = watcher.until(&server, id, &["succeeded", "failed"]).await;
    assert_eq!(step(&run, "build-image")["status"], "succeeded");

    let image: Value = server
        .http
        .get(&url)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let expected = format!("registry.example.com/acme/demo.app:{sha}");
    assert_eq!(image["image_ref"], expected.as_str());
    assert_eq!(image["pipeline_id"], id);
    let log = log_text(&server, id, "build-image").await;
    assert!(
        log.contains(&format!("pushing {expected}")),
        "the step pushed what was recorded: {log}"
    );
    server.stop().await;
}

#[tokio::test]
async fn artifacts_are_kept_listed_downloaded_uploaded_with_a_scoped_link_and_swept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(
        dir.path(),
        &[(
            ".platform.yaml",
            "pipeline:\n  steps:\n    - name: build\n      image: alpine\n      commands:\n        - mkdir -p out/sub\n        - echo hello > out/a.txt\n        - echo world > out/sub/b.log\n        - ln -s /etc/hostname out/link\n  artifacts:\n    - name: out\n      path: out\n      expires: 2d\n    - name: missing\n      path: nowhere\n",
        )],
    );
    let server = TestServer::start(&[]).await;
    let project = add_project(&server, "demo", &repo).await;
    let mut watcher = RunWatcher::new(&server).await;
    let id = trigger(&server, project, "main").await;
    let run = watcher.until(&server, id, &["succeeded", "failed"]).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let log = log_text(&server, id, "build").await;
    assert!(
        log.contains("slipway: artifact `out`: 2 files (12 B) kept for 2d"),
        "{log}"
    );
    assert!(
        log.contains("slipway: artifact `missing`: `nowhere` does not exist; nothing kept"),
        "{log}"
    );

    let list = |server: &TestServer| {
        let url = server.url(&format!("/api/pipelines/{id}/artifacts"));
        let http = server.http.clone();
        async move {
            http.get(url)
                .send()
                .await
                .expect("list")
                .json::<Value>()
                .await
                .expect("json")
        }
    };
    let listed = list(&server).await;
    let items = listed["items"].as_array().expect("items");
    let paths: Vec<&str> = items
        .iter()
        .map(|i| i["path"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        paths,
        ["a.txt", "sub/b.log"],
        "regular files only, links not followed"
    );
    let first = &items[0];
    assert_eq!(first["size"], 6);
    assert_eq!(first["content_type"], "text/plain; charset=utf-8");
    assert_eq!(
        first["sha256"],
        "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
    );
    assert_eq!(first["object_key"], format!("artifacts/{id}/out/a.txt"));
    let url = first["download_url"].as_str().expect("download url");
    let downloaded = server.http.get(url).send().await.expect("download");
    assert_eq!(downloaded.status(), 200);
    assert_eq!(downloaded.text().await.expect("text"), "hello\n");

    // A pod's upload: a link scoped to this pipeline and artifact, expiring.
    let signer = &server.running.adapters.signer;
    let (base, query) = server::pipelines::artifacts::upload_url(
        signer,
        &server.base,
        domain::pipeline::PipelineId(id),
        "out",
        std::time::Duration::from_secs(60),
    );
    let put = |url: String| {
        let http = server.http.clone();
        async move {
            http.put(url)
                .body("uploaded\n")
                .send()
                .await
                .expect("put")
                .status()
        }
    };
    assert_eq!(put(format!("{base}extra.txt?{query}")).await, 201);
    assert_eq!(
        put(format!("{base}extra.txt?expires=4102444800&signature=00ff")).await,
        403,
        "wrong signature"
    );
    let other = format!("{}/api/artifacts/{id}/missing/x.txt?{query}", server.base);
    assert_eq!(put(other).await, 403, "the link is for `out` only");
    let scope = server::pipelines::artifacts::upload_scope(domain::pipeline::PipelineId(id), "out");
    let past = 1_000_000_000;
    let expired = format!(
        "{base}late.txt?expires={past}&signature={}",
        signer.sign_until(&scope, past)
    );
    assert_eq!(put(expired).await, 403, "expired links are refused");
    assert_eq!(
        list(&server).await["items"].as_array().map(Vec::len),
        Some(3)
    );

    // Past their expiry, files are removed from storage and the list.
    let store = server.running.adapters.store.clone();
    let objects = server.running.adapters.objects.clone();
    let in_three_days = domain::time::now_ms() + 3 * 24 * 3600 * 1000;
    let removed = server::pipelines::artifacts::sweep_expired(
        store.as_ref(),
        objects.as_ref(),
        in_three_days,
    )
    .await;
    assert_eq!(removed, 3);
    assert_eq!(
        list(&server).await["items"].as_array().map(Vec::len),
        Some(0)
    );
    let gone = objects
        .get(&domain::ObjectKey::new(&format!("artifacts/{id}/out/a.txt")).expect("key"))
        .await;
    assert!(matches!(gone, Err(domain::ObjectsError::NotFound(_))));
    server.stop().await;
}

#[tokio::test]
async fn a_retry_of_failed_steps_keeps_what_succeeded() {
    let dir = tempfile::tempdir().expect("tempdir");
    // `flaky` fails until a file exists outside the checkout; `stable` always succeeds.
    let marker = dir.path().join("fixed");
    let platform = format!(
        "pipeline:\n  steps:\n    - name: stable\n      image: alpine\n      commands: [echo stable ran]\n    - name: flaky\n      image: alpine\n      commands: ['test -f {}']\n    - name: after\n      image: alpine\n      depends_on: [stable, flaky]\n      commands: [echo after ran]\n",
        marker.display()
    );
    let (repo, _) = sample_repository(dir.path(), &[(".platform.yaml", platform.as_str())]);
    let server = TestServer::start(&[]).await;
    let project = add_project(&server, "demo", &repo).await;
    let mut watcher = RunWatcher::new(&server).await;
    let first = trigger(&server, project, "main").await;
    let run = watcher
        .until(&server, first, &["succeeded", "failed"])
        .await;
    assert_eq!(run["status"], "failed");
    assert_eq!(step(&run, "after")["status"], "skipped");

    std::fs::write(&marker, "").expect("fix");
    let retried: Value = server
        .http
        .post(server.url(&format!("/api/pipelines/{first}/retry?failed_only=true")))
        .send()
        .await
        .expect("retry")
        .json()
        .await
        .expect("json");
    assert_eq!(retried["trigger_detail"], "failed steps");
    let second = retried["id"].as_i64().expect("id");
    let run = watcher
        .until(&server, second, &["succeeded", "failed"])
        .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let stable = step(&run, "stable");
    assert_eq!(
        stable["reason"],
        format!("succeeded in run #{first}; not run again")
    );
    assert_eq!(step(&run, "flaky")["reason"], Value::Null, "it ran again");
    assert!(
        log_text(&server, second, "stable")
            .await
            .contains("stable ran"),
        "the kept step shows its log"
    );
    assert!(
        log_text(&server, second, "after")
            .await
            .contains("after ran")
    );
    server.stop().await;
}

const FLOODING: &str = r#"
pipeline:
  steps:
    - name: flood
      image: alpine
      commands:
        - head -c 20000000 /dev/zero | tr '\0' 'x' | fold -w 8000
        - echo still running
"#;

#[tokio::test]
async fn a_step_printing_20_mb_keeps_16_mib_of_log_says_so_and_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(dir.path(), &[(".platform.yaml", FLOODING)]);
    let server = TestServer::start(&[]).await;
    let project = add_project(&server, "demo", &repo).await;
    let mut watcher = RunWatcher::new(&server).await;
    let id = trigger(&server, project, "main").await;
    let run = watcher.until(&server, id, &["succeeded", "failed"]).await;
    assert_eq!(run["status"], "succeeded", "the step went on: {run}");
    let log = log_text(&server, id, "flood").await;
    let tail: Vec<&str> = log.lines().rev().take(2).collect();
    assert_eq!(
        tail[1],
        "slipway: this step's log reached 16 MiB; the rest of its output is not kept (the step goes on)",
        "{tail:?}"
    );
    // 2,500 lines of 8,000 bytes: 2,097 fit in 16 MiB, the rest (and what follows) is counted.
    let dropped: u64 = tail[0]
        .strip_prefix("slipway: ")
        .and_then(|t| t.strip_suffix(" lines of output were not kept"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the log ends counting what was not kept: {tail:?}"));
    assert!(dropped >= 403, "{dropped}");
    let response = server
        .http
        .get(server.url(&format!(
            "/api/pipelines/{id}/steps/flood/logs?download=true"
        )))
        .send()
        .await
        .expect("download");
    let stored = response.bytes().await.expect("stored log").len();
    assert!(
        (16 * 1024 * 1024..17 * 1024 * 1024).contains(&stored),
        "the stored log is bounded: {stored} bytes"
    );
    server.stop().await;
}
