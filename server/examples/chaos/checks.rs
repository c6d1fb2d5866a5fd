//! The end: waits (within a bound) until everything is steady, then checks what a user would
//! check — in the database, the cluster, the fake GitHub and through the API — and prints the
//! table. Each check lists its violations; the campaign passes with none.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret};
use kube::api::{Api, ListParams};
use sqlx::PgPool;

use crate::fake_github::Fake;
use crate::storm::{Model, REPOSITORY};

pub const PIPELINES_NAMESPACE: &str = "slipway-pipelines";

/// One line of the table.
pub struct Check {
    pub what: &'static str,
    pub found: String,
    pub violations: Vec<String>,
}

pub struct World<'a> {
    pub pool: &'a PgPool,
    pub kube: kube::Client,
    pub github: &'a Fake,
    pub http: reqwest::Client,
    pub base: String,
    pub lines: usize,
}

fn namespace_of(number: u64) -> String {
    format!("pr-acme-chaos-{number}")
}

/// Whether nothing is left to do: no delivery or run waiting, every open pull request's
/// preview running at its head, every closed one's namespace gone, no step pod left.
async fn steady(world: &World<'_>, model: &Model) -> anyhow::Result<bool> {
    let waiting: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM deliveries WHERE status IN ('queued', 'processing')) \
              + (SELECT count(*) FROM pipelines WHERE status IN ('pending', 'running'))",
    )
    .fetch_one(world.pool)
    .await?;
    if waiting > 0 {
        return Ok(false);
    }
    let previews = previews(world.pool).await?;
    let namespaces: Api<Namespace> = Api::all(world.kube.clone());
    for (number, pull) in &model.pulls {
        let preview = previews.get(number);
        if pull.open {
            if preview.is_none_or(|(status, sha)| status != "running" || *sha != pull.head) {
                return Ok(false);
            }
        } else if namespaces.get_opt(&namespace_of(*number)).await?.is_some() {
            return Ok(false);
        }
    }
    let pods: Api<Pod> = Api::namespaced(world.kube.clone(), PIPELINES_NAMESPACE);
    Ok(pods.list(&ListParams::default()).await?.items.is_empty())
}

/// Waits until [`steady`] or `bound`; how long it took (`None`: not within the bound).
pub async fn settle(world: &World<'_>, model: &Model, bound: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < bound {
        if steady(world, model).await.unwrap_or(false) {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    None
}

/// Each pull request's preview: `number → (status, head sha)`.
async fn previews(pool: &PgPool) -> anyhow::Result<BTreeMap<u64, (String, String)>> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT pr.number, p.status, p.head_sha FROM previews p \
         JOIN pull_requests pr ON pr.id = p.pull_request_id WHERE pr.repository = $1",
    )
    .bind(REPOSITORY)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(n, status, sha)| (n as u64, (status, sha)))
        .collect())
}

fn check(what: &'static str, found: String, violations: Vec<String>) -> Check {
    Check {
        what,
        found,
        violations,
    }
}

/// Every delivery a replica took is recorded once and was processed; none was refused for good.
async fn deliveries(world: &World<'_>, model: &Model) -> anyhow::Result<Check> {
    let rows: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT delivery_id, status, error FROM deliveries")
            .fetch_all(world.pool)
            .await?;
    let recorded: BTreeMap<String, (String, Option<String>)> =
        rows.into_iter().map(|(id, s, e)| (id, (s, e))).collect();
    let mut violations: Vec<String> = model
        .refused
        .iter()
        .map(|id| format!("{id}: no replica took it within 2 minutes"))
        .collect();
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for id in model.accepted.keys() {
        match recorded.get(id) {
            None => violations.push(format!("{id}: answered, but not recorded")),
            Some((status, error)) => {
                *outcomes.entry(status.as_str()).or_default() += 1;
                if status != "processed" && status != "ignored" {
                    violations.push(format!(
                        "{id}: {status} ({})",
                        error.as_deref().unwrap_or("")
                    ));
                }
            }
        }
    }
    let sends: u32 = model.accepted.values().sum();
    Ok(check(
        "every delivery recorded once and processed",
        format!(
            "{} deliveries ({sends} taken, repeats included): {outcomes:?}",
            model.accepted.len()
        ),
        violations,
    ))
}

/// A run as the checks read it: id, status, reason, delivery, the run it retried.
type RunRow = (i64, String, Option<String>, Option<String>, Option<i64>);

