//! Pod CPU and memory from metrics.k8s.io. A cluster without the metrics API (no
//! metrics-server, or one that is down) gives "unknown" rather than an error.

use domain::cluster::{PodUsage, Result};
use domain::quantity;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};

use super::errors::retrying;

fn pod_metrics() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("metrics.k8s.io", "v1beta1", "PodMetrics"),
        "pods",
    )
}

/// Sums a PodMetrics object's containers.
fn usage_of(metrics: &DynamicObject) -> PodUsage {
    let containers = metrics.data["containers"].as_array();
    let sum = |field: &str, read: fn(&str) -> Option<u64>| {
        containers
            .into_iter()
            .flatten()
            .filter_map(|c| c["usage"][field].as_str().and_then(read))
            .sum()
    };
    PodUsage {
        pod: metrics.metadata.name.clone().unwrap_or_default(),
        cpu_millicores: sum("cpu", quantity::cpu_millicores),
        memory_bytes: sum("memory", quantity::bytes),
    }
}

pub async fn of_namespace(client: &Client, namespace: &str) -> Result<Option<Vec<PodUsage>>> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &pod_metrics());
    let params = ListParams::default();
    match retrying("read pod metrics", || async {
        match api.list(&params).await {
            // Absent (404) or its server down (503): unknown, not worth retrying.
            Err(kube::Error::Api(status)) if status.code == 404 || status.code == 503 => Ok(None),
            other => other.map(Some),
        }
    })
    .await
    {
        Ok(Some(list)) => Ok(Some(list.items.iter().map(usage_of).collect())),
        Ok(None) => Ok(None),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_are_summed_per_pod() {
        let metrics: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
            "metadata": { "name": "web-1" },
            "containers": [
                { "name": "app", "usage": { "cpu": "250000000n", "memory": "100Mi" } },
                { "name": "sidecar", "usage": { "cpu": "5m", "memory": "1024Ki" } },
            ],
        }))
        .expect("metrics");
        assert_eq!(
            usage_of(&metrics),
            PodUsage {
                pod: "web-1".into(),
                cpu_millicores: 255,
                memory_bytes: 101 * 1024 * 1024
            }
        );
    }
}
