//! Server-side apply: merges an applied configuration into the live object and tracks which
//! manager owns which field in `metadata.managedFields` (FieldsV1), so a manager that applies
//! a different value for a field another manager owns gets a 409 conflict unless it forces.
//!
//! Simplification against the real API server: lists are owned and replaced as a whole
//! (atomic), not merged by key.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::status::ApiError;
use crate::store::{metadata_mut, now_rfc3339};

/// A field path such as `["spec", "replicas"]`.
type FieldPath = Vec<String>;

/// Fields never owned: identity and server-set metadata.
fn is_ownable(path: &[String]) -> bool {
    match path {
        [] => false,
        [top, ..] if top == "apiVersion" || top == "kind" || top == "status" => false,
        [meta, field, ..] if meta == "metadata" => {
            field == "labels"
                || field == "annotations"
                || field == "finalizers"
                || field == "ownerReferences"
        }
        _ => true,
    }
}

/// The leaf paths set in `value` (objects recurse; lists and scalars are leaves).
fn leaf_paths(value: &Value) -> BTreeSet<FieldPath> {
    fn walk(value: &Value, path: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
        match value {
            Value::Object(map) if !map.is_empty() => {
                for (key, child) in map {
                    path.push(key.clone());
                    walk(child, path, out);
                    path.pop();
                }
            }
            _ if is_ownable(path) => {
                out.insert(path.clone());
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

fn at<'v>(value: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter().try_fold(value, |v, key| v.get(key))
}

fn remove_at(value: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = value;
    for key in parents {
        match current.get_mut(key) {
            Some(next) => current = next,
            None => return,
        }
    }
    if let Some(map) = current.as_object_mut() {
        map.remove(last);
    }
}

/// Deep-merges `patch` into `target`: objects merge, everything else replaces.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                match target.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge(existing, value)
                    }
                    _ => {
                        target.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

/// FieldsV1 (`{"f:spec":{"f:replicas":{}}}`) from paths.
fn to_fields_v1(paths: &BTreeSet<FieldPath>) -> Value {
    let mut root = Map::new();
    for path in paths {
        let mut node = &mut root;
        for key in path {
            let entry = node.entry(format!("f:{key}")).or_insert_with(|| json!({}));
            node = match entry {
                Value::Object(map) => map,
                _ => return Value::Object(root),
            };
        }
    }
    Value::Object(root)
}

/// Paths from FieldsV1; only `f:` keys are understood (kube-sim writes no others).
fn from_fields_v1(fields: &Value) -> BTreeSet<FieldPath> {
    fn walk(node: &Value, path: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
        let children: Vec<(&String, &Value)> = node
            .as_object()
            .map(|m| m.iter().filter(|(k, _)| k.starts_with("f:")).collect())
            .unwrap_or_default();
        if children.is_empty() {
            if !path.is_empty() {
                out.insert(path.clone());
            }
            return;
        }
        for (key, child) in children {
            path.push(key.trim_start_matches("f:").to_owned());
            walk(child, path, out);
            path.pop();
        }
    }
    let mut out = BTreeSet::new();
    walk(fields, &mut Vec::new(), &mut out);
    out
}

/// One manager's entry in managedFields.
#[derive(Debug, Clone)]
struct Ownership {
    manager: String,
    operation: String,
    paths: BTreeSet<FieldPath>,
}

fn ownerships(object: &Value) -> Vec<Ownership> {
    object["metadata"]["managedFields"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| Ownership {
                    manager: e["manager"].as_str().unwrap_or_default().to_owned(),
                    operation: e["operation"].as_str().unwrap_or("Update").to_owned(),
                    paths: from_fields_v1(&e["fieldsV1"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn write_ownerships(object: &mut Value, api_version: &str, owners: &[Ownership]) {
    let entries: Vec<Value> = owners
        .iter()
        .filter(|o| !o.paths.is_empty())
        .map(|o| {
            json!({
                "manager": o.manager,
                "operation": o.operation,
                "apiVersion": api_version,
                "time": now_rfc3339(),
                "fieldsType": "FieldsV1",
                "fieldsV1": to_fields_v1(&o.paths),
            })
        })
        .collect();
    metadata_mut(object).insert("managedFields".into(), Value::Array(entries));
}

/// Two paths overlap when one is a prefix of the other (a parent owns its children).
fn overlaps(a: &[String], b: &[String]) -> bool {
    a.iter().zip(b).all(|(x, y)| x == y)
}

fn dotted(path: &[String]) -> String {
    path.iter().map(|k| format!(".{k}")).collect()
}

/// Applies `applied` for `manager` onto `current` (`None`: the object does not exist yet) and
/// returns the object to store. `plural`/`name` are for conflict messages.
pub fn apply(
    current: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    plural: &str,
    name: &str,
) -> Result<Value, ApiError> {
    if manager.is_empty() {
        return Err(ApiError::bad_request(
            "PATCH with an apply patch requires the fieldManager parameter",
        ));
    }
    let api_version = applied["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let applied_paths = leaf_paths(applied);
    let Some(current) = current else {
        let mut created = applied.clone();
        let owner = Ownership {
            manager: manager.to_owned(),
            operation: "Apply".into(),
            paths: applied_paths,
        };
        write_ownerships(&mut created, &api_version, &[owner]);
        return Ok(created);
    };

    let mut owners = ownerships(current);
    let mut conflicts = Vec::new();
    for owner in owners.iter_mut().filter(|o| o.manager != manager) {
        let contested: Vec<FieldPath> = owner
            .paths
            .iter()
            .filter(|owned| {
                applied_paths
                    .iter()
                    .any(|p| overlaps(p, owned) && at(current, p) != at(applied, p))
            })
            .cloned()
            .collect();
        for path in contested {
            if force {
                owner.paths.remove(&path);
            } else {
                conflicts.push((owner.manager.clone(), dotted(&path)));
            }
        }
    }
    if !conflicts.is_empty() {
        return Err(ApiError::apply_conflict(plural, name, &conflicts));
    }

    let mut next = current.clone();
    // Fields this manager applied before but no longer does are removed, unless another owns them.
    let previously: BTreeSet<FieldPath> = owners
        .iter()
        .filter(|o| o.manager == manager && o.operation == "Apply")
        .flat_map(|o| o.paths.clone())
        .collect();
    for dropped in previously.difference(&applied_paths) {
        let owned_elsewhere = owners
            .iter()
            .any(|o| o.manager != manager && o.paths.iter().any(|p| overlaps(p, dropped)));
        if !owned_elsewhere {
            remove_at(&mut next, dropped);
        }
    }
    let mut body = applied.clone();
    if let Some(map) = body.as_object_mut() {
        map.remove("status");
    }
    merge(&mut next, &body);
    owners.retain(|o| !(o.manager == manager && o.operation == "Apply"));
    owners.push(Ownership {
        manager: manager.to_owned(),
        operation: "Apply".into(),
        paths: applied_paths,
    });
    write_ownerships(&mut next, &api_version, &owners);
    Ok(next)
}

/// Records that `manager` changed the fields that differ between `before` and `after` with an
/// ordinary write (PUT or merge patch): it now owns them, and nobody else does.
pub fn record_update(before: &Value, after: &mut Value, manager: &str) {
    let changed: BTreeSet<FieldPath> = leaf_paths(after)
        .into_iter()
        .filter(|p| at(before, p) != at(after, p))
        .collect();
    if changed.is_empty() {
        return;
    }
    let api_version = after["apiVersion"].as_str().unwrap_or_default().to_owned();
    let mut owners = ownerships(before);
    for owner in &mut owners {
        owner
            .paths
            .retain(|p| !changed.iter().any(|c| overlaps(c, p)));
    }
    match owners
        .iter_mut()
        .find(|o| o.manager == manager && o.operation == "Update")
    {
        Some(owner) => owner.paths.extend(changed),
        None => owners.push(Ownership {
            manager: manager.to_owned(),
            operation: "Update".into(),
            paths: changed,
        }),
    }
    write_ownerships(after, &api_version, &owners);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(replicas: i64, image: &str) -> Value {
        json!({ "apiVersion": "apps/v1", "kind": "Deployment", "metadata": { "name": "web", "labels": { "app": "web" } },
                "spec": { "replicas": replicas, "template": { "spec": { "containers": [{ "name": "web", "image": image }] } } } })
    }

    #[test]
    fn fields_v1_round_trips() {
        let paths = leaf_paths(&deployment(1, "a"));
        assert!(paths.contains(&vec!["spec".to_owned(), "replicas".to_owned()]));
        assert!(
            !paths
                .iter()
                .any(|p| p[0] == "apiVersion"
                    || p == &vec!["metadata".to_owned(), "name".to_owned()])
        );
        assert_eq!(from_fields_v1(&to_fields_v1(&paths)), paths);
    }

    #[test]
    fn the_same_manager_reapplies_freely_and_dropped_fields_disappear() {
        let first = apply(
            None,
            &deployment(1, "a"),
            "slipway",
            false,
            "deployments",
            "web",
        )
        .expect("create");
        let mut without_labels = deployment(2, "b");
        without_labels["metadata"]
            .as_object_mut()
            .expect("metadata")
            .remove("labels");
        let second = apply(
            Some(&first),
            &without_labels,
            "slipway",
            false,
            "deployments",
            "web",
        )
        .expect("reapply");
        assert_eq!(second["spec"]["replicas"], 2);
        assert!(
            second["metadata"]["labels"].get("app").is_none(),
            "a field no longer applied is removed"
        );
    }

    #[test]
    fn another_manager_conflicts_unless_it_forces() {
        let live = apply(
            None,
            &deployment(1, "a"),
            "slipway",
            false,
            "deployments",
            "web",
        )
        .expect("create");
        let conflict = apply(
            Some(&live),
            &deployment(3, "a"),
            "kubectl",
            false,
            "deployments",
            "web",
        )
        .expect_err("conflict");
        assert_eq!((conflict.code, conflict.reason), (409, "Conflict"));
        assert!(
            conflict
                .message
                .contains("conflict with \"slipway\": .spec.replicas"),
            "{}",
            conflict.message
        );
        let same_value = apply(
            Some(&live),
            &deployment(1, "a"),
            "kubectl",
            false,
            "deployments",
            "web",
        );
        assert!(
            same_value.is_ok(),
            "applying the same value is shared ownership, not a conflict"
        );
        let forced = apply(
            Some(&live),
            &deployment(3, "a"),
            "kubectl",
            true,
            "deployments",
            "web",
        )
        .expect("force");
        assert_eq!(forced["spec"]["replicas"], 3);
        let again = apply(
            Some(&forced),
            &deployment(1, "a"),
            "slipway",
            false,
            "deployments",
            "web",
        )
        .expect_err("lost ownership");
        assert!(
            again.message.contains("conflict with \"kubectl\""),
            "{}",
            again.message
        );
    }

    #[test]
    fn an_ordinary_update_takes_ownership_of_what_it_changed() {
        let live = apply(
            None,
            &deployment(1, "a"),
            "slipway",
            false,
            "deployments",
            "web",
        )
        .expect("create");
        let mut edited = live.clone();
        edited["spec"]["replicas"] = json!(5);
        record_update(&live, &mut edited, "kubectl-edit");
        let conflict = apply(
            Some(&edited),
            &deployment(2, "a"),
            "slipway",
            false,
            "deployments",
            "web",
        )
        .expect_err("conflict");
        assert!(
            conflict.message.contains("kubectl-edit"),
            "{}",
            conflict.message
        );
    }
}
