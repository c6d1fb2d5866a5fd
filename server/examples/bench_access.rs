//! `scripts/bench access`: what knowing the caller costs on a list page. A Slipway on SQLite
//! (in this process, over loopback) with 200 previews across 20 repositories; a member who can
//! read 10 of them through a team, and the admin. Times `GET /api/previews?limit=200` with each
//! caller's token, and `GET /healthz` (no credentials) as the floor; prints p50/p99 per caller
//! and what the check adds (token lookup, team grants, the visibility filter in the query).
//! Slipway reads its own permissions (tokens, teams) from its database on every request.
//! A GitHub user's levels come from GitHub's collaborator permission endpoint (here a stand-in
//! answering after `BENCH_GITHUB_MS`, default 50 ms, like github.com from Europe): the bench
//! times them cold (every repository asked, 8 at a time) and warm (the 15-minute cache), and
//! the list page as that user once warm.

#[path = "common/mod.rs"]
mod common;
#[path = "common/in_process.rs"]
mod in_process;

use std::time::{Duration, Instant};

use common::{env_number, percentile};
use services::Caller;
use services::tokens::CreateToken;
use services::users::CreateUser;

const REPOSITORIES: usize = 20;
const PREVIEWS: usize = 200;

/// A stand-in for GitHub's REST API: `/rate_limit`, and every collaborator permission
/// answered `write` after `latency`; its base URL.
async fn github_stand_in(latency: Duration) -> anyhow::Result<String> {
    use axum::routing::get;
    let permission = move || async move {
        tokio::time::sleep(latency).await;
        axum::Json(serde_json::json!({ "permission": "write", "role_name": "write" }))
    };
    let app = axum::Router::new()
        .route(
            "/rate_limit",
            get(|| async { axum::Json(serde_json::json!({ "resources": {} })) }),
        )
        .route(
            "/repos/{owner}/{repo}/collaborators/{login}/permission",
            get(permission),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(base)
}

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
    let github_latency = Duration::from_millis(env_number("BENCH_GITHUB_MS", 50) as u64);
    let github = github_stand_in(github_latency).await?;
    let data = tempfile::tempdir()?;
    let (running, base) = in_process::start(
        data.path(),
        &[
            ("SLIPWAY_GITHUB_API_URL", github.as_str()),
            ("SLIPWAY_GITHUB_TOKEN", "ghp_bench"),
        ],
    )
    .await?;
    let store = running.services.store.clone();
    let accounts = running.services.accounts();

    in_process::previews(store.as_ref(), PREVIEWS, REPOSITORIES, &github).await?;
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
    let octocat = store
        .create_user(&domain::identity::NewUser {
            login: "octocat".into(),
            role: domain::identity::InstanceRole::Member,
            password_hash: None,
            github_id: Some(583_231),
        })
        .await?;
    let octocat_secret = accounts
        .create_token(&system, token("octocat"))
        .await?
        .secret;
    let octocat_client = bearer(&octocat_secret)?;

    // GitHub's levels for all 20 repositories, cold (a fresh cache each round) and warm.
    let host: std::sync::Arc<dyn domain::git_host::GitHost> =
        std::sync::Arc::new(server::github::GitHub::with_token(
            &github,
            &secrecy::SecretString::from("ghp_bench"),
            Duration::from_secs(1),
        )?);
    let repositories = store.list_repositories().await?;
    let fresh_for = Duration::from_secs(900);
    let github_rounds = rounds.min(30);
    let mut cold = Vec::with_capacity(github_rounds);
    for _ in 0..github_rounds {
        let levels = services::github_levels::GitHubLevels::new(host.clone(), fresh_for);
        let started = Instant::now();
        let found = levels.levels(&octocat, &repositories).await;
        cold.push(started.elapsed());
        anyhow::ensure!(
            found.len() == repositories.len(),
            "GitHub grants every repository"
        );
    }
    cold.sort();
    let warm_levels = services::github_levels::GitHubLevels::new(host.clone(), fresh_for);
    warm_levels.levels(&octocat, &repositories).await;
    let mut warm = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        warm_levels.levels(&octocat, &repositories).await;
        warm.push(started.elapsed());
    }
    warm.sort();

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
    time(&octocat_client, &list, 20).await?;
    let (floor, _) = time(&anonymous, &format!("{base}/healthz"), rounds).await?;
    let (as_admin, admin_items) = time(&admin, &list, rounds).await?;
    let (as_member, member_items) = time(&member, &list, rounds).await?;
    let (as_octocat, octocat_items) = time(&octocat_client, &list, rounds).await?;
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
    println!(
        "{:<34} {:>7} {:>9.2?} {:>9.2?}",
        "GitHub user token (cache warm)",
        octocat_items,
        percentile(&as_octocat, 0.5),
        percentile(&as_octocat, 0.99)
    );
    println!(
        "{:<34} {:>7} {:>9.2?} {:>9.2?}",
        format!("GitHub levels, cold ({:?}/call)", github_latency),
        REPOSITORIES,
        percentile(&cold, 0.5),
        percentile(&cold, 0.99)
    );
    println!(
        "{:<34} {:>7} {:>9.2?} {:>9.2?}",
        "GitHub levels, warm (cache)",
        REPOSITORIES,
        percentile(&warm, 0.5),
        percentile(&warm, 0.99)
    );
    anyhow::ensure!(
        admin_items == 200 && member_items == 100 && octocat_items == 200,
        "the member sees half the previews, the GitHub user all of them"
    );
    running.stop().await?;
    Ok(())
}
