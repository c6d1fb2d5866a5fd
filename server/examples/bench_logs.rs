//! `scripts/bench logs`: 50 pipeline steps at once on the local runner, each printing 10,000
//! lines as fast as it can (each line carrying the time it was written), with 20 clients
//! following 20 of those logs over server-sent events, as browsers do. Prints lines ingested
//! per second, the p50/p99 delay from a line being written to a client receiving it, lines
//! lost (every followed stream and every stored log is checked line by line) and the server's
//! peak RSS. The server is the release `slipway` binary (`SLIPWAY_BIN`) in its own process, as
//! in production; the clients are this process.

#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{env_number, percentile};
use futures::StreamExt;
use tokio::io::AsyncBufReadExt;

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

fn git(dir: &std::path::Path, args: &[&str]) -> anyhow::Result<()> {
    let status = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .status()?;
    anyhow::ensure!(status.success(), "git {args:?} failed");
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let steps = env_number("BENCH_STEPS", 50);
    let lines = env_number("BENCH_LINES", 10_000);
    let followers = env_number("BENCH_FOLLOWERS", 20).min(steps);

    let work = tempfile::tempdir()?;
    let repo = work.path().join("repo");
    std::fs::create_dir_all(&repo)?;
    let printer = format!(
        "perl -MTime::HiRes=time -e '$| = 1; for my $n (1..{lines}) {{ printf \"%.6f %d\\n\", time, $n }}'"
    );
    std::fs::write(
        repo.join(".platform.yaml"),
        format!(
            "pipeline:\n  steps:\n    - name: print\n      image: perl\n      commands:\n        - \"{}\"\n",
            printer.replace('"', "\\\"")
        ),
    )?;
    git(&repo, &["init", "--quiet", "--initial-branch=main"])?;
    git(&repo, &["add", "--all"])?;
    git(
        &repo,
        &[
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@example.com",
            "commit",
            "--quiet",
            "-m",
            "bench",
        ],
    )?;

    let data = work.path().join("data");
    let bin = std::env::var("SLIPWAY_BIN").unwrap_or_else(|_| "target/release/slipway".into());
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut server = tokio::process::Command::new(&bin)
        .arg("serve")
        .env("SLIPWAY_LISTEN", format!("127.0.0.1:{port}"))
        .env("SLIPWAY_DATA_DIR", &data)
        .env("SLIPWAY_PIPELINE_STEPS", steps.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let pid = server.id().unwrap_or(0);
    let mut log = tokio::io::BufReader::new(
        server
            .stderr
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stderr"))?,
    )
    .lines();
    while let Some(line) = log.next_line().await? {
        if line.contains("serving the dashboard") {
            break;
        }
    }
    // Keep draining the server's log so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = log.next_line().await {} });
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();

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
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let peak = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("VmHWM: ?");
    println!(
        "server peak RSS: {}",
        peak.trim_start_matches("VmHWM:").trim()
    );
    server.start_kill()?;
    server.wait().await?;
    Ok(())
}
