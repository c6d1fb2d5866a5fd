//! Transform runs as Kubernetes Jobs, through kube-sim (real kube-rs over HTTP): the Job's pod
//! clones the base commit, runs the steps, and its native sidecar uploads the patch through a
//! link signed for that attempt; the Job, its pod and Secrets are as the issue asks (retries
//! left to the queue, the overall timeout as the Job's deadline, the restricted security
//! context, the clone's token and the upload link each readable by one container) and are gone
//! afterwards; the runs namespace denies egress but DNS, Slipway and the configured ranges.

use std::time::Duration;

use domain::cluster::{Cluster, ObjectKind};
use serde_json::{Value, json};

use crate::pipeline_support::{add_project, git, sample_repository};
use crate::support::TestServer;
use crate::transforms_local::{
    BUMP, executions, finished, of, post, start, text, two_repositories, until_run,
};

const NAMESPACE: &str = "slipway-transforms";

const fn kind(api_version: &'static str, kind: &'static str) -> ObjectKind<'static> {
    ObjectKind { api_version, kind }
}

const JOB: ObjectKind<'static> = ObjectKind::JOB;
const POD: ObjectKind<'static> = ObjectKind::POD;
const SECRET: ObjectKind<'static> = ObjectKind::SECRET;

fn cluster(server: &TestServer) -> std::sync::Arc<dyn Cluster> {
    server.running.adapters.clusters[0].cluster.clone()
}

async fn server_on_kube_sim() -> TestServer {
    TestServer::start(&[
        ("SLIPWAY_CLUSTER", "sim".to_owned()),
        (
            "SLIPWAY_TRANSFORM_EGRESS_CIDRS",
            "140.82.112.0/20,192.30.252.0/22".to_owned(),
        ),
    ])
    .await
}

/// What is left in the runs namespace of `run`'s attempts.
async fn left_of_run(server: &TestServer, run: i64) -> Vec<String> {
    let selector = format!("slipway.dev/transform-run={run}");
    let mut left = Vec::new();
    for kind in [JOB, POD, SECRET] {
        let found = cluster(server)
            .list_objects(NAMESPACE, kind, &selector)
            .await
            .expect("list");
        left.extend(found.iter().map(|o| format!("{}/{}", kind.kind, o.name())));
    }
    left
}

