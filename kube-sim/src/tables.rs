//! Server-side printing: the `Table` (`meta.k8s.io/v1`) an API server answers when a client asks
//! for one (`Accept: application/json;as=Table;…`, as `kubectl get` does), with the columns
//! Kubernetes' own printers give each kind (`kubectl get pods` shows READY, STATUS, RESTARTS,
//! AGE), and each row's object as `PartialObjectMetadata` or, with `includeObject=Object`, whole.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::resources::ResourceType;

/// Whether the request's `Accept` header asks for a Table.
pub fn wanted(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.split(',').any(|t| t.contains("as=Table")))
}

struct Column {
    name: &'static str,
    kind: &'static str,
    /// 0: shown by default; 1: only with `-o wide`.
    priority: u8,
}

const fn column(name: &'static str, kind: &'static str, priority: u8) -> Column {
    Column {
        name,
        kind,
        priority,
    }
}

const NAME: Column = column("Name", "string", 0);
const AGE: Column = column("Age", "string", 0);

fn columns(kind: &str) -> Vec<Column> {
    match kind {
        "Pod" => vec![
            NAME,
            column("Ready", "string", 0),
            column("Status", "string", 0),
            column("Restarts", "integer", 0),
            AGE,
            column("IP", "string", 1),
            column("Node", "string", 1),
        ],
        "Namespace" => vec![NAME, column("Status", "string", 0), AGE],
        "Deployment" => vec![
            NAME,
            column("Ready", "string", 0),
            column("Up-to-date", "integer", 0),
            column("Available", "integer", 0),
            AGE,
            column("Containers", "string", 1),
            column("Images", "string", 1),
        ],
        "ReplicaSet" => vec![
            NAME,
            column("Desired", "integer", 0),
            column("Current", "integer", 0),
            column("Ready", "integer", 0),
            AGE,
        ],
        "Job" => vec![
            NAME,
            column("Status", "string", 0),
            column("Completions", "string", 0),
            AGE,
        ],
        "Service" => vec![
            NAME,
            column("Type", "string", 0),
            column("Cluster-IP", "string", 0),
            column("Port(s)", "string", 0),
            AGE,
        ],
        "Secret" => vec![
            NAME,
            column("Type", "string", 0),
            column("Data", "integer", 0),
            AGE,
        ],
        "ConfigMap" => vec![NAME, column("Data", "integer", 0), AGE],
        "Event" => vec![
            column("Last Seen", "string", 0),
            column("Type", "string", 0),
            column("Reason", "string", 0),
            column("Object", "string", 0),
            column("Message", "string", 0),
        ],
        _ => vec![NAME, AGE],
    }
}

fn cells(kind: &str, object: &Value, now: OffsetDateTime) -> Vec<Value> {
    let name = json!(object["metadata"]["name"]);
    let age = json!(age(&object["metadata"]["creationTimestamp"], now));
    let status = &object["status"];
    let spec = &object["spec"];
    let count = |v: &Value| json!(v.as_u64().unwrap_or(0));
    let containers = || {
        spec["template"]["spec"]["containers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let joined = |field: &str| {
        let values: Vec<String> = containers()
            .iter()
            .filter_map(|c| c[field].as_str().map(str::to_owned))
            .collect();
        json!(values.join(","))
    };
    match kind {
        "Pod" => {
            let statuses = status["containerStatuses"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let total = spec["containers"].as_array().map_or(0, Vec::len);
            let ready = statuses.iter().filter(|s| s["ready"] == true).count();
            let restarts: u64 = statuses
                .iter()
                .filter_map(|s| s["restartCount"].as_u64())
                .sum();
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(pod_status(object, &statuses)),
                json!(restarts),
                age,
                json!(status["podIP"].as_str().unwrap_or("<none>")),
                json!(spec["nodeName"].as_str().unwrap_or("<none>")),
            ]
        }
        "Namespace" => vec![name, json!(status["phase"]), age],
        "Deployment" => vec![
            name,
            json!(format!(
                "{}/{}",
                status["readyReplicas"].as_u64().unwrap_or(0),
                spec["replicas"].as_u64().unwrap_or(1)
            )),
            count(&status["updatedReplicas"]),
            count(&status["availableReplicas"]),
            age,
            joined("name"),
            joined("image"),
        ],
        "ReplicaSet" => vec![
            name,
            count(&spec["replicas"]),
            count(&status["replicas"]),
            count(&status["readyReplicas"]),
            age,
        ],
        "Job" => {
            let conditions = status["conditions"].as_array().cloned().unwrap_or_default();
            let holds = |t: &str| {
                conditions
                    .iter()
                    .any(|c| c["type"] == t && c["status"] == "True")
            };
            let state = if holds("Complete") {
                "Complete"
            } else if holds("Failed") {
                "Failed"
            } else {
                "Running"
            };
            let completions = format!(
                "{}/{}",
                status["succeeded"].as_u64().unwrap_or(0),
                spec["completions"].as_u64().unwrap_or(1)
            );
            vec![name, json!(state), json!(completions), age]
        }
        "Service" => {
            let ports: Vec<String> = spec["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    let protocol = p["protocol"].as_str().unwrap_or("TCP");
                    format!("{}/{protocol}", p["port"])
                })
                .collect();
            vec![
                name,
                json!(spec["type"].as_str().unwrap_or("ClusterIP")),
                json!(spec["clusterIP"].as_str().unwrap_or("<none>")),
                json!(if ports.is_empty() {
                    "<none>".to_owned()
                } else {
                    ports.join(",")
                }),
                age,
            ]
        }
        "Secret" => vec![
            name,
            json!(object["type"].as_str().unwrap_or("Opaque")),
            json!(entries(&object["data"])),
            age,
        ],
        "ConfigMap" => vec![
            name,
            json!(entries(&object["data"]) + entries(&object["binaryData"])),
            age,
        ],
        "Event" => {
            let seen = [&object["lastTimestamp"], &object["eventTime"]]
                .into_iter()
                .find(|t| t.is_string())
                .unwrap_or(&object["metadata"]["creationTimestamp"]);
            let involved = &object["involvedObject"];
            vec![
                json!(self::age(seen, now)),
                json!(object["type"]),
                json!(object["reason"]),
                json!(format!(
                    "{}/{}",
                    involved["kind"]
                        .as_str()
                        .unwrap_or_default()
                        .to_ascii_lowercase(),
                    involved["name"].as_str().unwrap_or_default()
                )),
                json!(object["message"]),
            ]
        }
        _ => vec![name, age],
    }
}

