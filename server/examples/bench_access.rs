//! `scripts/bench access`: what knowing the caller costs on a list page. A Slipway on SQLite
//! (in this process, over loopback) with 200 previews across 20 repositories; a member who can
//! read 10 of them through a team, and the admin. Times `GET /api/previews?limit=200` with each
//! caller's token, and `GET /healthz` (no credentials) as the floor; prints p50/p99 per caller
//! and what the check adds (token lookup, team grants, the visibility filter in the query).
//! Slipway reads permissions from its own database on every request: there is no cache, so
//! every request is the uncached case.

#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{env_number, percentile};
use domain::pull_request::{PreviewVerdict, PullRequestSnapshot};
use server::config::{Config, Sources};
use services::Caller;
use services::tokens::CreateToken;
use services::users::CreateUser;
use tokio_util::sync::CancellationToken;

const REPOSITORIES: i64 = 20;
const PREVIEWS: i64 = 200;

async fn time(
    client: &reqwest::Client,
    url: &str,
    rounds: usize,
) -> anyhow::Result<(Vec<Duration>, usize)> {
    let mut times = Vec::with_capacity(rounds);
    let mut items = 0;
    for _ in 0..rounds {
        let started = Instant::now();
        let answer = client.get(url).send().await?;
        anyhow::ensure!(answer.status().is_success(), "{url}: {}", answer.status());
        let body = answer.text().await?;
        times.push(started.elapsed());
        let body: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        items = body["items"].as_array().map_or(0, Vec::len);
    }
    times.sort();
    Ok((times, items))
}

fn bearer(token: &str) -> anyhow::Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse()?,
    );
    Ok(reqwest::Client::builder()
        .default_headers(headers)
        .build()?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rounds = env_number("BENCH_ROUNDS", 300);
    let data = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let data_dir = data.path().display().to_string();
    let config = Config::from_sources(&Sources::from_pairs([
        ("SLIPWAY_DATA_DIR", data_dir.as_str()),
        ("SLIPWAY_PUBLIC_URL", base.as_str()),
        ("SLIPWAY_LOG", "warn"),
    ]))
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let running = server::serve::start_on(config, listener, CancellationToken::new()).await?;
    let store = running.services.store.clone();
    let accounts = running.services.accounts();

    for n in 0..PREVIEWS {
        let repository = format!("acme/service-{}", n % REPOSITORIES);
        let snapshot = PullRequestSnapshot {
            clone_url: format!("https://example.com/{repository}.git"),
            repository,
            default_branch: "main".into(),
            number: n + 1,
            title: format!("Change {n}"),
            author: "octocat".into(),
            head_ref: format!("change-{n}"),
            head_sha: format!("{n:040}"),
            base_ref: "main".into(),
            draft: false,
            labels: Vec::new(),
            open: true,
            merged: false,
            updated_at: "2026-12-01T10:00:00Z".into(),
        };
        store
            .record_pull_request(&snapshot, &PreviewVerdict::Wanted, 1)
            .await?;
    }
    let system = Caller::System;
    let member = CreateUser {
        login: "member".into(),
        role: None,
        password: None,
    };
    let member = accounts.create_user(&system, member).await?.user;
    let team = accounts
        .create_team(
            &system,
            services::teams::CreateTeam {
                name: "half".into(),
            },
        )
        .await?;
    accounts
        .set_member(&system, team.id, member.id, true)
        .await?;
    for repository in store.list_repositories().await?.iter().take(10) {
        let level = services::teams::GrantLevel {
            level: "read".into(),
        };
        accounts
            .set_grant(&system, team.id, repository.id, Some(level))
            .await?;
    }
    let token = |user: &str| CreateToken {
        user: Some(user.to_owned()),
        name: "bench".into(),
        scope: Some("read".into()),
        ..CreateToken::default()
    };
    let admin_secret = accounts.create_token(&system, token("admin")).await?.secret;
    let member_secret = accounts
        .create_token(&system, token("member"))
        .await?
        .secret;
    let admin = bearer(&admin_secret)?;
    let member = bearer(&member_secret)?;

    // The check itself, in process: the token's row, its user and their team grants.
    let mut resolve = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        accounts
            .resolve_token(&member_secret, Default::default())
            .await?;
        resolve.push(started.elapsed());
    }
    resolve.sort();
    let anonymous = reqwest::Client::new();

    // Without a cluster the preview worker soon removes them: count the removed ones too.
    let list = format!("{base}/api/previews?limit=200&include_deleted=true");
    // Warm up connections and the database's caches.
    time(&admin, &list, 20).await?;
    time(&member, &list, 20).await?;
    let (floor, _) = time(&anonymous, &format!("{base}/healthz"), rounds).await?;
    let (as_admin, admin_items) = time(&admin, &list, rounds).await?;
    let (as_member, member_items) = time(&member, &list, rounds).await?;
    println!(
        "list page of {PREVIEWS} previews ({REPOSITORIES} repositories), {rounds} requests each, SQLite, loopback"
    );
    println!("{:<34} {:>7} {:>9} {:>9}", "caller", "items", "p50", "p99");
    println!(
        "{:<34} {:>7} {:>9.2?} {:>9.2?}",
        "resolving a token (in process)",
        "-",
        percentile(&resolve, 0.5),
        percentile(&resolve, 0.99)
    );
    println!(
        "{:<34} {:>7} {:>9.2?} {:>9.2?}",
        "GET /healthz (no credentials)",
        "-",
        percentile(&floor, 0.5),
        percentile(&floor, 0.99)
    );
    println!(
        "{:<34} {:>7} {:>9.2?} {:>9.2?}",
        "admin token (no filter)",
        admin_items,
        percentile(&as_admin, 0.5),
        percentile(&as_admin, 0.99)
    );
    println!(
        "{:<34} {:>7} {:>9.2?} {:>9.2?}",
        "member token (10 repos via a team)",
        member_items,
        percentile(&as_member, 0.5),
        percentile(&as_member, 0.99)
    );
    anyhow::ensure!(
        admin_items == 200 && member_items == 100,
        "the member sees half the previews"
    );
    running.stop().await?;
    Ok(())
}
