//! `scripts/bench previews`: 200 pull requests opened at once through signed webhooks against
//! the release `slipway` (`SLIPWAY_BIN`, its own process) on a kube-sim cluster (`KUBECONFIG`,
//! started by the script with the latency it measures). Prints the time from a webhook being
//! answered to the first Kubernetes write for its preview (the namespace, seen through a watch;
//! p50/p99), the time until all previews run, duplicates (a namespace created twice, or more
//! than one deployment attempt for a pull request, with 10% of deliveries repeated), the time
//! to remove them all after their pull requests close, and the server's peak RSS.

#[path = "common/mod.rs"]
mod common;
#[path = "common/slipway.rs"]
mod slipway;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{env_number, percentile};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::runtime::watcher::{self, Event};
use server::webhooks::signature::sign;
use slipway::{Slipway, repository};

const SECRET: &str = "bench-previews-secret";
const LIMIT: Duration = Duration::from_secs(300);

fn payload(action: &str, number: usize, sha: &str, repo: &std::path::Path) -> serde_json::Value {
    serde_json::json!({
        "action": action,
        "number": number,
        "pull_request": {
            "number": number, "title": format!("Change {number}"),
            "state": if action == "closed" { "closed" } else { "open" },
            "draft": false, "merged": false, "labels": [],
            "updated_at": if action == "closed" { "2026-11-25T13:00:00Z" } else { "2026-11-25T12:00:00Z" },
            "user": { "login": "bench" },
            "head": { "ref": format!("change-{number}"), "sha": sha, "repo": { "full_name": "acme/bench", "fork": false } },
            "base": { "ref": "main", "repo": { "full_name": "acme/bench" } },
        },
        "repository": {
            "full_name": "acme/bench", "clone_url": repo.display().to_string(),
            "default_branch": "main", "owner": { "login": "acme" }, "name": "bench",
        },
    })
}

/// Sends every delivery with `in_flight` at a time; returns when each was answered.
async fn deliver_all(
    client: &reqwest::Client,
    base: &str,
    deliveries: Vec<(String, usize, Vec<u8>)>,
    in_flight: usize,
) -> anyhow::Result<HashMap<usize, Instant>> {
    let answered: Vec<(usize, Instant, u16)> = futures::stream::iter(deliveries)
        .map(|(id, number, body)| {
            let client = client.clone();
            let url = format!("{base}/webhooks/github");
            async move {
                let response = client
                    .post(url)
                    .header("x-github-delivery", id)
                    .header("x-github-event", "pull_request")
                    .header("x-hub-signature-256", sign(SECRET, &body))
                    .body(body)
                    .send()
                    .await?;
                Ok::<_, anyhow::Error>((number, Instant::now(), response.status().as_u16()))
            }
        })
        .buffer_unordered(in_flight)
        .try_collect()
        .await?;
    let mut first = HashMap::new();
    for (number, at, status) in answered {
        anyhow::ensure!(
            status == 202 || status == 200,
            "delivery for #{number} answered {status}"
        );
        first
            .entry(number)
            .and_modify(|t: &mut Instant| *t = (*t).min(at))
            .or_insert(at);
    }
    Ok(first)
}

/// How many previews are in `status`.
async fn count(client: &reqwest::Client, base: &str, status: &str) -> anyhow::Result<u64> {
    let list: serde_json::Value = client
        .get(format!("{base}/api/previews?status={status}&limit=1"))
        .send()
        .await?
        .json()
        .await?;
    Ok(list["total"].as_u64().unwrap_or(0))
}

