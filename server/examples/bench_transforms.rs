//! `scripts/bench transforms`: one transform run over 50 repositories on the local runner, or
//! as Jobs on kube-sim with `BENCH_RUNNER=kube-sim` (at 0 ms per call; its pods are local
//! processes), each step sleeping 1 s (`BENCH_REPOSITORIES`, `BENCH_STEP_SECONDS`,
//! `BENCH_SLOTS` adjust it), then a run of 200 executions whose step does nothing, for the
//! queue's own pace. Prints
//! the time from start to all done, each execution's overhead beyond its own commands
//! (p50/p99: claim, clone, checkout, diff, storing the three artifacts, recording), the queue's
//! throughput (executions/s) through the Store — or, with `BENCH_QUEUE=redis`, through the
//! task stream of a redis-server started here — and the server's peak RSS. The server is the
//! release `slipway` binary (`SLIPWAY_BIN`) in its own process, on its embedded defaults.

#[path = "common/mod.rs"]
mod common;
#[path = "common/slipway.rs"]
mod slipway;

use std::time::{Duration, Instant};

use common::{env_number, percentile};
use slipway::{Slipway, repository};

/// Makes repositories number `numbers` under `root` and adds them to Slipway as `bench/r{n}`.
async fn repositories(
    client: &reqwest::Client,
    base: &str,
    root: &std::path::Path,
    numbers: std::ops::Range<usize>,
) -> anyhow::Result<()> {
    for n in numbers {
        let dir = root.join(format!("r{n}"));
        repository(&dir, "# no pipeline: only transforms run here\n")?;
        let answer = client
            .post(format!("{base}/api/projects"))
            .json(&serde_json::json!({ "name": format!("bench/r{n}"), "clone_url": dir.display().to_string() }))
            .send()
            .await?;
        anyhow::ensure!(
            answer.status().is_success(),
            "adding bench/r{n}: {}",
            answer.status()
        );
    }
    Ok(())
}

/// Starts a run with `command` as its one step; waits until it ended; its executions and the
/// time from start to end.
async fn run(
    client: &reqwest::Client,
    base: &str,
    command: &str,
) -> anyhow::Result<(Vec<serde_json::Value>, Duration)> {
    let spec = format!(
        "name: bench\nrepositories: [\"bench/*\"]\nsteps:\n  - name: edit\n    image: alpine\n    commands: [\"{command}\"]\n"
    );
    let started = Instant::now();
    let answer = client
        .post(format!("{base}/api/runs"))
        .header("content-type", "application/yaml")
        .body(spec)
        .send()
        .await?;
    anyhow::ensure!(
        answer.status().as_u16() == 201,
        "start: {}",
        answer.text().await?
    );
    let created: serde_json::Value = answer.json().await?;
    let id = created["id"].as_i64().unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let run: serde_json::Value = client
            .get(format!("{base}/api/runs/{id}"))
            .send()
            .await?
            .json()
            .await?;
        if matches!(
            run["status"].as_str(),
            Some("completed" | "partially_failed" | "cancelled")
        ) {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the run did not end within 15 minutes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = started.elapsed();
    let executions: serde_json::Value = client
        .get(format!("{base}/api/runs/{id}/executions"))
        .send()
        .await?
        .json()
        .await?;
    let items = executions["items"].as_array().cloned().unwrap_or_default();
    Ok((items, took))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let count = env_number("BENCH_REPOSITORIES", 50);
    let step_secs = env_number("BENCH_STEP_SECONDS", 1);
    let slots = env_number("BENCH_SLOTS", 8);
    let quick = env_number("BENCH_QUICK_EXECUTIONS", 200);
    let work = tempfile::tempdir()?;
    let on_kube_sim = std::env::var("BENCH_RUNNER").is_ok_and(|r| r == "kube-sim");
    let runner = if on_kube_sim {
        "Jobs on kube-sim"
    } else {
        "the local runner"
    };
    let mut settings = vec![("SLIPWAY_PIPELINE_STEPS", slots.to_string())];
    if on_kube_sim {
        settings.push(("SLIPWAY_CLUSTER", "sim".to_owned()));
    }
    let redis = match std::env::var("BENCH_QUEUE").as_deref() {
        Ok("redis") => Some(Redis::start().await?),
        _ => None,
    };
    if let Some(redis) = &redis {
        settings.push((
            "SLIPWAY_REDIS_URL",
            format!("redis://127.0.0.1:{}", redis.port),
        ));
    }
    let queue = if redis.is_some() {
        "the Redis task stream"
    } else {
        "the Store"
    };
    let server = Slipway::start(&work.path().join("data"), &settings).await?;
    let base = server.base.clone();
    let client = server.client()?;
    let root = work.path().join("repos");
    repositories(&client, &base, &root, 0..count).await?;
    let (executions, took) = run(
        &client,
        &base,
        &format!("sleep {step_secs}; echo 1.0.2 > VERSION"),
    )
    .await?;
    let own = Duration::from_secs(step_secs as u64);
    let mut overheads: Vec<Duration> = executions
        .iter()
        .filter_map(|e| {
            let (start, end) = (e["started_at_ms"].as_i64()?, e["finished_at_ms"].as_i64()?);
            let ran = Duration::from_millis(u64::try_from(end - start).ok()?);
            Some(ran.saturating_sub(own))
        })
        .collect();
    overheads.sort();
    let succeeded = executions
        .iter()
        .filter(|e| e["status"] == "succeeded")
        .count();
    println!(
        "{runner}, through {queue}: {} executions × a {step_secs} s step, {slots} at once: all done in {:.1} s ({succeeded} with a patch)",
        executions.len(),
        took.as_secs_f64()
    );
    println!(
        "overhead per execution beyond its commands (checkout, script, diff, artifacts, recording; the mirror fetch is in the total): p50 {:.0} ms, p99 {:.0} ms",
        percentile(&overheads, 0.50).as_secs_f64() * 1000.0,
        percentile(&overheads, 0.99).as_secs_f64() * 1000.0
    );
    repositories(&client, &base, &root, count..quick.max(count)).await?;
    let (quick_runs, quick_took) = run(&client, &base, "true").await?;
    println!(
        "queue through {queue}: {} executions of `true` in {:.1} s = {:.1} executions/s",
        quick_runs.len(),
        quick_took.as_secs_f64(),
        quick_runs.len() as f64 / quick_took.as_secs_f64()
    );
    println!("server peak RSS: {}", server.peak_rss());
    server.stop().await
}

/// A private redis-server on a free port, without persistence; killed when dropped.
struct Redis {
    port: u16,
    _child: tokio::process::Child,
}

impl Redis {
    async fn start() -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = tokio::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            anyhow::ensure!(
                Instant::now() < deadline,
                "redis-server did not listen within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self {
            port,
            _child: child,
        })
    }
}
