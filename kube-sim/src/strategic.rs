//! Strategic merge patch (`application/strategic-merge-patch+json`), which `kubectl apply`,
//! `kubectl edit` and `kubectl patch` send. Lists are merged by the merge key and patch strategy
//! that Kubernetes' OpenAPI document gives each field (`x-kubernetes-patch-merge-key`,
//! `x-kubernetes-patch-strategy`); without them a list is replaced, as in a JSON merge patch.
//! Handles the directives kubectl writes: `$patch` (`delete`, `replace`), `$retainKeys`,
//! `$setElementOrder/…` and `$deleteFromPrimitiveList/…`.

use serde_json::{Map, Value};

use crate::openapi::resolved;

const ORDER: &str = "$setElementOrder/";
const DELETE_FROM: &str = "$deleteFromPrimitiveList/";

/// Applies `patch` to `target`, whose OpenAPI schema is `schema` (none: plain merge).
pub fn merge(target: &mut Value, patch: &Value, schema: Option<&'static Value>) {
    let Some(fields) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if fields.get("$patch").and_then(Value::as_str) == Some("replace") {
        *target = without_directives(fields);
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let schema = schema.map(resolved);
    for (key, value) in fields {
        if key.starts_with('$') {
            continue;
        }
        let Some(object) = target.as_object_mut() else {
            return;
        };
        if value.is_null() {
            object.remove(key);
            continue;
        }
        let field = schema.and_then(|s| property(s, key));
        let current = object.entry(key.clone()).or_insert(Value::Null);
        match (value, field) {
            (Value::Array(items), Some(field)) if strategy(field).contains("merge") => {
                merge_list(current, items, field);
            }
            (Value::Object(_), _) => merge(current, value, field),
            _ => *current = value.clone(),
        }
    }
    for (key, value) in fields {
        if let Some(list) = key.strip_prefix(DELETE_FROM) {
            remove_values(target, list, value);
        } else if let Some(list) = key.strip_prefix(ORDER) {
            let key = schema
                .and_then(|s| property(s, list))
                .and_then(|f| f["x-kubernetes-patch-merge-key"].as_str());
            reorder(target, list, value, key);
        }
    }
    if let (Some(retain), Some(object)) = (
        fields.get("$retainKeys").and_then(Value::as_array),
        target.as_object_mut(),
    ) {
        object.retain(|key, _| retain.iter().any(|k| k == key));
    }
}

fn without_directives(fields: &Map<String, Value>) -> Value {
    Value::Object(
        fields
            .iter()
            .filter(|(key, _)| !key.starts_with('$'))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect(),
    )
}

fn property(schema: &'static Value, key: &str) -> Option<&'static Value> {
    schema["properties"]
        .get(key)
        .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object()))
}

fn strategy(field: &Value) -> &str {
    field["x-kubernetes-patch-strategy"]
        .as_str()
        .unwrap_or_default()
}

/// Merges `items` into the list at `current` by the field's merge key; a list of primitives
/// (no merge key) gains the values it lacks.
fn merge_list(current: &mut Value, items: &[Value], field: &'static Value) {
    if items
        .iter()
        .any(|item| item.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        *current = Value::Array(
            items
                .iter()
                .filter(|item| item.get("$patch").is_none())
                .cloned()
                .collect(),
        );
        return;
    }
    if !current.is_array() {
        *current = Value::Array(Vec::new());
    }
    let Some(list) = current.as_array_mut() else {
        return;
    };
    let Some(key) = field["x-kubernetes-patch-merge-key"].as_str() else {
        for item in items {
            if !list.contains(item) {
                list.push(item.clone());
            }
        }
        return;
    };
    let item_schema = field.get("items");
    for item in items {
        let position = list.iter().position(|existing| existing[key] == item[key]);
        let deleting = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (position, deleting) {
            (Some(at), true) => {
                list.remove(at);
            }
            (None, true) => {}
            (Some(at), false) => merge(&mut list[at], item, item_schema),
            (None, false) => {
                let mut added = Value::Null;
                merge(&mut added, item, item_schema);
                list.push(added);
            }
        }
    }
}

fn remove_values(target: &mut Value, list: &str, values: &Value) {
    if let (Some(items), Some(remove)) = (
        target.get_mut(list).and_then(Value::as_array_mut),
        values.as_array(),
    ) {
        items.retain(|item| !remove.contains(item));
    }
}

/// Puts the list's items in the order `$setElementOrder` gives; items it does not name follow.
fn reorder(target: &mut Value, list: &str, order: &Value, key: Option<&str>) {
    let (Some(items), Some(order)) = (
        target.get_mut(list).and_then(Value::as_array_mut),
        order.as_array(),
    ) else {
        return;
    };
    let rank = |item: &Value| {
        order
            .iter()
            .position(|wanted| match key {
                Some(key) => wanted[key] == item[key],
                None => wanted == item,
            })
            .unwrap_or(order.len())
    };
    items.sort_by_key(rank);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Option<&'static Value> {
        crate::openapi::schema_of("apps", "v1", "Deployment")
    }

    #[test]
    fn containers_merge_by_name_in_the_order_kubectl_asks() {
        let mut live = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "nginx:1", "ports": [{"containerPort": 80}]},
            {"name": "sidecar", "image": "envoy:1"},
        ]}}}});
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "web"}],
            "containers": [{"name": "web", "image": "nginx:2"}],
        }}}});
        merge(&mut live, &patch, deployment());
        assert_eq!(
            live["spec"]["template"]["spec"]["containers"],
            json!([
                {"name": "sidecar", "image": "envoy:1"},
                {"name": "web", "image": "nginx:2", "ports": [{"containerPort": 80}]},
            ])
        );
    }

    #[test]
    fn directives_delete_replace_and_retain() {
        let mut live = json!({
            "metadata": {"labels": {"a": "1", "b": "2"}, "finalizers": ["x", "y"]},
            "spec": {"template": {"spec": {"containers": [{"name": "web", "env": [
                {"name": "A", "value": "1"}, {"name": "B", "value": "2"}
            ]}]}}, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}},
        });
        let patch = json!({
            "metadata": {"labels": {"b": null}, "$deleteFromPrimitiveList/finalizers": ["x"]},
            "spec": {
                "template": {"spec": {"containers": [{"name": "web", "env": [
                    {"name": "A", "$patch": "delete"}
                ]}]}},
                "strategy": {"$retainKeys": ["type"], "type": "Recreate"},
            },
        });
        merge(&mut live, &patch, deployment());
        assert_eq!(live["metadata"]["labels"], json!({"a": "1"}));
        assert_eq!(live["metadata"]["finalizers"], json!(["y"]));
        assert_eq!(
            live["spec"]["template"]["spec"]["containers"][0]["env"],
            json!([{"name": "B", "value": "2"}])
        );
        assert_eq!(live["spec"]["strategy"], json!({"type": "Recreate"}));
        let mut replaced = json!({"data": {"a": "1"}});
        merge(
            &mut replaced,
            &json!({"data": {"$patch": "replace", "b": "2"}}),
            None,
        );
        assert_eq!(replaced, json!({"data": {"b": "2"}}));
    }

    #[test]
    fn a_list_without_a_strategy_is_replaced() {
        let mut live = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "web", "args": ["a", "b"]}
        ]}}}});
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "web", "args": ["c"]}
        ]}}}});
        merge(&mut live, &patch, deployment());
        assert_eq!(
            live["spec"]["template"]["spec"]["containers"][0]["args"],
            json!(["c"])
        );
    }
}
