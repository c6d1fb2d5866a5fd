//! `scripts/chaos`: two Slipway replicas (release `SLIPWAY_BIN`, each its own process) on a
//! PostgreSQL, Redis, S3 server, kube-sim and fake GitHub of the campaign's own, all on
//! loopback, fed a storm of signed deliveries while replicas are killed with SIGKILL and
//! started again and the dependencies fail in turn (see `faults`). Then it waits for things to
//! settle and checks, and prints as a table, that nothing was lost, doubled or left behind
//! (see `checks`), and how long work a dead replica held went unattended (see `leases`).
//! Exits 1 on any violation, keeping its folder (the replicas' logs) for a look.
//!
//! `CHAOS_CYCLES` (100) kill/restart cycles, `CHAOS_PULL_REQUESTS` (12), `CHAOS_EVENT_MS`
//! (250: one delivery per this), `CHAOS_LINES` (300 lines per pipeline step),
//! `CHAOS_SETTLE_SECONDS` (240), `CHAOS_MAX_MINUTES` (60: it stops by itself).

#[path = "../common/mod.rs"]
#[expect(
    dead_code,
    reason = "the benchmarks' helpers, of which the campaign uses one"
)]
mod common;
#[path = "../../tests/integration/fake_github.rs"]
#[expect(
    dead_code,
    clippy::expect_used,
    reason = "the tests' fake GitHub (which fails loudly), of which the campaign uses a part"
)]
mod fake_github;

mod checks;
mod faults;
mod leases;
mod storm;
mod world;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::env_number;
use tokio_util::sync::CancellationToken;

/// The bound on how long a dead replica's work may go unattended.
const TAKEOVER_BOUND: Duration = Duration::from_secs(15);
const WEBHOOK_SECRET: &str = "chaos-webhook-secret";

fn platform(lines: usize) -> String {
    format!(
        r#"pipeline:
  steps:
    - name: count
      image: alpine
      commands:
        - 'i=1; while [ $i -le {lines} ]; do echo "line $i"; if [ $((i % 30)) -eq 0 ]; then sleep 0.3; fi; i=$((i+1)); done'
  on:
    push:
      branches: ["ci-*"]
preview:
  app:
    image: registry.example.com/chaos:1
"#
    )
}

#[tokio::main]
async fn main() -> ExitCode {
    let minutes = env_number("CHAOS_MAX_MINUTES", 60) as u64;
    let work = match tempfile::Builder::new().prefix("slipway-chaos-").tempdir() {
        Ok(work) => work,
        Err(error) => {
            eprintln!("chaos: cannot make a folder: {error}");
            return ExitCode::FAILURE;
        }
    };
    let limit = Duration::from_secs(minutes * 60);
    // Whichever way it ends, what it started is stopped as the campaign is dropped.
    let passed = tokio::select! {
        ended = tokio::time::timeout(limit, campaign(work.path())) => match ended {
            Ok(Ok(passed)) => passed,
            Ok(Err(error)) => {
                eprintln!("chaos: {error:#}");
                false
            }
            Err(_) => {
                eprintln!("chaos: stopped after {minutes} minutes (CHAOS_MAX_MINUTES)");
                false
            }
        },
        _ = tokio::signal::ctrl_c() => {
            eprintln!("chaos: interrupted");
            false
        }
    };
    if passed {
        ExitCode::SUCCESS
    } else {
        let kept = work.keep();
        eprintln!("chaos: the replicas' logs are kept in {}", kept.display());
        ExitCode::FAILURE
    }
}

/// How big the campaign is (from the environment).
struct Size {
    cycles: u32,
    pulls: u64,
    every: Duration,
    lines: usize,
    settle_bound: Duration,
}

/// What the replicas run on, started once.
struct Dependencies {
    postgres: world::Postgres,
    redis: world::Redis,
    s3: world::S3,
    kube_sim: world::KubeSim,
    github_url: String,
    github: Arc<fake_github::Fake>,
}

