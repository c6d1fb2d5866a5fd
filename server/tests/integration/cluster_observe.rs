//! What operators see of a preview namespace: each pod's CPU and memory (or "unknown" on a
//! cluster without the metrics API) and the namespace's events.

use domain::cluster::Cluster;
use futures::TryStreamExt;
use kube_sim::KnobSettings;

use crate::cluster::{LIMIT, spec, start, step};

#[tokio::test]
async fn running_pods_report_their_usage_and_a_cluster_without_metrics_says_unknown() {
    let (sim, cluster) = start().await;
    cluster
        .ensure_namespace(&spec("pr-usage-1"))
        .await
        .expect("namespace");
    cluster
        .create_pod(&step("pr-usage-1", "worker", "alpine", "echo up; sleep 30"))
        .await
        .expect("create");
    // Its first line proves the container runs.
    let mut lines = cluster
        .follow_logs("pr-usage-1", "worker", "step")
        .await
        .expect("logs");
    assert_eq!(lines.try_next().await.expect("line").as_deref(), Some("up"));

    let usage = cluster
        .pod_usage("pr-usage-1")
        .await
        .expect("metrics")
        .expect("the metrics API is served");
    let worker = usage
        .iter()
        .find(|u| u.pod == "worker")
        .expect("the running pod is measured");
    assert!(
        worker.memory_bytes > 100 * 1024,
        "a shell uses memory: {worker:?}"
    );

    sim.sim().knobs.set(&KnobSettings {
        hide_metrics_api: true,
        ..KnobSettings::default()
    });
    assert_eq!(
        cluster.pod_usage("pr-usage-1").await.expect("not an error"),
        None
    );
    sim.stop().await;
}

#[tokio::test]
async fn a_namespace_s_events_tell_what_happened_to_its_pods() {
    let (sim, cluster) = start().await;
    cluster
        .ensure_namespace(&spec("pr-events-1"))
        .await
        .expect("namespace");
    cluster
        .create_pod(&step("pr-events-1", "ok", "alpine", "true"))
        .await
        .expect("create");
    cluster
        .create_pod(&step("pr-events-1", "pull", "web:missing", "true"))
        .await
        .expect("create");
    for pod in ["ok", "pull"] {
        cluster
            .wait_pod_finished("pr-events-1", pod, LIMIT)
            .await
            .expect("finished or stuck");
    }
    let events = cluster.events("pr-events-1").await.expect("events");
    let seen: Vec<(&str, &str, bool)> = events
        .iter()
        .map(|e| (e.object.as_str(), e.reason.as_str(), e.warning))
        .collect();
    for expected in [
        ("Pod/ok", "Scheduled", false),
        ("Pod/ok", "Started", false),
        ("Pod/pull", "Failed", true),
    ] {
        assert!(seen.contains(&expected), "{expected:?} in {seen:?}");
    }
    let pull = events
        .iter()
        .find(|e| e.object == "Pod/pull" && e.warning)
        .expect("warning");
    assert!(pull.message.contains("web:missing"), "{}", pull.message);
    assert!(
        events.windows(2).all(|w| w[0].at <= w[1].at),
        "oldest first"
    );
    sim.stop().await;
}
