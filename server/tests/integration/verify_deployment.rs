//! `scripts/verify-deployment URL`, as an operator runs it after a deploy: against a healthy
//! Slipway on Redis it says so (alive, each dependency, metrics, a signed ping accepted) and
//! exits 0; with the wrong webhook secret, or Redis stopped, it names the problem and exits 1.

use std::process::Output;

use crate::support::{TestRedis, TestServer};

const SECRET: &str = "verify-deployment-secret";

async fn verify(url: &str, secret: &str) -> Output {
    let script =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/verify-deployment");
    let mut command = tokio::process::Command::new(script);
    command
        .arg(url)
        .env("SLIPWAY_GITHUB_WEBHOOK_SECRET", secret);
    tokio::time::timeout(std::time::Duration::from_secs(60), command.output())
        .await
        .expect("the script ends within a minute")
        .expect("the script runs")
}

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn verify_deployment_says_what_holds_and_what_is_wrong() {
    let mut redis = TestRedis::start().await;
    let server = TestServer::start(&[
        ("SLIPWAY_REDIS_URL", redis.url()),
        ("SLIPWAY_GITHUB_WEBHOOK_SECRET", SECRET.to_owned()),
    ])
    .await;
    let healthy = verify(&server.base, SECRET).await;
    let text = said(&healthy);
    assert!(healthy.status.success(), "{text}");
    for line in [
        "ok    alive (/healthz)",
        "ok    store (sqlite) answers",
        "ok    bus (redis) answers",
        "ok    a signed ping was accepted",
        "looks healthy.",
    ] {
        assert!(text.contains(line), "{line:?} in:\n{text}");
    }
    let pings = server
        .running
        .adapters
        .store
        .list_deliveries(&domain::DeliveryFilter {
            event: Some("ping".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("deliveries");
    assert_eq!(pings.len(), 1, "the ping was recorded as a delivery");

    let wrong = verify(&server.base, "not-the-secret").await;
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        said(&wrong).contains("the secret differs from SLIPWAY_GITHUB_WEBHOOK_SECRET"),
        "{}",
        said(&wrong)
    );

    redis.stop().await;
    let broken = verify(&server.base, SECRET).await;
    let text = said(&broken);
    assert_eq!(broken.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL  bus (redis) does not answer"), "{text}");
    assert!(text.contains("1 problem(s) found"), "{text}");
    server.stop().await;
}
