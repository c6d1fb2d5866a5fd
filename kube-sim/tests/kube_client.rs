//! kube-sim as the production kube-rs client sees it, over real HTTP: discovery, namespaces
//! with the Terminating phase, server-side apply conflicts, strict decoding, watches with 410,
//! pods that really run, their logs (also after they finished, and followed live), and
//! injected failures.

#![expect(clippy::expect_used, reason = "tests fail loudly")]

use std::time::Duration;

use futures::{AsyncBufReadExt, StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{
    Api, DeleteParams, ListParams, LogParams, Patch, PatchParams, PostParams, WatchEvent,
    WatchParams,
};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, Config};
use kube_sim::{KubeSim, Options};
use serde_json::json;

const PATIENCE: Duration = Duration::from_secs(20);

async fn start() -> (KubeSim, Client) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let sim = KubeSim::start(listener, Options::default())
        .await
        .expect("start");
    let kubeconfig =
        kube::config::Kubeconfig::from_yaml(&sim.kubeconfig()).expect("kubeconfig parses");
    let config =
        Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
            .await
            .expect("config");
    (sim, Client::try_from(config).expect("client"))
}

async fn namespace(client: &Client, name: &str) -> Namespace {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns = serde_json::from_value(json!({ "metadata": { "name": name, "labels": { "app.kubernetes.io/managed-by": "slipway" } } })).expect("ns");
    api.create(&PostParams::default(), &ns)
        .await
        .expect("create namespace")
}

fn pod(name: &str, script: &str, image: &str, restart: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": { "name": name },
        "spec": { "restartPolicy": restart, "containers": [{ "name": "main", "image": image, "command": ["sh", "-c", script] }] }
    }))
    .expect("pod")
}

/// Waits until `condition` holds; the object as it was then (`None` once deleted).
async fn wait_for<K>(
    api: &Api<K>,
    name: &str,
    what: &str,
    condition: impl kube::runtime::wait::Condition<K>,
) -> Option<K>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
{
    let found = tokio::time::timeout(PATIENCE, await_condition(api.clone(), name, condition)).await;
    found
        .unwrap_or_else(|_| panic!("{what}: timed out"))
        .expect(what)
}

fn phase_is(phase: &'static str) -> impl Fn(Option<&Pod>) -> bool {
    move |pod| pod.and_then(|p| p.status.as_ref()?.phase.as_deref()) == Some(phase)
}

#[tokio::test]
async fn discovery_finds_the_served_kinds() {
    let (sim, client) = start().await;
    let discovery = kube::Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    let kinds: Vec<String> = discovery
        .groups()
        .flat_map(|g| g.recommended_resources().into_iter().map(|(r, _)| r.kind))
        .collect();
    for kind in [
        "Namespace",
        "Pod",
        "Deployment",
        "Ingress",
        "NetworkPolicy",
        "ResourceQuota",
        "Job",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    let version = client.apiserver_version().await.expect("version");
    assert_eq!(version.major, "1");
    sim.stop().await;
}

#[tokio::test]
async fn namespaces_terminate_then_disappear_with_their_contents() {
    let (sim, client) = start().await;
    sim.sim().knobs.set(&kube_sim::KnobSettings {
        namespace_deletion_delay_ms: 300,
        ..Default::default()
    });
    let created = namespace(&client, "pr-shop-1").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "pr-shop-1");
    pods.create(
        &PostParams::default(),
        &pod("web", "sleep 30", "busybox", "Never"),
    )
    .await
    .expect("pod");

    let namespaces: Api<Namespace> = Api::all(client.clone());
    let managed = namespaces
        .list(&ListParams::default().labels("app.kubernetes.io/managed-by=slipway"))
        .await
        .expect("list");
    assert_eq!(managed.items.len(), 1, "label selectors filter");
    namespaces
        .delete("pr-shop-1", &DeleteParams::foreground())
        .await
        .expect("delete");
    let terminating = namespaces.get("pr-shop-1").await.expect("still there");
    assert_eq!(
        terminating.status.and_then(|s| s.phase).as_deref(),
        Some("Terminating")
    );
    let refused = pods
        .create(
            &PostParams::default(),
            &pod("late", "true", "busybox", "Never"),
        )
        .await
        .expect_err("terminating");
    assert!(
        matches!(refused, kube::Error::Api(ref e) if e.code == 403),
        "{refused:?}"
    );

    let uid = created.metadata.uid.expect("uid");
    wait_for(
        &namespaces,
        "pr-shop-1",
        "namespace gone",
        conditions::is_deleted(&uid),
    )
    .await;
    assert!(
        pods.get_opt("web").await.expect("get").is_none(),
        "contents went with it"
    );
    sim.stop().await;
}

