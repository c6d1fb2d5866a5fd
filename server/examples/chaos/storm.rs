//! The storm: signed deliveries as GitHub sends them, from a model of what happened. Pull
//! requests are opened, pushed to (a real commit each), closed and reopened; pushes to `ci-*`
//! branches run a pipeline. Each delivery goes to a replica picked at random, some to both at
//! once, some again later under the same id (as GitHub's redelivery does); a replica that
//! does not answer is tried again, or the other one, until one takes it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use server::webhooks::signature::sign;
use tokio::sync::Mutex;

pub const REPOSITORY: &str = "acme/chaos";
/// How long a delivery is offered before the storm gives up on it (a violation).
const OFFER_FOR: Duration = Duration::from_secs(120);

/// What the storm did to one pull request.
#[derive(Debug, Clone)]
pub struct PullRequest {
    pub number: u64,
    pub head: String,
    pub open: bool,
}

/// What was sent and what should have come of it.
#[derive(Debug, Default)]
pub struct Model {
    pub pulls: BTreeMap<u64, PullRequest>,
    /// Push deliveries, by id: the commit each should run a pipeline at.
    pub pushes: BTreeMap<String, String>,
    /// Every delivery id a replica took (answered 2xx), and how many times it was sent.
    pub accepted: BTreeMap<String, u32>,
    /// Deliveries no replica took within the offer time.
    pub refused: Vec<String>,
}

/// The git repository the pull requests and pushes are commits of.
pub struct Repository {
    pub path: PathBuf,
    tree: String,
    main: String,
    made: u64,
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "chaos")
        .env("GIT_AUTHOR_EMAIL", "chaos@example.com")
        .env("GIT_COMMITTER_NAME", "chaos")
        .env("GIT_COMMITTER_EMAIL", "chaos@example.com")
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

impl Repository {
    /// A repository at `path` whose `main` holds `platform` as `.platform.yaml`.
    pub fn create(path: &Path, platform: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(path)?;
        std::fs::write(path.join(".platform.yaml"), platform)?;
        git(path, &["init", "--quiet", "--initial-branch=main"])?;
        git(path, &["add", "--all"])?;
        git(path, &["commit", "--quiet", "-m", "chaos"])?;
        Ok(Self {
            path: path.to_owned(),
            tree: git(path, &["rev-parse", "HEAD^{tree}"])?,
            main: git(path, &["rev-parse", "HEAD"])?,
            made: 0,
        })
    }

    /// A new commit on `branch` (made from main when the branch is new); its sha.
    pub fn commit(&mut self, branch: &str) -> anyhow::Result<String> {
        self.made += 1;
        let reference = format!("refs/heads/{branch}");
        let parent = git(
            &self.path,
            &["rev-parse", "--verify", "--quiet", &reference],
        )
        .unwrap_or_else(|_| self.main.clone());
        let message = format!("change {}", self.made);
        let sha = git(
            &self.path,
            &["commit-tree", &self.tree, "-p", &parent, "-m", &message],
        )?;
        git(&self.path, &["update-ref", &reference, &sha])?;
        Ok(sha)
    }
}

/// Sends deliveries to the replicas.
#[derive(Clone)]
pub struct Sender {
    pub http: reqwest::Client,
    pub bases: Vec<String>,
    pub secret: String,
    pub model: Arc<Mutex<Model>>,
    pub repository: PathBuf,
}

