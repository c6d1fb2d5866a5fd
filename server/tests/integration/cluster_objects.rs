//! Objects of any kind read, listed and deleted as manifests (never one Slipway did not
//! create), and Jobs watched to their end.

use domain::cluster::{Cluster, ClusterError, Manifest, ObjectKind};
use kube_sim::resources;

use crate::cluster::{LIMIT, spec, start};

const CONFIG_MAP: ObjectKind<'static> = ObjectKind {
    api_version: "v1",
    kind: "ConfigMap",
};

fn config_map(name: &str, preview: &str) -> Manifest {
    Manifest(serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": { "name": name, "labels": { "slipway.dev/preview": preview } },
        "data": { "GREETING": "hello" },
    }))
}

#[tokio::test]
async fn objects_are_read_listed_by_label_and_deleted_only_when_slipway_made_them() {
    let (sim, cluster) = start().await;
    cluster
        .ensure_namespace(&spec("pr-objects-1"))
        .await
        .expect("namespace");
    for (name, preview) in [("web", "1"), ("worker", "1"), ("other", "2")] {
        cluster
            .apply_manifest("pr-objects-1", &config_map(name, preview))
            .await
            .expect("apply");
    }
    // Someone else's object in the same namespace.
    let config_maps = resources::find("", "v1", "configmaps").expect("served");
    sim.sim()
        .store
        .create(
            config_maps,
            "pr-objects-1",
            serde_json::json!({ "metadata": { "name": "theirs" }, "data": { "A": "b" } }),
        )
        .expect("created by hand");

    let web = cluster
        .get_object("pr-objects-1", CONFIG_MAP, "web")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(web.0["data"]["GREETING"], "hello");
    assert_eq!(
        cluster
            .get_object("pr-objects-1", CONFIG_MAP, "nothing")
            .await
            .expect("get"),
        None
    );

    let mut listed: Vec<String> = cluster
        .list_objects("pr-objects-1", CONFIG_MAP, "slipway.dev/preview=1")
        .await
        .expect("list")
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    listed.sort();
    assert_eq!(listed, ["web", "worker"]);

    let refused = cluster
        .delete_object("pr-objects-1", CONFIG_MAP, "theirs")
        .await
        .expect_err("not Slipway's");
    assert!(matches!(refused, ClusterError::Unmanaged(_)), "{refused:?}");
    assert!(
        cluster
            .get_object("pr-objects-1", CONFIG_MAP, "theirs")
            .await
            .expect("get")
            .is_some(),
        "left alone"
    );

    cluster
        .delete_object("pr-objects-1", CONFIG_MAP, "web")
        .await
        .expect("delete");
    assert_eq!(
        cluster
            .get_object("pr-objects-1", CONFIG_MAP, "web")
            .await
            .expect("get"),
        None
    );
    cluster
        .delete_object("pr-objects-1", CONFIG_MAP, "web")
        .await
        .expect("deleting what is gone is fine");
    sim.stop().await;
}

fn job(name: &str, script: &str, backoff_limit: u32) -> Manifest {
    Manifest(serde_json::json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": { "name": name },
        "spec": { "backoffLimit": backoff_limit, "template": { "spec": {
            "restartPolicy": "Never",
            "containers": [{ "name": "main", "image": "alpine", "command": ["sh", "-c", script] }],
        } } },
    }))
}

#[tokio::test]
async fn jobs_are_watched_until_they_complete_or_run_out_of_retries() {
    let (sim, cluster) = start().await;
    cluster
        .ensure_namespace(&spec("pr-jobs-1"))
        .await
        .expect("namespace");
    cluster
        .apply_manifest("pr-jobs-1", &job("migrate", "echo migrated", 2))
        .await
        .expect("apply");
    let done = cluster
        .wait_job("pr-jobs-1", "migrate", LIMIT)
        .await
        .expect("outcome");
    assert!(done.succeeded, "{done:?}");

    cluster
        .apply_manifest("pr-jobs-1", &job("seed", "exit 1", 1))
        .await
        .expect("apply");
    let failed = cluster
        .wait_job("pr-jobs-1", "seed", LIMIT)
        .await
        .expect("outcome");
    assert_eq!(
        (
            failed.succeeded,
            failed.reason.as_deref(),
            failed.failed_pods
        ),
        (false, Some("BackoffLimitExceeded"), 2)
    );
    sim.stop().await;
}
