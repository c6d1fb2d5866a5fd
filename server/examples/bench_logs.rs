//! `scripts/bench logs`: 50 pipeline steps at once on the local runner, each printing 10,000
//! lines as fast as it can (each line carrying the time it was written), with 20 clients
//! following 20 of those logs over server-sent events, as browsers do. Prints lines ingested
//! per second, the p50/p99 delay from a line being written to a client receiving it, lines
//! lost (every followed stream and every stored log is checked line by line) and the server's
//! peak RSS. The server is the release `slipway` binary (`SLIPWAY_BIN`) in its own process, as
//! in production; the clients are this process.

#[path = "common/mod.rs"]
mod common;
#[path = "common/slipway.rs"]
mod slipway;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{env_number, percentile};
use futures::StreamExt;
use slipway::{Slipway, repository};

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// Per line: written → received by the client, and of that, written → ingested by Slipway.
type Delays = (Vec<Duration>, Vec<Duration>);

/// Follows one step's log until its end; returns each numbered line's delays and the numbers.
async fn follow(client: reqwest::Client, url: String) -> anyhow::Result<(Delays, Vec<u64>)> {
    let response = client
        .get(&url)
        .header("accept", "text/event-stream")
        .send()
        .await?;
    let mut body = response.bytes_stream();
    let mut buffer = String::new();
    let mut delays = Vec::new();
    let mut ingest = Vec::new();
    let mut numbers = Vec::new();
    let mut last_seq = 0u64;
    while let Some(chunk) = body.next().await {
        buffer.push_str(&String::from_utf8_lossy(&chunk?));
        let received = now_secs();
        // Complete events end with a blank line; the rest waits for the next chunk.
        let complete = buffer.rfind("\n\n").map_or(0, |end| end + 2);
        for block in buffer[..complete].split("\n\n") {
            let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) else {
                continue;
            };
            if block.contains("event: end") {
                return Ok(((delays, ingest), numbers));
            }
            let line: serde_json::Value = serde_json::from_str(data)?;
            let seq = line["seq"].as_u64().unwrap_or(0);
            anyhow::ensure!(
                seq == last_seq + 1,
                "line {seq} after {last_seq}: lost or repeated"
            );
            last_seq = seq;
            let text = line["text"].as_str().unwrap_or("");
            if let Some((written, n)) = text.split_once(' ')
                && let (Ok(written), Ok(n)) = (written.parse::<f64>(), n.parse::<u64>())
            {
                delays.push(Duration::from_secs_f64((received - written).max(0.0)));
                let at = line["at_ms"].as_f64().unwrap_or(0.0) / 1000.0;
                ingest.push(Duration::from_secs_f64((at - written).max(0.0)));
                numbers.push(n);
            }
        }
        buffer.drain(..complete);
    }
    anyhow::bail!("the stream of {url} ended without an end event")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let steps = env_number("BENCH_STEPS", 50);
    let lines = env_number("BENCH_LINES", 10_000);
    // Followers take the logs in turn: more followers than steps follow some logs twice or more.
    let followers = env_number("BENCH_FOLLOWERS", 20);

    let work = tempfile::tempdir()?;
    let repo = work.path().join("repo");
    let printer = format!(
        "perl -MTime::HiRes=time -e '$| = 1; for my $n (1..{lines}) {{ printf \"%.6f %d\\n\", time, $n }}'"
    );
    repository(
        &repo,
        &format!(
            "pipeline:\n  steps:\n    - name: print\n      image: perl\n      commands:\n        - \"{}\"\n",
            printer.replace('"', "\\\"")
        ),
    )?;
    let server = Slipway::start(
        &work.path().join("data"),
        &[("SLIPWAY_PIPELINE_STEPS", steps.to_string())],
    )
    .await?;
    let base = server.base.clone();
    let client = server.client()?;

    let project: serde_json::Value = client
        .post(format!("{base}/api/projects"))
        .json(&serde_json::json!({ "name": "bench", "clone_url": repo.display().to_string() }))
        .send()
        .await?
        .json()
        .await?;
    let project = project["id"].as_i64().unwrap_or(0);
    let started = Instant::now();
    let mut ids = Vec::new();
    for _ in 0..steps {
        let run: serde_json::Value = client
            .post(format!("{base}/api/projects/{project}/pipelines"))
            .json(&serde_json::json!({ "git_ref": "main" }))
            .send()
            .await?
            .json()
            .await?;
        ids.push(run["id"].as_i64().unwrap_or(0));
    }
    let follows: Vec<_> = ids
        .iter()
        .cycle()
        .take(followers)
        .map(|id| {
            tokio::spawn(follow(
                client.clone(),
                format!("{base}/api/pipelines/{id}/steps/print/logs"),
            ))
        })
        .collect();

    let mut delays = Vec::new();
    let mut ingest = Vec::new();
    let mut lost = 0usize;
    for handle in follows {
        let ((d, i), numbers) = handle.await??;
        ingest.extend(i);
        lost += lines.saturating_sub(numbers.len());
        anyhow::ensure!(
            numbers.iter().copied().eq(1..=lines as u64),
            "a follower saw lines out of order"
        );
        delays.extend(d);
    }
    // Every run ends; every stored log holds every line.
    let mut stored_lines = 0usize;
    for id in &ids {
        loop {
            let run: serde_json::Value = client
                .get(format!("{base}/api/pipelines/{id}"))
                .send()
                .await?
                .json()
                .await?;
            match run["status"].as_str() {
                Some("succeeded") => break,
                Some("pending" | "running") => tokio::time::sleep(Duration::from_millis(100)).await,
                other => anyhow::bail!("run {id} ended {other:?}: {}", run["reason"]),
            }
        }
        let text = client
            .get(format!("{base}/api/pipelines/{id}/steps/print/logs"))
            .send()
            .await?
            .text()
            .await?;
        let numbered = text
            .lines()
            .filter(|l| {
                l.split_once(' ')
                    .is_some_and(|(t, n)| t.parse::<f64>().is_ok() && n.parse::<u64>().is_ok())
            })
            .count();
        lost += lines.saturating_sub(numbered);
        stored_lines += numbered;
    }
    let elapsed = started.elapsed();
    delays.sort();
    ingest.sort();
    println!("steps: {steps} × {lines} lines, {followers} SSE followers");
    println!(
        "ingested: {stored_lines} lines in {:.1} s = {:.0} lines/s",
        elapsed.as_secs_f64(),
        stored_lines as f64 / elapsed.as_secs_f64()
    );
    println!(
        "write → SSE client delay: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} lines measured)",
        percentile(&delays, 0.50).as_secs_f64() * 1000.0,
        percentile(&delays, 0.99).as_secs_f64() * 1000.0,
        delays.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
        delays.len()
    );
    println!(
        "  of which write → ingested by Slipway: p50 {:.1} ms, p99 {:.1} ms",
        percentile(&ingest, 0.50).as_secs_f64() * 1000.0,
        percentile(&ingest, 0.99).as_secs_f64() * 1000.0
    );
    println!("lines lost: {lost}");
    println!("server peak RSS: {}", server.peak_rss());
    server.stop().await?;
    Ok(())
}
