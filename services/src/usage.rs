//! What previews use: every live preview's CPU and memory against its quota, totals, failed
//! removals, and managed namespaces no live preview owns (the Operator page).

use domain::cluster::ObjectKind;
use domain::error_chain;
use domain::preview::model::{OrphanNamespace, PreviewUsageRow, UsageReport};
use domain::preview::{PreviewFilter, PreviewStatus, PreviewUsage};
use domain::time::now_ms;

use crate::caller::{Action, Caller};
use crate::{Result, Services};

impl Services {
    /// What every live preview uses, with totals; failed removals listed apart.
    pub async fn usage_report(&self, caller: &Caller) -> Result<UsageReport> {
        self.authorize(caller, Action::OperatorUsage, None).await?;
        let filter = PreviewFilter {
            limit: 500,
            ..PreviewFilter::default()
        };
        let previews = self.store.list_previews(&filter).await?;
        let mut report = UsageReport {
            now_ms: now_ms(),
            ..UsageReport::default()
        };
        let measured = futures::future::join_all(previews.into_iter().map(|preview| async move {
            if preview.status == PreviewStatus::CleanupFailed {
                return (preview, None);
            }
            let cluster = match self.preview_cluster(&preview).await {
                Ok(Some(cluster)) if preview.status.may_have_namespace() => cluster,
                _ => return (preview, None),
            };
            let usage = measure(cluster.cluster.as_ref(), &preview.namespace).await;
            (preview, Some((cluster.name, usage)))
        }))
        .await;
        for (preview, measured) in measured {
            match measured {
                None if preview.status == PreviewStatus::CleanupFailed => {
                    report.cleanup_failed.push(preview)
                }
                None => {}
                Some((cluster, Ok(usage))) => report.rows.push(PreviewUsageRow {
                    preview,
                    cluster,
                    usage,
                }),
                Some((cluster, Err(error))) => {
                    report
                        .errors
                        .push(format!("{} on {cluster}: {error}", preview.namespace));
                    report.rows.push(PreviewUsageRow {
                        preview,
                        cluster,
                        usage: PreviewUsage::default(),
                    });
                }
            }
        }
        let (orphans, errors) = self.orphan_namespaces().await;
        report.orphans = orphans;
        report.errors.extend(errors);
        Ok(report.with_totals())
    }

    /// Managed preview namespaces, on every cluster, that no live preview owns; and the
    /// clusters that could not be asked.
    ///
    /// The clusters are listed before the Store is read: a preview is recorded before its
    /// namespace is created, so a namespace created while this runs is either not listed or
    /// owned by a preview the read finds. (Reading the Store first made a namespace created in
    /// between look orphaned, and the sweep deleted it.)
    pub async fn orphan_namespaces(&self) -> (Vec<OrphanNamespace>, Vec<String>) {
        use domain::cluster::{MANAGED_BY_LABEL, MANAGED_BY_VALUE, PREVIEW_LABEL};
        let mut managed = Vec::new();
        let mut errors = Vec::new();
        let selector = format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},{PREVIEW_LABEL}");
        for entry in &self.clusters {
            match entry.cluster.list_objects("", NAMESPACE, &selector).await {
                Ok(namespaces) => managed.extend(namespaces.iter().map(|n| OrphanNamespace {
                    cluster: entry.name.clone(),
                    namespace: n.name().to_owned(),
                })),
                Err(error) => errors.push(format!("cluster {}: {error}", entry.name)),
            }
        }
        let live: std::collections::HashSet<String> =
            match self.store.live_preview_namespaces().await {
                Ok(live) => live.into_iter().collect(),
                Err(error) => return (Vec::new(), vec![error_chain(&error)]),
            };
        managed.retain(|n| !live.contains(&n.namespace));
        (managed, errors)
    }
}

const NAMESPACE: ObjectKind<'static> = ObjectKind {
    api_version: "v1",
    kind: "Namespace",
};
const QUOTA: ObjectKind<'static> = ObjectKind {
    api_version: "v1",
    kind: "ResourceQuota",
};

/// CPU and memory of the namespace's pods, against its quota.
pub(crate) async fn measure(
    cluster: &dyn domain::Cluster,
    namespace: &str,
) -> Result<PreviewUsage, domain::ClusterError> {
    let (pods, quotas) = futures::join!(
        cluster.pod_usage(namespace),
        cluster.list_objects(namespace, QUOTA, "")
    );
    let pods = pods?;
    let quotas = quotas?;
    let mut usage = PreviewUsage::default();
    if let Some(pods) = &pods {
        usage.pods = u32::try_from(pods.len()).unwrap_or(u32::MAX);
        usage.cpu_millicores = Some(pods.iter().map(|p| p.cpu_millicores).sum());
        usage.memory_bytes = Some(pods.iter().map(|p| p.memory_bytes).sum());
    }
    if let Some(quota) = quotas.first() {
        // The quota controller copies `spec.hard` into `status.hard` and counts `status.used`;
        // a cluster that has not yet (or a simulated one) still has the spec.
        let quota = &quota.0;
        let read = |section: &str, key: &str, parse: fn(&str) -> Option<u64>| {
            let field = |value: &serde_json::Value| value[key].as_str().and_then(parse);
            match section {
                "hard" => field(&quota["status"]["hard"]).or_else(|| field(&quota["spec"]["hard"])),
                _ => field(&quota["status"][section]),
            }
        };
        use domain::quantity::{bytes, cpu_millicores};
        usage.cpu_limit_millicores = read("hard", "limits.cpu", cpu_millicores);
        usage.memory_limit_bytes = read("hard", "limits.memory", bytes);
        usage.quota_cpu_used_millicores = read("used", "limits.cpu", cpu_millicores);
        usage.quota_memory_used_bytes = read("used", "limits.memory", bytes);
    }
    Ok(usage.with_warnings())
}
