//! kube-sim as clients Slipway did not write see it — it is the only stand-in for a cluster, so
//! what it gets wrong Slipway may get wrong against a real one: the official Kubernetes Python
//! client reads its namespaces, pods (with every field the API requires, such as `imageID`) and
//! deployments into its typed models, follows a pod with a watch, and reads its log; kubectl
//! creates (with protobuf bodies), applies (client-side with strategic merge patches and
//! server-side validation, server-side, dry runs), explains from the OpenAPI documents, describes,
//! prints tables, scales, follows logs, waits for rollouts and deletes — and dry-runs the shipped
//! manifests.

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

/// kubectl with the kubeconfig at `kubeconfig`, within 60 s: whether it succeeded, and what it
/// printed on stdout and stderr.
async fn kubectl(kubeconfig: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let run = tokio::process::Command::new("kubectl")
        .env("KUBECONFIG", kubeconfig)
        .env("KUBECACHEDIR", kubeconfig.with_file_name("cache"))
        .args(args)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), run)
        .await
        .unwrap_or_else(|_| panic!("kubectl {args:?} finishes within 60 s"))
        .expect("kubectl runs (it is on the machine image)");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// kubectl that must succeed; its stdout.
async fn kubectl_ok(kubeconfig: &std::path::Path, args: &[&str]) -> String {
    let (ok, out, err) = kubectl(kubeconfig, args).await;
    assert!(ok, "kubectl {args:?} failed:\n{err}{out}");
    out
}

/// `kubectl rollout status` of `deployment` in namespace demo, which must end rolled out.
async fn rolled_out(kubeconfig: &std::path::Path, deployment: &str) {
    let args = [
        "rollout",
        "status",
        deployment,
        "-n",
        "demo",
        "--timeout=30s",
    ];
    let said = kubectl_ok(kubeconfig, &args).await;
    assert!(said.contains("successfully rolled out"), "{said}");
}

fn written(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write manifest");
    path.display().to_string()
}

const APP: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: demo}
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: busybox:1.36
        command: [sh, -c, 'echo started; sleep 3600']
        env: [{name: MODE, value: fast}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: demo}
data: {mode: fast}
";

