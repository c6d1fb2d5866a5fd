//! Transform runs with Redis configured: executions travel as `ExecuteTransform` tasks on the
//! stream `preview.tasks`, watched with `redis-cli` (a client we did not write). A run goes
//! through and leaves the stream empty; the same task added again by another system runs
//! nothing; entries that are not valid tasks go to `preview.tasks.dlq` with the path and
//! reason; a task a stopped worker left is taken over and runs once; one that gave up goes to
//! the dead letters and comes back when requeued; Redis going away mid-run (and coming back
//! empty) loses nothing and runs nothing twice.

use std::path::Path;
use std::time::Duration;

use domain::time::now_ms;
use domain::transform::KeyedClaim;

use crate::pipeline_support::{add_project, sample_repository};
use crate::support::{TestRedis, TestServer};
use crate::transforms_local::{executions, finished, of, post, start, until_run};
use crate::transforms_states::until_file;

/// `redis-cli -p PORT ARGS`: its output, trimmed.
async fn redis_cli(redis: &TestRedis, args: &[&str]) -> String {
    let out = tokio::process::Command::new("redis-cli")
        .arg("-p")
        .arg(redis.port.to_string())
        .args(args)
        .output()
        .await
        .expect("redis-cli runs");
    assert!(out.status.success(), "redis-cli {args:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Waits (20 s at most) until `redis-cli ARGS` prints `expected`.
async fn until_redis(redis: &TestRedis, args: &[&str], expected: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        let got = redis_cli(redis, args).await;
        if got == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "redis-cli {args:?} printed {got:?}, not {expected:?}, for 20 s"
        );
    }
}

