//! A world for preview tests: a standalone kube-sim (its knobs and objects at hand), the fake
//! GitHub, a Slipway server wired to both with a webhook secret, and a git repository
//! connected as `acme/shop`; signed pull request deliveries and a wait on a preview's status
//! announced on the bus.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use domain::{BusEvent, EntityKind};
use futures::StreamExt;
use futures::stream::BoxStream;
use kube_sim::{KnobSettings, KubeSim};
use serde_json::Value;
use server::cluster::KubeCluster;
use server::webhooks::signature::sign;

use crate::fake_github::{self, Fake};
use crate::pipeline_support::{add_project, sample_repository};
use crate::support::TestServer;

/// The webhook secret the world's Slipway checks deliveries against.
pub const SECRET: &str = "preview-webhook-secret";
pub const REPOSITORY: &str = "acme/shop";
/// A `.platform.yaml` with a one-step pipeline (`test`) and a preview app that stays up.
pub const PIPELINE_AND_PREVIEW: &str = r#"
pipeline:
  steps:
    - name: test
      image: alpine
      commands: [echo tested]
preview:
  app:
    image: registry.example.com/shop:1
    command: [sh, -c, 'echo "listening on 3000"; exec sleep 600']
    port: 3000
"#;
/// How long a preview may take to reach a status in these tests.
const LIMIT: Duration = Duration::from_secs(60);

pub struct World {
    pub sim: KubeSim,
    /// The test's own client of the simulated cluster.
    pub cluster: KubeCluster,
    pub github: Arc<Fake>,
    pub server: TestServer,
    pub repo: PathBuf,
    pub first_sha: String,
    events: BoxStream<'static, BusEvent>,
    deliveries: u32,
    _dir: tempfile::TempDir,
}

/// How Slipway is given the simulated cluster.
enum Connect {
    Not,
    AsAdmin,
    /// With this kubeconfig.
    With(String),
}

/// Starts the simulated cluster; `before` may add objects to it before Slipway starts.
pub async fn start_sim() -> (KubeSim, KubeCluster) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let sim = KubeSim::start(listener, kube_sim::Options::default())
        .await
        .expect("kube-sim");
    let cluster = KubeCluster::from_kubeconfig_yaml(&sim.kubeconfig(), "kube-sim")
        .await
        .expect("client");
    (sim, cluster)
}