/// One run per push delivery, ended and succeeded; every other run (a pull request event's,
/// which the `on:` section discards, or cancels when a newer push supersedes it) ended; no run
/// was interrupted and run again.
async fn pipeline_runs(world: &World<'_>, model: &Model) -> anyhow::Result<(Check, Vec<i64>)> {
    let rows: Vec<RunRow> = sqlx::query_as(
        "SELECT id, status, reason, delivery_id, retry_of FROM pipelines ORDER BY id",
    )
    .fetch_all(world.pool)
    .await?;
    let mut per_delivery: BTreeMap<&str, usize> = BTreeMap::new();
    let mut violations = Vec::new();
    let mut statuses: BTreeMap<&str, usize> = BTreeMap::new();
    let mut succeeded = Vec::new();
    for (id, status, reason, delivery, retry_of) in &rows {
        *statuses.entry(status.as_str()).or_default() += 1;
        if let Some(delivery) = delivery {
            *per_delivery.entry(delivery.as_str()).or_default() += 1;
        }
        if let Some(previous) = retry_of {
            violations.push(format!(
                "run {id} is a retry of {previous} (a run was interrupted)"
            ));
        }
        let of_push = delivery
            .as_ref()
            .is_some_and(|d| model.pushes.contains_key(d));
        if status == "succeeded" {
            succeeded.push(*id);
        } else if of_push || status == "pending" || status == "running" {
            violations.push(format!(
                "run {id}: {status} ({})",
                reason.as_deref().unwrap_or("")
            ));
        }
    }
    for id in model
        .pushes
        .keys()
        .filter(|id| model.accepted.contains_key(*id))
    {
        match per_delivery.get(id.as_str()) {
            Some(1) => {}
            Some(n) => violations.push(format!("{id}: {n} runs")),
            None => violations.push(format!("{id}: no run")),
        }
    }
    Ok((
        check(
            "one run per push, each succeeded; every run ended",
            format!("{} runs: {statuses:?}", rows.len()),
            violations,
        ),
        succeeded,
    ))
}

/// Each run's stored log holds every line its step printed, in order, once.
async fn logs(world: &World<'_>, runs: &[i64]) -> anyhow::Result<Check> {
    let mut violations = Vec::new();
    let mut lines = 0usize;
    for id in runs {
        let answer = world
            .http
            .get(format!(
                "{}/api/pipelines/{id}/steps/count/logs",
                world.base
            ))
            .send()
            .await?;
        if !answer.status().is_success() {
            violations.push(format!("run {id}: its log answered {}", answer.status()));
            continue;
        }
        let text = answer.text().await?;
        let numbers: Vec<usize> = text
            .lines()
            .filter_map(|line| line.trim().strip_prefix("line ")?.parse().ok())
            .collect();
        lines += numbers.len();
        let wanted: Vec<usize> = (1..=world.lines).collect();
        if numbers != wanted {
            let first_wrong = numbers
                .iter()
                .zip(&wanted)
                .position(|(a, b)| a != b)
                .unwrap_or(numbers.len().min(wanted.len()));
            violations.push(format!(
                "run {id}: {} numbered lines, first out of place at position {first_wrong}",
                numbers.len()
            ));
        }
    }
    Ok(check(
        "each stored log has every line once, in order",
        format!("{} logs, {lines} lines", runs.len()),
        violations,
    ))
}

/// Open pull requests: one running preview at the head, in its namespace with its Deployment.
/// Closed ones: the namespace is gone. No namespace, step pod or Secret left over.
async fn previews_and_orphans(world: &World<'_>, model: &Model) -> anyhow::Result<Vec<Check>> {
    let previews = previews(world.pool).await?;
    let namespaces: Api<Namespace> = Api::all(world.kube.clone());
    let mut open_violations = Vec::new();
    let mut closed_violations = Vec::new();
    let (mut open, mut closed) = (0, 0);
    for (number, pull) in &model.pulls {
        let namespace = namespace_of(*number);
        let exists = namespaces
            .get_opt(&namespace)
            .await?
            .is_some_and(|ns| ns.metadata.deletion_timestamp.is_none());
        if pull.open {
            open += 1;
            match previews.get(number) {
                Some((status, sha)) if status == "running" && *sha == pull.head => {}
                Some((status, sha)) => open_violations.push(format!(
                    "#{number}: {status} at {} (head {})",
                    &sha[..8.min(sha.len())],
                    &pull.head[..8]
                )),
                None => open_violations.push(format!("#{number}: no preview")),
            }
            let deployments: Api<Deployment> = Api::namespaced(world.kube.clone(), &namespace);
            if !exists {
                open_violations.push(format!("#{number}: no namespace {namespace}"));
            } else if deployments
                .list(&ListParams::default())
                .await?
                .items
                .is_empty()
            {
                open_violations.push(format!("#{number}: nothing deployed in {namespace}"));
            }
        } else {
            closed += 1;
            if exists {
                closed_violations.push(format!("#{number}: {namespace} still exists"));
            }
        }
    }
    let mut orphans = Vec::new();
    let managed = ListParams::default().labels("app.kubernetes.io/managed-by=slipway");
    for ns in namespaces.list(&managed).await?.items {
        let name = ns.metadata.name.unwrap_or_default();
        let wanted = name == PIPELINES_NAMESPACE
            || model
                .pulls
                .iter()
                .any(|(number, pull)| pull.open && name == namespace_of(*number));
        if !wanted && ns.metadata.deletion_timestamp.is_none() {
            orphans.push(format!("namespace {name}"));
        }
    }
    let pods: Api<Pod> = Api::namespaced(world.kube.clone(), PIPELINES_NAMESPACE);
    for pod in pods.list(&ListParams::default()).await?.items {
        orphans.push(format!("pod {}", pod.metadata.name.unwrap_or_default()));
    }
    let secrets: Api<Secret> = Api::namespaced(world.kube.clone(), PIPELINES_NAMESPACE);
    for secret in secrets.list(&ListParams::default()).await?.items {
        orphans.push(format!(
            "secret {}",
            secret.metadata.name.unwrap_or_default()
        ));
    }
    Ok(vec![
        check(
            "open PR: one preview, running at its head",
            format!("{open} open"),
            open_violations,
        ),
        check(
            "closed PR: its namespace is gone",
            format!("{closed} closed"),
            closed_violations,
        ),
        check(
            "no orphan namespace, step pod or Secret",
            "checked every managed namespace".into(),
            orphans,
        ),
    ])
}

