//! Knobs that make the simulated cluster slow or unreliable on purpose, so clients' retry
//! paths can be tested and benchmarks can model a slow cluster. Adjustable at run time
//! (programmatically, or over HTTP at `/kube-sim/knobs` for the standalone binary).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::status::ApiError;

/// The adjustable settings, as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KnobSettings {
    /// Added to every API request.
    pub latency_ms: u64,
    /// Ends each watch stream after this many events (0: never), as a dropped connection would.
    pub drop_watch_after_events: u64,
    /// Breaks each followed log stream after this many lines (0: never), as a dropped
    /// connection would.
    pub drop_logs_after_lines: u64,
    /// How many followed log streams `drop_logs_after_lines` breaks (0: every one).
    pub drop_log_streams: u64,
    /// How long a namespace stays Terminating after its contents are gone.
    pub namespace_deletion_delay_ms: u64,
    /// How long a pod stays Pending before its containers start.
    pub pod_start_delay_ms: u64,
    /// How long a Deployment's new pods take to become available.
    pub deployment_ready_delay_ms: u64,
    /// Interval of watch bookmarks, for clients that allow them.
    pub bookmark_interval_ms: u64,
    /// Serves no metrics.k8s.io, as a cluster without metrics-server.
    pub hide_metrics_api: bool,
    /// CPU of the one simulated node, in millicores (0: 8 cores); pods requesting more stay
    /// Pending as Unschedulable.
    pub node_cpu_millicores: u64,
    /// Memory of the node in MiB (0: 16 GiB).
    pub node_memory_mib: u64,
}

/// The live knobs.
#[derive(Debug, Default)]
pub struct Knobs {
    latency_ms: AtomicU64,
    drop_watch_after_events: AtomicU64,
    drop_logs_after_lines: AtomicU64,
    drop_log_streams: AtomicU64,
    /// Log streams still to break.
    log_streams_to_drop: AtomicU64,
    namespace_deletion_delay_ms: AtomicU64,
    pod_start_delay_ms: AtomicU64,
    deployment_ready_delay_ms: AtomicU64,
    bookmark_interval_ms: AtomicU64,
    hide_metrics_api: AtomicBool,
    node_cpu_millicores: AtomicU64,
    node_memory_mib: AtomicU64,
    /// Status codes the next requests fail with, one each, in order.
    injected: Mutex<VecDeque<u16>>,
}

impl Knobs {
    pub fn new(settings: &KnobSettings) -> Self {
        let knobs = Self::default();
        knobs.set(settings);
        knobs
    }

    pub fn set(&self, s: &KnobSettings) {
        self.latency_ms.store(s.latency_ms, Ordering::Relaxed);
        self.drop_watch_after_events
            .store(s.drop_watch_after_events, Ordering::Relaxed);
        self.drop_logs_after_lines
            .store(s.drop_logs_after_lines, Ordering::Relaxed);
        self.drop_log_streams
            .store(s.drop_log_streams, Ordering::Relaxed);
        let to_drop = if s.drop_log_streams == 0 {
            u64::MAX
        } else {
            s.drop_log_streams
        };
        self.log_streams_to_drop.store(to_drop, Ordering::Relaxed);
        self.namespace_deletion_delay_ms
            .store(s.namespace_deletion_delay_ms, Ordering::Relaxed);
        self.pod_start_delay_ms
            .store(s.pod_start_delay_ms, Ordering::Relaxed);
        self.deployment_ready_delay_ms
            .store(s.deployment_ready_delay_ms, Ordering::Relaxed);
        let bookmarks = if s.bookmark_interval_ms == 0 {
            5_000
        } else {
            s.bookmark_interval_ms
        };
        self.bookmark_interval_ms
            .store(bookmarks, Ordering::Relaxed);
        self.hide_metrics_api
            .store(s.hide_metrics_api, Ordering::Relaxed);
        self.node_cpu_millicores
            .store(s.node_cpu_millicores, Ordering::Relaxed);
        self.node_memory_mib
            .store(s.node_memory_mib, Ordering::Relaxed);
    }

    pub fn settings(&self) -> KnobSettings {
        KnobSettings {
            latency_ms: self.latency_ms.load(Ordering::Relaxed),
            drop_watch_after_events: self.drop_watch_after_events.load(Ordering::Relaxed),
            drop_logs_after_lines: self.drop_logs_after_lines.load(Ordering::Relaxed),
            drop_log_streams: self.drop_log_streams.load(Ordering::Relaxed),
            namespace_deletion_delay_ms: self.namespace_deletion_delay_ms.load(Ordering::Relaxed),
            pod_start_delay_ms: self.pod_start_delay_ms.load(Ordering::Relaxed),
            deployment_ready_delay_ms: self.deployment_ready_delay_ms.load(Ordering::Relaxed),
            bookmark_interval_ms: self.bookmark_interval_ms.load(Ordering::Relaxed),
            hide_metrics_api: self.hide_metrics_api.load(Ordering::Relaxed),
            node_cpu_millicores: self.node_cpu_millicores.load(Ordering::Relaxed),
            node_memory_mib: self.node_memory_mib.load(Ordering::Relaxed),
        }
    }

    /// Makes the next requests fail with these status codes (e.g. `[429, 500]`), one each.
    pub fn fail_next(&self, codes: &[u16]) {
        self.injected
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(codes);
    }

    /// Applied before every API request: the latency, then any injected failure.
    pub async fn before_request(&self) -> Result<(), ApiError> {
        let latency = self.latency_ms.load(Ordering::Relaxed);
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        let injected = self
            .injected
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop_front();
        injected.map_or(Ok(()), |code| Err(ApiError::injected(code)))
    }

    pub fn drop_watch_after(&self) -> Option<u64> {
        Some(self.drop_watch_after_events.load(Ordering::Relaxed)).filter(|n| *n > 0)
    }

    /// For a followed log stream that starts now: after how many lines it breaks, if it does.
    pub fn drop_logs_after(&self) -> Option<u64> {
        let lines = self.drop_logs_after_lines.load(Ordering::Relaxed);
        let breaks = lines > 0
            && self
                .log_streams_to_drop
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok();
        breaks.then_some(lines)
    }

    pub fn namespace_deletion_delay(&self) -> Duration {
        Duration::from_millis(self.namespace_deletion_delay_ms.load(Ordering::Relaxed))
    }

    pub fn pod_start_delay(&self) -> Duration {
        Duration::from_millis(self.pod_start_delay_ms.load(Ordering::Relaxed))
    }

    pub fn deployment_ready_delay(&self) -> Duration {
        Duration::from_millis(self.deployment_ready_delay_ms.load(Ordering::Relaxed))
    }

    pub fn metrics_api(&self) -> bool {
        !self.hide_metrics_api.load(Ordering::Relaxed)
    }

    /// The node's allocatable `(CPU millicores, memory bytes)`.
    pub fn node_capacity(&self) -> (u64, u64) {
        let cpu = match self.node_cpu_millicores.load(Ordering::Relaxed) {
            0 => 8_000,
            n => n,
        };
        let mib = match self.node_memory_mib.load(Ordering::Relaxed) {
            0 => 16_384,
            n => n,
        };
        (cpu, mib * 1024 * 1024)
    }

    pub fn bookmark_interval(&self) -> Duration {
        Duration::from_millis(self.bookmark_interval_ms.load(Ordering::Relaxed).max(10))
    }
}
