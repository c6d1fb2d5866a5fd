//! The OpenAPI documents a real API server publishes, for the kinds kube-sim serves: `/openapi/v2`
//! (Kubernetes v1.33.3's own document, cut down by `openapi/generate`) and `/openapi/v3`, its
//! index of group-versions, each document derived from the v2 one as the API server derives its
//! own. kubectl reads them for `apply` (whether the server validates fields, and each list's merge
//! key) and `explain`.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::status::ApiError;

const SWAGGER: &str = include_str!("../openapi/swagger-1.33.json");

static V2: LazyLock<Result<Value, String>> =
    LazyLock::new(|| serde_json::from_str(SWAGGER).map_err(|e| e.to_string()));

fn v2_document() -> Result<&'static Value, ApiError> {
    V2.as_ref()
        .map_err(|e| ApiError::internal(format!("kube-sim's OpenAPI document is unreadable: {e}")))
}

/// `/openapi/v2`.
pub fn v2() -> Result<&'static Value, ApiError> {
    v2_document()
}

/// The schema of `kind` in `group` (`""` for the core group), by its
/// `x-kubernetes-group-version-kind`.
pub fn schema_of(group: &str, version: &str, kind: &str) -> Option<&'static Value> {
    let definitions = v2_document().ok()?["definitions"].as_object()?;
    definitions.values().find(|schema| {
        schema["x-kubernetes-group-version-kind"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|gvk| gvk["group"] == group && gvk["version"] == version && gvk["kind"] == kind)
    })
}

