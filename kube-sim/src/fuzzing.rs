//! Entry points for `cargo fuzz` (`fuzz/`, built with `--cfg fuzzing`): the parsers a client's
//! request reaches, each taking raw input as a client could send it. Errors are fine; a panic
//! is a bug.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::selector::{FieldSelector, Selector};

/// A label selector and a field selector parsed from `text`, then matched against an object.
pub fn selectors(text: &str) {
    let labels = BTreeMap::from([
        ("app".to_owned(), "web".to_owned()),
        ("tier".to_owned(), String::new()),
    ]);
    if let Ok(selector) = Selector::parse(text) {
        selector.matches(&labels);
    }
    if let Ok(selector) = FieldSelector::parse(text) {
        selector.matches(&sample_pod());
    }
}

/// A body sent to apply (server-side apply, strategic merge and JSON merge patch) onto a live
/// Deployment: `body` is JSON, or protobuf as kubectl sends it.
pub fn patch_bodies(body: &[u8]) {
    let patch = match serde_json::from_slice::<Value>(body) {
        Ok(patch) => patch,
        Err(_) => match crate::protobuf::to_json(body) {
            Ok(patch) => patch,
            Err(_) => return,
        },
    };
    let live = sample_deployment();
    let _ = crate::apply::apply(Some(&live), &patch, "fuzz", false, "deployments", "web");
    let _ = crate::apply::apply(None, &patch, "fuzz", true, "deployments", "web");
    let mut merged = live.clone();
    let schema = crate::openapi::schema_of("apps", "v1", "Deployment");
    crate::strategic::merge(&mut merged, &patch, schema);
}

fn sample_pod() -> Value {
    json!({
        "metadata": { "name": "web-1", "namespace": "preview", "labels": { "app": "web" } },
        "spec": { "nodeName": "sim", "containers": [{ "name": "app", "image": "nginx" }] },
        "status": { "phase": "Running" },
    })
}

fn sample_deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": "web", "namespace": "preview", "labels": { "app": "web" } },
        "spec": {
            "replicas": 2,
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": { "containers": [
                    { "name": "app", "image": "nginx", "ports": [{ "containerPort": 80 }],
                      "env": [{ "name": "A", "value": "1" }] },
                ] },
            },
        },
    })
}
