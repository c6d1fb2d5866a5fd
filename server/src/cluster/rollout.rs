//! Watching a Deployment's rollout (the Deployment and its pods, with watches) until every
//! replica is available, or until it fails for a reason a developer can act on.

use std::collections::HashMap;
use std::time::Duration;

use domain::cluster::{ClusterError, Result, RolloutOutcome};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};

use super::errors::retrying_for;

/// Log lines shown for a crashing container.
const EXCERPT_LINES: i64 = 20;
const PULL_FAILURES: [&str; 3] = ["ImagePullBackOff", "ErrImagePull", "InvalidImageName"];

enum Seen {
    Deployment(Box<Deployment>),
    Pod(Box<Pod>),
}

fn complete(d: &Deployment) -> bool {
    let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(status) = &d.status else {
        return false;
    };
    status.observed_generation >= d.metadata.generation
        && status.updated_replicas.unwrap_or(0) >= wanted
        && status.available_replicas.unwrap_or(0) >= wanted
        && status.replicas.unwrap_or(0) <= wanted
}

fn deadline_exceeded(d: &Deployment) -> Option<String> {
    d.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| {
            c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
        })
        .map(|c| c.message.clone().unwrap_or_default())
}

/// A ReplicaSet that cannot create pods (quota exceeded, ...): (reason, message).
fn replica_failure(d: &Deployment) -> Option<(String, String)> {
    let condition = d
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "ReplicaFailure" && c.status == "True")?;
    let message = condition.message.clone().unwrap_or_default();
    let reason = if message.contains("exceeded quota") {
        "QuotaExceeded".to_owned()
    } else {
        condition
            .reason
            .clone()
            .unwrap_or_else(|| "FailedCreate".into())
    };
    Some((reason, message))
}

/// The first container of `pod` stuck in a failure state: (reason, message, container).
fn pod_failure(pod: &Pod) -> Option<(String, String, String)> {
    if let Some(message) = super::pods::unschedulable(pod) {
        return Some(("Unschedulable".into(), message, String::new()));
    }
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    statuses.iter().find_map(|s| {
        let waiting = s.state.as_ref()?.waiting.as_ref()?;
        let reason = waiting.reason.clone()?;
        if PULL_FAILURES.contains(&reason.as_str()) {
            let message = format!(
                "image \"{}\" cannot be pulled: {}",
                s.image,
                waiting.message.clone().unwrap_or_default()
            );
            Some((reason, message, s.name.clone()))
        } else if reason == "CrashLoopBackOff" {
            Some((
                reason,
                format!(
                    "container \"{}\" keeps crashing (restarted {} times)",
                    s.name, s.restart_count
                ),
                s.name.clone(),
            ))
        } else {
            None
        }
    })
}

fn selector_of(d: &Deployment) -> String {
    d.spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.clone())
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

pub async fn wait(
    client: &Client,
    namespace: &str,
    name: &str,
    limit: Duration,
) -> Result<RolloutOutcome> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let Some(deployment) = retrying_for("read a deployment", "deployment", name, || {
        deployments.get_opt(name)
    })
    .await?
    else {
        return Err(ClusterError::NotFound {
            kind: "deployment",
            name: name.to_owned(),
        });
    };
    let selector = selector_of(&deployment);
    let deployment_events = watcher(
        deployments,
        watcher::Config::default().fields(&format!("metadata.name={name}")),
    )
    .applied_objects()
    .map_ok(|d| Seen::Deployment(Box::new(d)));
    let pod_events = watcher(pods.clone(), watcher::Config::default().labels(&selector))
        .applied_objects()
        .map_ok(|p| Seen::Pod(Box::new(p)));
    let mut events = futures::stream::select(deployment_events.boxed(), pod_events.boxed());

    let watch = async {
        let mut latest = deployment;
        let mut pod_states: HashMap<String, Pod> = HashMap::new();
        loop {
            if complete(&latest) {
                return Ok(RolloutOutcome {
                    ready: true,
                    reason: None,
                    message: None,
                    log_excerpt: Vec::new(),
                });
            }
            if let Some(message) = deadline_exceeded(&latest) {
                return Ok(RolloutOutcome {
                    ready: false,
                    reason: Some("ProgressDeadlineExceeded".into()),
                    message: Some(message),
                    log_excerpt: Vec::new(),
                });
            }
            if let Some((reason, message)) = replica_failure(&latest) {
                return Ok(RolloutOutcome {
                    ready: false,
                    reason: Some(reason),
                    message: Some(message),
                    log_excerpt: Vec::new(),
                });
            }
            if let Some((pod, (reason, message, container))) = pod_states
                .values()
                .find_map(|p| pod_failure(p).map(|f| (p.name_any(), f)))
            {
                let log_excerpt = if reason == "CrashLoopBackOff" {
                    excerpt(&pods, &pod, &container).await
                } else {
                    Vec::new()
                };
                return Ok(RolloutOutcome {
                    ready: false,
                    reason: Some(reason),
                    message: Some(message),
                    log_excerpt,
                });
            }
            match events.try_next().await {
                Ok(Some(Seen::Deployment(d))) => latest = *d,
                Ok(Some(Seen::Pod(p))) => {
                    pod_states.insert(p.name_any(), *p);
                }
                Ok(None) => return Err(ClusterError::Unavailable("the watch ended".into())),
                Err(error) => return Err(ClusterError::Unavailable(Box::new(error))),
            }
        }
    };
    match tokio::time::timeout(limit, watch).await {
        Ok(outcome) => outcome,
        Err(_) => Err(super::timeout(
            format!("rollout of deployment `{name}`"),
            limit,
        )),
    }
}

/// The last lines a crashing container wrote, credential-shaped words masked (they become the
/// preview's reason, which pages, the API and the pull request show).
async fn excerpt(pods: &Api<Pod>, pod: &str, container: &str) -> Vec<String> {
    let params = LogParams {
        container: Some(container.to_owned()),
        tail_lines: Some(EXCERPT_LINES),
        ..LogParams::default()
    };
    let mut redactor = crate::pipelines::redact::Redactor::new(Vec::new());
    pods.logs(pod, &params)
        .await
        .map(|text| text.lines().map(|line| redactor.line(line)).collect())
        .unwrap_or_default()
}
