//! A preview's namespace on the cluster: claimed first (created and labelled as Slipway's,
//! unless someone else's namespace already has the name), then given its guard rails — the
//! quota (what the repository asks, at most Slipway's setting), the container limits and the
//! default-deny network policy.

use backon::Retryable;
use domain::Cluster;
use domain::cluster::{MANAGED_BY_LABEL, MANAGED_BY_VALUE, NamespacePhase};
use domain::preview::definition::PreviewDefinition;
use domain::preview::template::{self, GuardRails, PreviewVariables};
use domain::quantity;

use super::PreviewContext;
use super::cleanup::GONE_WITHIN;
use super::deploy::{Ending, backoff, transient};

impl PreviewContext {
    /// Creates the namespace; when the name is taken, refuses a namespace Slipway did not
    /// create, waits out one still being deleted, and updates Slipway's own.
    pub(super) async fn claim_namespace(
        &self,
        cluster: &dyn Cluster,
        vars: &PreviewVariables,
    ) -> Result<(), Ending> {
        let name = &vars.namespace;
        let spec = template::namespace_spec(vars);
        let created = (|| cluster.create_namespace(&spec))
            .retry(backoff())
            .when(transient)
            .await
            .map_err(|e| Ending::Failed(format!("cannot create namespace {name}: {e}")))?;
        if created {
            return Ok(());
        }
        let existing = (|| cluster.get_namespace(name))
            .retry(backoff())
            .when(transient)
            .await
            .map_err(|e| Ending::Failed(format!("cannot read namespace {name}: {e}")))?;
        if let Some(existing) = &existing {
            if !existing.is_managed() {
                return Err(Ending::Failed(format!(
                    "namespace {name} already exists and Slipway did not create it (no {MANAGED_BY_LABEL}={MANAGED_BY_VALUE} label): Slipway will not deploy into it or delete it"
                )));
            }
            if existing.phase == NamespacePhase::Terminating {
                (|| cluster.wait_namespace_gone(name, GONE_WITHIN))
                    .retry(backoff())
                    .when(transient)
                    .await
                    .map_err(|e| {
                        Ending::Failed(format!("namespace {name} is still being deleted: {e}"))
                    })?;
            }
        }
        (|| cluster.ensure_namespace(&spec))
            .retry(backoff())
            .when(transient)
            .await
            .map_err(|e| Ending::Failed(format!("cannot create namespace {name}: {e}")))?;
        Ok(())
    }

    /// Deletes the namespace of a preview whose commit deploys nothing.
    pub(super) async fn release_namespace(&self, cluster: &dyn Cluster, name: &str) {
        if let Err(error) = cluster.delete_namespace(name).await {
            tracing::warn!(namespace = %name, %error, "cannot delete an unused preview namespace; the sweep or the pull request's close removes it");
        }
    }

    /// The quota, container limits and network policy.
    pub(super) async fn guard_rails(
        &self,
        cluster: &dyn Cluster,
        vars: &PreviewVariables,
        definition: &PreviewDefinition,
    ) -> Result<(), Ending> {
        let guard = GuardRails {
            quota_cpu: at_most(
                definition.quota.cpu.as_deref(),
                &self.settings.quota_cpu,
                quantity::cpu_millicores,
            ),
            quota_memory: at_most(
                definition.quota.memory.as_deref(),
                &self.settings.quota_memory,
                quantity::bytes,
            ),
            ingress_namespace: self.settings.ingress_namespace.clone(),
        };
        self.apply_all(
            cluster,
            &vars.namespace,
            &template::guard_manifests(vars, &guard),
        )
        .await
    }
}

/// The repository's wish, capped by Slipway's setting.
fn at_most(wanted: Option<&str>, cap: &str, measure: fn(&str) -> Option<u64>) -> String {
    match wanted {
        Some(wanted)
            if measure(wanted)
                .zip(measure(cap))
                .is_some_and(|(w, c)| w <= c) =>
        {
            wanted.to_owned()
        }
        _ => cap.to_owned(),
    }
}
