//! `scripts/bench webhooks`: signed `pull_request` deliveries (GitHub's ~28 KB example
//! payload, every tenth one a repeated delivery id) sent over loopback to a Slipway server on
//! SQLite, then on PostgreSQL (`BENCH_POSTGRES_URL`, a fresh database is created and dropped),
//! and to a bare axum handler that answers 200, at increasing concurrency. Prints deliveries/s
//! and p50/p99 answer latency per level, then checks the record: every distinct delivery
//! recorded once and processed once.

#[path = "common/mod.rs"]
mod common;

use common::{env_number, percentile};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use server::config::{Config, Sources};
use server::webhooks::signature::sign;
use tokio_util::sync::CancellationToken;

const SECRET: &str = "bench-webhook-secret";
const LEVELS: [usize; 3] = [8, 32, 128];

struct Level {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    failures: usize,
}

/// Sends `total` deliveries with `concurrency` in flight; ids `{prefix}-{n}`, every tenth a
/// repeat of the one before.
async fn run_level(
    url: &str,
    body: &Arc<Vec<u8>>,
    prefix: &str,
    total: usize,
    concurrency: usize,
) -> Level {
    let client = reqwest::Client::new();
    let signature = Arc::new(sign(SECRET, body));
    let next = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers = (0..concurrency).map(|_| {
        let (client, body, signature, next, failures) = (
            client.clone(),
            body.clone(),
            signature.clone(),
            next.clone(),
            failures.clone(),
        );
        let url = url.to_owned();
        let prefix = prefix.to_owned();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    return latencies;
                }
                let id = if n % 10 == 9 { n - 1 } else { n };
                let sent = Instant::now();
                let answer = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-github-event", "pull_request")
                    .header("x-github-delivery", format!("{prefix}-{id}"))
                    .header("x-hub-signature-256", signature.as_str())
                    .body(body.as_ref().clone())
                    .send()
                    .await;
                latencies.push(sent.elapsed());
                if !answer.is_ok_and(|a| a.status().is_success()) {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    });
    let mut latencies: Vec<Duration> = Vec::new();
    for worker in futures::future::join_all(workers).await {
        latencies.extend(worker.unwrap_or_default());
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    Level {
        per_second: total as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        failures: failures.load(Ordering::Relaxed),
    }
}

fn print(label: &str, concurrency: usize, level: &Level) {
    println!(
        "{label:<10} concurrency {concurrency:>3}: {:>7.0} deliveries/s, p50 {:>6.1} ms, p99 {:>6.1} ms, failed answers {}",
        level.per_second,
        level.p50.as_secs_f64() * 1e3,
        level.p99.as_secs_f64() * 1e3,
        level.failures
    );
}

/// A bare axum handler answering 200, for the ratio.
async fn bare() -> anyhow::Result<String> {
    let app = axum::Router::new().route(
        "/webhooks/github",
        axum::routing::post(|_: axum::body::Bytes| async { "ok" }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{address}/webhooks/github"))
}

/// Runs every level against a Slipway on `database` and checks the record afterwards.
async fn slipway(
    label: &str,
    database: Option<String>,
    body: &Arc<Vec<u8>>,
    total: usize,
) -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let data_dir = data.path().display().to_string();
    let mut pairs = vec![
        ("SLIPWAY_DATA_DIR", data_dir.clone()),
        ("SLIPWAY_GITHUB_WEBHOOK_SECRET", SECRET.to_owned()),
        ("SLIPWAY_LOG", "warn".to_owned()),
    ];
    if let Some(url) = &database {
        pairs.push(("SLIPWAY_DATABASE_URL", url.clone()));
    }
    let config = Config::from_sources(&Sources::from_pairs(
        pairs.iter().map(|(k, v)| (*k, v.as_str())),
    ))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/webhooks/github", listener.local_addr()?);
    let running = server::serve::start_on(config, listener, CancellationToken::new()).await?;
    let mut distinct = 0;
    for (i, concurrency) in LEVELS.iter().enumerate() {
        let level = run_level(&url, body, &format!("{label}-{i}"), total, *concurrency).await;
        distinct += total - total / 10;
        print(label, *concurrency, &level);
    }
    // Let the worker finish, then count.
    let store = running.adapters.store.clone();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !store.queued_deliveries(0, 1).await?.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut recorded = 0;
    let mut processed_twice = 0;
    let mut before = None;
    loop {
        let page = store
            .list_deliveries(&domain::DeliveryFilter {
                before,
                limit: 200,
                ..Default::default()
            })
            .await?;
        recorded += page.len();
        processed_twice += page.iter().filter(|d| d.attempts != 1).count();
        match page.last() {
            Some(last) if page.len() == 200 => before = Some(last.seq),
            _ => break,
        }
    }
    println!(
        "{label:<10} record: {recorded} deliveries for {distinct} distinct ids sent, {} not processed exactly once{}",
        processed_twice,
        if recorded == distinct && processed_twice == 0 {
            " (ok)"
        } else {
            " (MISMATCH)"
        }
    );
    running.stop().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let total = env_number("BENCH_DELIVERIES", 3_000);
    let payload = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/github-payloads/pull_request.opened.payload.json");
    let body = Arc::new(std::fs::read(payload)?);
    println!(
        "{total} signed pull_request deliveries per level ({} KB each, 10% repeated ids)",
        body.len() / 1024
    );

    let bare_url = bare().await?;
    for concurrency in LEVELS {
        print(
            "bare axum",
            concurrency,
            &run_level(&bare_url, &body, "bare", total, concurrency).await,
        );
    }
    slipway("sqlite", None, &body, total).await?;
    match std::env::var("BENCH_POSTGRES_URL") {
        Ok(admin) => {
            let name = format!("slipway_bench_{}", std::process::id());
            let pool = sqlx::PgPool::connect(&admin).await?;
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&pool)
                .await?;
            let mut url = url::Url::parse(&admin)?;
            url.set_path(&name);
            let outcome = slipway("postgres", Some(url.to_string()), &body, total).await;
            sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
                .execute(&pool)
                .await?;
            outcome?;
        }
        Err(_) => println!("postgres: skipped (BENCH_POSTGRES_URL is not set)"),
    }
    Ok(())
}