impl World {
    pub async fn start(files: &[(&str, &str)], extra: &[(&'static str, String)]) -> Self {
        let (sim, cluster) = start_sim().await;
        Self::start_on(sim, cluster, files, extra).await
    }

    pub async fn start_on(
        sim: KubeSim,
        cluster: KubeCluster,
        files: &[(&str, &str)],
        extra: &[(&'static str, String)],
    ) -> Self {
        Self::build(sim, cluster, files, extra, Connect::AsAdmin).await
    }

    /// A world whose Slipway reaches the cluster with `kubeconfig` (another identity than the
    /// simulated cluster's administrator, which the test's own client keeps).
    pub async fn start_with_kubeconfig(
        sim: KubeSim,
        cluster: KubeCluster,
        files: &[(&str, &str)],
        kubeconfig: String,
    ) -> Self {
        Self::build(sim, cluster, files, &[], Connect::With(kubeconfig)).await
    }

    /// A world whose Slipway is given no cluster (the simulated one runs, unused).
    pub async fn start_without_cluster(files: &[(&str, &str)]) -> Self {
        let (sim, cluster) = start_sim().await;
        Self::build(sim, cluster, files, &[], Connect::Not).await
    }

    async fn build(
        sim: KubeSim,
        cluster: KubeCluster,
        files: &[(&str, &str)],
        extra: &[(&'static str, String)],
        connect: Connect,
    ) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        let yaml = match &connect {
            Connect::With(yaml) => yaml.clone(),
            Connect::Not | Connect::AsAdmin => sim.kubeconfig(),
        };
        std::fs::write(&kubeconfig, yaml).expect("kubeconfig");
        let (github_url, github) = fake_github::start().await;
        let (repo, first_sha) = sample_repository(dir.path(), files);
        let mut settings = vec![
            ("SLIPWAY_GITHUB_WEBHOOK_SECRET", SECRET.to_owned()),
            ("SLIPWAY_KUBECONFIG", kubeconfig.display().to_string()),
            ("SLIPWAY_GITHUB_TOKEN", "ghp_testtoken".to_owned()),
            ("SLIPWAY_GITHUB_API_URL", github_url),
            (
                "SLIPWAY_PREVIEW_DOMAIN",
                "{{ namespace }}.preview.example.com".to_owned(),
            ),
        ];
        settings.extend(extra.iter().cloned());
        if matches!(connect, Connect::Not) {
            settings.retain(|(name, _)| *name != "SLIPWAY_KUBECONFIG");
        }
        let server = TestServer::start(&settings).await;
        add_project(&server, REPOSITORY, &repo).await;
        let events = server.running.adapters.bus.subscribe().await.expect("bus");
        Self {
            sim,
            cluster,
            github,
            server,
            repo,
            first_sha,
            events,
            deliveries: 0,
            _dir: dir,
        }
    }

    pub fn knobs(&self, settings: KnobSettings) {
        self.sim.sim().knobs.set(&settings);
    }

    /// Sends a signed `pull_request` delivery and waits until the worker processed it.
    pub async fn pull_request(&mut self, action: &str, number: i64, sha: &str) {
        self.deliveries += 1;
        let id = format!("preview-delivery-{}", self.deliveries);
        let mut payload = example();
        payload["action"] = action.into();
        payload["number"] = number.into();
        let pr = &mut payload["pull_request"];
        pr["number"] = number.into();
        pr["head"]["ref"] = "feature".into();
        pr["head"]["sha"] = sha.into();
        pr["head"]["repo"]["full_name"] = REPOSITORY.into();
        pr["base"]["ref"] = "main".into();
        pr["updated_at"] = format!("2026-11-25T10:{:02}:00Z", self.deliveries).into();
        if action == "closed" {
            pr["state"] = "closed".into();
        }
        payload["repository"]["full_name"] = REPOSITORY.into();
        let body = serde_json::to_vec(&payload).expect("body");
        let response = self
            .server
            .http
            .post(self.server.url("/webhooks/github"))
            .header("x-github-delivery", &id)
            .header("x-github-event", "pull_request")
            .header("x-hub-signature-256", sign(SECRET, &body))
            .body(body)
            .send()
            .await
            .expect("delivery");
        assert_eq!(response.status(), 202);
        let wait = async {
            loop {
                match self.events.next().await {
                    Some(BusEvent::Changed {
                        entity: EntityKind::Delivery,
                        id: changed,
                        status,
                    }) if changed == id => return status,
                    Some(_) => {}
                    None => panic!("the bus ended"),
                }
            }
        };
        let status = tokio::time::timeout(LIMIT, wait)
            .await
            .expect("delivery processed in time");
        assert_eq!(status, "processed", "delivery {id}");
    }

    /// The preview's detail (`GET /api/previews/{key}`).
    pub async fn preview(&self, key: &str) -> Value {
        let (status, detail) = self.fetch_preview(key).await;
        assert_eq!(status, 200, "preview {key}");
        detail
    }

    /// The answer to `GET /api/previews/{key}`: its status and body (`null` unless JSON).
    async fn fetch_preview(&self, key: &str) -> (u16, Value) {
        let response = self
            .server
            .http
            .get(self.server.url(&format!("/api/previews/{key}")))
            .send()
            .await
            .expect("get preview");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Waits until the preview is in one of `statuses` (and, if given, at commit `sha`),
    /// looking again at each announced preview change; returns its detail.
    pub async fn until(&mut self, key: &str, statuses: &[&str], sha: Option<&str>) -> Value {
        let reached = |detail: &Value| {
            statuses.contains(&detail["preview"]["status"].as_str().unwrap_or(""))
                && sha.is_none_or(|sha| detail["preview"]["head_sha"] == sha)
        };
        let wait = async {
            loop {
                let (status, detail) = self.fetch_preview(key).await;
                if status == 200 && reached(&detail) {
                    return detail;
                }
                loop {
                    match self.events.next().await {
                        Some(BusEvent::Changed {
                            entity: EntityKind::Preview,
                            ..
                        }) => break,
                        Some(_) => {}
                        None => panic!("the bus ended"),
                    }
                }
            }
        };
        match tokio::time::timeout(LIMIT, wait).await {
            Ok(detail) => detail,
            Err(_) => panic!(
                "preview {key} did not reach {statuses:?}: {}",
                self.preview(key).await
            ),
        }
    }

    /// Waits until what Slipway wrote to GitHub satisfies `done` (`what` names it when it
    /// does not happen in time).
    pub async fn until_github(&self, what: &str, done: impl Fn(&World) -> bool) {
        self.github.until(what, |_| done(self)).await;
    }

    /// The comments Slipway wrote on pull request `number`.
    pub fn comments(&self, number: i64) -> Vec<String> {
        self.github
            .comments
            .lock()
            .expect("lock")
            .values()
            .filter(|c| c.repository == REPOSITORY && c.number == number)
            .map(|c| c.body.clone())
            .collect()
    }

    /// The `slipway/preview` commit statuses set on `sha`, oldest first.
    pub fn statuses(&self, sha: &str) -> Vec<String> {
        self.github
            .statuses
            .lock()
            .expect("lock")
            .iter()
            .filter(|(_, s, status)| s == sha && status["context"] == "slipway/preview")
            .map(|(_, _, status)| status["state"].as_str().unwrap_or("").to_owned())
            .collect()
    }
}

fn example() -> Value {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/github-payloads/pull_request.opened.payload.json");
    serde_json::from_slice(&std::fs::read(&path).expect("example payload")).expect("json")
}