async fn server_on(redis: &TestRedis, extra: &[(&'static str, String)]) -> TestServer {
    let mut settings = vec![("SLIPWAY_REDIS_URL", redis.url())];
    settings.extend_from_slice(extra);
    TestServer::start(&settings).await
}

/// A step that appends `ran` to `tally`, so a test can count how often it ran.
fn counting_spec(repository: &str, tally: &Path, wait_for: Option<(&Path, &Path)>) -> String {
    let wait = wait_for.map_or(String::new(), |(started, go)| {
        format!(
            "touch {}; while [ ! -e {} ]; do sleep 0.05; done; ",
            started.display(),
            go.display()
        )
    });
    format!(
        "name: tally\nrepositories: [{repository}]\nsteps:\n  - name: edit\n    image: alpine\n    \
         commands: [\"{wait}echo ran >> {}\", \"echo changed >> README.md\"]\n",
        tally.display()
    )
}

fn runs_counted(tally: &Path) -> usize {
    std::fs::read_to_string(tally)
        .map(|text| text.lines().count())
        .unwrap_or(0)
}

fn task(run: i64, repository: &str) -> String {
    format!(
        r#"{{"type":"ExecuteTransform","task_id":"preview:{run}:{repository}","run_id":{run},"repository":"{repository}"}}"#
    )
}

#[tokio::test]
async fn tasks_travel_on_the_stream_and_entries_that_are_not_tasks_are_dead_lettered_saying_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(&dir.path().join("one"), &[("README.md", "# one\n")]);
    let redis = TestRedis::start().await;
    let server = server_on(&redis, &[]).await;
    add_project(&server, "acme/one", &repo).await;
    let tally = dir.path().join("tally");
    let (status, run) = start(&server, &counting_spec("acme/one", &tally, None)).await;
    assert_eq!(status, 201, "{run}");
    let id = run["id"].as_i64().expect("id");
    let run = until_run(&server, id, finished).await;
    assert_eq!(run["status"], "completed", "{run}");
    let execution = of(&executions(&server, id).await, "acme/one").clone();
    assert_eq!(
        (execution["status"].as_str(), execution["attempts"].as_u64()),
        (Some("succeeded"), Some(1))
    );
    // Acknowledged once stored, and deleted: nothing waits, nothing is held.
    until_redis(&redis, &["XLEN", "preview.tasks"], "0").await;
    let pending = redis_cli(&redis, &["XPENDING", "preview.tasks", "slipway"]).await;
    assert!(pending.starts_with('0'), "{pending}");

    // Another system adds the same task: it is found done, acknowledged, and nothing runs.
    redis_cli(
        &redis,
        &["XADD", "preview.tasks", "*", "task", &task(id, "acme/one")],
    )
    .await;
    until_redis(&redis, &["XLEN", "preview.tasks"], "0").await;
    let again = of(&executions(&server, id).await, "acme/one").clone();
    assert_eq!(again["attempts"], 1, "{again}");
    assert_eq!(runs_counted(&tally), 1);

    // Entries that are not tasks Slipway can run: dead-lettered, each with where and why.
    let wrong_type = task(id, "acme/one").replace(&format!(":{id},"), &format!(":\"{id}\","));
    let unknown = task(9999, "acme/none");
    for entry in [
        vec!["task", "{not json"],
        vec!["task", wrong_type.as_str()],
        vec!["task", unknown.as_str()],
        vec!["job", "x"],
    ] {
        let mut args = vec!["XADD", "preview.tasks", "*"];
        args.extend(entry);
        redis_cli(&redis, &args).await;
    }
    until_redis(&redis, &["XLEN", "preview.tasks.dlq"], "4").await;
    until_redis(&redis, &["XLEN", "preview.tasks"], "0").await;
    let dead = redis_cli(&redis, &["XRANGE", "preview.tasks.dlq", "-", "+"]).await;
    for reason in [
        "not a valid task: `.`: key must be a string",
        "not a valid task: `run_id`: invalid type: string \"",
        "no execution `preview:9999:acme/none`",
        "not a valid task: `.`: the entry has no `task` field",
    ] {
        assert!(dead.contains(reason), "{reason} in {dead}");
    }
    let metrics = crate::transforms_local::text(&server, "/metrics").await.1;
    for line in [
        "slipway_transform_attempts_total{outcome=\"dead_lettered\"} 4",
        "slipway_queue_depth{queue=\"transform_dead_letters\"} 4",
        "slipway_queue_depth{queue=\"transform_tasks\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    // Readiness and the Transforms page say what the stream holds.
    let (_, ready) = server.readiness().await;
    let tasks = &ready["transform_queue"]["tasks"];
    assert_eq!(
        (&tasks["stream"], &tasks["depth"], &tasks["dead_letters"]),
        (&"preview.tasks".into(), &0.into(), &4.into()),
        "{ready}"
    );
    let page = server.page("/transforms").await;
    assert!(
        page.contains("Redis stream preview.tasks: 0 task(s) waiting or running, 0 read by a worker, 4 dead letter(s) in preview.tasks.dlq."),
        "{page}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_task_a_stopped_worker_left_is_taken_over_and_runs_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(&dir.path().join("one"), &[("README.md", "# one\n")]);
    let redis = TestRedis::start().await;
    let server = server_on(&redis, &[("SLIPWAY_TRANSFORM_CLAIM_SECONDS", "5".into())]).await;
    add_project(&server, "acme/one", &repo).await;
    // Paused, so that the stopped worker (this test) reads the task before Slipway does.
    let (status, _) = post(&server, "/api/transform-queue/pause").await;
    assert_eq!(status, 200);
    let tally = dir.path().join("tally");
    let (_, run) = start(&server, &counting_spec("acme/one", &tally, None)).await;
    let id = run["id"].as_i64().expect("id");

    // The other worker adds the task, reads it, claims it … and stops answering.
    let store = server.running.adapters.store.clone();
    let published = store
        .publish_due_executions(now_ms(), 10)
        .await
        .expect("mark");
    assert_eq!(published.len(), 1);
    redis_cli(
        &redis,
        &["XADD", "preview.tasks", "*", "task", &task(id, "acme/one")],
    )
    .await;
    let read = redis_cli(
        &redis,
        &[
            "XREADGROUP",
            "GROUP",
            "slipway",
            "stopped-worker",
            "COUNT",
            "1",
            "STREAMS",
            "preview.tasks",
            ">",
        ],
    )
    .await;
    assert!(read.contains("ExecuteTransform"), "{read}");
    let claimed = store
        .claim_execution_by_key(
            &format!("preview:{id}:acme/one"),
            "stopped-worker",
            now_ms(),
            now_ms() + 500,
        )
        .await
        .expect("claim");
    assert!(matches!(claimed, KeyedClaim::Claimed(_)), "{claimed:?}");

    let (status, _) = post(&server, "/api/transform-queue/resume").await;
    assert_eq!(status, 200);
    let run = until_run(&server, id, finished).await;
    assert_eq!(run["status"], "completed", "{run}");
    let execution = of(&executions(&server, id).await, "acme/one").clone();
    assert_eq!(
        (execution["status"].as_str(), execution["attempts"].as_u64()),
        (Some("succeeded"), Some(2)),
        "the stopped worker's attempt counts"
    );
    assert_eq!(runs_counted(&tally), 1, "the steps ran once");
    until_redis(&redis, &["XLEN", "preview.tasks"], "0").await;
    server.stop().await;
}

#[tokio::test]
async fn redis_going_away_mid_run_loses_nothing_and_runs_nothing_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (one, _) = sample_repository(&dir.path().join("one"), &[("README.md", "# one\n")]);
    let (two, _) = sample_repository(&dir.path().join("two"), &[("README.md", "# two\n")]);
    let mut redis = TestRedis::start().await;
    let server = server_on(&redis, &[]).await;
    add_project(&server, "acme/one", &one).await;
    add_project(&server, "acme/two", &two).await;
    let (started, go) = (dir.path().join("started"), dir.path().join("go"));
    let (tally_one, tally_two) = (dir.path().join("tally-one"), dir.path().join("tally-two"));
    let (_, first) = start(
        &server,
        &counting_spec("acme/one", &tally_one, Some((&started, &go))),
    )
    .await;
    let first = first["id"].as_i64().expect("id");
    until_file(&started).await;

    // Redis goes away while the first run's step runs; a second run starts meanwhile.
    redis.stop().await;
    let (status, second) = start(&server, &counting_spec("acme/two", &tally_two, None)).await;
    assert_eq!(status, 201, "{second}");
    let second = second["id"].as_i64().expect("id");
    std::fs::write(&go, "").expect("let the step end");
    let run = until_run(&server, first, finished).await;
    assert_eq!(
        run["status"], "completed",
        "the outcome is stored without Redis: {run}"
    );

    // Redis comes back with nothing: the second run's task is added again and runs.
    redis.restart().await;
    let run = until_run(&server, second, finished).await;
    assert_eq!(run["status"], "completed", "{run}");
    for (run, repository, tally) in [
        (first, "acme/one", &tally_one),
        (second, "acme/two", &tally_two),
    ] {
        let execution = of(&executions(&server, run).await, repository).clone();
        assert_eq!(execution["attempts"], 1, "{execution}");
        assert_eq!(runs_counted(tally), 1, "{repository} ran once");
    }
    until_redis(&redis, &["XLEN", "preview.tasks"], "0").await;
    server.stop().await;
}

#[tokio::test]
async fn a_task_that_gave_up_is_dead_lettered_on_the_stream_and_comes_back_when_requeued() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(&dir.path().join("gone"), &[("README.md", "# gone\n")]);
    let redis = TestRedis::start().await;
    let server = server_on(&redis, &[("SLIPWAY_TRANSFORM_RETRY_SECONDS", "1".into())]).await;
    add_project(&server, "acme/gone", &repo).await;
    // The repository disappears: every clone fails, three times.
    let moved = dir.path().join("moved");
    std::fs::rename(&repo, &moved).expect("move away");
    let tally = dir.path().join("tally");
    let (_, run) = start(&server, &counting_spec("acme/gone", &tally, None)).await;
    let id = run["id"].as_i64().expect("id");
    until_run(&server, id, finished).await;
    let execution = of(&executions(&server, id).await, "acme/gone").clone();
    assert_eq!(
        (execution["status"].as_str(), execution["attempts"].as_u64()),
        (Some("dead_lettered"), Some(3)),
        "{execution}"
    );
    until_redis(&redis, &["XLEN", "preview.tasks.dlq"], "1").await;
    let dead = redis_cli(&redis, &["XRANGE", "preview.tasks.dlq", "-", "+"]).await;
    assert!(
        dead.contains(&format!("preview:{id}:acme/gone")) && dead.contains("cannot clone"),
        "{dead}"
    );

    // Requeued from the page's dead letters: it travels on the stream again and runs.
    std::fs::rename(&moved, &repo).expect("move back");
    let eid = execution["id"].as_i64().expect("id");
    let (status, _) = post(&server, &format!("/api/runs/{id}/executions/{eid}/retry")).await;
    assert_eq!(status, 200);
    let run = until_run(&server, id, finished).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(runs_counted(&tally), 1);
    until_redis(&redis, &["XLEN", "preview.tasks"], "0").await;
    server.stop().await;
}
