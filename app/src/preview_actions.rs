//! Server-side only: reading, retrying and removing previews, and measuring what they use,
//! shared by the dashboard's server functions and the JSON API so both behave (and fail) the
//! same way.

use domain::preview::model::{OrphanNamespace, PreviewDetail, PreviewUsageRow, UsageReport};
use domain::preview::{Preview, PreviewAttempt, PreviewFilter, PreviewStatus, PreviewUsage};
use domain::{BusEvent, EntityKind};

use crate::error::{AppError, ErrorKind};
use crate::services::Services;

/// The name the preview worker's wake-ups carry.
pub const PREVIEW_WORKER: &str = "previews";

impl Services {
    /// Asks the preview worker to look for work now.
    pub async fn wake_previews(&self) {
        let wake = BusEvent::Wake {
            worker: PREVIEW_WORKER.to_owned(),
        };
        if let Err(error) = self.bus.publish(&wake).await {
            tracing::warn!(error = %crate::error::error_chain(&error), "could not wake the preview worker");
        }
    }

    /// Tells open pages that a preview changed.
    pub async fn announce_preview(&self, preview: &Preview) {
        let changed = BusEvent::Changed {
            entity: EntityKind::Preview,
            id: preview.id.to_string(),
            status: preview.status.as_str().to_owned(),
        };
        if let Err(error) = self.bus.publish(&changed).await {
            tracing::warn!(error = %crate::error::error_chain(&error), "could not announce a preview change");
        }
    }

    /// A preview by id, or by namespace when `key` is not a number.
    pub async fn find_preview(&self, key: &str) -> Result<Preview, AppError> {
        let key = key.trim();
        Ok(match key.parse::<i64>() {
            Ok(id) => self.store.get_preview(id).await?,
            Err(_) => self.store.get_preview_by_namespace(key).await?,
        })
    }

    /// A page of previews and how many match in all.
    pub async fn list_previews(
        &self,
        filter: &PreviewFilter,
    ) -> Result<(Vec<Preview>, u64), AppError> {
        let (list, total) = futures::join!(
            self.store.list_previews(filter),
            self.store.count_previews(filter)
        );
        Ok((list?, total?))
    }

    /// Deploys the head commit again (after a failure, or to refresh a running preview).
    pub async fn retry_preview(&self, key: &str) -> Result<PreviewAttempt, AppError> {
        let preview = self.find_preview(key).await?;
        let Some(attempt) = self
            .store
            .retry_preview(preview.id, crate::pipeline_actions::now_ms())
            .await?
        else {
            let why = if preview.status == PreviewStatus::Deleting {
                "it is being removed".to_owned()
            } else {
                format!(
                    "the pull request does not want one ({})",
                    preview.reason.as_deref().unwrap_or("closed")
                )
            };
            return Err(AppError::new(
                ErrorKind::Conflict,
                format!(
                    "preview {} cannot be deployed again: {why}",
                    preview.namespace
                ),
            ));
        };
        tracing::info!(
            preview.id = preview.id,
            attempt.id = attempt.id,
            "preview retry requested"
        );
        let preview = self.store.get_preview(preview.id).await?;
        self.announce_preview(&preview).await;
        self.wake_previews().await;
        Ok(attempt)
    }

    /// Removes a preview now; it comes back with the pull request's next push.
    pub async fn delete_preview(&self, key: &str) -> Result<Preview, AppError> {
        let preview = self.find_preview(key).await?;
        if !preview.status.may_have_namespace() && !preview.wanted {
            return Err(AppError::new(
                ErrorKind::Conflict,
                format!("preview {} is already removed", preview.namespace),
            ));
        }
        let preview = self
            .store
            .request_preview_removal(
                preview.id,
                "deleted from the dashboard",
                crate::pipeline_actions::now_ms(),
            )
            .await?;
        tracing::info!(preview.id = preview.id, preview.namespace = %preview.namespace, "preview removal requested");
        self.announce_preview(&preview).await;
        self.wake_previews().await;
        Ok(preview)
    }

    /// A preview with what the page shows around it.
    pub async fn preview_detail(&self, key: &str) -> Result<PreviewDetail, AppError> {
        let preview = self.find_preview(key).await?;
        let attempts = self.store.preview_attempts(preview.id).await?;
        let mut detail = PreviewDetail {
            preview,
            attempts,
            usage: None,
            events: Vec::new(),
            pods: Vec::new(),
            cluster_error: None,
            now_ms: crate::pipeline_actions::now_ms(),
        };
        if !detail.preview.status.may_have_namespace() {
            return Ok(detail);
        }
        let Some(cluster) = self.preview_cluster(&detail.preview).await? else {
            return Ok(detail);
        };
        let namespace = detail.preview.namespace.clone();
        let (usage, events, pods) = futures::join!(
            measure(cluster.cluster.as_ref(), &namespace),
            cluster.cluster.events(&namespace),
            cluster.cluster.list_objects(&namespace, POD, "")
        );
        let mut errors = Vec::new();
        match usage {
            Ok(usage) => detail.usage = Some(usage),
            Err(error) => errors.push(error.to_string()),
        }
        match events {
            Ok(events) => detail.events = events,
            Err(error) => errors.push(error.to_string()),
        }
        match pods {
            Ok(pods) => detail.pods = pods.iter().map(|p| p.name().to_owned()).collect(),
            Err(error) => errors.push(error.to_string()),
        }
        if !errors.is_empty() {
            detail.cluster_error = Some(errors.join("; "));
        }
        Ok(detail)
    }

    /// The cluster a preview runs on; `None` when none is configured.
    pub async fn preview_cluster(
        &self,
        preview: &Preview,
    ) -> Result<Option<crate::services::ClusterEntry>, AppError> {
        let repository = self.store.get_repository_named(&preview.repository).await?;
        Ok(match &repository {
            Some(repository) => self.cluster_for(repository)?.cloned(),
            None => self.clusters.first().cloned(),
        })
    }

    /// What every live preview uses, with totals; failed removals listed apart.
    pub async fn usage_report(&self) -> Result<UsageReport, AppError> {
        let filter = PreviewFilter {
            limit: 500,
            ..PreviewFilter::default()
        };
        let previews = self.store.list_previews(&filter).await?;
        let mut report = UsageReport {
            now_ms: crate::pipeline_actions::now_ms(),
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
                Err(error) => return (Vec::new(), vec![crate::error::error_chain(&error)]),
            };
        managed.retain(|n| !live.contains(&n.namespace));
        (managed, errors)
    }
}

const POD: domain::cluster::ObjectKind<'static> = domain::cluster::ObjectKind {
    api_version: "v1",
    kind: "Pod",
};
const NAMESPACE: domain::cluster::ObjectKind<'static> = domain::cluster::ObjectKind {
    api_version: "v1",
    kind: "Namespace",
};
const QUOTA: domain::cluster::ObjectKind<'static> = domain::cluster::ObjectKind {
    api_version: "v1",
    kind: "ResourceQuota",
};

/// CPU and memory of the namespace's pods, against its quota.
async fn measure(
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
