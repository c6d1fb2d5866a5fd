//! Preview environments end to end, driven by signed webhooks: kube-sim (real kube-rs over
//! HTTP) holds the namespaces and apps, the fake GitHub the sticky comment and commit statuses.

use domain::Cluster;
use domain::cluster::{NamespaceSpec, ObjectKind};
use futures::StreamExt;
use kube_sim::KnobSettings;
use serde_json::Value;

use crate::pipeline_support::commit;
use crate::preview_support::{World, start_sim};

const APP: &str = r#"
preview:
  app:
    image: registry.example.com/shop:1
    command: [sh, -c, 'echo "listening on 3000"; exec sleep 600']
    port: 3000
    health_check: /healthz
    env:
      GREETING: hello
"#;

fn kind(api_version: &'static str, kind: &'static str) -> ObjectKind<'static> {
    ObjectKind { api_version, kind }
}

async fn object(
    world: &World,
    namespace: &str,
    api_version: &'static str,
    name_kind: &'static str,
    name: &str,
) -> Value {
    world
        .cluster
        .get_object(namespace, kind(api_version, name_kind), name)
        .await
        .expect("read")
        .unwrap_or_else(|| panic!("{name_kind} {name} exists in {namespace}"))
        .0
}

#[tokio::test]
async fn a_pull_request_gets_a_preview_that_follows_pushes_and_goes_away_on_close() {
    let mut world = World::start(&[(".platform.yaml", APP)], &[]).await;
    let ns = "pr-acme-shop-7";
    // The first rollout never completes while the knob holds it: the attempt stays in flight.
    world.knobs(KnobSettings {
        deployment_ready_delay_ms: 600_000,
        ..KnobSettings::default()
    });
    let first = world.first_sha.clone();
    world.pull_request("opened", 7, &first).await;
    world.until(ns, &["deploying"], Some(&first)).await;

    // A push while it deploys: the older attempt is cancelled, the new commit deploys.
    world.knobs(KnobSettings::default());
    let (_, second) = commit(&world.repo, &[("README.md", "second\n")], "second");
    world.pull_request("synchronize", 7, &second).await;
    let detail = world.until(ns, &["running"], Some(&second)).await;
    let preview = &detail["preview"];
    assert_eq!(preview["url"], "https://pr-acme-shop-7.preview.example.com");
    let attempts = detail["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 2, "{detail}");
    assert_eq!(
        (attempts[0]["sha"].as_str(), attempts[0]["status"].as_str()),
        (Some(second.as_str()), Some("succeeded"))
    );
    assert_eq!(attempts[1]["status"], "cancelled");
    assert_eq!(
        attempts[1]["reason"],
        format!("superseded by {}", &second[..7])
    );

    // What the cluster holds: the namespace and its guard rails, and the app.
    let namespace = world
        .cluster
        .get_namespace(ns)
        .await
        .expect("read")
        .expect("namespace");
    assert!(namespace.is_managed());
    assert_eq!(
        namespace.labels["pod-security.kubernetes.io/enforce"],
        "baseline"
    );
    assert_eq!(namespace.labels["slipway.dev/pull-request"], "7");
    let quota = object(&world, ns, "v1", "ResourceQuota", "preview-quota").await;
    assert_eq!(quota["spec"]["hard"]["limits.cpu"], "2");
    assert_eq!(quota["spec"]["hard"]["limits.memory"], "4Gi");
    let limits = object(&world, ns, "v1", "LimitRange", "preview-limits").await;
    assert_eq!(limits["spec"]["limits"][0]["default"]["cpu"], "500m");
    assert_eq!(limits["spec"]["limits"][0]["default"]["memory"], "512Mi");
    let policy = object(
        &world,
        ns,
        "networking.k8s.io/v1",
        "NetworkPolicy",
        "preview-default-deny",
    )
    .await;
    assert_eq!(
        policy["spec"]["policyTypes"],
        serde_json::json!(["Ingress", "Egress"])
    );
    let deployment = object(&world, ns, "apps/v1", "Deployment", "app").await;
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "registry.example.com/shop:1");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["annotations"]["slipway.dev/commit"],
        second.as_str()
    );
    assert_eq!(
        deployment["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "slipway"
    );
    let env: Vec<&str> = container["env"]
        .as_array()
        .expect("env")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert!(
        env.contains(&"GREETING") && env.contains(&"PREVIEW_URL"),
        "{env:?}"
    );
    let service = object(&world, ns, "v1", "Service", "app").await;
    assert_eq!(service["spec"]["ports"][0]["port"], 80);
    let ingress = object(&world, ns, "networking.k8s.io/v1", "Ingress", "app").await;
    assert_eq!(
        ingress["spec"]["rules"][0]["host"],
        "pr-acme-shop-7.preview.example.com"
    );
    assert_eq!(
        ingress["spec"]["tls"][0]["hosts"][0],
        "pr-acme-shop-7.preview.example.com"
    );

    // GitHub: one sticky comment with the URL, and a successful status on the head commit.
    world
        .until_github("the success status", |w| {
            w.statuses(&second).last().map(String::as_str) == Some("success")
        })
        .await;
    let comments = world.comments(7);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].contains("Ready")
            && comments[0].contains("https://pr-acme-shop-7.preview.example.com"),
        "{}",
        comments[0]
    );
    assert_eq!(
        world.statuses(&second).last().map(String::as_str),
        Some("success")
    );

    // The API: lists with filters, the app's log, what it uses.
    let list: Value = world
        .server
        .http
        .get(world.server.url("/api/previews?status=running"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (
            list["total"].as_u64(),
            list["items"][0]["namespace"].as_str()
        ),
        (Some(1), Some(ns))
    );
    let bad = world
        .server
        .http
        .get(world.server.url("/api/previews?status=sleeping"))
        .send()
        .await
        .expect("list");
    assert_eq!(bad.status(), 400);
    let log = world
        .server
        .http
        .get(
            world
                .server
                .url(&format!("/api/previews/{ns}/logs?tail=10")),
        )
        .send()
        .await
        .expect("logs");
    assert_eq!(log.status(), 200);
    assert!(
        log.text()
            .await
            .expect("text")
            .contains("listening on 3000")
    );
    let usage: Value = world
        .server
        .http
        .get(world.server.url("/api/operator/usage"))
        .send()
        .await
        .expect("usage")
        .json()
        .await
        .expect("json");
    let row = usage["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["preview"]["namespace"] == ns))
        .expect("a usage row");
    assert_eq!(row["usage"]["cpu_limit_millicores"], 2000);
    assert_eq!(row["usage"]["memory_limit_bytes"], 4_u64 << 30);
    // One pod, with the LimitRange's default limits, counted against the quota.
    assert_eq!(row["usage"]["quota_cpu_used_millicores"], 500);
    assert_eq!(row["usage"]["quota_memory_used_bytes"], 512_u64 << 20);

    // The same commit delivered again deploys nothing new.
    world.pull_request("synchronize", 7, &second).await;
    let detail = world.preview(ns).await;
    assert_eq!(detail["attempts"].as_array().map(Vec::len), Some(2));

    // Closing removes the namespace and says so on the pull request.
    world.pull_request("closed", 7, &second).await;
    let detail = world.until(ns, &["deleted"], None).await;
    assert_eq!(detail["preview"]["reason"], "the pull request was closed");
    assert!(
        world
            .cluster
            .get_namespace(ns)
            .await
            .expect("read")
            .is_none()
    );
    world
        .until_github("the comment saying the preview was removed", |w| {
            w.comments(7).iter().any(|c| c.contains("Removed"))
        })
        .await;
    assert_eq!(world.comments(7).len(), 1);
    world.server.stop().await;
}

#[tokio::test]
async fn failures_name_the_image_or_show_the_crash_and_can_be_retried() {
    let missing = "preview:\n  app:\n    image: registry.example.com/shop:missing\n";
    let mut world = World::start(&[(".platform.yaml", missing)], &[]).await;
    let ns = "pr-acme-shop-8";
    let first = world.first_sha.clone();
    world.pull_request("opened", 8, &first).await;
    let detail = world.until(ns, &["failed"], None).await;
    let reason = detail["preview"]["reason"].as_str().unwrap_or("");
    assert!(
        reason.contains("ImagePullBackOff") && reason.contains("registry.example.com/shop:missing"),
        "{reason}"
    );
    world
        .until_github("the failure status and comment", |w| {
            w.statuses(&first).last().map(String::as_str) == Some("failure")
                && w.comments(8).iter().any(|c| c.contains("Failed"))
        })
        .await;

    // Retry deploys the same commit again, as a new attempt.
    let response = world
        .server
        .http
        .post(world.server.url(&format!("/api/previews/{ns}/retry")))
        .send()
        .await
        .expect("retry");
    assert_eq!(response.status(), 202);
    // The retry made the preview pending before it answered: `failed` now is the new attempt's.
    let detail = world.until(ns, &["failed"], None).await;
    assert_eq!(
        detail["attempts"].as_array().map(Vec::len),
        Some(2),
        "{detail}"
    );
    assert!(
        detail["attempts"]
            .as_array()
            .expect("attempts")
            .iter()
            .all(|a| a["sha"] == first.as_str())
    );

    // A crashing app: the reason shows CrashLoopBackOff and its last log lines.
    let crashing = "preview:\n  app:\n    image: registry.example.com/shop:2\n    command: [sh, -c, 'echo database unreachable; exit 3']\n";
    let (_, second) = commit(&world.repo, &[(".platform.yaml", crashing)], "crash");
    world.pull_request("synchronize", 8, &second).await;
    let detail = world.until(ns, &["failed"], Some(&second)).await;
    let reason = detail["preview"]["reason"].as_str().unwrap_or("");
    assert!(
        reason.contains("CrashLoopBackOff") && reason.contains("database unreachable"),
        "{reason}"
    );
    world.server.stop().await;
}

#[tokio::test]
async fn orphans_are_swept_unmanaged_namespaces_are_left_alone_and_previews_expire() {
    let (sim, cluster) = start_sim().await;
    // Left by an earlier Slipway: managed, labelled as a preview nobody knows.
    let orphan = NamespaceSpec {
        name: "pr-acme-old-1".into(),
        labels: [("slipway.dev/preview".to_owned(), "99".to_owned())].into(),
        ..NamespaceSpec::default()
    };
    cluster.ensure_namespace(&orphan).await.expect("orphan");
    // Someone else's namespace with the name a preview would take.
    let theirs = serde_json::json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": "pr-acme-shop-9" } });
    let api: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(cluster.client());
    api.create(
        &Default::default(),
        &serde_json::from_value(theirs).expect("namespace"),
    )
    .await
    .expect("create");

    let short_lived = "preview:\n  app:\n    image: registry.example.com/shop:1\n  ttl: 1s\n";
    let mut world = World::start_on(sim, cluster, &[(".platform.yaml", short_lived)], &[]).await;
    // The sweep at start removes the orphan.
    world
        .cluster
        .wait_namespace_gone("pr-acme-old-1", std::time::Duration::from_secs(30))
        .await
        .expect("orphan removed");

    // Slipway does not take over, nor delete, a namespace it did not create.
    let first = world.first_sha.clone();
    world.pull_request("opened", 9, &first).await;
    let detail = world.until("pr-acme-shop-9", &["failed"], None).await;
    assert!(
        detail["preview"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("Slipway did not create it")),
        "{detail}"
    );
    world.pull_request("closed", 9, &first).await;
    let detail = world
        .until("pr-acme-shop-9", &["cleanup_failed"], None)
        .await;
    assert!(
        detail["preview"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("refusing to delete")),
        "{detail}"
    );
    assert!(
        world
            .cluster
            .get_namespace("pr-acme-shop-9")
            .await
            .expect("read")
            .is_some()
    );

    // A preview past its time to live is removed.
    world.pull_request("opened", 10, &first).await;
    world
        .until("pr-acme-shop-10", &["running", "deleting", "deleted"], None)
        .await;
    let detail = world.until("pr-acme-shop-10", &["deleted"], None).await;
    assert!(
        detail["preview"]["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("expired")),
        "{detail}"
    );
    assert!(
        world
            .cluster
            .get_namespace("pr-acme-shop-10")
            .await
            .expect("read")
            .is_none()
    );
    world.server.stop().await;
}

#[tokio::test]
async fn without_a_cluster_a_pull_request_gets_no_preview_and_no_noise() {
    let mut world = World::start_without_cluster(&[(".platform.yaml", APP)]).await;
    let first = world.first_sha.clone();
    world.pull_request("opened", 30, &first).await;
    let detail = world.until("pr-acme-shop-30", &["skipped"], None).await;
    assert!(
        detail["preview"]["reason"].as_str().is_some_and(|r| r
            .contains("no cluster is configured")
            && r.contains("SLIPWAY_KUBECONFIG")),
        "{detail}"
    );
    // Nothing failed: the pull request hears nothing.
    assert!(world.comments(30).is_empty());
    assert!(world.statuses(&first).is_empty());
    world.server.stop().await;
}

#[tokio::test]
async fn a_commit_that_drops_the_preview_section_removes_the_environment() {
    let mut world = World::start(&[(".platform.yaml", APP)], &[]).await;
    let ns = "pr-acme-shop-31";
    let first = world.first_sha.clone();
    world.pull_request("opened", 31, &first).await;
    world.until(ns, &["running"], Some(&first)).await;
    let (_, second) = commit(
        &world.repo,
        &[(
            ".platform.yaml",
            "pipeline:\n  steps:\n    - name: test\n      image: alpine\n      commands: [true]\n",
        )],
        "no more preview",
    );
    world.pull_request("synchronize", 31, &second).await;
    let detail = world.until(ns, &["skipped"], Some(&second)).await;
    assert!(
        detail["preview"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("has no `preview:` section")),
        "{detail}"
    );
    world
        .cluster
        .wait_namespace_gone(ns, std::time::Duration::from_secs(30))
        .await
        .expect("the namespace is removed");
    // The pull request's comment no longer shows the removed environment's URL.
    world
        .until_github("the comment saying there is no preview", |w| {
            w.comments(31)
                .iter()
                .any(|c| c.contains("Not configured") && c.contains("has no `preview:` section"))
        })
        .await;
    let comments = world.comments(31);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(!comments[0].contains("**URL:**"), "{}", comments[0]);
    world.server.stop().await;
}

#[tokio::test]
async fn a_preview_log_read_since_some_seconds_leaves_older_lines_out() {
    const STAGED: &str = r#"
preview:
  app:
    image: registry.example.com/shop:1
    command: [sh, -c, 'echo "early line"; sleep 3; while true; do echo "late line"; sleep 1; done']
    port: 3000
"#;
    let mut world = World::start(&[(".platform.yaml", STAGED)], &[]).await;
    let ns = "pr-acme-shop-12";
    let first = world.first_sha.clone();
    world.pull_request("opened", 12, &first).await;
    world.until(ns, &["running"], Some(&first)).await;
    let read = |query: &'static str| {
        let url = world
            .server
            .url(&format!("/api/previews/{ns}/logs?{query}"));
        let client = world.server.http.clone();
        async move {
            let answer = client.get(url).send().await.expect("logs");
            assert_eq!(answer.status(), 200);
            answer.text().await.expect("text")
        }
    };
    // Follow the log until a late line comes (every second, from 3 s after the early one):
    // from then on the last 2 s hold some of them and never the early line.
    let follow = world
        .server
        .http
        .get(
            world
                .server
                .url(&format!("/api/previews/{ns}/logs?follow=true")),
        )
        .send()
        .await
        .expect("follow");
    let mut stream = follow.bytes_stream();
    let mut seen = String::new();
    tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while !seen.contains("late line") {
            let chunk = stream
                .next()
                .await
                .expect("the log goes on")
                .expect("bytes");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .expect("a late line within 30 s");
    let recent = read("since_seconds=2").await;
    assert!(recent.contains("late line"), "{recent}");
    assert!(!recent.contains("early line"), "{recent}");
    let all = read("tail=all").await;
    assert!(
        all.contains("early line") && all.contains("late line"),
        "{all}"
    );
    world.server.stop().await;
}