async fn campaign(dir: &std::path::Path) -> anyhow::Result<bool> {
    let size = Size {
        cycles: env_number("CHAOS_CYCLES", 100) as u32,
        pulls: env_number("CHAOS_PULL_REQUESTS", 12) as u64,
        every: Duration::from_millis(env_number("CHAOS_EVENT_MS", 250) as u64),
        lines: env_number("CHAOS_LINES", 300),
        settle_bound: Duration::from_secs(env_number("CHAOS_SETTLE_SECONDS", 240) as u64),
    };
    println!(
        "starting PostgreSQL, Redis, s3s-fs, kube-sim and the fake GitHub in {}",
        dir.display()
    );
    let postgres = world::Postgres::start(&dir.join("postgres")).await?;
    let redis = world::Redis::start().await?;
    let s3 = world::S3::start(&dir.join("s3")).await?;
    let kube_sim = world::KubeSim::start(dir).await?;
    let (github_url, github) = fake_github::start().await;
    let mut dependencies = Dependencies {
        postgres,
        redis,
        s3,
        kube_sim,
        github_url,
        github,
    };
    run(dir, &size, &mut dependencies).await
}

async fn run(dir: &std::path::Path, size: &Size, deps: &mut Dependencies) -> anyhow::Result<bool> {
    let Size {
        cycles,
        pulls,
        every,
        lines,
        settle_bound,
    } = *size;
    let Dependencies {
        postgres,
        redis,
        s3,
        kube_sim,
        github_url,
        github,
    } = deps;
    let (postgres, kube_sim, github) = (&*postgres, &*kube_sim, &*github);
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(&postgres.url("postgres")).await?;
    sqlx::query("CREATE DATABASE slipway")
        .execute(&mut admin)
        .await?;
    drop(admin);
    let database = postgres.url("slipway");

    let settings: Vec<(String, String)> = [
        ("SLIPWAY_DATABASE_URL", database.clone()),
        ("SLIPWAY_REDIS_URL", redis.url()),
        ("SLIPWAY_S3_BUCKET", world::S3_BUCKET.into()),
        ("SLIPWAY_S3_ENDPOINT", s3.endpoint.clone()),
        ("SLIPWAY_S3_ACCESS_KEY_ID", world::S3_ACCESS_KEY.into()),
        ("SLIPWAY_S3_SECRET_ACCESS_KEY", world::S3_SECRET_KEY.into()),
        (
            "SLIPWAY_KUBECONFIG",
            kube_sim.kubeconfig.display().to_string(),
        ),
        ("SLIPWAY_GITHUB_API_URL", github_url.to_owned()),
        (
            "SLIPWAY_GITHUB_TOKEN",
            "ghp_chaoscampaigntoken0000000000000000".into(),
        ),
        ("SLIPWAY_GITHUB_WEBHOOK_SECRET", WEBHOOK_SECRET.into()),
        (
            "SLIPWAY_SIGNING_KEY",
            "chaos-signing-key-of-at-least-32-characters".into(),
        ),
        (
            "SLIPWAY_SECRETS_KEY",
            "chaos-secrets-key-of-at-least-32-characters".into(),
        ),
        ("SLIPWAY_STARTUP_RETRY_SECONDS", "60".into()),
        ("SLIPWAY_LOG", "info".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let mut replicas = vec![
        world::Replica::new("replica-a", dir, &settings)?,
        world::Replica::new("replica-b", dir, &settings)?,
    ];
    for replica in &mut replicas {
        replica.start().await?;
    }
    let token = replicas[0].admin_token().await?;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse()?,
    );
    let api = reqwest::Client::builder()
        .default_headers(headers)
        .build()?;
    let plain = reqwest::Client::new();

    let repository = storm::Repository::create(&dir.join("repository"), &platform(lines))?;
    let added = api
        .post(format!("{}/api/projects", replicas[0].base()))
        .json(&serde_json::json!({ "name": storm::REPOSITORY, "clone_url": repository.path.display().to_string() }))
        .send()
        .await?;
    anyhow::ensure!(
        added.status() == 201,
        "adding the repository answered {}",
        added.status()
    );

    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect(&database)
        .await?;
    let stop_watch = CancellationToken::new();
    let watch = tokio::spawn(leases::watch(pool.clone(), stop_watch.clone()));
    let sender = storm::Sender {
        http: plain.clone(),
        bases: replicas.iter().map(world::Replica::base).collect(),
        secret: WEBHOOK_SECRET.into(),
        model: Arc::default(),
        repository: repository.path.clone(),
    };
    let model = sender.model.clone();
    let stop_storm = CancellationToken::new();
    let started = Instant::now();
    let storm = tokio::spawn(storm::run(
        sender,
        repository,
        pulls,
        every,
        stop_storm.clone(),
    ));

    println!("{cycles} kill/restart cycles under a storm of deliveries ({pulls} pull requests)");
    let done = faults::Faults {
        replicas: &mut replicas,
        postgres,
        redis,
        s3,
        kube: kube_sim,
        github,
        http: plain.clone(),
    }
    .run(cycles)
    .await;
    stop_storm.cancel();
    let sent = storm.await??;
    let done = done?;
    let stormed = started.elapsed();
    println!(
        "storm over after {:.0} s: {sent} events; waiting for things to settle",
        stormed.as_secs_f64()
    );

    let kubeconfig = kube::config::Kubeconfig::read_from(&kube_sim.kubeconfig)?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await?;
    let model = model.lock().await;
    let world = checks::World {
        pool: &pool,
        kube: kube::Client::try_from(config)?,
        github,
        http: api,
        base: replicas[0].base(),
        lines,
    };
    let settled = checks::settle(&world, &model, settle_bound).await;
    stop_watch.cancel();
    let unattended = watch.await?;
    let mut table = checks::all(&world, &model).await?;
    table.push(checks::Check {
        what: "settled after the storm",
        found: match settled {
            Some(took) => format!(
                "in {:.1} s (bound {} s)",
                took.as_secs_f64(),
                settle_bound.as_secs()
            ),
            None => format!("not within {} s", settle_bound.as_secs()),
        },
        violations: match settled {
            Some(_) => Vec::new(),
            None => vec!["something was still moving; the checks above say what".into()],
        },
    });
    for (what, (took, which)) in [
        ("a dead replica's delivery taken over", &unattended.delivery),
        (
            "a dead replica's pipeline run taken over",
            &unattended.pipeline,
        ),
        ("a dead replica's deploy taken over", &unattended.deploy),
    ] {
        table.push(checks::Check {
            what,
            found: format!("longest unattended {:.1} s ({which})", took.as_secs_f64()),
            violations: if *took > TAKEOVER_BOUND {
                vec![format!(
                    "{which}: {:.1} s > {} s",
                    took.as_secs_f64(),
                    TAKEOVER_BOUND.as_secs()
                )]
            } else {
                Vec::new()
            },
        });
    }
    println!(
        "campaign: {:.0} s of storm, {} kills (slowest restart {} ms), {} Redis restarts, {} S3 \
         restarts, {} PostgreSQL crashes, {} kube-sim 429/500/503 answers, {} times watches and \
         log streams cut, {} GitHub 502s",
        stormed.as_secs_f64(),
        done.kills,
        done.slowest_restart.as_millis(),
        done.redis_restarts,
        done.s3_restarts,
        done.postgres_crashes,
        done.kube_failures,
        done.kube_cuts,
        done.github_502s
    );
    checks::print(&table);
    for replica in &mut replicas {
        replica.kill().await?;
    }
    let violations: usize = table.iter().map(|c| c.violations.len()).sum();
    println!("\n{violations} violations");
    if violations > 0 {
        for replica in &replicas {
            println!("log: {}", replica.log().display());
        }
    }
    Ok(violations == 0)
}
