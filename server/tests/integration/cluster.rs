//! The Kubernetes adapter against kube-sim, over real HTTP with the production kube-rs client:
//! namespaces (ensure, guarded delete, deletion that takes seconds), run-to-completion pods
//! (exit codes, deadlines, missing images, logs), retries of transient failures.

use std::time::Duration;

use domain::cluster::{
    Cluster, ClusterError, ContainerRun, MANAGED_BY_LABEL, NamespacePhase, NamespaceSpec, PodRun,
};
use futures::TryStreamExt;
use kube_sim::{KnobSettings, KubeSim, Options};
use server::cluster::KubeCluster;

pub const LIMIT: Duration = Duration::from_secs(20);

pub async fn start() -> (KubeSim, KubeCluster) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let sim = KubeSim::start(listener, Options::default())
        .await
        .expect("kube-sim");
    let cluster = KubeCluster::from_kubeconfig_yaml(&sim.kubeconfig(), "kube-sim")
        .await
        .expect("client");
    (sim, cluster)
}

pub fn spec(name: &str) -> NamespaceSpec {
    NamespaceSpec {
        name: name.into(),
        labels: [("slipway.dev/preview".to_owned(), "42".to_owned())].into(),
        ..NamespaceSpec::default()
    }
}

pub fn step(namespace: &str, name: &str, image: &str, script: &str) -> PodRun {
    PodRun {
        namespace: namespace.into(),
        name: name.into(),
        containers: vec![ContainerRun {
            name: "step".into(),
            image: image.into(),
            command: vec!["sh".into(), "-c".into(), script.into()],
            ..ContainerRun::default()
        }],
        deadline: Some(Duration::from_secs(60)),
        ..PodRun::default()
    }
}

#[tokio::test]
async fn a_namespace_is_created_only_while_its_name_is_free() {
    let (sim, cluster) = start().await;
    assert!(
        cluster
            .create_namespace(&spec("pr-new-1"))
            .await
            .expect("create"),
        "the name was free"
    );
    let created = cluster
        .get_namespace("pr-new-1")
        .await
        .expect("get")
        .expect("created");
    assert!(created.is_managed(), "{created:?}");
    assert_eq!(
        created
            .labels
            .get("slipway.dev/preview")
            .map(String::as_str),
        Some("42")
    );
    assert!(
        !cluster
            .create_namespace(&spec("pr-new-1"))
            .await
            .expect("taken"),
        "a second create finds the name taken"
    );
    // Someone else's namespace is left exactly as it was.
    assert!(
        !cluster
            .create_namespace(&spec("kube-system"))
            .await
            .expect("taken")
    );
    let theirs = cluster
        .get_namespace("kube-system")
        .await
        .expect("get")
        .expect("kept");
    assert!(!theirs.is_managed(), "{theirs:?}");
    assert!(!theirs.labels.contains_key("slipway.dev/preview"));
    // What Slipway created it can apply to later (a redeploy) without a field-owner conflict.
    cluster
        .ensure_namespace(&spec("pr-new-1"))
        .await
        .expect("applied after the create");
    sim.stop().await;
}

#[tokio::test]
async fn namespaces_are_ensured_labelled_and_deleted_even_when_deletion_takes_seconds() {
    let (sim, cluster) = start().await;
    cluster.check().await.expect("reachable");
    let created = cluster
        .ensure_namespace(&spec("pr-shop-42"))
        .await
        .expect("ensure");
    assert_eq!(created.phase, NamespacePhase::Active);
    assert_eq!(
        created.labels.get(MANAGED_BY_LABEL).map(String::as_str),
        Some("slipway")
    );
    assert_eq!(
        created
            .labels
            .get("slipway.dev/preview")
            .map(String::as_str),
        Some("42")
    );
    cluster
        .ensure_namespace(&spec("pr-shop-42"))
        .await
        .expect("ensuring again is a no-op");

    sim.sim().knobs.set(&KnobSettings {
        namespace_deletion_delay_ms: 2_500,
        ..KnobSettings::default()
    });
    let started = std::time::Instant::now();
    cluster
        .delete_namespace("pr-shop-42")
        .await
        .expect("delete");
    let terminating = cluster
        .get_namespace("pr-shop-42")
        .await
        .expect("get")
        .expect("still there");
    assert_eq!(terminating.phase, NamespacePhase::Terminating);
    cluster
        .wait_namespace_gone("pr-shop-42", LIMIT)
        .await
        .expect("gone");
    assert!(
        started.elapsed() >= Duration::from_millis(2_500),
        "waited for the whole deletion"
    );
    assert_eq!(
        cluster.get_namespace("pr-shop-42").await.expect("get"),
        None
    );
    cluster
        .delete_namespace("pr-shop-42")
        .await
        .expect("deleting what is gone is fine");
    sim.stop().await;
}