/// `schema`, or the definition its `$ref` names.
pub fn resolved(schema: &'static Value) -> &'static Value {
    let target = schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/definitions/"));
    match (target, v2_document()) {
        (Some(name), Ok(document)) => &document["definitions"][name],
        _ => schema,
    }
}

/// The group-versions with paths in the document: `api/v1`, `apis/apps/v1`, ….
fn group_versions(swagger: &Value) -> Vec<String> {
    let mut found: Vec<String> = swagger["paths"]
        .as_object()
        .into_iter()
        .flat_map(|paths| paths.keys())
        .filter_map(|path| {
            let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            match parts.as_slice() {
                ["api", version, ..] => Some(format!("api/{version}")),
                ["apis", group, version, ..] => Some(format!("apis/{group}/{version}")),
                _ => None,
            }
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

/// The v3 documents, derived once: each group-version's, and the index of them.
struct V3Documents {
    by_group_version: BTreeMap<String, Value>,
    index: Value,
}

static V3: LazyLock<Result<V3Documents, String>> = LazyLock::new(|| {
    let swagger = V2.as_ref().map_err(Clone::clone)?;
    let mut by_group_version = BTreeMap::new();
    let mut paths = Map::new();
    for group_version in group_versions(swagger) {
        let document = derive_v3(swagger, &group_version);
        let hash = hex(&Sha256::digest(document.to_string().as_bytes()));
        paths.insert(
            group_version.clone(),
            json!({ "serverRelativeURL": format!("/openapi/v3/{group_version}?hash={hash}") }),
        );
        by_group_version.insert(group_version, document);
    }
    Ok(V3Documents {
        by_group_version,
        index: json!({ "paths": paths }),
    })
});

fn v3_documents() -> Result<&'static V3Documents, ApiError> {
    V3.as_ref()
        .map_err(|e| ApiError::internal(format!("kube-sim's OpenAPI document is unreadable: {e}")))
}

/// `/openapi/v3`: where each group-version's document is, with a hash clients cache by.
pub fn v3_index() -> Result<&'static Value, ApiError> {
    Ok(&v3_documents()?.index)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// `/openapi/v3/{group_version}`: that group-version's paths and every schema, in OpenAPI 3.
pub fn v3(group_version: &str) -> Result<&'static Value, ApiError> {
    v3_documents()?
        .by_group_version
        .get(group_version)
        .ok_or_else(|| ApiError::not_served(&format!("/openapi/v3/{group_version}")))
}

fn derive_v3(swagger: &Value, group_version: &str) -> Value {
    let prefix = format!("/{group_version}/");
    let mut paths = Map::new();
    for (path, item) in swagger["paths"].as_object().into_iter().flatten() {
        if path.starts_with(&prefix) {
            paths.insert(path.clone(), path_item(swagger, item));
        }
    }
    let schemas: Map<String, Value> = swagger["definitions"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, schema)| (name.clone(), references_to_components(schema)))
        .collect();
    json!({
        "openapi": "3.0.0",
        "info": swagger["info"],
        "paths": paths,
        "components": { "schemas": schemas },
    })
}

fn path_item(swagger: &Value, item: &Value) -> Value {
    let mut converted = Map::new();
    for (key, value) in item.as_object().into_iter().flatten() {
        let value = if key == "parameters" {
            Value::Array(
                parameters(swagger, value)
                    .filter_map(|p| plain_parameter(&p))
                    .collect(),
            )
        } else {
            operation(swagger, value)
        };
        converted.insert(key.clone(), value);
    }
    Value::Object(converted)
}

/// A v2 operation in v3's shape: the body parameter becomes `requestBody`, each response's schema
/// moves under its media types.
fn operation(swagger: &Value, operation: &Value) -> Value {
    let media_types = |key: &str| -> Vec<String> {
        operation[key]
            .as_array()
            .map(|types| {
                types
                    .iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_else(|| vec!["application/json".to_owned()])
    };
    let content = |schema: &Value, types: &[String]| -> Value {
        let schema = references_to_components(schema);
        Value::Object(
            types
                .iter()
                .map(|t| (t.clone(), json!({ "schema": schema })))
                .collect(),
        )
    };
    let mut converted = Map::new();
    let mut query = Vec::new();
    for parameter in parameters(swagger, &operation["parameters"]) {
        if parameter["in"] == "body" {
            let mut body =
                json!({ "content": content(&parameter["schema"], &media_types("consumes")) });
            if parameter["required"] == true {
                body["required"] = Value::Bool(true);
            }
            converted.insert("requestBody".into(), body);
        } else if let Some(plain) = plain_parameter(&parameter) {
            query.push(plain);
        }
    }
    let mut responses = Map::new();
    for (code, response) in operation["responses"].as_object().into_iter().flatten() {
        let mut converted = json!({ "description": response["description"] });
        if !response["schema"].is_null() {
            converted["content"] = content(&response["schema"], &media_types("produces"));
        }
        responses.insert(code.clone(), converted);
    }
    for (key, value) in operation.as_object().into_iter().flatten() {
        if !matches!(
            key.as_str(),
            "parameters" | "responses" | "consumes" | "produces" | "schemes"
        ) {
            converted.insert(key.clone(), value.clone());
        }
    }
    converted.insert("parameters".into(), Value::Array(query));
    converted.insert("responses".into(), Value::Object(responses));
    Value::Object(converted)
}

/// The parameters of a list, with `#/parameters/…` references resolved.
fn parameters<'a>(swagger: &'a Value, list: &'a Value) -> impl Iterator<Item = Value> + 'a {
    list.as_array().into_iter().flatten().map(|parameter| {
        parameter["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/parameters/"))
            .map_or_else(
                || parameter.clone(),
                |name| swagger["parameters"][name].clone(),
            )
    })
}

/// A path or query parameter in v3's shape (its type under `schema`).
fn plain_parameter(parameter: &Value) -> Option<Value> {
    let fields = parameter.as_object()?;
    let mut converted = Map::new();
    let mut schema = Map::new();
    for (key, value) in fields {
        match key.as_str() {
            "name" | "in" | "description" | "required" => {
                converted.insert(key.clone(), value.clone());
            }
            _ => {
                schema.insert(key.clone(), value.clone());
            }
        }
    }
    converted.insert("schema".into(), Value::Object(schema));
    Some(Value::Object(converted))
}

/// `#/definitions/X` → `#/components/schemas/X`, everywhere in `schema`.
fn references_to_components(schema: &Value) -> Value {
    match schema {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, value)| {
                    let value = match (key.as_str(), value.as_str()) {
                        ("$ref", Some(target)) => {
                            Value::String(target.replace("#/definitions/", "#/components/schemas/"))
                        }
                        _ => references_to_components(value),
                    };
                    (key.clone(), value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(references_to_components).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_lists_every_served_group_version_with_a_hash() {
        let index = v3_index().expect("index");
        let paths = index["paths"].as_object().expect("paths");
        let listed: Vec<&str> = paths.keys().map(String::as_str).collect();
        assert_eq!(
            listed,
            [
                "api/v1",
                "apis/apps/v1",
                "apis/autoscaling/v2",
                "apis/batch/v1",
                "apis/networking.k8s.io/v1",
                "apis/policy/v1",
                "apis/rbac.authorization.k8s.io/v1"
            ]
        );
        let url = paths["apis/apps/v1"]["serverRelativeURL"]
            .as_str()
            .expect("url");
        assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="), "{url}");
    }

    #[test]
    fn a_patch_says_it_takes_field_validation_and_schemas_point_at_components() {
        let apps = v3("apis/apps/v1").expect("apps");
        let patch =
            &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "Deployment"
        );
        assert!(
            patch["parameters"]
                .as_array()
                .expect("parameters")
                .iter()
                .any(|p| p["name"] == "fieldValidation" && p["in"] == "query"),
            "{patch}"
        );
        assert!(
            patch["requestBody"]["content"]["application/strategic-merge-patch+json"].is_object()
        );
        let response = &patch["responses"]["200"]["content"]["application/json"]["schema"];
        assert_eq!(
            response["$ref"],
            "#/components/schemas/io.k8s.api.apps.v1.Deployment"
        );
        let containers = &apps["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"]
            ["containers"];
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(
            containers["items"]["$ref"],
            "#/components/schemas/io.k8s.api.core.v1.Container"
        );
        assert!(!apps.to_string().contains("#/definitions/"));
        // kubectl asks the first PATCH of a kind it finds (in no set order) whether the server
        // validates fields; every one must say yes, or kubectl falls back to `/openapi/v2` in
        // protobuf, which kube-sim does not serve.
        for group_version in group_versions(v2_document().expect("v2")) {
            let document = v3(&group_version).expect("document");
            for (path, item) in document["paths"].as_object().expect("paths") {
                if let Some(patch) = item.get("patch") {
                    assert!(
                        patch["parameters"]
                            .as_array()
                            .is_some_and(|ps| ps.iter().any(|p| p["name"] == "fieldValidation")),
                        "PATCH {path} lacks fieldValidation"
                    );
                }
            }
        }
        assert_eq!(v3("apis/gizmos/v1").unwrap_err().code, 404);
    }
}
