//! Run-to-completion pods (pipeline steps): the manifest with the Kubernetes "restricted"
//! security profile, creation, waiting for the end, and following logs.

use std::collections::BTreeMap;
use std::time::Duration;

use domain::cluster::{
    ClusterError, ContainerExit, ContainerRun, MANAGED_BY_LABEL, MANAGED_BY_VALUE, PodOutcome,
    PodRun, Result,
};
use futures::stream::BoxStream;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use kube::Client;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::wait::await_condition;
use serde_json::{Value, json};

use super::errors::retrying_for;

/// Reasons a container never starts; the pod will not finish by itself.
const STUCK: [&str; 4] = [
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CreateContainerConfigError",
];

fn container(run: &ContainerRun) -> Value {
    let env: Vec<Value> = run
        .env
        .iter()
        .map(|(name, value)| json!({ "name": name, "value": value }))
        .collect();
    let mut container = json!({
        "name": run.name,
        "image": run.image,
        "env": env,
        "workingDir": "/workspace",
        "volumeMounts": [{ "name": "workspace", "mountPath": "/workspace" }, { "name": "tmp", "mountPath": "/tmp" }],
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "runAsNonRoot": true,
            "capabilities": { "drop": ["ALL"] },
            "seccompProfile": { "type": "RuntimeDefault" },
        },
    });
    if !run.command.is_empty() {
        container["command"] = json!(run.command);
    }
    if let Some(secret) = &run.env_from_secret {
        container["envFrom"] = json!([{ "secretRef": { "name": secret } }]);
    }
    if run.sidecar {
        container["restartPolicy"] = json!("Always");
    }
    if let Some((cpu, memory)) = &run.limits {
        let amounts = json!({ "cpu": cpu, "memory": memory });
        container["resources"] = json!({ "limits": amounts, "requests": amounts });
    }
    container
}

/// The Pod Slipway creates for `run`: restricted security context, writable emptyDir volumes
/// for /workspace and /tmp only, no service-account token, never restarted.
pub fn pod_manifest(run: &PodRun) -> Result<Pod> {
    let mut labels: BTreeMap<String, String> = run.labels.clone();
    labels.insert(MANAGED_BY_LABEL.to_owned(), MANAGED_BY_VALUE.to_owned());
    let mut spec = json!({
        "restartPolicy": "Never",
        "automountServiceAccountToken": false,
        "enableServiceLinks": false,
        "securityContext": {
            "runAsNonRoot": true,
            "runAsUser": 1000,
            "runAsGroup": 1000,
            "fsGroup": 1000,
            "seccompProfile": { "type": "RuntimeDefault" },
        },
        "volumes": [{ "name": "workspace", "emptyDir": {} }, { "name": "tmp", "emptyDir": {} }],
        "initContainers": run.init_containers.iter().map(container).collect::<Vec<_>>(),
        "containers": run.containers.iter().map(container).collect::<Vec<_>>(),
    });
    if let Some(deadline) = run.deadline {
        spec["activeDeadlineSeconds"] = json!(deadline.as_secs().max(1));
    }
    let manifest = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": run.name, "namespace": run.namespace, "labels": labels },
        "spec": spec,
    });
    serde_json::from_value(manifest)
        .map_err(|e| ClusterError::Invalid(format!("pod manifest: {e}")))
}

pub async fn create(client: &Client, run: &PodRun) -> Result<()> {
    let pod = pod_manifest(run)?;
    let api: Api<Pod> = Api::namespaced(client.clone(), &run.namespace);
    let params = PostParams {
        field_manager: Some(domain::cluster::FIELD_MANAGER.to_owned()),
        ..PostParams::default()
    };
    retrying_for("create a pod", "pod", &run.name, || {
        api.create(&params, &pod)
    })
    .await
    .map(|_| ())
}

fn exits(statuses: Option<&Vec<ContainerStatus>>) -> Vec<ContainerExit> {
    statuses
        .into_iter()
        .flatten()
        .filter_map(|s| {
            let terminated = s.state.as_ref()?.terminated.as_ref()?;
            Some(ContainerExit {
                name: s.name.clone(),
                exit_code: terminated.exit_code,
                reason: terminated.reason.clone(),
            })
        })
        .collect()
}

/// The scheduler's message when `pod` fits on no node.
pub fn unschedulable(pod: &Pod) -> Option<String> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| {
            c.type_ == "PodScheduled"
                && c.status == "False"
                && c.reason.as_deref() == Some("Unschedulable")
        })
        .map(|c| c.message.clone().unwrap_or_default())
}

fn stuck_reason(pod: &Pod) -> Option<(String, Option<String>)> {
    if let Some(message) = unschedulable(pod) {
        return Some(("Unschedulable".into(), Some(message)));
    }
    let status = pod.status.as_ref()?;
    status
        .init_container_statuses
        .iter()
        .chain(status.container_statuses.iter())
        .flatten()
        .filter_map(|s| s.state.as_ref()?.waiting.as_ref())
        .find(|w| w.reason.as_deref().is_some_and(|r| STUCK.contains(&r)))
        .map(|w| (w.reason.clone().unwrap_or_default(), w.message.clone()))
}

fn phase(pod: &Pod) -> Option<&str> {
    pod.status.as_ref()?.phase.as_deref()
}

