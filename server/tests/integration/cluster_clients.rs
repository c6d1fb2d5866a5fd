//! kube-sim as clients Slipway did not write see it — it is the only stand-in for a cluster, so
//! what it gets wrong Slipway may get wrong against a real one: the official Kubernetes Python
//! client reads its namespaces, pods (with every field the API requires, such as `imageID`) and
//! deployments into its typed models, follows a pod with a watch, and reads its log.

use serde_json::Value;

#[tokio::test]
async fn the_official_python_client_reads_pods_deployments_and_namespaces_as_typed_models() {
    let (sim, _) = crate::preview_support::start_sim().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients/kubernetes_client.py");
    let run = tokio::process::Command::new(crate::support::test_venv_bin("python"))
        .arg(script)
        .arg(&kubeconfig)
        .arg("python-client")
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(90), run)
        .await
        .expect("the client finishes")
        .expect("python runs (scripts/setup test installs the client)");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the Python client failed:\n{said}");
    let seen: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(seen["pods"], serde_json::json!(["hello"]));
    assert_eq!(
        seen["phases"].as_array().and_then(|p| p.last()),
        Some(&"Succeeded".into())
    );
    assert!(
        seen["image_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("alpine@sha256:")),
        "{seen}"
    );
    assert!(
        seen["container_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("containerd://")),
        "{seen}"
    );
    assert_eq!(seen["exit_code"], 0);
    assert_eq!(
        seen["conditions"],
        serde_json::json!(["ContainersReady", "Initialized", "PodScheduled", "Ready"])
    );
    assert_eq!(seen["log"], "hello from the pod\n");
    assert_eq!(seen["deployments"], serde_json::json!(["web"]));
    assert!(
        seen["namespaces"]
            .as_array()
            .is_some_and(|n| n.iter().any(|n| n == "python-client")),
        "{seen}"
    );
}
