//! Readiness: whether each dependency answers, for `/readyz`, the Settings and Operator pages.

use std::time::Duration;

use domain::health::InstanceInfo;
use domain::{DependencyCheck, Readiness, error_chain};

use crate::caller::{Action, Caller};
use crate::{Result, Services};

/// How long one dependency may take to answer a readiness check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

impl Services {
    /// Checks every dependency concurrently, each within [`CHECK_TIMEOUT`]; each cluster is
    /// listed as `cluster/<name>`. Open to everyone (probes call it).
    pub async fn readiness(&self) -> Readiness {
        let clusters = futures::future::join_all(
            self.clusters
                .iter()
                .map(|c| check(format!("cluster/{}", c.name), c.backend, c.cluster.check())),
        );
        let (store, objects, bus, clusters) = futures::join!(
            check("store".into(), self.store.backend(), self.store.check()),
            check(
                "objects".into(),
                self.objects.backend(),
                self.objects.check()
            ),
            check("bus".into(), self.bus.backend(), self.bus.check()),
            clusters,
        );
        let mut checks = vec![store, objects, bus];
        checks.extend(clusters);
        if let Some(github) = &self.git_host {
            checks.push(check("github".into(), "octocrab", github.check()).await);
        }
        checks.push(self.webhook_check());
        let transform_queue =
            tokio::time::timeout(CHECK_TIMEOUT, self.store.transform_queue_state()).await;
        let transform_queue = match transform_queue.ok().and_then(|state| state.ok()) {
            Some(state) => Some(self.with_tasks(state).await),
            None => None,
        };
        Readiness {
            // A paused queue is still ready: pausing is what an operator asked for.
            transform_queue,
            ..Readiness::from_checks(checks)
        }
    }

    /// What this instance runs on: version, URL, dependencies, clusters, GitHub budget.
    pub async fn instance_info(&self, caller: &Caller) -> Result<InstanceInfo> {
        self.authorize(caller, Action::InstanceRead, None).await?;
        Ok(InstanceInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            public_url: self.public_url.clone(),
            readiness: self.readiness().await,
            clusters: self.clusters.iter().map(|c| c.name.clone()).collect(),
            github_budget: self.git_host.as_ref().and_then(|g| g.rate_budget()),
        })
    }

    /// Whether GitHub deliveries are accepted; reported, but not needed to be ready.
    fn webhook_check(&self) -> DependencyCheck {
        let configured = self.webhook_secrets > 0;
        DependencyCheck {
            name: "github-webhooks".into(),
            backend: format!("hmac-sha256, {} secret(s)", self.webhook_secrets),
            ok: configured,
            error: (!configured).then(|| {
                "SLIPWAY_GITHUB_WEBHOOK_SECRET is not set: deliveries are refused with 503".into()
            }),
            optional: true,
        }
    }
}

async fn check<E: std::error::Error>(
    name: String,
    backend: &str,
    probe: impl std::future::Future<Output = std::result::Result<(), E>>,
) -> DependencyCheck {
    let error = match tokio::time::timeout(CHECK_TIMEOUT, probe).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(error_chain(&e)),
        Err(_) => Some(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
    };
    DependencyCheck {
        name,
        backend: backend.to_owned(),
        ok: error.is_none(),
        error,
        optional: false,
    }
}