#[tokio::test]
async fn a_namespace_slipway_did_not_create_is_never_deleted() {
    let (sim, cluster) = start().await;
    let refused = cluster
        .delete_namespace("kube-system")
        .await
        .expect_err("unmanaged");
    assert!(
        matches!(refused, ClusterError::Unmanaged(ref name) if name == "kube-system"),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("Slipway did not create it"));
    let still = cluster
        .get_namespace("kube-system")
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(still.phase, NamespacePhase::Active);
    sim.stop().await;
}

#[tokio::test]
async fn waiting_for_a_namespace_gives_up_at_the_deadline() {
    let (sim, cluster) = start().await;
    cluster
        .ensure_namespace(&spec("slow"))
        .await
        .expect("ensure");
    sim.sim().knobs.set(&KnobSettings {
        namespace_deletion_delay_ms: 60_000,
        ..KnobSettings::default()
    });
    cluster.delete_namespace("slow").await.expect("delete");
    let timeout = cluster
        .wait_namespace_gone("slow", Duration::from_millis(300))
        .await
        .expect_err("too slow");
    assert!(
        matches!(timeout, ClusterError::Timeout { .. }),
        "{timeout:?}"
    );
    sim.stop().await;
}

#[tokio::test]
async fn pods_run_to_completion_with_exit_codes_logs_and_reasons() {
    let (sim, cluster) = start().await;
    cluster
        .ensure_namespace(&spec("pipelines"))
        .await
        .expect("namespace");

    cluster
        .create_pod(&step(
            "pipelines",
            "ok",
            "alpine",
            "echo compiling; echo done",
        ))
        .await
        .expect("accepted by strict decoding");
    let lines: Vec<String> = cluster
        .follow_logs("pipelines", "ok", "step")
        .await
        .expect("logs")
        .try_collect()
        .await
        .expect("lines");
    assert_eq!(lines, ["compiling", "done"]);
    let outcome = cluster
        .wait_pod_finished("pipelines", "ok", LIMIT)
        .await
        .expect("finished");
    assert!(outcome.succeeded);
    assert_eq!(outcome.containers[0].exit_code, 0);

    cluster
        .create_pod(&step(
            "pipelines",
            "fails",
            "alpine",
            "echo broken >&2; exit 3",
        ))
        .await
        .expect("create");
    let outcome = cluster
        .wait_pod_finished("pipelines", "fails", LIMIT)
        .await
        .expect("finished");
    assert!(!outcome.succeeded);
    assert_eq!(
        (
            outcome.containers[0].exit_code,
            outcome.containers[0].reason.as_deref()
        ),
        (3, Some("Error"))
    );
    // The pod is done before anyone reads its log: every line is still there.
    let lines: Vec<String> = cluster
        .follow_logs("pipelines", "fails", "step")
        .await
        .expect("logs")
        .try_collect()
        .await
        .expect("lines");
    assert_eq!(lines, ["broken"]);

    let mut slow = step("pipelines", "slow", "alpine", "sleep 30");
    slow.deadline = Some(Duration::from_secs(1));
    cluster.create_pod(&slow).await.expect("create");
    let outcome = cluster
        .wait_pod_finished("pipelines", "slow", LIMIT)
        .await
        .expect("finished");
    assert_eq!(
        (outcome.succeeded, outcome.reason.as_deref()),
        (false, Some("DeadlineExceeded"))
    );

    cluster
        .create_pod(&step(
            "pipelines",
            "nopull",
            "registry.local/tool:missing",
            "true",
        ))
        .await
        .expect("create");
    let outcome = cluster
        .wait_pod_finished("pipelines", "nopull", LIMIT)
        .await
        .expect("stuck is an outcome");
    assert_eq!(outcome.reason.as_deref(), Some("ImagePullBackOff"));
    assert!(
        outcome
            .message
            .is_some_and(|m| m.contains("registry.local/tool:missing"))
    );

    cluster
        .delete_pod("pipelines", "nopull")
        .await
        .expect("delete");
    cluster
        .delete_pod("pipelines", "nopull")
        .await
        .expect("deleting again is fine");
    let missing = cluster
        .wait_pod_finished("pipelines", "nopull", LIMIT)
        .await
        .expect_err("gone");
    assert!(
        matches!(missing, ClusterError::NotFound { .. }),
        "{missing:?}"
    );
    sim.stop().await;
}

