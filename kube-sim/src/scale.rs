//! The `scale` subresource of Deployments and ReplicaSets, as `kubectl scale` reads and writes
//! it (`autoscaling/v1` `Scale`).

use serde_json::{Value, json};

/// The Scale of a Deployment or ReplicaSet.
pub fn of(object: &Value) -> Value {
    let selector: Vec<String> = object["spec"]["selector"]["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or_default()))
        .collect();
    let metadata = &object["metadata"];
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": metadata["name"], "namespace": metadata["namespace"], "uid": metadata["uid"],
            "resourceVersion": metadata["resourceVersion"], "creationTimestamp": metadata["creationTimestamp"],
        },
        "spec": { "replicas": object["spec"]["replicas"].as_u64().unwrap_or(1) },
        "status": { "replicas": object["status"]["replicas"].as_u64().unwrap_or(0), "selector": selector.join(",") },
    })
}
