//! Removing previews: a closed, expired, unwanted or deleted preview's namespace is deleted
//! (foreground), retried after 1, 2 and 4 s, and confirmed gone within 5 minutes before the
//! preview is marked deleted; a failure is kept (`cleanup_failed`) for operators and retried by
//! later passes. The orphan sweep deletes managed preview namespaces no live preview owns.
//! Only namespaces labelled managed-by=slipway are ever deleted (the Cluster adapter refuses
//! any other).

use std::time::Duration;

use backon::Retryable;
use domain::Cluster;
use domain::preview::Preview;

use super::PreviewContext;
use super::deploy::{backoff, transient};
use domain::time::now_ms;

/// Why a preview's namespace could not be removed (stored as the preview's reason).
#[derive(Debug, thiserror::Error)]
pub enum CleanupError {
    #[error("cannot read the preview's repository")]
    Repository(#[source] domain::StoreError),
    #[error("cannot choose the preview's cluster")]
    Cluster(#[source] services::Error),
    #[error("cannot delete namespace {namespace}")]
    Delete {
        namespace: String,
        #[source]
        source: domain::ClusterError,
    },
    #[error("namespace {namespace} is not gone")]
    NotGone {
        namespace: String,
        #[source]
        source: domain::ClusterError,
    },
}

/// How long a deleted namespace may take to disappear.
pub const GONE_WITHIN: Duration = Duration::from_secs(5 * 60);

/// Why a preview is being removed, in the words the page and the comment show.
pub fn removal_reason(preview: &Preview, now_ms: i64) -> String {
    if preview.wanted && preview.expires_at_ms.is_some_and(|at| at <= now_ms) {
        "expired: no push within its time to live".to_owned()
    } else {
        preview
            .reason
            .clone()
            .unwrap_or_else(|| "no longer wanted".to_owned())
    }
}

impl PreviewContext {
    /// Removes a preview, unless another replica already is.
    pub(crate) async fn remove(&self, preview: Preview) {
        let why = removal_reason(&preview, now_ms());
        match self
            .services
            .store
            .begin_preview_removal(preview.id, &why, now_ms())
            .await
        {
            Ok(true) => {}
            Ok(false) => return,
            Err(error) => {
                tracing::warn!(preview.id = preview.id, error = %domain::error_chain(&error), "cannot start removing a preview");
                return;
            }
        }
        self.stop_deploying(preview.id);
        self.report(preview.id).await;
        let failure = self
            .delete_with_heartbeats(&preview)
            .await
            .err()
            .map(|error| domain::error_chain(&error));
        if let Some(failure) = &failure {
            tracing::warn!(preview.id = preview.id, preview.namespace = %preview.namespace, %failure, "preview removal failed; it is retried later");
        }
        crate::metrics::preview_cleaned_up(failure.is_none());
        match self
            .services
            .store
            .finish_preview_removal(preview.id, failure.as_deref(), now_ms())
            .await
        {
            Ok(_) => self.report(preview.id).await,
            Err(error) => {
                tracing::warn!(preview.id = preview.id, error = %domain::error_chain(&error), "cannot record a preview's removal")
            }
        }
    }

    /// Deletes the preview's namespace, proving meanwhile that this replica is at it: a removal
    /// whose replica dies mid-way is taken over by another within seconds.
    async fn delete_with_heartbeats(&self, preview: &Preview) -> Result<(), CleanupError> {
        let deleting = self.delete_namespace_of(preview);
        tokio::pin!(deleting);
        let mut beats = tokio::time::interval(super::deploy::HEARTBEAT);
        // The first tick is at once; the removal began with a heartbeat.
        beats.tick().await;
        loop {
            tokio::select! {
                done = &mut deleting => return done,
                _ = beats.tick() => {
                    if let Err(error) = self.services.store.heartbeat_preview_removal(preview.id, now_ms()).await {
                        tracing::debug!(preview.id = preview.id, error = %domain::error_chain(&error), "cannot heartbeat a removal");
                    }
                }
            }
        }
    }

    async fn delete_namespace_of(&self, preview: &Preview) -> Result<(), CleanupError> {
        let repository = self
            .services
            .store
            .get_repository_named(&preview.repository)
            .await
            .map_err(CleanupError::Repository)?;
        let entry = match &repository {
            Some(repository) => self
                .services
                .cluster_for(repository)
                .map_err(CleanupError::Cluster)?,
            None => self.services.clusters.first(),
        };
        // Without a cluster nothing was ever deployed.
        let Some(entry) = entry else {
            return Ok(());
        };
        delete_and_confirm(entry.cluster.as_ref(), &preview.namespace).await
    }

    /// Deletes every orphan; returns how many were removed and what failed.
    pub(crate) async fn sweep_orphans(&self) -> (usize, Vec<String>) {
        let (orphans, mut errors) = self.services.orphan_namespaces().await;
        let mut removed = 0;
        for orphan in orphans {
            let Some(entry) = self
                .services
                .clusters
                .iter()
                .find(|c| c.name == orphan.cluster)
            else {
                continue;
            };
            match delete_and_confirm(entry.cluster.as_ref(), &orphan.namespace).await {
                Ok(()) => {
                    removed += 1;
                    tracing::info!(cluster = %orphan.cluster, namespace = %orphan.namespace, "orphaned preview namespace removed");
                }
                Err(error) => {
                    let error = domain::error_chain(&error);
                    errors.push(format!("{}: {error}", orphan.namespace));
                }
            }
        }
        (removed, errors)
    }
}

/// Deletes a managed namespace (retrying infrastructure failures) and waits until it is gone.
async fn delete_and_confirm(cluster: &dyn Cluster, namespace: &str) -> Result<(), CleanupError> {
    (|| cluster.delete_namespace(namespace))
        .retry(backoff())
        .when(transient)
        .await
        .map_err(|source| CleanupError::Delete {
            namespace: namespace.to_owned(),
            source,
        })?;
    (|| cluster.wait_namespace_gone(namespace, GONE_WITHIN))
        .retry(backoff())
        .when(transient)
        .await
        .map_err(|source| CleanupError::NotGone {
            namespace: namespace.to_owned(),
            source,
        })
}
