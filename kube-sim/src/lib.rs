//! kube-sim: a simulated Kubernetes API server, so Slipway's real kube-rs code (watches,
//! server-side apply, log streaming) runs end to end over HTTP in tests, benchmarks and demo
//! mode, with no cluster.
//!
//! It serves discovery, namespaces (with the Terminating phase), CRUD, list and watch
//! (resourceVersions, bookmarks, 410 for versions it no longer has) for the kinds in
//! [`resources`], server-side apply with field ownership and 409 conflicts, label selectors,
//! status subresources, cascade deletion, pod logs with `follow`, events, and metrics.k8s.io
//! pod metrics from the real processes, and (when started with [`Options::authorize`]) RBAC
//! authorisation. Bodies are decoded strictly, like a real API server. A simulated kubelet runs pods' commands on this machine.
//! [`Knobs`] add latency, inject errors, drop watches and slow pods down.

mod admission;
mod apply;
pub mod authorization;
mod controller;
mod deployments;
mod discovery;
mod events;
#[cfg(fuzzing)]
pub mod fuzzing;
mod handlers;
mod jobs;
mod knobs;
mod kubeconfig;
mod kubelet;
mod logs;
mod namespaces;
mod object;
mod openapi;
pub mod path;
mod protobuf;
pub mod resources;
mod scale;
mod selector;
mod status;
pub mod store;
mod strategic;
mod tables;
mod usage;
mod validate;
mod watch;
mod writes;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use knobs::{KnobSettings, Knobs};
pub use kubeconfig::kubeconfig;
pub use status::ApiError;
pub use store::Store;

/// The simulated cluster's shared state.
#[derive(Debug)]
pub struct Sim {
    pub store: Store,
    pub knobs: Knobs,
    logs: logs::Logs,
    processes: usage::Processes,
    scratch: PathBuf,
    /// Cancelled when kube-sim stops: open watch and log streams end with it.
    stopping: CancellationToken,
    /// Requests are authenticated and authorised by RBAC ([`Options::authorize`]).
    authorize: bool,
}

impl Sim {
    /// A pod's working folder (created on first use).
    fn scratch_dir(&self, namespace: &str, pod: &str) -> PathBuf {
        let dir = self.scratch.join(namespace).join(pod);
        let _ = std::fs::create_dir_all(&dir);
        dir
    }
}

/// How to start kube-sim.
#[derive(Debug, Clone)]
pub struct Options {
    pub knobs: KnobSettings,
    /// How many past changes watches can resume from.
    pub history: usize,
    /// Where pods' scratch folders go; a temporary folder when `None`.
    pub scratch: Option<PathBuf>,
    /// Authenticate every API request by its bearer token and authorise it by RBAC (Roles,
    /// ClusterRoles and their bindings stored in the cluster); see [`authorization`]. Off, every
    /// request is allowed.
    pub authorize: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            knobs: KnobSettings::default(),
            history: store::DEFAULT_HISTORY,
            scratch: None,
            authorize: false,
        }
    }
}

/// A running kube-sim.
pub struct KubeSim {
    address: SocketAddr,
    sim: Arc<Sim>,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    _scratch: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for KubeSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeSim")
            .field("address", &self.address)
            .finish()
    }
}

impl KubeSim {
    /// Starts on `listener` (bind port 0 for a free port) with the `default` and `kube-system` namespaces.
    pub async fn start(listener: TcpListener, options: Options) -> std::io::Result<Self> {
        let address = listener.local_addr()?;
        let (scratch, scratch_guard) = match options.scratch {
            Some(dir) => (dir, None),
            None => {
                let dir = tempfile::Builder::new().prefix("kube-sim-").tempdir()?;
                (dir.path().to_path_buf(), Some(dir))
            }
        };
        let stop = CancellationToken::new();
        let sim = Arc::new(Sim {
            store: Store::new(options.history),
            knobs: Knobs::new(&options.knobs),
            logs: logs::Logs::default(),
            processes: usage::Processes::default(),
            scratch,
            stopping: stop.clone(),
            authorize: options.authorize,
        });
        for namespace in ["default", "kube-system"] {
            let _ = sim.store.create(
                &resources::NAMESPACES,
                "",
                json!({ "metadata": { "name": namespace } }),
            );
        }
        let router = Router::new()
            .route("/kube-sim/knobs", get(get_knobs).put(put_knobs))
            .route("/kube-sim/fail-next", axum::routing::post(post_fail_next))
            .fallback(handlers::dispatch)
            .with_state(sim.clone());
        let serve_stop = stop.clone();
        let tasks = vec![
            tokio::spawn(async move {
                let _ = axum::serve(listener, router)
                    .with_graceful_shutdown(serve_stop.cancelled_owned())
                    .await;
            }),
            tokio::spawn(kubelet::run(sim.clone(), stop.clone())),
            tokio::spawn(namespaces::run(sim.clone(), stop.clone())),
            tokio::spawn(deployments::run(sim.clone(), stop.clone())),
            tokio::spawn(jobs::run(sim.clone(), stop.clone())),
        ];
        Ok(Self {
            address,
            sim,
            stop,
            tasks,
            _scratch: scratch_guard,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// A kubeconfig for this server.
    pub fn kubeconfig(&self) -> String {
        kubeconfig(&self.url())
    }

    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig())
    }

    /// A kubeconfig that authenticates as ServiceAccount `name` in `namespace` (what a pod
    /// running as it would use), for a kube-sim started with [`Options::authorize`].
    pub fn kubeconfig_for_service_account(&self, namespace: &str, name: &str) -> String {
        kubeconfig::kubeconfig_with_token(
            &self.url(),
            &authorization::service_account_token(namespace, name),
        )
    }

    /// The cluster state, for tests that arrange or inspect it directly.
    pub fn sim(&self) -> &Arc<Sim> {
        &self.sim
    }

    /// Stops serving, the kubelet (killing running containers) and the controllers.
    pub async fn stop(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

async fn get_knobs(State(sim): State<Arc<Sim>>) -> Json<KnobSettings> {
    Json(sim.knobs.settings())
}

/// Status codes the next API requests fail with, one each (`{"codes": [429, 500]}`).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FailNext {
    codes: Vec<u16>,
}

/// Makes the next requests fail, as [`Knobs::fail_next`] does, for the standalone binary.
async fn post_fail_next(
    State(sim): State<Arc<Sim>>,
    Json(fail): Json<FailNext>,
) -> axum::http::StatusCode {
    if fail.codes.iter().any(|code| !(400..600).contains(code)) {
        return axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    sim.knobs.fail_next(&fail.codes);
    axum::http::StatusCode::NO_CONTENT
}

async fn put_knobs(
    State(sim): State<Arc<Sim>>,
    Json(settings): Json<KnobSettings>,
) -> Json<KnobSettings> {
    sim.knobs.set(&settings);
    Json(sim.knobs.settings())
}
