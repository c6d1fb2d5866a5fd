//! The ClusterRole Slipway ships (deploy/kubernetes/base), proven enough and no more against
//! kube-sim authorising every request by RBAC, with Slipway holding only that role through
//! its ServiceAccount's token: a pull request's pipeline runs, its preview deploys, its page
//! shows pods, events and usage, its logs are read, the Operator page measures it, a transform
//! run over its repository runs as a Job and closing removes it. With any one rule taken out, some of that fails, and what the user sees names
//! the API server's 403 for a resource of that rule.

use serde_json::Value;

use crate::preview_support::{PIPELINE_AND_PREVIEW as APP, World};

const NUMBER: i64 = 5;
const NAMESPACE: &str = "pr-acme-shop-5";

fn shipped(file: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/kubernetes/base")
        .join(file);
    let text = std::fs::read_to_string(&path).expect("a shipped manifest");
    serde_saphyr::from_str(&text).expect("YAML")
}

/// A kube-sim that authorises by RBAC, `role` bound to ServiceAccount slipway/slipway by the
/// shipped binding; and Slipway's kubeconfig as that ServiceAccount.
async fn cluster_granting(
    role: &Value,
) -> (kube_sim::KubeSim, server::cluster::KubeCluster, String) {
    use kube_sim::resources::{CLUSTER_ROLE_BINDINGS, CLUSTER_ROLES, NAMESPACES};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    // As slow as a small real cluster, so that what is watched is watched, not found done.
    let knobs = kube_sim::KnobSettings {
        pod_start_delay_ms: 300,
        deployment_ready_delay_ms: 1_500,
        namespace_deletion_delay_ms: 1_000,
        ..kube_sim::KnobSettings::default()
    };
    let options = kube_sim::Options {
        authorize: true,
        knobs,
        ..kube_sim::Options::default()
    };
    let sim = kube_sim::KubeSim::start(listener, options)
        .await
        .expect("kube-sim");
    let store = &sim.sim().store;
    store
        .create(
            &NAMESPACES,
            "",
            serde_json::json!({ "metadata": { "name": "slipway" } }),
        )
        .expect("Slipway's namespace");
    store
        .create(&CLUSTER_ROLES, "", role.clone())
        .expect("the ClusterRole");
    store
        .create(
            &CLUSTER_ROLE_BINDINGS,
            "",
            shipped("clusterrolebinding.yaml"),
        )
        .expect("the ClusterRoleBinding");
    let admin = server::cluster::KubeCluster::from_kubeconfig_yaml(&sim.kubeconfig(), "kube-sim")
        .await
        .expect("the administrator's client");
    let kubeconfig = sim.kubeconfig_for_service_account("slipway", "slipway");
    (sim, admin, kubeconfig)
}

/// The pipeline's pods and Secrets still there (not being deleted) once its run has ended:
/// Slipway removes what it made for a step before the run ends.
async fn left_behind(world: &World) -> Vec<String> {
    use k8s_openapi::api::core::v1::{Pod, Secret};
    use kube::{Api, ResourceExt};
    let client = world.cluster.client();
    let namespace = "slipway-pipelines";
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let secrets: Api<Secret> = Api::namespaced(client, namespace);
    let params = kube::api::ListParams::default();
    let mut left: Vec<String> = Vec::new();
    for pod in pods
        .list(&params)
        .await
        .map(|l| l.items)
        .unwrap_or_default()
    {
        if pod.metadata.deletion_timestamp.is_none() {
            left.push(format!("left behind: pod {}", pod.name_any()));
        }
    }
    for secret in secrets
        .list(&params)
        .await
        .map(|l| l.items)
        .unwrap_or_default()
    {
        left.push(format!("left behind: secret {}", secret.name_any()));
    }
    left
}