/// One sticky comment per pull request; the last status of each commit says how it ended.
fn github(world: &World<'_>, model: &Model) -> Vec<Check> {
    let mut per_pull: BTreeMap<i64, usize> = BTreeMap::new();
    for comment in world
        .github
        .comments
        .lock()
        .map(|c| c.clone())
        .unwrap_or_default()
        .values()
    {
        if comment.repository == REPOSITORY {
            *per_pull.entry(comment.number).or_default() += 1;
        }
    }
    let comment_violations: Vec<String> = model
        .pulls
        .keys()
        .filter_map(|number| match per_pull.get(&(*number as i64)) {
            Some(1) => None,
            n => Some(format!("#{number}: {} comments", n.copied().unwrap_or(0))),
        })
        .collect();
    // The last status of each (commit, context).
    let mut last: BTreeMap<(String, String), String> = BTreeMap::new();
    for (_, sha, body) in world
        .github
        .statuses
        .lock()
        .map(|s| s.clone())
        .unwrap_or_default()
    {
        let context = body["context"].as_str().unwrap_or_default().to_owned();
        let state = body["state"].as_str().unwrap_or_default().to_owned();
        last.insert((sha, context), state);
    }
    let mut status_violations = Vec::new();
    let mut wanted = 0;
    for pull in model.pulls.values().filter(|p| p.open) {
        wanted += 1;
        match last.get(&(pull.head.clone(), "slipway/preview".into())) {
            Some(state) if state == "success" => {}
            other => {
                status_violations.push(format!("#{} head: preview status {other:?}", pull.number))
            }
        }
    }
    for (id, sha) in model
        .pushes
        .iter()
        .filter(|(id, _)| model.accepted.contains_key(*id))
    {
        wanted += 1;
        match last.get(&(sha.clone(), "slipway/pipeline".into())) {
            Some(state) if state == "success" => {}
            other => status_violations.push(format!("{id}: pipeline status {other:?}")),
        }
    }
    vec![
        check(
            "one sticky comment per pull request",
            format!("{} pull requests", model.pulls.len()),
            comment_violations,
        ),
        check(
            "last commit status matches the last state",
            format!("{wanted} commits"),
            status_violations,
        ),
    ]
}

/// Every check, in the table's order.
pub async fn all(world: &World<'_>, model: &Model) -> anyhow::Result<Vec<Check>> {
    let mut checks = vec![deliveries(world, model).await?];
    let (runs, succeeded) = pipeline_runs(world, model).await?;
    checks.push(runs);
    checks.push(logs(world, &succeeded).await?);
    checks.extend(previews_and_orphans(world, model).await?);
    checks.extend(github(world, model));
    Ok(checks)
}

/// Prints the table: each check, what was found, and its violations (the first few).
pub fn print(checks: &[Check]) {
    println!();
    println!("| check | found | violations |");
    println!("|---|---|---|");
    for check in checks {
        println!(
            "| {} | {} | {} |",
            check.what,
            check.found,
            check.violations.len()
        );
    }
    for check in checks.iter().filter(|c| !c.violations.is_empty()) {
        println!("\n{}:", check.what);
        for violation in check.violations.iter().take(15) {
            println!("  - {violation}");
        }
        if check.violations.len() > 15 {
            println!("  … and {} more", check.violations.len() - 15);
        }
    }
}
