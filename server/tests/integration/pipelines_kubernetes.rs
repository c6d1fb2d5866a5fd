//! Pipelines on the Kubernetes runner, through kube-sim (real kube-rs over HTTP): each step is
//! a pod in the pipelines namespace that clones the commit and runs the commands; exit codes,
//! timeouts and logs reach the run, and no pod is left behind.

use std::time::Duration;

use domain::cluster::{Cluster, ObjectKind};
use serde_json::Value;

use crate::pipeline_support::{
    RunWatcher, add_project, log_text, sample_repository, step, trigger,
};
use crate::support::TestServer;

const PLATFORM: &str = r#"
pipeline:
  steps:
    - name: build
      image: rust:1.85-slim
      environment:
        GREETING: hello
        TOKEN: ${{ secrets.API_TOKEN }}
      commands:
        - test -f README.md
        - test "$TOKEN" = kube-secret-value
        - echo "token=$TOKEN"
        - mkdir -p "out/weekly notes" && echo "report of $COMMIT_SHA" > out/report.txt
        - 'echo "notes #1 & more" > "out/weekly notes/50% done?.txt"'
        - echo "$GREETING from $STEP_NAME at $COMMIT_SHA"
    - name: fails
      image: alpine
      commands: [echo before, exit 4]
    - name: slow
      image: alpine
      timeout: 1s
      commands: [sleep 30]
  artifacts:
    - name: reports
      path: out
      step: build
"#;

#[tokio::test]
async fn steps_run_as_pods_with_their_exit_codes_timeouts_and_logs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, sha) = sample_repository(
        dir.path(),
        &[(".platform.yaml", PLATFORM), ("README.md", "# demo\n")],
    );
    let server = TestServer::start(&[("SLIPWAY_CLUSTER", "sim".to_owned())]).await;
    let project = add_project(&server, "demo", &repo).await;
    let put = server
        .http
        .put(server.url(&format!("/api/projects/{project}/secrets/API_TOKEN")))
        .json(&serde_json::json!({ "value": "kube-secret-value" }))
        .send()
        .await
        .expect("put secret");
    assert_eq!(put.status(), 200);
    let mut watcher = RunWatcher::new(&server).await;
    let id = trigger(&server, project, "main").await;
    let run: Value = watcher.until(&server, id, &["succeeded", "failed"]).await;

    assert_eq!(run["status"], "failed", "{run}");
    let build = step(&run, "build");
    assert_eq!(
        (build["status"].as_str(), build["exit_code"].as_i64()),
        (Some("succeeded"), Some(0)),
        "{run}"
    );
    let log = log_text(&server, id, "build").await;
    assert!(
        log.contains(&format!(
            "slipway: step runs in pod slipway-pipelines/pl-{id}-build-"
        )),
        "{log}"
    );
    assert!(log.contains(&format!("hello from build at {sha}")), "{log}");
    assert!(
        log.contains("+ test -f README.md"),
        "the checkout is the commit's: {log}"
    );

    assert!(
        log.contains("slipway: artifact reports: 2 file(s) uploaded"),
        "{log}"
    );
    let artifacts: Value = server
        .http
        .get(server.url(&format!("/api/pipelines/{id}/artifacts")))
        .send()
        .await
        .expect("artifacts")
        .json()
        .await
        .expect("json");
    let download = |path: &str| {
        let item = artifacts["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|item| item["path"] == path)
            .unwrap_or_else(|| panic!("no artifact file {path}: {artifacts}"));
        let url = item["download_url"]
            .as_str()
            .expect("download url")
            .to_owned();
        let http = server.http.clone();
        async move {
            http.get(url)
                .send()
                .await
                .expect("download")
                .text()
                .await
                .expect("text")
        }
    };
    assert_eq!(
        download("report.txt").await,
        format!("report of {sha}\n"),
        "the pod uploaded through its signed link"
    );
    assert_eq!(
        download("weekly notes/50% done?.txt").await,
        "notes #1 & more\n",
        "a path with spaces and URL characters arrives whole"
    );
    let fails = step(&run, "fails");
    assert_eq!(
        (fails["exit_code"].as_i64(), fails["reason"].as_str()),
        (Some(4), Some("exited with code 4"))
    );
    assert!(log_text(&server, id, "fails").await.contains("before"));
    let slow = step(&run, "slow");
    assert_eq!(slow["reason"], "timed out after 1s", "{slow}");

    // Every pod was deleted once its log had been read.
    let cluster = server.running.adapters.clusters[0].cluster.clone();
    let pods = cluster
        .list_objects(
            "slipway-pipelines",
            ObjectKind {
                api_version: "v1",
                kind: "Pod",
            },
            &format!("slipway.dev/pipeline={id}"),
        )
        .await
        .expect("list pods");
    assert!(pods.is_empty(), "{pods:?}");
    let secrets = cluster
        .list_objects(
            "slipway-pipelines",
            ObjectKind {
                api_version: "v1",
                kind: "Secret",
            },
            &format!("slipway.dev/pipeline={id}"),
        )
        .await
        .expect("list secrets");
    assert!(
        secrets.is_empty(),
        "each step's environment Secret went with its pod: {secrets:?}"
    );
    let namespace = cluster
        .get_namespace("slipway-pipelines")
        .await
        .expect("namespace")
        .expect("exists");
    assert!(
        namespace.is_managed(),
        "the pipelines namespace is labelled as Slipway's"
    );
    server.stop().await;
}

