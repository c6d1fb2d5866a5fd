//! Events, as the kubelet and controllers of a real cluster record them (`Scheduled`,
//! `Started`, `BackOff`, ...), so clients can show a namespace's recent history.

use serde_json::json;

use crate::Sim;
use crate::resources::EVENTS;
use crate::store::now_rfc3339;

/// What an event is about.
pub struct Involved<'a> {
    pub kind: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
}

/// Records a `Normal` or `Warning` event about `about`.
pub fn record(sim: &Sim, about: &Involved<'_>, warning: bool, reason: &str, message: &str) {
    let now = now_rfc3339();
    let event = json!({
        "metadata": { "generateName": format!("{}.", about.name) },
        "involvedObject": { "kind": about.kind, "namespace": about.namespace, "name": about.name },
        "type": if warning { "Warning" } else { "Normal" },
        "reason": reason, "message": message, "count": 1,
        "firstTimestamp": now, "lastTimestamp": now,
        "source": { "component": "kube-sim" },
    });
    let _ = sim.store.create(&EVENTS, about.namespace, event);
}
