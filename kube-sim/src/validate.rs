//! What a real API server refuses: bodies with unknown fields or wrong types (strict decoding,
//! 400) and objects that break basic rules such as name format or a container without an
//! image (422). Decoding goes through the k8s-openapi types, so "unknown" means what
//! Kubernetes itself does not know.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use k8s_openapi::api::{apps, autoscaling, batch, core, networking, policy, rbac};

use crate::resources::ResourceType;
use crate::status::ApiError;

fn roundtrip<K: DeserializeOwned + Serialize>(value: &Value) -> Result<Value, String> {
    let typed: K = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
    serde_json::to_value(typed).map_err(|e| e.to_string())
}

/// `value` re-serialized through its Kubernetes type, or why it does not decode.
fn normalize(resource: &ResourceType, value: &Value) -> Option<Result<Value, String>> {
    Some(match resource.kind {
        "Namespace" => roundtrip::<core::v1::Namespace>(value),
        "Pod" => roundtrip::<core::v1::Pod>(value),
        "Service" => roundtrip::<core::v1::Service>(value),
        "Secret" => roundtrip::<core::v1::Secret>(value),
        "ConfigMap" => roundtrip::<core::v1::ConfigMap>(value),
        "ServiceAccount" => roundtrip::<core::v1::ServiceAccount>(value),
        "ResourceQuota" => roundtrip::<core::v1::ResourceQuota>(value),
        "LimitRange" => roundtrip::<core::v1::LimitRange>(value),
        "PersistentVolumeClaim" => roundtrip::<core::v1::PersistentVolumeClaim>(value),
        "HorizontalPodAutoscaler" => roundtrip::<autoscaling::v2::HorizontalPodAutoscaler>(value),
        "PodDisruptionBudget" => roundtrip::<policy::v1::PodDisruptionBudget>(value),
        "Event" => roundtrip::<core::v1::Event>(value),
        "Deployment" => roundtrip::<apps::v1::Deployment>(value),
        "ReplicaSet" => roundtrip::<apps::v1::ReplicaSet>(value),
        "Job" => roundtrip::<batch::v1::Job>(value),
        "Ingress" => roundtrip::<networking::v1::Ingress>(value),
        "NetworkPolicy" => roundtrip::<networking::v1::NetworkPolicy>(value),
        "Role" => roundtrip::<rbac::v1::Role>(value),
        "RoleBinding" => roundtrip::<rbac::v1::RoleBinding>(value),
        "ClusterRole" => roundtrip::<rbac::v1::ClusterRole>(value),
        "ClusterRoleBinding" => roundtrip::<rbac::v1::ClusterRoleBinding>(value),
        _ => return None,
    })
}

/// Refuses bodies that do not decode strictly into the resource's type.
pub fn strict_decode(resource: &ResourceType, body: &Value) -> Result<(), ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
    let mut typed = body.clone();
    typed["apiVersion"] = Value::String(resource.api_version());
    typed["kind"] = Value::String(resource.kind.to_owned());
    let Some(normalized) = normalize(resource, &typed) else {
        return Err(ApiError::method_not_allowed());
    };
    let normalized = normalized.map_err(|e| {
        ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: {e}",
            resource.kind, resource.version, resource.kind
        ))
    })?;
    let mut unknown = Vec::new();
    unknown_fields(&typed, &normalized, "", &mut unknown);
    if unknown.is_empty() {
        Ok(())
    } else {
        let listed: Vec<String> = unknown
            .iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect();
        Err(ApiError::bad_request(format!(
            "strict decoding error: {}",
            listed.join(", ")
        )))
    }
}

fn unknown_fields(input: &Value, known: &Value, path: &str, found: &mut Vec<String>) {
    match (input, known) {
        (Value::Object(input), Value::Object(known)) => {
            for (key, value) in input {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match known.get(key) {
                    _ if value.is_null() => {}
                    None => found.push(child),
                    Some(known_value) => unknown_fields(value, known_value, &child, found),
                }
            }
        }
        (Value::Array(input), Value::Array(known)) => {
            for (i, (value, known_value)) in input.iter().zip(known).enumerate() {
                unknown_fields(value, known_value, &format!("{path}[{i}]"), found);
            }
        }
        _ => {}
    }
}

fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_dns_label)
}

fn is_label_value(value: &str) -> bool {
    value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && value
            .chars()
            .next()
            .is_none_or(|c| c.is_ascii_alphanumeric())
        && value
            .chars()
            .last()
            .is_none_or(|c| c.is_ascii_alphanumeric())
}

/// Semantic rules checked after decoding; all problems at once.
pub fn validate(resource: &ResourceType, object: &Value) -> Result<(), ApiError> {
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let mut problems = Vec::new();
    let label_names = matches!(resource.kind, "Namespace" | "Service");
    if !name.is_empty()
        && !(if label_names {
            is_dns_label(name)
        } else {
            is_dns_subdomain(name)
        })
    {
        let rule = if label_names {
            "RFC 1123 label"
        } else {
            "RFC 1123 subdomain"
        };
        problems.push(format!("metadata.name: Invalid value: \"{name}\": a lowercase {rule} must consist of lower case alphanumeric characters, '-' or '.'"));
    }
    if let Some(labels) = object["metadata"]["labels"].as_object() {
        for (key, value) in labels {
            let value = value.as_str().unwrap_or_default();
            if !is_label_value(value) {
                problems.push(format!("metadata.labels: Invalid value: \"{value}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.' (key {key})"));
            }
        }
    }
    let pod_spec = match resource.kind {
        "Pod" => Some(&object["spec"]),
        "Deployment" | "ReplicaSet" | "Job" => Some(&object["spec"]["template"]["spec"]),
        _ => None,
    };
    if let Some(spec) = pod_spec {
        let prefix = if resource.kind == "Pod" {
            "spec"
        } else {
            "spec.template.spec"
        };
        let containers = spec["containers"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        if containers.is_empty() {
            problems.push(format!("{prefix}.containers: Required value"));
        }
        for (list, items) in [
            ("initContainers", spec["initContainers"].as_array()),
            ("containers", Some(&containers.to_vec())),
        ] {
            for (i, container) in items
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                if container["image"].as_str().is_none_or(str::is_empty) {
                    problems.push(format!("{prefix}.{list}[{i}].image: Required value"));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(resource.kind, name, &problems))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{DEPLOYMENTS, NAMESPACES, PODS};
    use serde_json::json;

    #[test]
    fn unknown_fields_are_named_with_their_path() {
        let pod = json!({ "metadata": { "name": "web" }, "spec": { "containers": [{ "name": "c", "image": "x", "comand": ["sh"] }], "restartPolicee": "Never" } });
        let error = strict_decode(&PODS, &pod).expect_err("typos");
        assert_eq!(error.code, 400);
        assert!(
            error
                .message
                .contains("unknown field \"spec.containers[0].comand\""),
            "{}",
            error.message
        );
        assert!(
            error
                .message
                .contains("unknown field \"spec.restartPolicee\""),
            "{}",
            error.message
        );
        let good = json!({ "metadata": { "name": "web", "labels": {} }, "spec": { "containers": [{ "name": "c", "image": "x", "command": ["sh"] }] } });
        strict_decode(&PODS, &good).expect("valid pod");
    }

    #[test]
    fn wrong_types_are_refused() {
        let error = strict_decode(&DEPLOYMENTS, &json!({ "spec": { "replicas": "two" } }))
            .expect_err("type");
        assert_eq!(error.code, 400);
    }

    #[test]
    fn names_and_images_are_checked() {
        let error =
            validate(&NAMESPACES, &json!({ "metadata": { "name": "PR_1" } })).expect_err("name");
        assert_eq!(error.code, 422);
        let error = validate(
            &PODS,
            &json!({ "metadata": { "name": "web" }, "spec": { "containers": [{ "name": "c" }] } }),
        )
        .expect_err("image");
        assert!(
            error
                .message
                .contains("spec.containers[0].image: Required value"),
            "{}",
            error.message
        );
        validate(&PODS, &json!({ "metadata": { "name": "web" }, "spec": { "containers": [{ "name": "c", "image": "busybox" }] } })).expect("valid");
    }
}