#[tokio::test]
async fn server_side_apply_tracks_owners_and_reports_conflicts() {
    let (sim, client) = start().await;
    namespace(&client, "apps").await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "apps");
    let deployment = |replicas: i32| -> Deployment {
        serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": { "name": "web" },
            "spec": { "replicas": replicas, "selector": { "matchLabels": { "app": "web" } },
                      "template": { "metadata": { "labels": { "app": "web" } }, "spec": { "containers": [{ "name": "web", "image": "nginx" }] } } }
        }))
        .expect("deployment")
    };
    let applied = api
        .patch(
            "web",
            &PatchParams::apply("slipway"),
            &Patch::Apply(&deployment(1)),
        )
        .await
        .expect("apply creates");
    assert_eq!(
        applied.metadata.managed_fields.expect("managed")[0]
            .manager
            .as_deref(),
        Some("slipway")
    );
    api.patch(
        "web",
        &PatchParams::apply("slipway"),
        &Patch::Apply(&deployment(2)),
    )
    .await
    .expect("same manager reapplies");

    let conflict = api
        .patch(
            "web",
            &PatchParams::apply("kubectl"),
            &Patch::Apply(&deployment(5)),
        )
        .await
        .expect_err("conflict");
    match conflict {
        kube::Error::Api(e) => {
            assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
            assert!(
                e.message
                    .contains("conflict with \"slipway\": .spec.replicas"),
                "{}",
                e.message
            );
        }
        other => panic!("expected a 409, got {other:?}"),
    }
    let forced = api
        .patch(
            "web",
            &PatchParams::apply("kubectl").force(),
            &Patch::Apply(&deployment(5)),
        )
        .await
        .expect("force");
    assert_eq!(forced.spec.and_then(|s| s.replicas), Some(5));
    sim.stop().await;
}

#[tokio::test]
async fn unknown_fields_and_invalid_objects_are_refused_like_a_real_api_server() {
    let (sim, client) = start().await;
    namespace(&client, "strict").await;
    let api: Api<kube::api::DynamicObject> = Api::namespaced_with(
        client.clone(),
        "strict",
        &kube::api::ApiResource::erase::<Pod>(&()),
    );
    let typo: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": { "name": "typo" },
        "spec": { "containers": [{ "name": "c", "image": "busybox", "comand": ["true"] }] }
    }))
    .expect("object");
    match api
        .create(&PostParams::default(), &typo)
        .await
        .expect_err("strict")
    {
        kube::Error::Api(e) => {
            assert_eq!(e.code, 400);
            assert!(
                e.message
                    .contains("unknown field \"spec.containers[0].comand\""),
                "{}",
                e.message
            );
        }
        other => panic!("{other:?}"),
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), "strict");
    let mut no_image = pod("noimage", "true", "busybox", "Never");
    if let Some(spec) = no_image.spec.as_mut() {
        spec.containers[0].image = None;
    }
    match pods
        .create(&PostParams::default(), &no_image)
        .await
        .expect_err("invalid")
    {
        kube::Error::Api(e) => assert_eq!((e.code, e.reason.as_str()), (422, "Invalid")),
        other => panic!("{other:?}"),
    }
    // A protobuf body (what kubectl sends for built-in kinds) that does not decode is refused
    // saying so, not read as JSON.
    let request = axum::http::Request::post("/api/v1/namespaces")
        .header("content-type", "application/vnd.kubernetes.protobuf")
        .body(b"k8s\0\n\xff\xff".to_vec())
        .expect("request");
    match client.request_text(request).await.expect_err("protobuf") {
        kube::Error::Api(e) => {
            assert_eq!((e.code, e.reason.as_str()), (400, "BadRequest"));
            assert!(e.message.contains("does not decode"), "{}", e.message);
        }
        other => panic!("{other:?}"),
    }
    sim.stop().await;
}