#[tokio::test]
async fn kubectl_creates_applies_explains_follows_and_deletes_as_against_an_api_server() {
    let (sim, _) = crate::preview_support::start_sim().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&config).expect("kubeconfig");

    // `create` sends protobuf bodies for built-in kinds.
    kubectl_ok(&config, &["create", "namespace", "demo"]).await;
    kubectl_ok(
        &config,
        &[
            "create",
            "secret",
            "generic",
            "creds",
            "-n",
            "demo",
            "--from-literal=token=abc",
        ],
    )
    .await;
    kubectl_ok(
        &config,
        &[
            "create",
            "deployment",
            "web",
            "-n",
            "demo",
            "--image=nginx:1.27",
            "--replicas=2",
        ],
    )
    .await;
    let token = kubectl_ok(
        &config,
        &[
            "get",
            "secret",
            "creds",
            "-n",
            "demo",
            "-o",
            "jsonpath={.data.token}",
        ],
    )
    .await;
    assert_eq!(token, "YWJj", "the secret keeps its value");
    rolled_out(&config, "deployment/web").await;
    // `get` prints the columns the server's Table gives.
    let pods = kubectl_ok(&config, &["get", "pods", "-n", "demo"]).await;
    let header: Vec<&str> = pods
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{pods}"
    );
    assert_eq!(
        pods.lines()
            .filter(|l| l.contains(" 1/1 ") && l.contains(" Running "))
            .count(),
        2,
        "{pods}"
    );
    let described = kubectl_ok(&config, &["describe", "deployment", "web", "-n", "demo"]).await;
    assert!(
        described.contains("2 desired | 2 updated | 2 total | 2 available"),
        "{described}"
    );

    let scaled = kubectl_ok(
        &config,
        &["scale", "deployment", "web", "-n", "demo", "--replicas=1"],
    )
    .await;
    assert!(scaled.contains("deployment.apps/web scaled"), "{scaled}");
    rolled_out(&config, "deployment/web").await;
    let replicas = kubectl_ok(
        &config,
        &[
            "get",
            "deployment",
            "web",
            "-n",
            "demo",
            "-o",
            "jsonpath={.status.replicas}",
        ],
    )
    .await;
    assert_eq!(replicas, "1");

    // Client-side apply: created, then changed through a strategic merge patch that keeps what
    // the manifest does not mention, and refused when a field is unknown.
    let app = written(dir.path(), "app.yaml", APP);
    let first = kubectl_ok(&config, &["apply", "-f", &app]).await;
    assert!(first.contains("deployment.apps/api created"), "{first}");
    let changed = APP.replace("busybox:1.36", "busybox:1.37");
    let changed = written(
        dir.path(),
        "app.yaml",
        &changed.replace("{mode: fast}", "{mode: slow}"),
    );
    let second = kubectl_ok(&config, &["apply", "-f", &changed]).await;
    assert!(
        second.contains("deployment.apps/api configured"),
        "{second}"
    );
    let container: Value = serde_json::from_str(
        &kubectl_ok(
            &config,
            &[
                "get",
                "deployment",
                "api",
                "-n",
                "demo",
                "-o",
                "jsonpath={.spec.template.spec.containers[0]}",
            ],
        )
        .await,
    )
    .expect("container JSON");
    assert_eq!(container["image"], "busybox:1.37");
    assert_eq!(
        container["env"],
        serde_json::json!([{"name": "MODE", "value": "fast"}])
    );
    let mode = kubectl_ok(
        &config,
        &[
            "get",
            "configmap",
            "settings",
            "-n",
            "demo",
            "-o",
            "jsonpath={.data.mode}",
        ],
    )
    .await;
    assert_eq!(mode, "slow");
    let bogus = written(
        dir.path(),
        "bogus.yaml",
        &APP.replace("  replicas: 1\n", "  replicas: 1\n  bogus: true\n"),
    );
    let (ok, _, refused) = kubectl(&config, &["apply", "-f", &bogus]).await;
    assert!(
        !ok && refused.contains("unknown field \"spec.bogus\""),
        "{refused}"
    );

    // Server-side apply, and a server-side dry run that stores nothing.
    let (ssa, dry) = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa, namespace: demo}\ndata: {a: '1'}\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dry, namespace: demo}\ndata: {a: '1'}\n",
    );
    let ssa = written(dir.path(), "ssa.yaml", ssa);
    for _ in 0..2 {
        let applied = kubectl_ok(&config, &["apply", "--server-side", "-f", &ssa]).await;
        assert!(
            applied.contains("configmap/ssa serverside-applied"),
            "{applied}"
        );
    }
    let dry = written(dir.path(), "dry.yaml", dry);
    let said = kubectl_ok(&config, &["apply", "--dry-run=server", "-f", &dry]).await;
    assert!(
        said.contains("configmap/dry created (server dry run)"),
        "{said}"
    );
    let (found, _, missing) = kubectl(&config, &["get", "configmap", "dry", "-n", "demo"]).await;
    assert!(!found && missing.contains("not found"), "{missing}");

    // explain reads the OpenAPI v3 documents.
    let explained = kubectl_ok(&config, &["explain", "deployment.spec.replicas"]).await;
    assert!(
        explained.contains("FIELD: replicas <integer>")
            && explained.contains("Number of desired pods"),
        "{explained}"
    );

    // A pod's log followed to its end; the pod as YAML has what the API fills in.
    kubectl_ok(
        &config,
        &[
            "run",
            "hello",
            "-n",
            "demo",
            "--image=busybox",
            "--restart=Never",
            "--",
            "sh",
            "-c",
            "echo one; sleep 1; echo two",
        ],
    )
    .await;
    kubectl_ok(
        &config,
        &[
            "wait",
            "pod/hello",
            "-n",
            "demo",
            "--for=condition=Ready",
            "--timeout=30s",
        ],
    )
    .await;
    let followed = kubectl_ok(&config, &["logs", "-f", "pod/hello", "-n", "demo"]).await;
    assert_eq!(followed, "one\ntwo\n");
    let yaml = kubectl_ok(
        &config,
        &["get", "pod", "hello", "-n", "demo", "-o", "yaml"],
    )
    .await;
    assert!(
        yaml.contains("imageID:") && yaml.contains("containerID:"),
        "{yaml}"
    );

    // Deleting waits until the objects are gone.
    kubectl_ok(
        &config,
        &[
            "delete",
            "deployment",
            "web",
            "-n",
            "demo",
            "--wait",
            "--timeout=30s",
        ],
    )
    .await;
    let (found, _, _) = kubectl(&config, &["get", "deployment", "web", "-n", "demo"]).await;
    assert!(!found, "the deployment is gone");
    kubectl_ok(
        &config,
        &["delete", "namespace", "demo", "--wait", "--timeout=30s"],
    )
    .await;
    let (found, _, _) = kubectl(&config, &["get", "namespace", "demo"]).await;
    assert!(!found, "the namespace is gone");
    sim.stop().await;
}

#[tokio::test]
async fn the_shipped_manifests_pass_kubectls_server_side_dry_run_and_change_nothing() {
    let (sim, _) = crate::preview_support::start_sim().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&config).expect("kubeconfig");
    let overlays =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kubernetes/overlays");
    // As on a real API server, a dry run cannot put objects in a namespace that does not exist.
    kubectl_ok(&config, &["create", "namespace", "slipway"]).await;
    for overlay in ["single", "production"] {
        let path = overlays.join(overlay).display().to_string();
        let said = kubectl_ok(&config, &["apply", "--dry-run=server", "-k", &path]).await;
        let lines: Vec<&str> = said.lines().collect();
        assert!(lines.len() >= 9, "{overlay}: {said}");
        assert!(
            lines.iter().all(|l| l.ends_with("(server dry run)")),
            "{overlay}: {said}"
        );
        assert!(
            said.contains("deployment.apps/slipway"),
            "{overlay}: {said}"
        );
    }
    let left = kubectl_ok(
        &config,
        &[
            "get",
            "deployments,configmaps,serviceaccounts,clusterroles",
            "-A",
            "-o",
            "name",
        ],
    )
    .await;
    assert_eq!(left, "", "nothing was stored");
    sim.stop().await;
}