async fn get(world: &World, path: &str) -> (u16, Value) {
    let response = world
        .server
        .http
        .get(world.server.url(path))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A transform run over the repository, as a Job in the runs namespace: what went wrong, as
/// its execution says (its first failed attempt is enough: the rest would say the same).
async fn transform_run(world: &World) -> Vec<String> {
    let spec = format!(
        "name: note\nrepositories: [{}]\nsteps:\n  - name: note\n    image: alpine\n    commands: ['echo hi > NOTE.md']\n",
        crate::preview_support::REPOSITORY
    );
    let (status, run) = crate::transforms_local::start(&world.server, &spec).await;
    let Some(id) = run["id"].as_i64().filter(|_| status == 201) else {
        return vec![format!("transform start: {run}")];
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let executions = crate::transforms_local::executions(&world.server, id).await;
        let execution = &executions[0];
        match (execution["status"].as_str(), execution["reason"].as_str()) {
            (Some("succeeded"), _) => return Vec::new(),
            (Some("pending" | "scheduled" | "running"), None) => {}
            (_, reason) => return vec![format!("transform: {}", reason.unwrap_or_default())],
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the transform run did not end: {execution}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Runs a pull request's life with Slipway holding `role`; what went wrong, as the user sees it
/// (a preview's or run's reason, an error on a page), empty when everything worked.
async fn pull_request_life(role: &Value) -> Vec<String> {
    let (sim, admin, kubeconfig) = cluster_granting(role).await;
    let mut world =
        World::start_with_kubeconfig(sim, admin, &[(".platform.yaml", APP)], kubeconfig).await;
    let mut seen = Vec::new();
    let sha = world.first_sha.clone();
    let mut runs = crate::pipeline_support::RunWatcher::new(&world.server).await;
    world.pull_request("opened", NUMBER, &sha).await;
    let (_, listed) = get(&world, &format!("/api/pipelines?pull_request={NUMBER}")).await;
    let run = listed["items"][0]["id"]
        .as_i64()
        .expect("a run for the pull request");
    let ended = runs
        .until(&world.server, run, &["succeeded", "failed"])
        .await;
    if ended["status"] != "succeeded" {
        seen.push(format!("pipeline: {}", ended["reason"]));
        for step in ended["steps"].as_array().into_iter().flatten() {
            seen.push(format!("step: {}", step["reason"]));
        }
    }
    seen.extend(left_behind(&world).await);
    let log = world
        .server
        .http
        .get(
            world
                .server
                .url(&format!("/api/pipelines/{run}/steps/test/logs")),
        )
        .send()
        .await
        .expect("the step's log");
    let log = log.text().await.unwrap_or_default();
    seen.extend(
        log.lines()
            .filter(|line| line.starts_with("slipway: cannot read"))
            .map(|line| format!("step log: {line}")),
    );
    seen.extend(transform_run(&world).await);
    let detail = world
        .until(NAMESPACE, &["running", "failed"], Some(&sha))
        .await;
    if detail["preview"]["status"] != "running" {
        seen.push(format!("preview: {}", detail["preview"]["reason"]));
    } else {
        let (_, detail) = get(&world, &format!("/api/previews/{NAMESPACE}")).await;
        if !detail["cluster_error"].is_null() {
            seen.push(format!("preview page: {}", detail["cluster_error"]));
        }
        let (status, logs) = get(&world, &format!("/api/previews/{NAMESPACE}/logs")).await;
        if status != 200 {
            seen.push(format!("preview logs: {logs}"));
        }
        let (_, usage) = get(&world, "/api/operator/usage").await;
        let text = usage.to_string();
        if text.contains("forbidden") {
            seen.push(format!("operator page: {text}"));
        }
    }
    world.pull_request("closed", NUMBER, &sha).await;
    let removed = world
        .until(NAMESPACE, &["deleted", "cleanup_failed", "failed"], None)
        .await;
    if removed["preview"]["status"] != "deleted" {
        seen.push(format!("removal: {}", removed["preview"]["reason"]));
    }
    world.server.stop().await;
    // Read as text, not as JSON with its quotes escaped.
    seen.into_iter()
        .map(|said| said.replace("\\\"", "\""))
        .collect()
}

#[tokio::test]
async fn with_only_the_shipped_cluster_role_a_pull_request_s_whole_life_works() {
    let seen = pull_request_life(&shipped("clusterrole.yaml")).await;
    assert!(seen.is_empty(), "{seen:#?}");
}

#[tokio::test]
async fn without_any_one_of_its_rules_something_a_user_sees_fails_with_that_403() {
    let role = shipped("clusterrole.yaml");
    let rules = role["rules"].as_array().expect("rules").clone();
    for (index, rule) in rules.iter().enumerate() {
        let mut fewer = role.clone();
        fewer["rules"].as_array_mut().expect("rules").remove(index);
        let seen = pull_request_life(&fewer).await;
        let resources: Vec<&str> = rule["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let groups: Vec<&str> = rule["apiGroups"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let named = seen.iter().find(|said| {
            said.contains("is forbidden: User \"system:serviceaccount:slipway:slipway\" cannot")
                && resources
                    .iter()
                    .any(|r| said.contains(&format!("resource \"{r}\"")))
                && groups
                    .iter()
                    .any(|g| said.contains(&format!("in API group \"{g}\"")))
        });
        println!("without rule {index} ({resources:?}): {named:?}");
        assert!(
            named.is_some(),
            "rule {index} ({resources:?}) is not needed by anything tried, or its 403 is not shown: {seen:#?}"
        );
    }
}