#[tokio::test]
async fn watches_deliver_changes_and_answer_410_for_versions_no_longer_kept() {
    let (sim, client) = start().await;
    namespace(&client, "w").await;
    let api: Api<Pod> = Api::namespaced(client.clone(), "w");
    let first = api
        .create(
            &PostParams::default(),
            &pod("a", "sleep 30", "busybox", "Never"),
        )
        .await
        .expect("a");
    let seen = first.metadata.resource_version.expect("rv");

    let mut stream = api
        .watch(&WatchParams::default(), &seen)
        .await
        .expect("watch")
        .boxed();
    api.create(
        &PostParams::default(),
        &pod("b", "sleep 30", "busybox", "Never"),
    )
    .await
    .expect("b");
    let added = tokio::time::timeout(PATIENCE, async {
        while let Some(event) = stream.try_next().await.expect("event") {
            if let WatchEvent::Added(p) = event {
                return p.metadata.name;
            }
        }
        None
    })
    .await
    .expect("in time");
    assert_eq!(added.as_deref(), Some("b"));

    sim.sim().store.set_history_limit(1);
    for name in ["c", "d"] {
        api.create(
            &PostParams::default(),
            &pod(name, "true", "busybox", "Never"),
        )
        .await
        .expect("pod");
    }
    let mut stale = api
        .watch(&WatchParams::default(), &seen)
        .await
        .expect("watch opens")
        .boxed();
    match stale.try_next().await.expect("an event") {
        Some(WatchEvent::Error(e)) => assert_eq!(e.code, 410),
        other => panic!("expected 410 Gone, got {other:?}"),
    }
    sim.stop().await;
}

#[tokio::test]
async fn pods_run_their_commands_with_real_exit_codes_and_logs() {
    let (sim, client) = start().await;
    namespace(&client, "run").await;
    let api: Api<Pod> = Api::namespaced(client.clone(), "run");
    api.create(
        &PostParams::default(),
        &pod(
            "quick",
            "echo hello; echo world >&2; exit 3",
            "busybox",
            "Never",
        ),
    )
    .await
    .expect("pod");
    let done = wait_for(&api, "quick", "pod fails", phase_is("Failed"))
        .await
        .expect("pod");
    let state = done
        .status
        .and_then(|s| s.container_statuses)
        .expect("statuses")[0]
        .state
        .clone()
        .expect("state");
    assert_eq!(state.terminated.expect("terminated").exit_code, 3);
    // The pod finished before anyone asked for its logs: every line is still there.
    let logs = api
        .logs("quick", &LogParams::default())
        .await
        .expect("logs");
    assert_eq!(logs.lines().collect::<Vec<_>>().len(), 2);
    assert!(logs.contains("hello") && logs.contains("world"), "{logs}");
    sim.stop().await;
}

#[tokio::test]
async fn native_sidecars_run_beside_the_main_container_and_stop_after_it() {
    let (sim, client) = start().await;
    namespace(&client, "side").await;
    let api: Api<Pod> = Api::namespaced(client.clone(), "side");
    // The sidecar is running before the main container starts, is told to stop (SIGTERM)
    // once it ended, and what it does then happens before the pod has finished.
    let sidecar =
        "trap 'echo main said: $(cat said); exit 0' TERM; touch up; while :; do sleep 0.05; done";
    let main = "for i in $(seq 100); do [ -e up ] && break; sleep 0.05; done; [ -e up ] || exit 9; echo hi > said";
    let manifest = json!({
        "metadata": { "name": "with-sidecar" },
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 5,
            "initContainers": [{ "name": "upload", "image": "busybox", "restartPolicy": "Always", "command": ["sh", "-c", sidecar] }],
            "containers": [{ "name": "main", "image": "busybox", "command": ["sh", "-c", main] }],
        }
    });
    let created = api
        .create(
            &PostParams::default(),
            &serde_json::from_value(manifest).expect("pod"),
        )
        .await
        .expect("pod");
    assert_eq!(
        created.spec.expect("spec").init_containers.expect("init")[0]
            .restart_policy
            .as_deref(),
        Some("Always")
    );
    let done = wait_for(&api, "with-sidecar", "pod succeeds", phase_is("Succeeded"))
        .await
        .expect("pod");
    let status = done.status.expect("status");
    let main_exit = status.container_statuses.expect("statuses")[0]
        .state
        .clone()
        .and_then(|s| s.terminated)
        .expect("main ended");
    assert_eq!(
        main_exit.exit_code, 0,
        "the main container saw the sidecar running"
    );
    let sidecar_exit = status.init_container_statuses.expect("init statuses")[0]
        .state
        .clone()
        .and_then(|s| s.terminated)
        .expect("sidecar ended");
    assert_eq!(sidecar_exit.exit_code, 0, "it stopped on SIGTERM, as asked");
    let logs = api
        .logs(
            "with-sidecar",
            &LogParams {
                container: Some("upload".into()),
                ..LogParams::default()
            },
        )
        .await
        .expect("sidecar logs");
    assert_eq!(logs.trim(), "main said: hi");
    sim.stop().await;
}

