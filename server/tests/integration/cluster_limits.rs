//! Quotas and capacity: a rollout or a step that cannot get the CPU it asks for says why
//! (quota exceeded, unschedulable) instead of waiting forever.

use domain::cluster::{Cluster, ClusterError};
use kube_sim::KnobSettings;

use crate::cluster::{LIMIT, spec, start, step};

fn manifest(value: serde_json::Value) -> domain::cluster::Manifest {
    domain::cluster::Manifest(value)
}

#[tokio::test]
async fn a_rollout_beyond_the_namespace_quota_reports_quota_exceeded() {
    let (sim, cluster) = start().await;
    cluster
        .ensure_namespace(&spec("pr-quota-1"))
        .await
        .expect("namespace");
    // One CPU in all; containers that say nothing get 400m each from the LimitRange.
    for object in [
        serde_json::json!({ "apiVersion": "v1", "kind": "ResourceQuota", "metadata": { "name": "preview" }, "spec": { "hard": { "limits.cpu": "1" } } }),
        serde_json::json!({ "apiVersion": "v1", "kind": "LimitRange", "metadata": { "name": "preview" }, "spec": { "limits": [{ "type": "Container", "default": { "cpu": "400m" } }] } }),
        serde_json::json!({ "apiVersion": "apps/v1", "kind": "Deployment", "metadata": { "name": "web" }, "spec": {
            "replicas": 3, "selector": { "matchLabels": { "app": "web" } },
            "template": { "metadata": { "labels": { "app": "web" } }, "spec": { "containers": [{ "name": "web", "image": "web:1" }] } } } }),
    ] {
        cluster
            .apply_manifest("pr-quota-1", &manifest(object))
            .await
            .expect("apply");
    }
    let outcome = cluster
        .wait_rollout("pr-quota-1", "web", LIMIT)
        .await
        .expect("outcome");
    assert_eq!(
        (outcome.ready, outcome.reason.as_deref()),
        (false, Some("QuotaExceeded"))
    );
    let message = outcome.message.unwrap_or_default();
    assert!(message.contains("limited: limits.cpu=1000m"), "{message}");

    // The two pods that fit are running; a step asking for more is refused at once.
    let mut greedy = step("pr-quota-1", "greedy", "alpine", "true");
    greedy.containers[0].limits = Some(("500m".into(), "64Mi".into()));
    let refused = cluster.create_pod(&greedy).await.expect_err("over quota");
    assert!(
        matches!(&refused, ClusterError::Forbidden(m) if m.contains("exceeded quota")),
        "{refused:?}"
    );
    let events = cluster.events("pr-quota-1").await.expect("events");
    assert!(
        events
            .iter()
            .any(|e| e.reason == "FailedCreate" && e.warning),
        "{events:?}"
    );
    sim.stop().await;
}

#[tokio::test]
async fn a_step_that_fits_on_no_node_is_reported_unschedulable() {
    let (sim, cluster) = start().await;
    sim.sim().knobs.set(&KnobSettings {
        node_cpu_millicores: 2_000,
        ..KnobSettings::default()
    });
    cluster
        .ensure_namespace(&spec("pipelines"))
        .await
        .expect("namespace");
    let mut huge = step("pipelines", "huge", "alpine", "true");
    huge.containers[0].limits = Some(("16".into(), "1Gi".into()));
    cluster.create_pod(&huge).await.expect("accepted");
    let outcome = cluster
        .wait_pod_finished("pipelines", "huge", LIMIT)
        .await
        .expect("outcome");
    assert_eq!(
        (outcome.succeeded, outcome.reason.as_deref()),
        (false, Some("Unschedulable"))
    );
    assert!(
        outcome
            .message
            .is_some_and(|m| m.contains("Insufficient cpu")),
    );
    sim.stop().await;
}