#[tokio::test]
async fn a_run_on_kubernetes_keeps_the_patch_its_sidecar_uploaded_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (api, web) = two_repositories(dir.path());
    let server = server_on_kube_sim().await;
    let api_id = add_project(&server, "acme/api", &api).await;
    let web_id = add_project(&server, "acme/web", &web).await;
    for project in [api_id, web_id] {
        let response = server
            .http
            .put(server.url(&format!("/api/projects/{project}/secrets/REGISTRY_TOKEN")))
            .json(&json!({ "value": "registry-secret-value-42" }))
            .send()
            .await
            .expect("secret");
        assert!(response.status().is_success(), "{}", response.status());
    }
    let (status, run) = start(&server, BUMP).await;
    assert_eq!(status, 201, "{run}");
    let id = run["id"].as_i64().expect("id");
    let run = until_run(&server, id, finished).await;
    assert_eq!(run["status"], "completed", "{run}");

    let all = executions(&server, id).await;
    let api_run = of(&all, "acme/api");
    assert_eq!(api_run["status"], "succeeded", "{api_run}");
    assert_eq!(api_run["ready_to_publish"], true);
    let web_run = of(&all, "acme/web");
    assert_eq!(web_run["status"], "no_changes", "{web_run}");
    assert_eq!(web_run["ready_to_publish"], false);

    // The patch the sidecar uploaded applies to a fresh clone, binary file and all.
    let (status, patch) = text(&server, api_run["patch_url"].as_str().expect("patch url")).await;
    assert_eq!(status, 200);
    git(
        dir.path(),
        &["clone", "--quiet", &api.display().to_string(), "fresh"],
    );
    std::fs::write(dir.path().join("patch.diff"), &patch).expect("write patch");
    let fresh = dir.path().join("fresh");
    git(&fresh, &["apply", "--check", "../patch.diff"]);
    git(&fresh, &["apply", "../patch.diff"]);
    assert_eq!(
        std::fs::read(fresh.join("data.bin")).expect("read"),
        [0, 1, 2, 255]
    );
    let files: Vec<&str> = api_run["diff"]["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert_eq!(files, ["Cargo.toml", "NEW.md", "data.bin"]);

    // The log is the main container's, read through the API server, without the secrets.
    let (_, log) = text(&server, api_run["log_url"].as_str().expect("url")).await;
    assert!(
        log.contains(&format!(
            "slipway: the transform runs in Job {NAMESPACE}/tf-"
        )),
        "{log}"
    );
    assert!(log.contains("::slipway:: step check"), "{log}");
    assert!(log.contains("using *** and ***"), "{log}");
    assert!(!log.contains("registry-secret-value-42"), "{log}");

    // Nothing of the attempts is left; the namespace and its policy are there.
    assert_eq!(left_of_run(&server, id).await, Vec::<String>::new());
    let namespace = cluster(&server)
        .get_namespace(NAMESPACE)
        .await
        .expect("namespace")
        .expect("exists");
    assert!(namespace.is_managed());
    assert_eq!(
        namespace
            .labels
            .get("pod-security.kubernetes.io/enforce")
            .map(String::as_str),
        Some("restricted")
    );
    let policy = cluster(&server)
        .get_object(
            NAMESPACE,
            kind("networking.k8s.io/v1", "NetworkPolicy"),
            "slipway-transform-egress",
        )
        .await
        .expect("read policy")
        .expect("the runs' policy")
        .0;
    assert_eq!(
        policy["spec"]["podSelector"],
        json!({}),
        "every pod of the runs"
    );
    assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    let egress = policy["spec"]["egress"].as_array().expect("egress");
    let ports: Vec<&Value> = egress[0]["ports"].as_array().expect("dns").iter().collect();
    assert!(ports.iter().all(|p| p["port"] == 53), "{egress:?}");
    assert_eq!(
        egress[1]["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
        "slipway"
    );
    assert_eq!(
        egress[2]["to"],
        json!([{ "ipBlock": { "cidr": "140.82.112.0/20" } }, { "ipBlock": { "cidr": "192.30.252.0/22" } }])
    );
    server.stop().await;
}

/// Waits until `run`'s first execution runs, looking again at each announced change of the
/// run (20 s at most); `changes` was subscribed before the run started.
async fn until_running(
    server: &TestServer,
    run: i64,
    changes: &mut futures::stream::BoxStream<'static, domain::BusEvent>,
) {
    use futures::StreamExt;
    let wait = async {
        while executions(server, run).await[0]["status"] != "running" {
            loop {
                match changes.next().await {
                    Some(domain::BusEvent::Changed {
                        entity: domain::EntityKind::TransformRun,
                        id,
                        ..
                    }) if id == run.to_string() => break,
                    Some(_) => {}
                    None => panic!("the bus closed"),
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .unwrap_or_else(|_| panic!("run {run} did not start"));
}

/// The next line of the followed log that contains `text` (20 s at most); every event read on
/// the way is kept in `seen`.
async fn until_line(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<crate::pipeline_support::Sse>,
    seen: &mut Vec<crate::pipeline_support::Sse>,
    text: &str,
) -> String {
    let wait = async {
        while let Some(event) = events.recv().await {
            let line = event.data["text"].as_str().unwrap_or_default().to_owned();
            seen.push(event);
            if line.contains(text) {
                return line;
            }
        }
        panic!("the log ended without {text:?}");
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .unwrap_or_else(|_| panic!("the log did not show {text:?}"))
}

#[tokio::test]
async fn the_job_is_locked_down_its_upload_link_opens_nothing_else_and_cancel_removes_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(dir.path(), &[("README.md", "# app\n")]);
    let server = server_on_kube_sim().await;
    add_project(&server, "acme/app", &repo).await;
    let spec = "name: wait\nrepositories: [acme/app]\ntimeout: 20m\nsteps:\n  - name: wait\n    image: alpine:3.20\n    commands: ['echo token ghp_abcdefghijklmnopqrstuvwxyz0123456789', 'echo waiting', 'sleep 60']\n";
    let mut changes = server
        .running
        .adapters
        .bus
        .subscribe()
        .await
        .expect("subscribe");
    let (status, run) = start(&server, spec).await;
    assert_eq!(status, 201, "{run}");
    let id = run["id"].as_i64().expect("id");
    let execution = executions(&server, id).await[0]["id"].as_i64().expect("id");
    until_running(&server, id, &mut changes).await;

    // Its log, followed live while it runs: it names the Job first.
    let path = format!("/api/runs/{id}/executions/{execution}/log");
    let (sender, mut events) = tokio::sync::mpsc::unbounded_channel();
    let follower = {
        let (http, url) = (server.http.clone(), server.url(&path));
        tokio::spawn(async move {
            crate::pipeline_support::stream_events(&http, url, None, sender).await
        })
    };
    let mut seen = Vec::new();
    let named = until_line(&mut events, &mut seen, "the transform runs in Job").await;
    let job_name = named
        .split_once(&format!("Job {NAMESPACE}/"))
        .and_then(|(_, rest)| rest.split(' ').next())
        .expect("the Job's name")
        .to_owned();
    let job = cluster(&server)
        .get_object(NAMESPACE, JOB, &job_name)
        .await
        .expect("read the Job")
        .expect("the Job")
        .0;

    // Retries belong to the queue; the overall timeout is the Job's deadline.
    assert_eq!(job["spec"]["backoffLimit"], 0);
    assert_eq!(job["spec"]["activeDeadlineSeconds"], 1200);
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 1000);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let init = pod["initContainers"].as_array().expect("init containers");
    let names: Vec<&str> = init.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["clone", "upload"]);
    assert_eq!(
        init[1]["restartPolicy"], "Always",
        "the uploader is a native sidecar"
    );
    let main = &pod["containers"][0];
    assert_eq!(main["image"], "alpine:3.20");
    for container in init.iter().chain([main]) {
        let security = &container["securityContext"];
        assert_eq!(security["readOnlyRootFilesystem"], true, "{container}");
        assert_eq!(security["allowPrivilegeEscalation"], false, "{container}");
        assert_eq!(
            security["capabilities"]["drop"],
            json!(["ALL"]),
            "{container}"
        );
    }
    // The upload link is in the sidecar's Secret only.
    let secret_of = |c: &Value| {
        c["envFrom"][0]["secretRef"]["name"]
            .as_str()
            .map(str::to_owned)
    };
    assert_eq!(secret_of(&init[1]), Some(format!("{job_name}-upload")));
    assert_eq!(secret_of(main), Some(format!("{job_name}-env")));
    let upload = cluster(&server)
        .get_object(NAMESPACE, SECRET, &format!("{job_name}-upload"))
        .await
        .expect("read")
        .expect("the upload Secret")
        .0;
    let data = |key: &str| {
        let encoded = upload["data"][key].as_str().expect("data");
        let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded)
            .expect("base64");
        String::from_utf8(bytes).expect("utf-8")
    };
    let (url, query) = (data("SLIPWAY_UPLOAD_URL"), data("SLIPWAY_UPLOAD_QUERY"));
    assert!(
        url.ends_with(&format!("/api/transform-uploads/{execution}/{job_name}/")),
        "{url}"
    );
    let put = |url: String| {
        let http = server.anonymous.clone();
        async move {
            http.put(url)
                .body("diff --git a/x b/x\n")
                .send()
                .await
                .expect("put")
                .status()
                .as_u16()
        }
    };
    let other_execution = url.replace(
        &format!("/{execution}/"),
        &format!("/{}/", execution + 1000),
    );
    assert_eq!(
        put(format!("{other_execution}patch.diff?{query}")).await,
        403,
        "another execution"
    );
    let other_attempt = url.replace(&job_name, &format!("tf-{execution}-000000"));
    assert_eq!(
        put(format!("{other_attempt}patch.diff?{query}")).await,
        403,
        "another attempt"
    );
    assert_eq!(put(format!("{url}patch.diff")).await, 403, "unsigned");
    assert_eq!(
        put(format!("{url}summary.json?{query}")).await,
        404,
        "not a file it uploads"
    );

    // Cancelled once the step runs: the execution says so and the Job, its pod and Secrets go.
    until_line(&mut events, &mut seen, "waiting").await;
    let (status, _) = post(&server, &format!("/api/runs/{id}/cancel")).await;
    assert_eq!(status, 200);
    let run = until_run(&server, id, finished).await;
    assert_eq!(run["status"], "cancelled", "{run}");
    assert_eq!(
        executions(&server, id).await[0]["reason"],
        "cancelled during step `wait`"
    );
    follower.await.expect("the follower");
    while let Ok(event) = events.try_recv() {
        seen.push(event);
    }
    let events = seen;
    let lines: Vec<&str> = events
        .iter()
        .filter(|e| e.event == "line")
        .filter_map(|e| e.data["text"].as_str())
        .collect();
    assert!(lines.contains(&"::slipway:: step wait"), "{lines:?}");
    assert!(
        lines.contains(&"token ***"),
        "masked as it streams: {lines:?}"
    );
    assert!(lines.contains(&"waiting"), "{lines:?}");
    let numbers: Vec<u64> = events
        .iter()
        .filter_map(|e| e.id.as_deref()?.parse().ok())
        .collect();
    assert_eq!(
        numbers,
        (1..=numbers.len() as u64).collect::<Vec<_>>(),
        "each line once, in order"
    );
    let end = events.last().expect("an end");
    assert_eq!(
        (end.event.as_str(), end.data["status"].as_str()),
        ("end", Some("cancelled"))
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !left_of_run(&server, id).await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "left behind: {:?}",
            left_of_run(&server, id).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn a_repository_that_cannot_be_cloned_is_retried_then_dead_lettered_saying_why_on_a_cluster_too()
 {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(&dir.path().join("gone"), &[("README.md", "# gone\n")]);
    let server = TestServer::start(&[
        ("SLIPWAY_CLUSTER", "sim".to_owned()),
        ("SLIPWAY_TRANSFORM_RETRY_SECONDS", "1".to_owned()),
    ])
    .await;
    add_project(&server, "acme/gone", &repo).await;
    // The repository disappears: every attempt fails to fetch the base commit.
    std::fs::rename(&repo, dir.path().join("moved")).expect("move away");
    let spec = "name: gone\nrepositories: [acme/gone]\nsteps:\n  - name: edit\n    image: alpine\n    commands: ['touch x']\n";
    let (status, run) = start(&server, spec).await;
    assert_eq!(status, 201, "{run}");
    let id = run["id"].as_i64().expect("id");
    let run = until_run(&server, id, finished).await;
    assert_eq!(run["status"], "partially_failed", "{run}");
    let execution = executions(&server, id).await[0].clone();
    assert_eq!(
        (execution["status"].as_str(), execution["attempts"].as_u64()),
        (Some("dead_lettered"), Some(3)),
        "{execution}"
    );
    let reason = execution["reason"].as_str().expect("reason");
    assert!(
        reason.starts_with("cannot clone ") && reason.contains("fatal: "),
        "git's own words: {reason}"
    );
    assert!(left_of_run(&server, id).await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn a_job_past_its_deadline_times_out_and_mixed_images_are_refused_on_a_cluster() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(dir.path(), &[("README.md", "# app\n")]);
    let server = server_on_kube_sim().await;
    add_project(&server, "acme/app", &repo).await;
    let spec = "name: slow\nrepositories: [acme/app]\ntimeout: 2s\nsteps:\n  - name: forever\n    image: alpine\n    commands: ['sleep 60']\n";
    let (status, run) = start(&server, spec).await;
    assert_eq!(status, 201, "{run}");
    let id = run["id"].as_i64().expect("id");
    let run = until_run(&server, id, finished).await;
    assert_eq!(run["status"], "partially_failed", "{run}");
    let execution = executions(&server, id).await[0].clone();
    assert_eq!(execution["status"], "timed_out", "{execution}");
    assert_eq!(
        execution["reason"],
        "the execution reached its 2s deadline during step `forever`"
    );

    let mixed = "name: mixed\nrepositories: [acme/app]\nsteps:\n  - name: a\n    image: node:22\n    commands: ['true']\n  - name: b\n    image: python:3.12\n    commands: ['true']\n";
    let (status, body) = start(&server, mixed).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "steps");
    assert_eq!(
        body["error"],
        "on a cluster all steps run in one container, so they must name one image: step `a` names `node:22` and step `b` names `python:3.12`"
    );
    server.stop().await;
}

#[tokio::test]
async fn slipway_stopping_mid_job_hands_the_execution_back_and_a_new_job_runs_it_once() {
    crate::transforms_states::stopped_mid_execution(&[("SLIPWAY_CLUSTER", "sim".to_owned())]).await;
}
