//! `scripts/bench mcp`: what an agent waits for. A Slipway on SQLite (in this process, over
//! loopback) with `BENCH_PREVIEWS` previews (default 1,000) across 20 repositories; an MCP
//! `tools/call` of `list_preview_environments` (a page of 100) and `get_preview_environment`
//! with the admin's token, as plain JSON-RPC over Streamable HTTP (stateless: one POST per
//! call). Prints p50/p99 and the HTTP body size (the JSON twice: structured and as text).

#[path = "common/mod.rs"]
mod common;
#[path = "common/in_process.rs"]
mod in_process;

use std::time::{Duration, Instant};

use common::{env_number, percentile};
use serde_json::{Value, json};
use services::Caller;
use services::tokens::CreateToken;

const REPOSITORIES: usize = 20;

/// One `tools/call` of `name`: how long it took and the answer's size.
async fn call(
    client: &reqwest::Client,
    url: &str,
    name: &str,
    arguments: Value,
) -> anyhow::Result<(Duration, usize)> {
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": name, "arguments": arguments } });
    let started = Instant::now();
    let answer = client
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .json(&body)
        .send()
        .await?;
    anyhow::ensure!(answer.status().is_success(), "{name}: {}", answer.status());
    let text = answer.text().await?;
    let elapsed = started.elapsed();
    let parsed: Value = serde_json::from_str(&text)?;
    let result = &parsed["result"];
    anyhow::ensure!(
        result["isError"] == false,
        "{name} answered an error: {text:.300}"
    );
    let items = result["structuredContent"]["items"]
        .as_array()
        .map_or(1, Vec::len);
    anyhow::ensure!(items > 0, "{name} answered an empty list: {text:.300}");
    Ok((elapsed, text.len()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rounds = env_number("BENCH_ROUNDS", 200);
    let previews = env_number("BENCH_PREVIEWS", 1_000);
    let data = tempfile::tempdir()?;
    let (running, base) = in_process::start(data.path(), &[]).await?;
    let store = running.services.store.clone();
    in_process::previews(
        store.as_ref(),
        previews,
        REPOSITORIES,
        "https://example.com",
    )
    .await?;
    let token = CreateToken {
        user: Some("admin".into()),
        name: "bench".into(),
        scope: Some("read".into()),
        ..CreateToken::default()
    };
    let secret = running
        .services
        .accounts()
        .create_token(&Caller::System, token)
        .await?
        .secret;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {secret}").parse()?,
    );
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .build()?;
    let url = format!("{base}/mcp");
    // Without a cluster the preview worker soon removes them: list the removed ones too.
    let list = json!({ "limit": 100, "include_removed": true });
    for _ in 0..10 {
        call(&client, &url, "list_preview_environments", list.clone()).await?;
    }
    let mut listing = Vec::with_capacity(rounds);
    let mut list_bytes = 0;
    for _ in 0..rounds {
        let (took, bytes) = call(&client, &url, "list_preview_environments", list.clone()).await?;
        listing.push(took);
        list_bytes = bytes;
    }
    listing.sort();
    let mut getting = Vec::with_capacity(rounds);
    let mut get_bytes = 0;
    for n in 0..rounds {
        let arguments =
            json!({ "repository": format!("acme/service-{}", n % REPOSITORIES), "number": n + 1 });
        let (took, bytes) = call(&client, &url, "get_preview_environment", arguments).await?;
        getting.push(took);
        get_bytes = bytes;
    }
    getting.sort();
    println!(
        "MCP tools/call over loopback, {previews} previews in {REPOSITORIES} repositories, SQLite, {rounds} calls each"
    );
    println!("{:<44} {:>9} {:>9} {:>9}", "tool", "p50", "p99", "body");
    println!(
        "{:<44} {:>9.2?} {:>9.2?} {:>9}",
        "list_preview_environments (page of 100)",
        percentile(&listing, 0.5),
        percentile(&listing, 0.99),
        list_bytes
    );
    println!(
        "{:<44} {:>9.2?} {:>9.2?} {:>9}",
        "get_preview_environment (repository + number)",
        percentile(&getting, 0.5),
        percentile(&getting, 0.99),
        get_bytes
    );
    running.stop().await?;
    Ok(())
}
