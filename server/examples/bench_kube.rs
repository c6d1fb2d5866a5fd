//! `scripts/bench kube`: Slipway's Kubernetes adapter against a running kube-sim (its
//! kubeconfig in `KUBECONFIG`). Creates `BENCH_PODS` pods (default 500) with `BENCH_IN_FLIGHT`
//! (default 100) at a time, each running `true`; one watch observes them all. Prints pods/s and
//! the p50/p99 time from the create call to the pod being observed Running (or past it).

#[path = "common/mod.rs"]
mod common;

use common::{env_number, percentile};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domain::cluster::{Cluster, ContainerRun, NamespaceSpec, PodRun};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::watcher;
use server::cluster::KubeCluster;

const NAMESPACE: &str = "bench";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let total = env_number("BENCH_PODS", 500);
    let in_flight = env_number("BENCH_IN_FLIGHT", 100);
    let path = std::env::var("KUBECONFIG")?;
    let cluster = KubeCluster::from_kubeconfig_file(std::path::Path::new(&path), None).await?;
    let client = kube::Client::try_from(
        kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(&path)?,
            &Default::default(),
        )
        .await?,
    )?;
    cluster
        .ensure_namespace(&NamespaceSpec {
            name: NAMESPACE.into(),
            ..NamespaceSpec::default()
        })
        .await?;

    let created: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let running: Arc<Mutex<HashMap<String, Duration>>> = Arc::default();
    let finished: Arc<Mutex<usize>> = Arc::default();
    let (all_finished, mut finished_signal) = tokio::sync::watch::channel(false);

    let api: kube::Api<Pod> = kube::Api::namespaced(client, NAMESPACE);
    let observer = {
        let (created, running, finished) = (created.clone(), running.clone(), finished.clone());
        tokio::spawn(async move {
            let mut seen_done = std::collections::HashSet::new();
            let mut events = watcher::watcher(api, watcher::Config::default()).boxed();
            while let Ok(Some(event)) = events.try_next().await {
                let pods: Vec<Pod> = match event {
                    watcher::Event::Apply(pod) | watcher::Event::InitApply(pod) => vec![pod],
                    _ => continue,
                };
                for pod in pods {
                    let name = pod.metadata.name.clone().unwrap_or_default();
                    let phase = pod
                        .status
                        .as_ref()
                        .and_then(|s| s.phase.clone())
                        .unwrap_or_default();
                    if matches!(phase.as_str(), "Running" | "Succeeded" | "Failed") {
                        let start = created.lock().map(|c| c.get(&name).copied()).ok().flatten();
                        if let (Some(start), Ok(mut running)) = (start, running.lock()) {
                            running
                                .entry(name.clone())
                                .or_insert_with(|| start.elapsed());
                        }
                    }
                    if matches!(phase.as_str(), "Succeeded" | "Failed") && seen_done.insert(name) {
                        let done = finished
                            .lock()
                            .map(|mut f| {
                                *f += 1;
                                *f
                            })
                            .unwrap_or(0);
                        if done >= total {
                            let _ = all_finished.send(true);
                            return;
                        }
                    }
                }
            }
        })
    };

    let started = Instant::now();
    let pods = futures::stream::iter(0..total).map(|i| {
        let (cluster, created) = (cluster.clone(), created.clone());
        async move {
            let name = format!("bench-{i}");
            let run = PodRun {
                namespace: NAMESPACE.into(),
                name: name.clone(),
                containers: vec![ContainerRun {
                    name: "step".into(),
                    image: "busybox".into(),
                    command: vec!["true".into()],
                    ..ContainerRun::default()
                }],
                ..PodRun::default()
            };
            if let Ok(mut created) = created.lock() {
                created.insert(name, Instant::now());
            }
            cluster.create_pod(&run).await
        }
    });
    let failures = pods
        .buffer_unordered(in_flight)
        .filter(|r| futures::future::ready(r.is_err()))
        .count()
        .await;
    let waited = tokio::time::timeout(
        Duration::from_secs(300),
        finished_signal.wait_for(|done| *done),
    )
    .await;
    let elapsed = started.elapsed();
    observer.abort();

    let mut latencies: Vec<Duration> = running
        .lock()
        .map(|r| r.values().copied().collect())
        .unwrap_or_default();
    latencies.sort();
    let done = finished.lock().map(|f| *f).unwrap_or(0);
    println!(
        "pods created: {total} ({in_flight} in flight), create errors: {failures}, finished: {done}{}",
        if waited.is_err() { " (timed out)" } else { "" }
    );
    println!(
        "throughput: {:.1} pods/s (create to completion, {:.2} s total)",
        done as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!(
        "create call -> observed Running: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    cluster.delete_namespace(NAMESPACE).await?;
    Ok(())
}
