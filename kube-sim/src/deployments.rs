//! The Deployment and ReplicaSet controllers: a Deployment gets one ReplicaSet per pod
//! template (older ones are removed, so a rollout replaces pods), a ReplicaSet keeps its number
//! of pods, and the ReplicaSet's and the Deployment's status report replicas, readiness, availability (after
//! `minReadySeconds` or the `deployment_ready_delay` knob, whichever is longer) and `ProgressDeadlineExceeded` when pods never become ready.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::Sim;
use crate::events::Involved;
use crate::resources::{DEPLOYMENTS, PODS, REPLICA_SETS, ResourceType};
use crate::selector::Selector;
use crate::store::{Event, name_of, now_rfc3339};

const TEMPLATE_HASH: &str = "pod-template-hash";
/// How soon pods refused by admission (quota) are tried again.
const CREATE_RETRY: Duration = Duration::from_secs(1);

pub async fn run(sim: Arc<Sim>, stop: CancellationToken) {
    crate::controller::run(sim, &DEPLOYMENTS, stop, deployment_of, reconcile).await;
}

fn owner_of(object: &Value, kind: &str) -> Option<String> {
    object["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["kind"] == kind)
        .and_then(|r| r["name"].as_str())
        .map(str::to_owned)
}

/// The Deployment an event concerns: the Deployment itself, its ReplicaSet, or a pod of it.
fn deployment_of(sim: &Sim, event: &Event) -> Option<String> {
    let r: &ResourceType = event.resource;
    if r == &DEPLOYMENTS {
        return (event.kind != crate::store::EventType::Deleted)
            .then(|| name_of(&event.object).to_owned());
    }
    if r == &REPLICA_SETS {
        return owner_of(&event.object, "Deployment");
    }
    if r == &PODS {
        let replica_set = owner_of(&event.object, "ReplicaSet")?;
        let rs = sim
            .store
            .get(&REPLICA_SETS, &event.namespace, &replica_set)
            .ok()?;
        return owner_of(&rs, "Deployment");
    }
    None
}

fn template_hash(template: &Value) -> String {
    let mut hasher = DefaultHasher::new();
    template.to_string().hash(&mut hasher);
    format!("{:08x}", hasher.finish() as u32)
}

fn owner_reference(owner: &Value) -> Value {
    json!([{ "apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true }])
}

fn pod_ready(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running"
        && pod["status"]["containerStatuses"]
            .as_array()
            .is_some_and(|cs| {
                !cs.is_empty()
                    && cs
                        .iter()
                        .all(|c| c["ready"] == true && c["state"]["running"].is_object())
            })
}

fn reconcile(sim: &Arc<Sim>, namespace: &str, name: &str, stop: &CancellationToken) {
    let Ok(deployment) = sim.store.get(&DEPLOYMENTS, namespace, name) else {
        return;
    };
    if deployment["metadata"]["deletionTimestamp"].is_string() {
        return;
    }
    let replicas = deployment["spec"]["replicas"].as_u64().unwrap_or(1) as usize;
    let template = &deployment["spec"]["template"];
    let hash = template_hash(template);
    let rs_name = format!("{name}-{hash}");

    // Older ReplicaSets of this Deployment go (and their pods with them).
    let (sets, _) = sim
        .store
        .list(&REPLICA_SETS, namespace, &Selector::default());
    for old in sets
        .iter()
        .filter(|rs| owner_of(rs, "Deployment").as_deref() == Some(name) && name_of(rs) != rs_name)
    {
        let _ = sim.store.delete(&REPLICA_SETS, namespace, name_of(old));
    }
    let rs = match sim.store.get(&REPLICA_SETS, namespace, &rs_name) {
        Ok(rs) => rs,
        Err(_) => {
            let mut pod_template = template.clone();
            pod_template["metadata"]["labels"][TEMPLATE_HASH] = json!(hash);
            let mut selector = deployment["spec"]["selector"].clone();
            selector["matchLabels"][TEMPLATE_HASH] = json!(hash);
            let rs = json!({
                "metadata": { "name": rs_name, "labels": pod_template["metadata"]["labels"], "ownerReferences": owner_reference(&deployment) },
                "spec": { "replicas": replicas, "selector": selector, "template": pod_template },
            });
            match sim.store.create(&REPLICA_SETS, namespace, rs) {
                Ok(rs) => {
                    schedule_deadline(sim, namespace, name, &deployment, stop);
                    rs
                }
                Err(_) => return,
            }
        }
    };

    // The ReplicaSet keeps `replicas` pods.
    let (pods, _) = sim.store.list(&PODS, namespace, &Selector::default());
    let mine: Vec<&Arc<Value>> = pods
        .iter()
        .filter(|p| {
            owner_of(p, "ReplicaSet").as_deref() == Some(rs_name.as_str())
                && !p["metadata"]["deletionTimestamp"].is_string()
        })
        .collect();
    let mut refused = None;
    for _ in mine.len()..replicas {
        let mut pod = rs["spec"]["template"].clone();
        pod["metadata"]["generateName"] = json!(format!("{rs_name}-"));
        pod["metadata"]["ownerReferences"] = owner_reference(&rs);
        if let Err(error) = crate::admission::admit_pod(sim, namespace, &mut pod) {
            refused = Some(error.message);
            break;
        }
        let _ = sim.store.create(&PODS, namespace, pod);
    }
    if let Some(message) = &refused {
        let about = Involved {
            kind: "ReplicaSet",
            namespace,
            name: &rs_name,
        };
        crate::events::record(
            sim,
            &about,
            true,
            "FailedCreate",
            &format!("Error creating: {message}"),
        );
        // Try again later, as the ReplicaSet controller does, in case room was made.
        schedule(sim, namespace, name, CREATE_RETRY, stop);
    }
    for extra in mine.iter().skip(replicas) {
        let _ = sim.store.delete(&PODS, namespace, name_of(extra));
    }

    let ready = mine.iter().filter(|p| pod_ready(p)).count().min(replicas);
    // A pod counts as available once ready for `minReadySeconds` (or the knob, if longer).
    let delay = sim.knobs.deployment_ready_delay().max(Duration::from_secs(
        deployment["spec"]["minReadySeconds"].as_u64().unwrap_or(0),
    ));
    let available = mine
        .iter()
        .filter(|p| pod_ready(p) && ready_for(p) >= delay)
        .count()
        .min(replicas);
    if ready > available {
        // Check again once the pods have been ready long enough to count as available.
        schedule(sim, namespace, name, delay, stop);
    }
    let _ = sim.store.modify(&REPLICA_SETS, namespace, &rs_name, |rs| {
        rs["status"] = json!({
            "observedGeneration": rs["metadata"]["generation"],
            "replicas": mine.len(),
            "fullyLabeledReplicas": mine.len(),
            "readyReplicas": ready,
            "availableReplicas": available,
        });
        Ok(())
    });
    let _ = sim.store.modify(&DEPLOYMENTS, namespace, name, |d| {
        let generation = d["metadata"]["generation"].clone();
        let previous = d["status"]["conditions"].clone();
        let deadline_hit = previous.as_array().is_some_and(|cs| cs.iter().any(|c| c["reason"] == "ProgressDeadlineExceeded"));
        let complete = available >= replicas;
        let progressing = if complete {
            json!({ "type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "message": format!("ReplicaSet \"{rs_name}\" has successfully progressed.") })
        } else if deadline_hit {
            json!({ "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": format!("ReplicaSet \"{rs_name}\" has timed out progressing.") })
        } else {
            json!({ "type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated", "message": format!("ReplicaSet \"{rs_name}\" is progressing.") })
        };
        let mut conditions = Vec::new();
        if let Some(message) = &refused {
            conditions.push(json!({ "type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": message, "lastUpdateTime": now_rfc3339() }));
        }
        let (status, reason) = if complete { ("True", "MinimumReplicasAvailable") } else { ("False", "MinimumReplicasUnavailable") };
        conditions.push(json!({ "type": "Available", "status": status, "reason": reason, "lastUpdateTime": now_rfc3339() }));
        conditions.push(progressing);
        d["status"] = json!({
            "observedGeneration": generation,
            "replicas": mine.len().min(replicas),
            "updatedReplicas": mine.len().min(replicas),
            "readyReplicas": ready,
            "availableReplicas": available,
            "unavailableReplicas": replicas.saturating_sub(available),
            "conditions": conditions,
        });
        Ok(())
    });
}

/// How long a pod has been ready (since its last container started).
fn ready_for(pod: &Value) -> Duration {
    let started = pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["state"]["running"]["startedAt"].as_str())
        .filter_map(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
        })
        .max();
    started.map_or(Duration::ZERO, |t| {
        (time::OffsetDateTime::now_utc() - t)
            .try_into()
            .unwrap_or(Duration::ZERO)
    })
}

fn schedule(
    sim: &Arc<Sim>,
    namespace: &str,
    name: &str,
    after: Duration,
    stop: &CancellationToken,
) {
    let delay = after + Duration::from_millis(50);
    crate::controller::after(sim, namespace, name, delay, stop, reconcile);
}

/// Marks the rollout as failed if it is not complete within `progressDeadlineSeconds`.
fn schedule_deadline(
    sim: &Arc<Sim>,
    namespace: &str,
    name: &str,
    deployment: &Value,
    stop: &CancellationToken,
) {
    let deadline = Duration::from_secs(
        deployment["spec"]["progressDeadlineSeconds"]
            .as_u64()
            .unwrap_or(600),
    );
    let generation = deployment["metadata"]["generation"].clone();
    crate::controller::after(
        sim,
        namespace,
        name,
        deadline,
        stop,
        move |sim, namespace, name, _| {
            let _ = sim.store.modify(&DEPLOYMENTS, namespace, name, |d| {
            let unfinished = d["metadata"]["generation"] == generation && d["status"]["availableReplicas"].as_u64().unwrap_or(0) < d["spec"]["replicas"].as_u64().unwrap_or(1);
            if unfinished && let Some(conditions) = d["status"]["conditions"].as_array_mut() {
                conditions.retain(|c| c["type"] != "Progressing");
                conditions.push(json!({ "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": format!("Deployment \"{name}\" exceeded its progress deadline") }));
            }
            Ok(())
        });
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_hash_changes_with_the_template_only() {
        let a = json!({ "spec": { "containers": [{ "image": "web:1" }] } });
        let b = json!({ "spec": { "containers": [{ "image": "web:2" }] } });
        assert_eq!(template_hash(&a), template_hash(&a.clone()));
        assert_ne!(template_hash(&a), template_hash(&b));
    }
}