pub async fn wait_finished(
    client: &Client,
    namespace: &str,
    name: &str,
    limit: Duration,
) -> Result<PodOutcome> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let finished = |pod: Option<&Pod>| {
        pod.is_none_or(|p| {
            matches!(phase(p), Some("Succeeded" | "Failed")) || stuck_reason(p).is_some()
        })
    };
    let pod = match tokio::time::timeout(limit, await_condition(api, name, finished)).await {
        Ok(Ok(Some(pod))) => pod,
        Ok(Ok(None)) => {
            return Err(ClusterError::NotFound {
                kind: "pod",
                name: name.to_owned(),
            });
        }
        Ok(Err(error)) => return Err(ClusterError::Unavailable(Box::new(error))),
        Err(_) => return Err(super::timeout(format!("pod `{name}` to finish"), limit)),
    };
    if let Some((reason, message)) = stuck_reason(&pod) {
        return Ok(PodOutcome {
            succeeded: false,
            reason: Some(reason),
            message,
            containers: Vec::new(),
        });
    }
    let status = pod.status.as_ref();
    let mut containers = exits(status.and_then(|s| s.init_container_statuses.as_ref()));
    containers.extend(exits(status.and_then(|s| s.container_statuses.as_ref())));
    Ok(PodOutcome {
        succeeded: phase(&pod) == Some("Succeeded"),
        reason: status.and_then(|s| s.reason.clone()),
        message: status.and_then(|s| s.message.clone()),
        containers,
    })
}

/// Waits until `container` has started (or finished), so its log can be opened.
async fn wait_started(api: &Api<Pod>, pod: &str, container: &str) -> Result<()> {
    let started = |p: Option<&Pod>| {
        p.is_none_or(|p| {
            let status = p.status.as_ref();
            let all = status
                .and_then(|s| s.init_container_statuses.as_ref())
                .into_iter()
                .flatten()
                .chain(
                    status
                        .and_then(|s| s.container_statuses.as_ref())
                        .into_iter()
                        .flatten(),
                );
            all.filter(|s| s.name == container).any(|s| {
                s.state
                    .as_ref()
                    .is_some_and(|st| st.running.is_some() || st.terminated.is_some())
            }) || stuck_reason(p).is_some()
        })
    };
    match await_condition(api.clone(), pod, started).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(ClusterError::NotFound {
            kind: "pod",
            name: pod.to_owned(),
        }),
        Err(error) => Err(ClusterError::Unavailable(Box::new(error))),
    }
}

pub async fn follow_logs(
    client: &Client,
    namespace: &str,
    pod: &str,
    container: &str,
) -> Result<BoxStream<'static, Result<String>>> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    wait_started(&api, pod, container).await?;
    Ok(super::logs::follow(api, pod, container))
}

pub async fn delete(client: &Client, namespace: &str, name: &str) -> Result<()> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let params = DeleteParams::background();
    match retrying_for("delete a pod", "pod", name, || api.delete(name, &params)).await {
        Ok(_) | Err(ClusterError::NotFound { .. }) => Ok(()),
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> PodRun {
        PodRun {
            namespace: "slipway-pipelines".into(),
            name: "p-1-build".into(),
            labels: [("slipway.dev/pipeline".to_owned(), "1".to_owned())].into(),
            init_containers: vec![ContainerRun {
                name: "clone".into(),
                image: "alpine/git".into(),
                command: vec!["git".into(), "clone".into()],
                ..ContainerRun::default()
            }],
            containers: vec![ContainerRun {
                name: "step".into(),
                image: "rust:1.95".into(),
                command: vec!["sh".into(), "-c".into(), "cargo test".into()],
                limits: Some(("500m".into(), "512Mi".into())),
                ..ContainerRun::default()
            }],
            deadline: Some(Duration::from_secs(600)),
        }
    }

    /// The Pod Security Standard "restricted" profile, checked field by field.
    #[test]
    fn every_pod_meets_the_restricted_pod_security_standard() {
        let pod = pod_manifest(&run()).expect("manifest");
        let spec = pod.spec.expect("spec");
        let pod_context = spec.security_context.expect("pod security context");
        assert_eq!(pod_context.run_as_non_root, Some(true));
        assert_eq!(
            pod_context.seccomp_profile.expect("seccomp").type_,
            "RuntimeDefault"
        );
        assert_eq!(spec.automount_service_account_token, Some(false));
        assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
        assert_eq!(spec.active_deadline_seconds, Some(600));
        for c in spec
            .init_containers
            .expect("init")
            .iter()
            .chain(spec.containers.iter())
        {
            let sc = c
                .security_context
                .as_ref()
                .expect("container security context");
            assert_eq!(sc.allow_privilege_escalation, Some(false), "{}", c.name);
            assert_eq!(sc.read_only_root_filesystem, Some(true), "{}", c.name);
            assert_eq!(sc.run_as_non_root, Some(true), "{}", c.name);
            assert_eq!(
                sc.capabilities.as_ref().and_then(|cap| cap.drop.clone()),
                Some(vec!["ALL".to_owned()]),
                "{}",
                c.name
            );
            assert!(
                sc.capabilities
                    .as_ref()
                    .and_then(|cap| cap.add.as_ref())
                    .is_none(),
                "{}",
                c.name
            );
            let mounts: Vec<&str> = c
                .volume_mounts
                .iter()
                .flatten()
                .map(|m| m.mount_path.as_str())
                .collect();
            assert_eq!(
                mounts,
                ["/workspace", "/tmp"],
                "writes go to emptyDir volumes only"
            );
        }
        for volume in spec.volumes.expect("volumes") {
            assert!(
                volume.empty_dir.is_some() && volume.host_path.is_none(),
                "{}",
                volume.name
            );
        }
        assert_eq!(
            pod.metadata
                .labels
                .expect("labels")
                .get(MANAGED_BY_LABEL)
                .map(String::as_str),
            Some(MANAGED_BY_VALUE)
        );
    }
}
