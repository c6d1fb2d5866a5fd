//! Preview environments on the cluster: the worker that turns what pull requests want into
//! namespaces and running apps ([`worker`]), one deployment attempt ([`deploy`]), removals and
//! the orphan sweep ([`cleanup`]), the namespace and its guard rails ([`namespace`]), the templates ([`render`]) and Helm ([`helm`]), and telling
//! the Store, the bus and GitHub about every change ([`report`]).

pub mod cleanup;
pub mod deploy;
pub mod helm;
pub mod namespace;
pub mod render;
pub mod report;
pub mod worker;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use services::Services;
use tokio_util::sync::CancellationToken;

use crate::config::PreviewConfig;
use crate::pipelines::source::Mirrors;
use crate::webhooks::DeliveryBacklog;

/// What the preview worker needs.
#[derive(Clone)]
pub struct PreviewContext {
    pub services: Services,
    pub settings: PreviewConfig,
    /// The repositories' mirrors, where `.platform.yaml` is read.
    pub mirrors: Mirrors,
    /// Where manifests and charts are checked out.
    pub work_root: PathBuf,
    /// How helm reaches each cluster, by cluster name.
    pub helm_access: HashMap<String, helm::KubeAccess>,
    /// Deliveries not processed yet: deploys give way to them after claiming their namespace.
    pub backlog: DeliveryBacklog,
    /// Deployments running on this replica: preview id → (attempt id, its stop token), to
    /// stop one when a newer attempt or a removal comes.
    deploying: Arc<Mutex<HashMap<i64, (i64, CancellationToken)>>>,
}

impl PreviewContext {
    pub fn new(
        services: Services,
        settings: PreviewConfig,
        mirrors: Mirrors,
        work_root: PathBuf,
        helm_access: HashMap<String, helm::KubeAccess>,
        backlog: DeliveryBacklog,
    ) -> Self {
        Self {
            services,
            settings,
            mirrors,
            work_root,
            helm_access,
            backlog,
            deploying: Arc::default(),
        }
    }

    fn deploying(&self) -> std::sync::MutexGuard<'_, HashMap<i64, (i64, CancellationToken)>> {
        self.deploying
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers attempt `attempt` of `preview`, stopping the one this replica was running.
    fn start_deploying(
        &self,
        preview: i64,
        attempt: i64,
        parent: &CancellationToken,
    ) -> CancellationToken {
        let token = parent.child_token();
        if let Some((_, older)) = self.deploying().insert(preview, (attempt, token.clone())) {
            older.cancel();
        }
        token
    }

    /// Forgets a finished attempt (unless a newer one took its place).
    fn done_deploying(&self, preview: i64, attempt: i64) {
        let mut deploying = self.deploying();
        if deploying.get(&preview).is_some_and(|(a, _)| *a == attempt) {
            deploying.remove(&preview);
        }
    }

    /// How many attempts this replica is running.
    fn deploying_count(&self) -> usize {
        self.deploying().len()
    }

    /// Stops this replica's deployment of `preview`, if any.
    fn stop_deploying(&self, preview: i64) {
        if let Some((_, token)) = self.deploying().get(&preview) {
            token.cancel();
        }
    }
}
