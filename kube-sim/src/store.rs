//! The simulated cluster's state: every object as JSON under one global resourceVersion, the
//! recent history of changes (watches resume from it; older versions answer 410 Gone), and
//! the rules every write follows (metadata defaults, optimistic concurrency, cascade delete).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::resources::{NAMESPACES, ResourceType};
use crate::selector::Selector;
use crate::status::ApiError;

use crate::object::{fold_string_data, short_suffix};
pub use crate::object::{labels_of, metadata_mut, name_of, now_rfc3339};

/// Whether a write is stored, or only checked and answered (`dryRun=All`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Commit {
    Yes,
    No,
}

/// How a watch event changed the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change, as watches deliver it.
#[derive(Debug, Clone)]
pub struct Event {
    pub resource: &'static ResourceType,
    pub namespace: String,
    pub kind: EventType,
    pub resource_version: u64,
    pub object: Arc<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    group: &'static str,
    plural: &'static str,
    namespace: String,
    name: String,
}

impl Key {
    fn new(resource: &'static ResourceType, namespace: &str, name: &str) -> Self {
        let namespace = if resource.namespaced {
            namespace.to_owned()
        } else {
            String::new()
        };
        Self {
            group: resource.group,
            plural: resource.plural,
            namespace,
            name: name.to_owned(),
        }
    }

    /// The objects of `resource` in `namespace` (`""`: all), read as one range of the
    /// ordered map (keys sort by resource, then namespace), not by looking at every object.
    fn range<'a>(
        objects: &'a BTreeMap<Key, Arc<Value>>,
        resource: &'static ResourceType,
        namespace: &'a str,
    ) -> impl Iterator<Item = (&'a Key, &'a Arc<Value>)> + 'a {
        let start = Self {
            group: resource.group,
            plural: resource.plural,
            namespace: namespace.to_owned(),
            name: String::new(),
        };
        let matches = Self::of(resource, namespace);
        objects.range(start..).take_while(move |(k, _)| matches(k))
    }

    fn of<'a>(resource: &'a ResourceType, namespace: &'a str) -> impl Fn(&Key) -> bool + 'a {
        move |k| {
            k.group == resource.group
                && k.plural == resource.plural
                && (namespace.is_empty() || k.namespace == namespace)
        }
    }
}

struct State {
    resource_version: u64,
    next_uid: u64,
    objects: BTreeMap<Key, Arc<Value>>,
    history: VecDeque<Event>,
    history_limit: usize,
    /// One channel per resource type and namespace ("" for all namespaces), for API watches:
    /// a watch of one namespace's pods is not woken by every pod, event or lease written
    /// elsewhere. A channel nobody listens to any more is dropped.
    channels: HashMap<(&'static str, &'static str), HashMap<String, broadcast::Sender<Event>>>,
}

/// Events a resource channel holds for a slow watcher before it lags (and is ended).
const RESOURCE_CHANNEL: usize = 8_192;
/// The same for one namespace's channel (there are many; each is allocated whole).
const NAMESPACE_CHANNEL: usize = 1_024;