fn entries(map: &Value) -> usize {
    map.as_object().map_or(0, serde_json::Map::len)
}

/// What `kubectl get pods` shows as STATUS: Terminating, a container's waiting or terminated
/// reason (CrashLoopBackOff, ImagePullBackOff, Completed, Error), else the phase.
fn pod_status(pod: &Value, statuses: &[Value]) -> String {
    if pod["metadata"]["deletionTimestamp"].is_string() {
        return "Terminating".into();
    }
    let reason = statuses.iter().find_map(|s| {
        s["state"]["waiting"]["reason"]
            .as_str()
            .or_else(|| s["state"]["terminated"]["reason"].as_str())
    });
    reason
        .or_else(|| pod["status"]["reason"].as_str())
        .or_else(|| pod["status"]["phase"].as_str())
        .unwrap_or("Pending")
        .to_owned()
}

/// Kubernetes' short human durations: `45s`, `3m12s`, `17m`, `5h3m`, `26h`, `3d4h`, `90d`.
fn age(timestamp: &Value, now: OffsetDateTime) -> String {
    let Some(then) = timestamp
        .as_str()
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
    else {
        return "<unknown>".into();
    };
    let seconds = (now - then).whole_seconds().max(0);
    let (minutes, hours, days) = (seconds / 60, seconds / 3600, seconds / 86_400);
    match () {
        () if seconds < 120 => format!("{seconds}s"),
        () if minutes < 10 => format!("{minutes}m{}s", seconds % 60),
        () if minutes < 180 => format!("{minutes}m"),
        () if hours < 8 => format!("{hours}h{}m", minutes % 60),
        () if hours < 48 => format!("{hours}h"),
        () if days < 8 => format!("{days}d{}h", hours % 24),
        () => format!("{days}d"),
    }
}

/// The Table of `objects` of kind `resource`; `whole` includes each object rather than its
/// metadata.
pub fn table(
    resource: &ResourceType,
    objects: &[&Value],
    resource_version: &str,
    whole: bool,
) -> Value {
    let now = OffsetDateTime::now_utc();
    let definitions: Vec<Value> = columns(resource.kind)
        .iter()
        .map(|c| {
            let format = if c.name == "Name" { "name" } else { "" };
            json!({ "name": c.name, "type": c.kind, "format": format, "description": "", "priority": c.priority })
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let shown = if whole {
                (*object).clone()
            } else {
                json!({ "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": object["metadata"] })
            };
            json!({ "cells": cells(resource.kind, object, now), "object": shown })
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": { "resourceVersion": resource_version },
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_show_readiness_status_restarts_and_age() {
        let now = OffsetDateTime::parse("2026-01-01T01:00:00Z", &Rfc3339).expect("time");
        let pod = json!({
            "metadata": {"name": "web-1", "creationTimestamp": "2026-01-01T00:55:30Z"},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"ready": true, "restartCount": 2, "state": {"running": {}}},
                {"ready": false, "restartCount": 1, "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
            ]},
        });
        assert_eq!(
            cells("Pod", &pod, now)[..5],
            [
                json!("web-1"),
                json!("1/2"),
                json!("CrashLoopBackOff"),
                json!(3),
                json!("4m30s")
            ]
        );
        assert_eq!(columns("Pod").len(), cells("Pod", &pod, now).len());
    }

    #[test]
    fn every_kind_has_a_cell_per_column_and_ages_read_as_kubectl_prints_them() {
        let now = OffsetDateTime::parse("2026-01-10T00:00:00Z", &Rfc3339).expect("time");
        let object =
            json!({"metadata": {"name": "x", "creationTimestamp": "2026-01-01T00:00:00Z"}});
        for kind in [
            "Pod",
            "Namespace",
            "Deployment",
            "ReplicaSet",
            "Job",
            "Service",
            "Secret",
            "ConfigMap",
            "Event",
            "Ingress",
        ] {
            assert_eq!(
                columns(kind).len(),
                cells(kind, &object, now).len(),
                "{kind}"
            );
        }
        let at = |t: &str| age(&json!(t), now);
        assert_eq!(at("2026-01-09T23:59:15Z"), "45s");
        assert_eq!(at("2026-01-09T23:56:48Z"), "3m12s");
        assert_eq!(at("2026-01-09T23:43:00Z"), "17m");
        assert_eq!(at("2026-01-09T18:57:00Z"), "5h3m");
        assert_eq!(at("2026-01-08T22:00:00Z"), "26h");
        assert_eq!(at("2026-01-06T20:00:00Z"), "3d4h");
        assert_eq!(at("2026-01-01T00:00:00Z"), "9d");
        assert!(wanted(Some(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
        )));
        assert!(!wanted(Some("application/json")));
    }
}
