//! API discovery documents (`/version`, `/api`, `/apis`, `/api/v1`, `/apis/{group}/{version}`)
//! so clients such as kubectl and kube-rs find the served kinds.

use serde_json::{Value, json};

use crate::path::Discovery;
use crate::resources::{self, ALL, ResourceType};
use crate::status::ApiError;

const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// Discovery documents; `metrics` says whether metrics.k8s.io is served.
pub fn respond(request: &Discovery, metrics: bool) -> Result<Value, ApiError> {
    let is_served = |r: &ResourceType| metrics || r != &resources::POD_METRICS;
    Ok(match request {
        Discovery::Version => json!({
            "major": "1", "minor": "33", "gitVersion": "v1.33.0-kube-sim", "platform": "linux/amd64",
            "gitCommit": "kube-sim", "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
            "goVersion": "go1.24", "compiler": "gc",
        }),
        Discovery::CoreVersions => json!({
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1" }],
        }),
        Discovery::Groups => {
            let groups: Vec<Value> = resources::groups()
                .into_iter()
                .filter(|(group, _)| metrics || *group != resources::POD_METRICS.group)
                .map(|(group, version)| {
                    let gv =
                        json!({ "groupVersion": format!("{group}/{version}"), "version": version });
                    json!({ "name": group, "versions": [gv.clone()], "preferredVersion": gv })
                })
                .collect();
            json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
        }
        Discovery::GroupVersion { group, version } => {
            let mut served: Vec<Value> = Vec::new();
            for r in ALL
                .iter()
                .filter(|r| r.group == group && r.version == version && is_served(r))
            {
                let verbs: &[&str] = if *r == &resources::POD_METRICS {
                    &["get", "list"]
                } else {
                    &VERBS
                };
                served.push(json!({
                    "name": r.plural, "singularName": r.kind.to_lowercase(), "namespaced": r.namespaced,
                    "kind": r.kind, "verbs": verbs, "shortNames": r.short_names,
                }));
                for sub in r.subresources {
                    let verbs: &[&str] = if *sub == "log" {
                        &["get"]
                    } else {
                        &["get", "patch", "update"]
                    };
                    served.push(json!({ "name": format!("{}/{sub}", r.plural), "singularName": "", "namespaced": r.namespaced, "kind": r.kind, "verbs": verbs }));
                }
            }
            if served.is_empty() {
                return Err(ApiError::not_served(&format!("{group}/{version}")));
            }
            let group_version = if group.is_empty() {
                version.clone()
            } else {
                format!("{group}/{version}")
            };
            json!({ "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": served })
        }
    })
}