#[tokio::test]
async fn transient_failures_are_retried_and_lasting_ones_surface() {
    let (sim, cluster) = start().await;
    sim.sim().knobs.fail_next(&[500, 503, 429]);
    cluster
        .ensure_namespace(&spec("retried"))
        .await
        .expect("succeeds after retries");
    sim.sim().knobs.fail_next(&[500; 10]);
    let failed = cluster
        .get_namespace("retried")
        .await
        .expect_err("gives up");
    assert!(matches!(failed, ClusterError::Unavailable(_)), "{failed:?}");
    let url = sim.url();
    sim.stop().await;
    let unreachable = cluster.check().await.expect_err("stopped");
    assert!(
        matches!(unreachable, ClusterError::Unavailable(_)),
        "{unreachable:?} ({url})"
    );
}

fn deployment(
    name: &str,
    image: &str,
    command: Option<&str>,
    extra_spec: serde_json::Value,
) -> domain::cluster::Manifest {
    let mut container =
        serde_json::json!({ "name": "app", "image": image, "ports": [{ "containerPort": 8080 }] });
    if let Some(script) = command {
        container["command"] = serde_json::json!(["sh", "-c", script]);
    }
    let mut spec = serde_json::json!({
        "replicas": 2,
        "selector": { "matchLabels": { "app": name } },
        "template": { "metadata": { "labels": { "app": name } }, "spec": { "containers": [container] } },
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra_spec.as_object()) {
        spec.extend(extra.clone());
    }
    domain::cluster::Manifest(
        serde_json::json!({ "apiVersion": "apps/v1", "kind": "Deployment", "metadata": { "name": name }, "spec": spec }),
    )
}

fn manifest(value: serde_json::Value) -> domain::cluster::Manifest {
    domain::cluster::Manifest(value)
}

#[tokio::test]
async fn a_preview_bundle_applies_and_rolls_out_then_redeploys() {
    let (sim, cluster) = start().await;
    cluster
        .ensure_namespace(&spec("pr-web-7"))
        .await
        .expect("namespace");
    let bundle = [
        manifest(
            serde_json::json!({ "apiVersion": "v1", "kind": "ResourceQuota", "metadata": { "name": "preview" }, "spec": { "hard": { "limits.cpu": "2", "limits.memory": "2Gi" } } }),
        ),
        manifest(
            serde_json::json!({ "apiVersion": "v1", "kind": "LimitRange", "metadata": { "name": "preview" }, "spec": { "limits": [{ "type": "Container", "default": { "cpu": "500m", "memory": "512Mi" } }] } }),
        ),
        manifest(
            serde_json::json!({ "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": { "name": "default-deny" }, "spec": { "podSelector": {}, "policyTypes": ["Ingress", "Egress"] } }),
        ),
        deployment(
            "web",
            "registry.local/web:abc123",
            None,
            serde_json::json!({}),
        ),
        manifest(
            serde_json::json!({ "apiVersion": "v1", "kind": "Service", "metadata": { "name": "web" }, "spec": { "selector": { "app": "web" }, "ports": [{ "port": 80, "targetPort": 8080 }] } }),
        ),
        manifest(
            serde_json::json!({ "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": { "name": "web" },
            "spec": { "rules": [{ "host": "pr-7.preview.example.com", "http": { "paths": [{ "path": "/", "pathType": "Prefix", "backend": { "service": { "name": "web", "port": { "number": 80 } } } }] } }] } }),
        ),
    ];
    for object in &bundle {
        cluster
            .apply_manifest("pr-web-7", object)
            .await
            .unwrap_or_else(|e| panic!("{} accepted: {e}", object.kind()));
    }
    for object in &bundle {
        cluster
            .apply_manifest("pr-web-7", object)
            .await
            .expect("applying again is idempotent");
    }
    let outcome = cluster
        .wait_rollout("pr-web-7", "web", LIMIT)
        .await
        .expect("rollout");
    assert!(outcome.ready, "{outcome:?}");

    cluster
        .apply_manifest(
            "pr-web-7",
            &deployment(
                "web",
                "registry.local/web:def456",
                None,
                serde_json::json!({}),
            ),
        )
        .await
        .expect("new image");
    let outcome = cluster
        .wait_rollout("pr-web-7", "web", LIMIT)
        .await
        .expect("second rollout");
    assert!(outcome.ready, "{outcome:?}");

    let unknown = manifest(
        serde_json::json!({ "apiVersion": "example.com/v1", "kind": "Widget", "metadata": { "name": "w" } }),
    );
    let refused = cluster
        .apply_manifest("pr-web-7", &unknown)
        .await
        .expect_err("not served");
    assert!(
        matches!(refused, ClusterError::Invalid(ref m) if m.contains("does not serve")),
        "{refused:?}"
    );
    sim.stop().await;
}

#[tokio::test]
async fn failed_rollouts_say_why_in_words_a_developer_can_act_on() {
    let (sim, cluster) = start().await;
    cluster
        .ensure_namespace(&spec("pr-broken-1"))
        .await
        .expect("namespace");

    cluster
        .apply_manifest(
            "pr-broken-1",
            &deployment(
                "pull",
                "registry.local/web:missing",
                None,
                serde_json::json!({}),
            ),
        )
        .await
        .expect("apply");
    let outcome = cluster
        .wait_rollout("pr-broken-1", "pull", LIMIT)
        .await
        .expect("outcome");
    assert_eq!(
        (outcome.ready, outcome.reason.as_deref()),
        (false, Some("ImagePullBackOff"))
    );
    assert!(
        outcome
            .message
            .is_some_and(|m| m.contains("registry.local/web:missing"))
    );

    let crash = deployment(
        "crash",
        "registry.local/web:1",
        Some("echo 'listen tcp :8080: address already in use'; exit 1"),
        serde_json::json!({ "minReadySeconds": 5 }),
    );
    cluster
        .apply_manifest("pr-broken-1", &crash)
        .await
        .expect("apply");
    let outcome = cluster
        .wait_rollout("pr-broken-1", "crash", LIMIT)
        .await
        .expect("outcome");
    assert_eq!(outcome.reason.as_deref(), Some("CrashLoopBackOff"));
    assert!(
        outcome
            .log_excerpt
            .iter()
            .any(|l| l.contains("address already in use")),
        "{:?}",
        outcome.log_excerpt
    );

    sim.sim().knobs.set(&KnobSettings {
        deployment_ready_delay_ms: 60_000,
        ..KnobSettings::default()
    });
    let slow = deployment(
        "slow",
        "registry.local/web:1",
        None,
        serde_json::json!({ "progressDeadlineSeconds": 1 }),
    );
    cluster
        .apply_manifest("pr-broken-1", &slow)
        .await
        .expect("apply");
    let outcome = cluster
        .wait_rollout("pr-broken-1", "slow", LIMIT)
        .await
        .expect("outcome");
    assert_eq!(outcome.reason.as_deref(), Some("ProgressDeadlineExceeded"));
    sim.stop().await;
}