#[tokio::test]
async fn cancelling_a_run_deletes_its_running_pod() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(
        dir.path(),
        &[(
            ".platform.yaml",
            "pipeline:\n  steps:\n    - name: wait\n      image: alpine\n      commands: [echo waiting, sleep 60]\n",
        )],
    );
    let server = TestServer::start(&[("SLIPWAY_CLUSTER", "sim".to_owned())]).await;
    let project = add_project(&server, "demo", &repo).await;
    let mut watcher = RunWatcher::new(&server).await;
    let id = trigger(&server, project, "main").await;
    // The pod's command runs: its first line arrived.
    watcher.until_log_line(id, "wait", "waiting").await;
    let cluster = server.running.adapters.clusters[0].cluster.clone();
    let selector = format!("slipway.dev/pipeline={id}");
    let pod_kind = ObjectKind {
        api_version: "v1",
        kind: "Pod",
    };
    let pods = cluster
        .list_objects("slipway-pipelines", pod_kind, &selector)
        .await
        .expect("pods");
    assert_eq!(pods.len(), 1, "{pods:?}");

    let cancelled = server
        .http
        .post(server.url(&format!("/api/pipelines/{id}/cancel")))
        .send()
        .await
        .expect("cancel");
    assert_eq!(cancelled.status(), 202);
    let run = watcher
        .until(&server, id, &["cancelled", "failed", "succeeded"])
        .await;
    assert_eq!(run["status"], "cancelled", "{run}");
    assert_eq!(step(&run, "wait")["status"], "cancelled");
    let pods = cluster
        .list_objects("slipway-pipelines", pod_kind, &selector)
        .await
        .expect("pods");
    assert!(pods.is_empty(), "{pods:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_run_goes_on_across_a_restart_of_slipway_its_pod_followed_again() {
    across_a_restart(false).await;
}

#[tokio::test]
async fn a_step_that_ended_while_slipway_was_down_is_read_from_its_pod() {
    across_a_restart(true).await;
}

/// A run whose step waits for a gate, across a restart of Slipway; the gate opens while
/// Slipway is down (`open_while_down`, the pod then ends before anyone follows it) or after.
async fn across_a_restart(open_while_down: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    // The step waits for the test to open this gate (the pod's command runs on this machine).
    let gate = dir.path().join("gate");
    let platform = format!(
        "pipeline:\n  steps:\n    - name: wait\n      image: alpine\n      commands:\n        - echo before\n        - 'while [ ! -e {gate} ]; do sleep 0.05; done'\n        - echo after\n    - name: next\n      image: alpine\n      depends_on: [wait]\n      commands: [echo next ran]\n",
        gate = gate.display()
    );
    let (repo, _) = sample_repository(dir.path(), &[(".platform.yaml", platform.as_str())]);
    let (sim, cluster) = crate::preview_support::start_sim().await;
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let settings = [("SLIPWAY_KUBECONFIG", kubeconfig.display().to_string())];
    let server = TestServer::start(&settings).await;
    let project = add_project(&server, "demo", &repo).await;
    let mut watcher = RunWatcher::new(&server).await;
    let id = trigger(&server, project, "main").await;
    watcher.until_log_line(id, "wait", "before").await;
    let pod_kind = ObjectKind {
        api_version: "v1",
        kind: "Pod",
    };
    let selector = format!("slipway.dev/pipeline={id}");
    let pods = |cluster: &server::cluster::KubeCluster| {
        let cluster = cluster.clone();
        let selector = selector.clone();
        async move {
            let pods = cluster
                .list_objects("slipway-pipelines", pod_kind, &selector)
                .await
                .expect("pods");
            pods.iter().map(|p| p.name().to_owned()).collect::<Vec<_>>()
        }
    };
    let before = pods(&cluster).await;
    assert_eq!(before.len(), 1, "{before:?}");

    // Slipway stops while the step runs; its pod runs on.
    let data = server.stop_keeping_data().await;
    assert_eq!(
        pods(&cluster).await,
        before,
        "stopping Slipway kept the pod"
    );
    if open_while_down {
        std::fs::write(&gate, "open").expect("open the gate");
        let ended = cluster
            .wait_pod_finished("slipway-pipelines", &before[0], Duration::from_secs(30))
            .await
            .expect("the pod ends");
        let step = ended.containers.iter().find(|c| c.name == "step");
        assert_eq!(step.map(|c| c.exit_code), Some(0), "{ended:?}");
    }

    let server = TestServer::start_in(data, &settings).await;
    let mut watcher = RunWatcher::new(&server).await;
    // A pod that ended while Slipway was down may already be read and removed by now (and the
    // next step's pod made): no other pod of the `wait` step, though.
    let after: Vec<String> = pods(&cluster)
        .await
        .into_iter()
        .filter(|pod| pod.contains("-wait-"))
        .collect();
    assert!(
        after.iter().all(|pod| before.contains(pod)) && (open_while_down || after == before),
        "the restarted Slipway follows the same pod, it does not start another: {after:?}"
    );
    if !open_while_down {
        std::fs::write(&gate, "open").expect("open the gate");
    }
    let run = watcher
        .until(&server, id, &["succeeded", "failed", "cancelled"])
        .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(step(&run, "wait")["exit_code"], 0, "{run}");
    assert_eq!(step(&run, "next")["status"], "succeeded", "{run}");

    let log = log_text(&server, id, "wait").await;
    assert!(
        log.contains(&format!(
            "slipway: Slipway restarted; following pod slipway-pipelines/{} again",
            before[0]
        )),
        "{log}"
    );
    let count = |text: &str| {
        log.lines()
            .filter(|l| l.ends_with(text) && !l.contains("echo"))
            .count()
    };
    assert_eq!(
        (count("before"), count("after")),
        (1, 1),
        "the stored log is the pod's, read again once from its start: {log}"
    );
    assert!(
        log_text(&server, id, "next").await.contains("next ran"),
        "the steps after it ran"
    );
    assert!(pods(&cluster).await.is_empty(), "the pods went once done");
    server.stop().await;
    sim.stop().await;
}
