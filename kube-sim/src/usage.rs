//! metrics.k8s.io for the simulated cluster: each running container's CPU and memory, read
//! from `/proc` for the process group the kubelet started for it (CPU as the average since the
//! container started). A container running its image's own entrypoint has no process here and
//! reports a nominal 1m CPU and 4 MiB. The `hide_metrics_api` knob makes the API absent, as on
//! a cluster without metrics-server.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use serde_json::{Value, json};

use crate::Sim;
use crate::resources::PODS;
use crate::selector::Selector;
use crate::status::ApiError;
use crate::store::{name_of, now_rfc3339};

/// Linux's usual clock ticks per second and page size.
const TICKS_PER_SECOND: f64 = 100.0;
const PAGE_BYTES: u64 = 4096;
/// What an image's own entrypoint is said to use.
const NOMINAL: Usage = Usage {
    nanocores: 1_000_000,
    bytes: 4 * 1024 * 1024,
};

type Key = (String, String, String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Usage {
    nanocores: u64,
    bytes: u64,
}

/// The process group of each container the kubelet is running.
#[derive(Debug, Default)]
pub struct Processes(Mutex<HashMap<Key, (u32, Instant)>>);

impl Processes {
    pub fn started(&self, namespace: &str, pod: &str, container: &str, group: u32) {
        let key = (namespace.to_owned(), pod.to_owned(), container.to_owned());
        self.lock().insert(key, (group, Instant::now()));
    }

    pub fn ended(&self, namespace: &str, pod: &str, container: &str) {
        let key = (namespace.to_owned(), pod.to_owned(), container.to_owned());
        self.lock().remove(&key);
    }

    fn get(&self, namespace: &str, pod: &str, container: &str) -> Option<(u32, Instant)> {
        let key = (namespace.to_owned(), pod.to_owned(), container.to_owned());
        self.lock().get(&key).copied()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, (u32, Instant)>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// `(process group, CPU ticks, resident pages)` from the text of `/proc/PID/stat`.
fn parse_stat(stat: &str) -> Option<(u32, u64, u64)> {
    // The command name (field 2) may contain spaces; the fields after it are plain.
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
    let number = |i: usize| fields.get(i)?.parse::<u64>().ok();
    let group = u32::try_from(number(2)?).ok()?;
    Some((group, number(11)? + number(12)?, number(21)?))
}

/// What the processes of `group` use now, CPU averaged over their life since `since`.
fn group_usage(group: u32, since: Instant) -> Usage {
    let mut ticks = 0;
    let mut pages = 0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some((g, t, p)) = parse_stat(&stat)
            && g == group
        {
            ticks += t;
            pages += p;
        }
    }
    let seconds = since.elapsed().as_secs_f64().max(0.001);
    Usage {
        nanocores: (ticks as f64 / TICKS_PER_SECOND / seconds * 1e9) as u64,
        bytes: pages * PAGE_BYTES,
    }
}

fn container_running(pod: &Value, container: &str) -> bool {
    pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|s| s["name"] == container && s["state"]["running"].is_object())
}

fn pod_metrics(sim: &Sim, namespace: &str, pod: &Value) -> Value {
    let name = name_of(pod);
    let containers: Vec<Value> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .filter(|c| container_running(pod, c))
        .map(|c| {
            let usage = sim
                .processes
                .get(namespace, name, c)
                .map_or(NOMINAL, |(group, since)| group_usage(group, since));
            json!({ "name": c, "usage": { "cpu": format!("{}n", usage.nanocores), "memory": format!("{}Ki", usage.bytes / 1024) } })
        })
        .collect();
    json!({
        "kind": "PodMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": { "name": name, "namespace": namespace, "creationTimestamp": now_rfc3339() },
        "timestamp": now_rfc3339(), "window": "10s", "containers": containers,
    })
}

/// `GET .../pods` (a list) or `GET .../pods/NAME` of metrics.k8s.io.
pub fn respond(sim: &Sim, namespace: &str, name: Option<&str>) -> Result<Value, ApiError> {
    let (pods, _) = sim.store.list(&PODS, namespace, &Selector::default());
    let running = pods
        .iter()
        .filter(|p| p["status"]["phase"] == "Running")
        .filter(|p| name.is_none_or(|n| name_of(p) == n));
    let items: Vec<Value> = running
        .map(|p| {
            let ns = p["metadata"]["namespace"].as_str().unwrap_or(namespace);
            pod_metrics(sim, ns, p)
        })
        .collect();
    match name {
        Some(name) => items
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::not_found("PodMetrics", "pods", name)),
        None => Ok(json!({
            "kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {}, "items": items,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_group_cpu_and_memory_from_a_stat_line() {
        let stat = "4242 (sh -c x) S 1 4242 4242 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 555 2621440 250 18446744073709551615";
        assert_eq!(parse_stat(stat), Some((4242, 10, 250)));
    }

    #[test]
    fn this_process_is_measured() {
        let own = std::fs::read_to_string("/proc/self/stat").expect("stat");
        let (_, _, pages) = parse_stat(&own).expect("parsed");
        assert!(pages > 0);
    }
}