/// All objects of the simulated cluster.
pub struct Store {
    state: Mutex<State>,
    events: broadcast::Sender<Event>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

/// How many past changes watches can resume from, unless configured otherwise.
pub const DEFAULT_HISTORY: usize = 10_000;

impl Store {
    pub fn new(history_limit: usize) -> Self {
        let state = State {
            resource_version: 1,
            next_uid: 1,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            channels: HashMap::new(),
        };
        Self {
            state: Mutex::new(state),
            events: broadcast::channel(65_536).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Shrinks (or grows) the history watches can resume from; tests use it to provoke 410.
    pub fn set_history_limit(&self, limit: usize) {
        let mut state = self.lock();
        state.history_limit = limit.max(1);
        while state.history.len() > state.history_limit {
            state.history.pop_front();
        }
    }

    /// The current resourceVersion (of the whole cluster).
    pub fn resource_version(&self) -> u64 {
        self.lock().resource_version
    }

    fn record(
        &self,
        state: &mut State,
        resource: &'static ResourceType,
        namespace: &str,
        kind: EventType,
        object: Arc<Value>,
    ) {
        let event = Event {
            resource,
            namespace: namespace.to_owned(),
            kind,
            resource_version: state.resource_version,
            object,
        };
        state.history.push_back(event.clone());
        while state.history.len() > state.history_limit {
            state.history.pop_front();
        }
        if let Some(channels) = state.channels.get_mut(&(resource.group, resource.plural)) {
            let scopes = std::iter::once("").chain((!namespace.is_empty()).then_some(namespace));
            for scope in scopes {
                if let Some(channel) = channels.get(scope)
                    && channel.send(event.clone()).is_err()
                {
                    channels.remove(scope);
                }
            }
        }
        let _ = self.events.send(event);
    }

    fn bump(state: &mut State, object: &mut Value) -> u64 {
        state.resource_version += 1;
        metadata_mut(object).insert(
            "resourceVersion".into(),
            Value::String(state.resource_version.to_string()),
        );
        state.resource_version
    }

    fn require_namespace(
        state: &State,
        resource: &ResourceType,
        namespace: &str,
    ) -> Result<(), ApiError> {
        if !resource.namespaced {
            return Ok(());
        }
        match state.objects.get(&Key::new(&NAMESPACES, "", namespace)) {
            None => Err(ApiError::not_found("Namespace", "namespaces", namespace)),
            Some(ns) if ns["metadata"]["deletionTimestamp"].is_string() => {
                Err(ApiError::forbidden(format!(
                    "{} is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
                    resource.plural
                )))
            }
            Some(_) => Ok(()),
        }
    }

    /// Stores a new object, filling in server-set metadata.
    pub fn create(
        &self,
        resource: &'static ResourceType,
        namespace: &str,
        object: Value,
    ) -> Result<Arc<Value>, ApiError> {
        self.create_or_try(resource, namespace, object, Commit::Yes)
    }

    /// What [`create`](Self::create) would store, checked the same way but not stored
    /// (`dryRun=All`).
    pub fn try_create(
        &self,
        resource: &'static ResourceType,
        namespace: &str,
        object: Value,
    ) -> Result<Arc<Value>, ApiError> {
        self.create_or_try(resource, namespace, object, Commit::No)
    }

    fn create_or_try(
        &self,
        resource: &'static ResourceType,
        namespace: &str,
        mut object: Value,
        commit: Commit,
    ) -> Result<Arc<Value>, ApiError> {
        let mut state = self.lock();
        Self::require_namespace(&state, resource, namespace)?;
        let metadata = metadata_mut(&mut object);
        let name = match (
            metadata.get("name").and_then(Value::as_str),
            metadata.get("generateName").and_then(Value::as_str),
        ) {
            (Some(name), _) if !name.is_empty() => name.to_owned(),
            (_, Some(prefix)) => format!("{prefix}{}", short_suffix(state.next_uid)),
            _ => {
                return Err(ApiError::invalid(
                    resource.kind,
                    "",
                    &["metadata.name: Required value: name or generateName is required".into()],
                ));
            }
        };
        let key = Key::new(resource, namespace, &name);
        if state.objects.contains_key(&key) {
            return Err(ApiError::already_exists(resource.plural, &name));
        }
        let uid = format!("00000000-0000-4000-8000-{:012x}", state.next_uid);
        if commit == Commit::Yes {
            state.next_uid += 1;
        }
        let metadata = metadata_mut(&mut object);
        metadata.insert("name".into(), Value::String(name));
        if resource.namespaced {
            metadata.insert("namespace".into(), Value::String(namespace.to_owned()));
        }
        metadata.insert("uid".into(), Value::String(uid));
        metadata.insert("creationTimestamp".into(), Value::String(now_rfc3339()));
        if object.get("spec").is_some() {
            metadata_mut(&mut object).insert("generation".into(), json!(1));
        }
        object["apiVersion"] = Value::String(resource.api_version());
        object["kind"] = Value::String(resource.kind.to_owned());
        if resource == &NAMESPACES {
            object["status"] = json!({ "phase": "Active" });
        }
        fold_string_data(&mut object);
        if commit == Commit::No {
            return Ok(Arc::new(object));
        }
        Self::bump(&mut state, &mut object);
        let object = Arc::new(object);
        state.objects.insert(key, object.clone());
        self.record(
            &mut state,
            resource,
            namespace,
            EventType::Added,
            object.clone(),
        );
        Ok(object)
    }

    pub fn get(
        &self,
        resource: &'static ResourceType,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Value>, ApiError> {
        self.lock()
            .objects
            .get(&Key::new(resource, namespace, name))
            .cloned()
            .ok_or_else(|| ApiError::not_found(resource.kind, resource.plural, name))
    }

    /// Objects of `resource` in `namespace` (`""`: all) matching `selector`, with the cluster's resourceVersion.
    pub fn list(
        &self,
        resource: &'static ResourceType,
        namespace: &str,
        selector: &Selector,
    ) -> (Vec<Arc<Value>>, u64) {
        let state = self.lock();
        let items = Key::range(&state.objects, resource, namespace)
            .filter(|(_, v)| selector.matches(&labels_of(v)))
            .map(|(_, v)| v.clone())
            .collect();
        (items, state.resource_version)
    }

    /// Applies `change` to the stored object; records a MODIFIED event when it changed anything.
    /// `change` sees the current object and may refuse with an error.
    pub fn modify(
        &self,
        resource: &'static ResourceType,
        namespace: &str,
        name: &str,
        change: impl FnOnce(&mut Value) -> Result<(), ApiError>,
    ) -> Result<Arc<Value>, ApiError> {
        self.modify_or_try(resource, namespace, name, change, Commit::Yes)
    }

    /// What [`modify`](Self::modify) would store, not stored (`dryRun=All`).
    pub fn try_modify(
        &self,
        resource: &'static ResourceType,
        namespace: &str,
        name: &str,
        change: impl FnOnce(&mut Value) -> Result<(), ApiError>,
    ) -> Result<Arc<Value>, ApiError> {
        self.modify_or_try(resource, namespace, name, change, Commit::No)
    }

    fn modify_or_try(
        &self,
        resource: &'static ResourceType,
        namespace: &str,
        name: &str,
        change: impl FnOnce(&mut Value) -> Result<(), ApiError>,
        commit: Commit,
    ) -> Result<Arc<Value>, ApiError> {
        let mut state = self.lock();
        let key = Key::new(resource, namespace, name);
        let current = state
            .objects
            .get(&key)
            .cloned()
            .ok_or_else(|| ApiError::not_found(resource.kind, resource.plural, name))?;
        let mut next = Value::clone(&current);
        change(&mut next)?;
        // Identity and server-set fields cannot be changed by a write.
        for field in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
        ] {
            match current["metadata"].get(field) {
                Some(value) => {
                    metadata_mut(&mut next).insert(field.into(), value.clone());
                }
                None if field == "deletionTimestamp" => {}
                None => {
                    metadata_mut(&mut next).remove(field);
                }
            }
        }
        next["apiVersion"] = current["apiVersion"].clone();
        next["kind"] = current["kind"].clone();
        fold_string_data(&mut next);
        let mut comparable = next.clone();
        metadata_mut(&mut comparable).insert(
            "resourceVersion".into(),
            current["metadata"]["resourceVersion"].clone(),
        );
        if comparable == *current {
            return Ok(current);
        }
        if commit == Commit::No {
            return Ok(Arc::new(comparable));
        }
        if next.get("spec") != current.get("spec") {
            let generation = current["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
            metadata_mut(&mut next).insert("generation".into(), json!(generation));
        }
        Self::bump(&mut state, &mut next);
        let next = Arc::new(next);
        state.objects.insert(key, next.clone());
        self.record(
            &mut state,
            resource,
            namespace,
            EventType::Modified,
            next.clone(),
        );
        Ok(next)
    }

    /// Marks an object as being deleted (namespaces, objects with finalizers) or removes it and,
    /// in the background, everything it owns.
    pub fn delete(
        &self,
        resource: &'static ResourceType,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Value>, ApiError> {
        let current = self.get(resource, namespace, name)?;
        let has_finalizers = current["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        if resource == &NAMESPACES || has_finalizers {
            return self.modify(resource, namespace, name, |object| {
                if !object["metadata"]["deletionTimestamp"].is_string() {
                    metadata_mut(object)
                        .insert("deletionTimestamp".into(), Value::String(now_rfc3339()));
                }
                if resource == &NAMESPACES {
                    object["status"] = json!({ "phase": "Terminating" });
                }
                Ok(())
            });
        }
        self.remove(resource, namespace, name)
    }

    /// Removes an object for good (and then its dependents), recording DELETED events.
    pub fn remove(
        &self,
        resource: &'static ResourceType,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Value>, ApiError> {
        let removed = {
            let mut state = self.lock();
            let key = Key::new(resource, namespace, name);
            let stored = state
                .objects
                .remove(&key)
                .ok_or_else(|| ApiError::not_found(resource.kind, resource.plural, name))?;
            let mut removed = Value::clone(&stored);
            Self::bump(&mut state, &mut removed);
            let removed = Arc::new(removed);
            self.record(
                &mut state,
                resource,
                namespace,
                EventType::Deleted,
                removed.clone(),
            );
            removed
        };
        if let Some(uid) = removed["metadata"]["uid"].as_str() {
            for (dependent_resource, dependent_namespace, dependent_name) in self.dependents_of(uid)
            {
                let _ = self.delete(dependent_resource, &dependent_namespace, &dependent_name);
            }
        }
        Ok(removed)
    }

    /// Objects whose ownerReferences name `uid`.
    fn dependents_of(&self, uid: &str) -> Vec<(&'static ResourceType, String, String)> {
        let state = self.lock();
        state
            .objects
            .iter()
            .filter(|(_, o)| {
                o["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid))
            })
            .filter_map(|(k, o)| {
                let resource =
                    crate::resources::find_kind(o["apiVersion"].as_str()?, o["kind"].as_str()?)?;
                Some((resource, k.namespace.clone(), k.name.clone()))
            })
            .collect()
    }

    /// Every object in `namespace`, of every namespaced type (the namespace controller empties it).
    pub fn contents_of_namespace(&self, namespace: &str) -> Vec<(&'static ResourceType, String)> {
        let state = self.lock();
        state
            .objects
            .iter()
            .filter(|(k, _)| !k.namespace.is_empty() && k.namespace == namespace)
            .filter_map(|(k, o)| {
                let resource =
                    crate::resources::find_kind(o["apiVersion"].as_str()?, o["kind"].as_str()?)?;
                Some((resource, k.name.clone()))
            })
            .collect()
    }

    /// Starts a watch: the events to send first, and a receiver for what happens next.
    /// `from` is the resourceVersion the client has seen; `None` replays the current state as ADDED.
    pub fn watch(
        &self,
        resource: &'static ResourceType,
        namespace: &str,
        from: Option<u64>,
    ) -> Result<(Vec<Event>, broadcast::Receiver<Event>), ApiError> {
        self.watch_from(resource, namespace, from, false)
    }

    /// Like [`Store::watch`], but the receiver hears about every resource type: for
    /// controllers that follow several (a Deployment's ReplicaSets and pods).
    pub fn watch_all_kinds(
        &self,
        resource: &'static ResourceType,
        namespace: &str,
        from: Option<u64>,
    ) -> Result<(Vec<Event>, broadcast::Receiver<Event>), ApiError> {
        self.watch_from(resource, namespace, from, true)
    }

    fn watch_from(
        &self,
        resource: &'static ResourceType,
        namespace: &str,
        from: Option<u64>,
        all_kinds: bool,
    ) -> Result<(Vec<Event>, broadcast::Receiver<Event>), ApiError> {
        let mut state = self.lock();
        let receiver = if all_kinds {
            self.events.subscribe()
        } else {
            state
                .channels
                .entry((resource.group, resource.plural))
                .or_default()
                .entry(namespace.to_owned())
                .or_insert_with(|| {
                    let capacity = if namespace.is_empty() {
                        RESOURCE_CHANNEL
                    } else {
                        NAMESPACE_CHANNEL
                    };
                    broadcast::channel(capacity).0
                })
                .subscribe()
        };
        let initial = match from {
            None | Some(0) => Key::range(&state.objects, resource, namespace)
                .map(|(k, o)| Event {
                    resource,
                    namespace: k.namespace.clone(),
                    kind: EventType::Added,
                    resource_version: state.resource_version,
                    object: o.clone(),
                })
                .collect(),
            Some(seen) => {
                let oldest_kept = state
                    .history
                    .front()
                    .map_or(state.resource_version, |e| e.resource_version);
                if seen + 1 < oldest_kept && seen < state.resource_version {
                    return Err(ApiError::gone(format!(
                        "too old resource version: {seen} ({})",
                        oldest_kept - 1
                    )));
                }
                state
                    .history
                    .iter()
                    .filter(|e| {
                        e.resource_version > seen
                            && e.resource == resource
                            && (namespace.is_empty() || e.namespace == namespace)
                    })
                    .cloned()
                    .collect()
            }
        };
        Ok((initial, receiver))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{PODS, REPLICA_SETS};

    fn store_with_namespace() -> Store {
        let store = Store::new(DEFAULT_HISTORY);
        store
            .create(&NAMESPACES, "", json!({ "metadata": { "name": "pr-1" } }))
            .expect("namespace");
        store
    }

    #[test]
    fn create_fills_server_metadata_and_refuses_duplicates() {
        let store = store_with_namespace();
        let pod = store
            .create(
                &PODS,
                "pr-1",
                json!({ "metadata": { "name": "web" }, "spec": {} }),
            )
            .expect("pod");
        assert_eq!(pod["metadata"]["namespace"], "pr-1");
        assert_eq!(pod["metadata"]["generation"], 1);
        assert!(
            pod["metadata"]["uid"].is_string() && pod["metadata"]["creationTimestamp"].is_string()
        );
        assert_eq!(pod["kind"], "Pod");
        let duplicate = store
            .create(&PODS, "pr-1", json!({ "metadata": { "name": "web" } }))
            .expect_err("duplicate");
        assert_eq!((duplicate.code, duplicate.reason), (409, "AlreadyExists"));
        let missing = store
            .create(&PODS, "nope", json!({ "metadata": { "name": "x" } }))
            .expect_err("no namespace");
        assert_eq!(missing.code, 404);
        let generated = store
            .create(
                &PODS,
                "pr-1",
                json!({ "metadata": { "generateName": "web-" } }),
            )
            .expect("generated");
        assert!(name_of(&generated).starts_with("web-") && name_of(&generated).len() == 9);
    }

    #[test]
    fn a_terminating_namespace_refuses_new_content() {
        let store = store_with_namespace();
        let ns = store.delete(&NAMESPACES, "", "pr-1").expect("delete marks");
        assert_eq!(ns["status"]["phase"], "Terminating");
        let refused = store
            .create(&PODS, "pr-1", json!({ "metadata": { "name": "late" } }))
            .expect_err("forbidden");
        assert_eq!(refused.code, 403);
    }

    #[test]
    fn deleting_an_owner_removes_its_dependents() {
        let store = store_with_namespace();
        let rs = store
            .create(
                &REPLICA_SETS,
                "pr-1",
                json!({ "metadata": { "name": "web-1" }, "spec": {} }),
            )
            .expect("rs");
        let owner = json!([{ "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": rs["metadata"]["uid"] }]);
        store
            .create(
                &PODS,
                "pr-1",
                json!({ "metadata": { "name": "web-1-a", "ownerReferences": owner } }),
            )
            .expect("pod");
        store
            .delete(&REPLICA_SETS, "pr-1", "web-1")
            .expect("delete");
        assert_eq!(
            store.get(&PODS, "pr-1", "web-1-a").expect_err("gone").code,
            404
        );
    }

    #[test]
    fn watches_resume_from_history_and_refuse_versions_it_no_longer_has() {
        let store = store_with_namespace();
        let first = store
            .create(&PODS, "pr-1", json!({ "metadata": { "name": "a" } }))
            .expect("a");
        let seen: u64 = first["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .expect("rv");
        store
            .create(&PODS, "pr-1", json!({ "metadata": { "name": "b" } }))
            .expect("b");
        let (replay, _) = store.watch(&PODS, "pr-1", Some(seen)).expect("watch");
        assert_eq!(
            replay
                .iter()
                .map(|e| name_of(&e.object))
                .collect::<Vec<_>>(),
            ["b"]
        );
        store.set_history_limit(1);
        store
            .create(&PODS, "pr-1", json!({ "metadata": { "name": "c" } }))
            .expect("c");
        assert_eq!(
            store
                .watch(&PODS, "pr-1", Some(seen))
                .expect_err("too old")
                .code,
            410
        );
    }

    #[test]
    fn modify_bumps_generation_only_when_spec_changes_and_skips_no_ops() {
        let store = store_with_namespace();
        store
            .create(
                &PODS,
                "pr-1",
                json!({ "metadata": { "name": "a" }, "spec": { "x": 1 } }),
            )
            .expect("a");
        let same = store.modify(&PODS, "pr-1", "a", |_| Ok(())).expect("no-op");
        let status = store
            .modify(&PODS, "pr-1", "a", |o| {
                o["status"] = json!({ "phase": "Running" });
                Ok(())
            })
            .expect("status");
        assert_ne!(
            same["metadata"]["resourceVersion"],
            status["metadata"]["resourceVersion"]
        );
        assert_eq!(status["metadata"]["generation"], 1);
        let spec = store
            .modify(&PODS, "pr-1", "a", |o| {
                o["spec"]["x"] = json!(2);
                Ok(())
            })
            .expect("spec");
        assert_eq!(spec["metadata"]["generation"], 2);
    }
}