impl Sender {
    /// Offers one delivery until a replica takes it; `both`: to every replica at once.
    pub async fn deliver(&self, id: &str, event: &str, body: &[u8], both: bool) {
        let started = Instant::now();
        let signature = sign(&self.secret, body);
        let first = rand::rng().random_range(0..self.bases.len());
        let mut turn = 0usize;
        loop {
            let targets: Vec<&String> = if both && turn == 0 {
                self.bases.iter().collect()
            } else {
                vec![&self.bases[(first + turn) % self.bases.len()]]
            };
            let answers = futures::future::join_all(targets.into_iter().map(|base| {
                self.http
                    .post(format!("{base}/webhooks/github"))
                    .header("x-github-delivery", id)
                    .header("x-github-event", event)
                    .header("x-hub-signature-256", &signature)
                    .header("content-type", "application/json")
                    .body(body.to_vec())
                    .timeout(Duration::from_secs(10))
                    .send()
            }))
            .await;
            let taken = answers
                .iter()
                .filter(|a| a.as_ref().is_ok_and(|r| r.status().is_success()))
                .count() as u32;
            if taken > 0 {
                *self
                    .model
                    .lock()
                    .await
                    .accepted
                    .entry(id.to_owned())
                    .or_default() += taken;
                return;
            }
            if started.elapsed() > OFFER_FOR {
                self.model.lock().await.refused.push(id.to_owned());
                return;
            }
            turn += 1;
            // GitHub offers it again; the campaign does so sooner.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn repository_json(&self) -> serde_json::Value {
        serde_json::json!({
            "full_name": REPOSITORY, "name": "chaos", "owner": { "login": "acme" },
            "clone_url": self.repository.display().to_string(), "default_branch": "main",
        })
    }

    pub fn pull_request(&self, action: &str, pull: &PullRequest, updated: u64) -> Vec<u8> {
        let number = pull.number;
        let body = serde_json::json!({
            "action": action,
            "number": number,
            "pull_request": {
                "number": number, "title": format!("Change {number}"),
                "state": if pull.open { "open" } else { "closed" },
                "draft": false, "merged": false, "labels": [],
                "updated_at": timestamp(updated),
                "user": { "login": "chaos" },
                "head": { "ref": branch_of(number), "sha": pull.head, "repo": { "full_name": REPOSITORY, "fork": false } },
                "base": { "ref": "main", "repo": { "full_name": REPOSITORY } },
            },
            "repository": self.repository_json(),
        });
        serde_json::to_vec(&body).unwrap_or_default()
    }

    pub fn push(&self, branch: &str, sha: &str) -> Vec<u8> {
        let body = serde_json::json!({
            "ref": format!("refs/heads/{branch}"),
            "before": "0000000000000000000000000000000000000000",
            "after": sha, "deleted": false, "created": true,
            "head_commit": { "id": sha },
            "repository": self.repository_json(),
            "pusher": { "name": "chaos" },
        });
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

pub fn branch_of(number: u64) -> String {
    format!("change-{number}")
}

/// GitHub's `updated_at`: one second per event, so later events are newer.
fn timestamp(seconds: u64) -> String {
    let at = jiff::Timestamp::from_second(1_796_000_000 + seconds as i64).unwrap_or_default();
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Runs the storm until `stop`: one event every `every`, each pull request's events in order.
pub async fn run(
    sender: Sender,
    mut repository: Repository,
    pulls: u64,
    every: Duration,
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<u64> {
    let mut clock = 0u64;
    let mut sent = 0u64;
    let mut pushes = 0u64;
    let mut later: Vec<(String, &'static str, Vec<u8>)> = Vec::new();
    let deliveries = tokio_util::task::TaskTracker::new();
    // Every pull request opens first.
    let mut script: Vec<(u64, &'static str)> = (1..=pulls).map(|n| (n, "opened")).collect();
    let mut tick = tokio::time::interval(every);
    while !stop.is_cancelled() {
        tick.tick().await;
        clock += 1;
        let (id, event, body) = if let Some((number, action)) = script.pop() {
            let head = repository.commit(&branch_of(number))?;
            let pull = PullRequest {
                number,
                head,
                open: true,
            };
            sender.model.lock().await.pulls.insert(number, pull.clone());
            (
                format!("pr-{number}-{clock}"),
                "pull_request",
                sender.pull_request(action, &pull, clock),
            )
        } else {
            let roll: f64 = rand::rng().random();
            if roll < 0.3 {
                pushes += 1;
                let branch = format!("ci-{pushes}");
                let sha = repository.commit(&branch)?;
                let id = format!("push-{pushes}");
                sender
                    .model
                    .lock()
                    .await
                    .pushes
                    .insert(id.clone(), sha.clone());
                (id, "push", sender.push(&branch, &sha))
            } else {
                let number = rand::rng().random_range(1..=pulls);
                let Some(mut pull) = sender.model.lock().await.pulls.get(&number).cloned() else {
                    continue;
                };
                let action = match (pull.open, roll) {
                    (true, r) if r < 0.8 => {
                        pull.head = repository.commit(&branch_of(number))?;
                        "synchronize"
                    }
                    (true, _) => {
                        pull.open = false;
                        "closed"
                    }
                    (false, _) => {
                        pull.open = true;
                        "reopened"
                    }
                };
                sender.model.lock().await.pulls.insert(number, pull.clone());
                (
                    format!("pr-{number}-{clock}"),
                    "pull_request",
                    sender.pull_request(action, &pull, clock),
                )
            }
        };
        sent += 1;
        let both = rand::rng().random_bool(0.2);
        if rand::rng().random_bool(0.1) {
            later.push((id.clone(), event, body.clone()));
        }
        // A pull request's events are sent in order: each is taken before the next is made.
        // Pushes and repeats go out beside them.
        if event == "push" {
            let sender = sender.clone();
            deliveries.spawn(async move { sender.deliver(&id, event, &body, both).await });
        } else {
            sender.deliver(&id, event, &body, both).await;
        }
        if later.len() >= 5 {
            for (id, event, body) in later.drain(..) {
                let sender = sender.clone();
                deliveries.spawn(async move { sender.deliver(&id, event, &body, false).await });
            }
        }
    }
    for (id, event, body) in later.drain(..) {
        sender.deliver(&id, event, &body, false).await;
    }
    deliveries.close();
    deliveries.wait().await;
    Ok(sent)
}