#[tokio::test]
async fn following_logs_delivers_every_line_once_in_order() {
    let (sim, client) = start().await;
    namespace(&client, "follow").await;
    let api: Api<Pod> = Api::namespaced(client.clone(), "follow");
    let script = "for i in $(seq 1 50); do echo line-$i; sleep 0.01; done";
    api.create(
        &PostParams::default(),
        &pod("counter", script, "busybox", "Never"),
    )
    .await
    .expect("pod");
    wait_for(&api, "counter", "pod starts", |p: Option<&Pod>| {
        phase_is("Running")(p) || phase_is("Succeeded")(p)
    })
    .await;
    let stream = api
        .log_stream(
            "counter",
            &LogParams {
                follow: true,
                ..LogParams::default()
            },
        )
        .await
        .expect("stream");
    let lines: Vec<String> = tokio::time::timeout(PATIENCE, stream.lines().try_collect())
        .await
        .expect("ends when the container exits")
        .expect("lines");
    let expected: Vec<String> = (1..=50).map(|i| format!("line-{i}")).collect();
    assert_eq!(lines, expected);
    sim.stop().await;
}

#[tokio::test]
async fn missing_images_and_crashing_containers_show_their_reasons() {
    let (sim, client) = start().await;
    namespace(&client, "bad").await;
    let api: Api<Pod> = Api::namespaced(client.clone(), "bad");
    api.create(
        &PostParams::default(),
        &pod("pull", "true", "registry.local/app:missing", "Always"),
    )
    .await
    .expect("pod");
    api.create(
        &PostParams::default(),
        &pod("crash", "echo boom; exit 1", "busybox", "Always"),
    )
    .await
    .expect("pod");
    let waiting_reason = |reason: &'static str| {
        move |p: Option<&Pod>| {
            p.and_then(|p| {
                p.status
                    .as_ref()?
                    .container_statuses
                    .as_ref()?
                    .first()?
                    .state
                    .as_ref()?
                    .waiting
                    .as_ref()?
                    .reason
                    .clone()
            })
            .as_deref()
                == Some(reason)
        }
    };
    let pull = wait_for(
        &api,
        "pull",
        "image pull back-off",
        waiting_reason("ImagePullBackOff"),
    )
    .await
    .expect("pod");
    let message = pull
        .status
        .and_then(|s| s.container_statuses)
        .expect("statuses")[0]
        .state
        .clone()
        .and_then(|s| s.waiting)
        .and_then(|w| w.message);
    assert!(message.is_some_and(|m| m.contains("registry.local/app:missing")));
    let crash = wait_for(
        &api,
        "crash",
        "crash loop",
        waiting_reason("CrashLoopBackOff"),
    )
    .await
    .expect("pod");
    assert!(
        crash
            .status
            .and_then(|s| s.container_statuses)
            .expect("statuses")[0]
            .restart_count
            >= 2
    );
    sim.stop().await;
}

#[tokio::test]
async fn injected_failures_reach_the_client_once_each() {
    let (sim, client) = start().await;
    let api: Api<Namespace> = Api::all(client.clone());
    sim.sim().knobs.fail_next(&[500]);
    match api
        .list(&ListParams::default())
        .await
        .expect_err("injected")
    {
        kube::Error::Api(e) => assert_eq!((e.code, e.reason.as_str()), (500, "InternalError")),
        other => panic!("{other:?}"),
    }
    assert!(
        api.list(&ListParams::default())
            .await
            .expect("then it answers")
            .items
            .len()
            >= 2
    );
    // kube-rs retries 429 Too Many Requests (honouring Retry-After) on its own.
    sim.sim().knobs.fail_next(&[429]);
    assert!(
        api.list(&ListParams::default())
            .await
            .expect("retried past the 429")
            .items
            .len()
            >= 2
    );
    // The standalone binary's way to the same knob: POST /kube-sim/fail-next.
    let request = axum::http::Request::post("/kube-sim/fail-next")
        .header("content-type", "application/json")
        .body(br#"{"codes":[500]}"#.to_vec())
        .expect("request");
    client.request_text(request).await.expect("failures queued");
    match api
        .list(&ListParams::default())
        .await
        .expect_err("injected over HTTP")
    {
        kube::Error::Api(e) => assert_eq!(e.code, 500),
        other => panic!("{other:?}"),
    }
    api.list(&ListParams::default())
        .await
        .expect("then it answers");
    sim.stop().await;
}