/// Waits until `want` previews are in `status`; returns how long it took from `since`.
async fn until(
    client: &reqwest::Client,
    base: &str,
    status: &str,
    want: u64,
    since: Instant,
) -> anyhow::Result<Duration> {
    let deadline = since + LIMIT;
    loop {
        if count(client, base, status).await? >= want {
            return Ok(since.elapsed());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "not all previews reached {status} within {} s",
            LIMIT.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let previews = env_number("BENCH_PREVIEWS", 200);
    let in_flight = env_number("BENCH_IN_FLIGHT", 50);
    let latency = std::env::var("KUBE_SIM_LATENCY_MS").unwrap_or_else(|_| "0".into());

    let work = tempfile::tempdir()?;
    let repo = work.path().join("repo");
    let sha = repository(
        &repo,
        "preview:\n  app:\n    image: registry.example.com/bench:1\n",
    )?;

    // Every namespace event from the cluster, as it happens.
    let kube = kube::Client::try_default().await?;
    let namespaces: kube::Api<Namespace> = kube::Api::all(kube);
    let created: Arc<Mutex<HashMap<String, Vec<Instant>>>> = Arc::default();
    let seen = created.clone();
    let watch = tokio::spawn(async move {
        let mut events = watcher::watcher(namespaces, watcher::Config::default()).boxed();
        let mut known = std::collections::HashSet::new();
        while let Some(Ok(event)) = events.next().await {
            let (Event::Apply(ns) | Event::InitApply(ns)) = event else {
                continue;
            };
            let name = ns.metadata.name.unwrap_or_default();
            if ns.metadata.deletion_timestamp.is_none() && known.insert(name.clone()) {
                seen.lock()
                    .map(|mut m| m.entry(name).or_default().push(Instant::now()))
                    .ok();
            }
        }
    });

    let server = Slipway::start(
        &work.path().join("data"),
        &[
            ("SLIPWAY_GITHUB_WEBHOOK_SECRET", SECRET.to_owned()),
            ("SLIPWAY_KUBECONFIG", std::env::var("KUBECONFIG")?),
        ],
    )
    .await?;
    let base = server.base.clone();
    let client = server.client()?;
    let added = client
        .post(format!("{base}/api/projects"))
        .json(&serde_json::json!({ "name": "acme/bench", "clone_url": repo.display().to_string() }))
        .send()
        .await?;
    anyhow::ensure!(
        added.status() == 201,
        "adding the repository answered {}",
        added.status()
    );

    // Open every pull request; one in ten is delivered a second time under a new id.
    let mut deliveries = Vec::new();
    for number in 1..=previews {
        let body = serde_json::to_vec(&payload("opened", number, &sha, &repo))?;
        deliveries.push((format!("open-{number}"), number, body.clone()));
        if number % 10 == 0 {
            deliveries.push((format!("open-{number}-again"), number, body));
        }
    }
    let started = Instant::now();
    let answered = deliver_all(&client, &base, deliveries, in_flight).await?;
    let sent = started.elapsed();
    let to_running = until(&client, &base, "running", previews as u64, started).await?;

    let mut first_write = Vec::new();
    let mut duplicates = 0usize;
    {
        let created = created.lock().map_err(|_| anyhow::anyhow!("lock"))?;
        for (number, at) in &answered {
            let name = format!("pr-acme-bench-{number}");
            match created.get(&name) {
                Some(times) => {
                    duplicates += times.len() - 1;
                    first_write.push(times[0].saturating_duration_since(*at));
                }
                None => anyhow::bail!("namespace {name} was never seen"),
            }
        }
    }
    for number in 1..=previews {
        let detail: serde_json::Value = client
            .get(format!("{base}/api/previews/pr-acme-bench-{number}"))
            .send()
            .await?
            .json()
            .await?;
        duplicates += detail["attempts"]
            .as_array()
            .map_or(0, |a| a.len().saturating_sub(1));
    }
    first_write.sort();

    // Close them all and wait until every namespace is gone.
    let closes = (1..=previews)
        .map(|number| {
            Ok((
                format!("close-{number}"),
                number,
                serde_json::to_vec(&payload("closed", number, &sha, &repo))?,
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let closing = Instant::now();
    deliver_all(&client, &base, closes, in_flight).await?;
    let to_clean = until(&client, &base, "deleted", previews as u64, closing).await?;

    println!(
        "previews: {previews} pull requests opened ({} deliveries, 10% repeated), kube-sim latency {latency} ms per API call",
        previews + previews / 10
    );
    println!("deliveries answered in {:.2} s", sent.as_secs_f64());
    println!(
        "webhook answered → first Kubernetes write (namespace): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        percentile(&first_write, 0.50).as_secs_f64() * 1000.0,
        percentile(&first_write, 0.99).as_secs_f64() * 1000.0,
        first_write
            .last()
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
            * 1000.0
    );
    println!(
        "all {previews} running after {:.1} s",
        to_running.as_secs_f64()
    );
    println!("duplicates (namespaces created twice, extra attempts): {duplicates}");
    println!(
        "all {previews} removed (namespaces confirmed gone) {:.1} s after the closes were sent",
        to_clean.as_secs_f64()
    );
    println!("server peak RSS: {}", server.peak_rss());
    watch.abort();
    server.stop().await?;
    Ok(())
}
