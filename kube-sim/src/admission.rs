//! Pod admission as a real API server does it: LimitRange defaults fill in containers'
//! missing requests and limits, then every ResourceQuota of the namespace must have room for
//! the pod (`403 exceeded quota: ...`), and a quota on a resource requires containers to say
//! how much of it they need. A quota read back carries the status the quota controller keeps:
//! `hard` from its spec and `used` summed over the namespace's pods.

use domain::quantity;
use serde_json::Value;

use crate::Sim;
use crate::resources::{ALL, PODS, ResourceType};
use crate::selector::Selector;
use crate::status::ApiError;
use crate::store::name_of;

/// The core (group-less) resource type with this plural name.
pub(crate) fn kind(plural: &str) -> Option<&'static ResourceType> {
    ALL.iter()
        .copied()
        .find(|r| r.group.is_empty() && r.plural == plural)
}

/// Fills containers' missing requests and limits from the namespace's LimitRanges.
fn apply_defaults(sim: &Sim, namespace: &str, pod: &mut Value) {
    let Some(limit_ranges) = kind("limitranges") else {
        return;
    };
    let (ranges, _) = sim
        .store
        .list(limit_ranges, namespace, &Selector::default());
    let container_limits: Vec<Value> = ranges
        .iter()
        .flat_map(|r| r["spec"]["limits"].as_array().cloned().unwrap_or_default())
        .filter(|l| l["type"] == "Container")
        .collect();
    for list in ["initContainers", "containers"] {
        for container in pod["spec"][list].as_array_mut().into_iter().flatten() {
            for limit in &container_limits {
                for (field, default) in [("limits", "default"), ("requests", "defaultRequest")] {
                    for (resource, value) in limit[default].as_object().into_iter().flatten() {
                        let slot = &mut container["resources"][field][resource.as_str()];
                        if slot.is_null() {
                            *slot = value.clone();
                        }
                    }
                }
            }
            // A request left unset is the limit, as in Kubernetes.
            let limits = container["resources"]["limits"].clone();
            for (resource, value) in limits.as_object().into_iter().flatten() {
                let slot = &mut container["resources"]["requests"][resource.as_str()];
                if slot.is_null() {
                    *slot = value.clone();
                }
            }
        }
    }
}

/// A pod's total of a quota resource (`pods`, `limits.cpu`, `requests.memory`, `cpu`, ...), in
/// millicores for CPU and bytes for memory; `None` when a container does not say.
pub fn amount(pod: &Value, resource: &str) -> Option<u64> {
    if resource == "pods" {
        return Some(1);
    }
    let (field, name) = resource.split_once('.').unwrap_or(("requests", resource));
    let read: fn(&str) -> Option<u64> = match name {
        "cpu" => quantity::cpu_millicores,
        "memory" => quantity::bytes,
        _ => return Some(0),
    };
    pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["resources"][field][name].as_str().and_then(read))
        .sum()
}

fn counts(pod: &Value) -> bool {
    !pod["metadata"]["deletionTimestamp"].is_string()
        && !matches!(
            pod["status"]["phase"].as_str(),
            Some("Succeeded" | "Failed")
        )
}

fn show(resource: &str, value: u64) -> String {
    match resource {
        r if r.ends_with("cpu") => format!("{resource}={value}m"),
        r if r.ends_with("memory") => format!("{resource}={}Mi", value / (1024 * 1024)),
        _ => format!("{resource}={value}"),
    }
}

fn hard_amount(resource: &str, hard: &Value) -> Option<u64> {
    let text = hard.as_str()?;
    if resource.ends_with("cpu") {
        quantity::cpu_millicores(text)
    } else if resource.ends_with("memory") {
        quantity::bytes(text)
    } else {
        text.parse().ok()
    }
}

/// What keeps `pod` off the node, in the scheduler's words (`Insufficient cpu`).
pub fn unschedulable(sim: &Sim, pod: &Value) -> Option<String> {
    let (cpu, memory) = sim.knobs.node_capacity();
    let short: Vec<&str> = [
        ("requests.cpu", cpu, "cpu"),
        ("requests.memory", memory, "memory"),
    ]
    .into_iter()
    .filter(|(resource, capacity, _)| amount(pod, resource).unwrap_or(0) > *capacity)
    .map(|(_, _, name)| name)
    .collect();
    (!short.is_empty()).then(|| {
        let reasons: Vec<String> = short
            .iter()
            .map(|n| format!("1 Insufficient {n}"))
            .collect();
        format!("0/1 nodes are available: {}.", reasons.join(", "))
    })
}

/// Admits `pod` into `namespace`, filling in defaults, or refuses it as a real server would.
pub fn admit_pod(sim: &Sim, namespace: &str, pod: &mut Value) -> Result<(), ApiError> {
    apply_defaults(sim, namespace, pod);
    let Some(quotas) = kind("resourcequotas") else {
        return Ok(());
    };
    let (quotas, _) = sim.store.list(quotas, namespace, &Selector::default());
    if quotas.is_empty() {
        return Ok(());
    }
    let name = pod["metadata"]["name"]
        .as_str()
        .or_else(|| pod["metadata"]["generateName"].as_str())
        .unwrap_or_default()
        .to_owned();
    let (pods, _) = sim.store.list(&PODS, namespace, &Selector::default());
    for quota in &quotas {
        for (resource, hard) in quota["spec"]["hard"].as_object().into_iter().flatten() {
            let Some(limit) = hard_amount(resource, hard) else {
                continue;
            };
            let Some(requested) = amount(pod, resource) else {
                return Err(ApiError::forbidden(format!(
                    "pods \"{name}\" is forbidden: failed quota: {}: must specify {resource}",
                    name_of(quota)
                )));
            };
            let used: u64 = pods
                .iter()
                .filter(|p| counts(p))
                .filter_map(|p| amount(p, resource))
                .sum();
            if used + requested > limit {
                return Err(ApiError::forbidden(format!(
                    "pods \"{name}\" is forbidden: exceeded quota: {}, requested: {}, used: {}, limited: {}",
                    name_of(quota),
                    show(resource, requested),
                    show(resource, used),
                    show(resource, limit)
                )));
            }
        }
    }
    Ok(())
}

/// `quota` with its status as the quota controller keeps it.
pub fn with_quota_status(sim: &Sim, quota: &Value) -> Value {
    let namespace = quota["metadata"]["namespace"].as_str().unwrap_or_default();
    let (pods, _) = sim.store.list(&PODS, namespace, &Selector::default());
    let mut used = serde_json::Map::new();
    for (resource, _) in quota["spec"]["hard"].as_object().into_iter().flatten() {
        let total: u64 = pods
            .iter()
            .filter(|p| counts(p))
            .filter_map(|p| amount(p, resource))
            .sum();
        let shown = if resource.ends_with("cpu") {
            format!("{total}m")
        } else {
            total.to_string()
        };
        used.insert(resource.clone(), Value::String(shown));
    }
    let mut quota = quota.clone();
    quota["status"] = serde_json::json!({ "hard": quota["spec"]["hard"].clone(), "used": used });
    quota
}
