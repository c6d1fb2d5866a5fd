//! `/metrics` as Prometheus reads it, after a pull request's pipeline ran on kube-sim, its
//! preview deployed and was removed, and a forged delivery was refused: `promtool check
//! metrics` finds nothing wrong, the counts say what happened, and every metric the shipped
//! alert rules and Grafana dashboard use is in the answer.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::preview_support::{PIPELINE_AND_PREVIEW as APP, World};

const TOKEN: &str = "metrics-token-for-prometheus";

async fn scrape(world: &World) -> String {
    let response = world
        .server
        .http
        .get(world.server.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("scrape");
    assert_eq!(response.status(), 200);
    response.text().await.expect("text")
}

/// Scrapes until a line starting with `line` is in the answer (a minute at most), as an
/// operator watching a graph would wait for it.
async fn until_scraped(world: &World, line: &str) -> String {
    let wait = async {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tick.tick().await;
            let text = scrape(world).await;
            if text.lines().any(|l| l.starts_with(line)) {
                return text;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), wait)
        .await
        .unwrap_or_else(|_| panic!("never scraped `{line}`"))
}

/// The metric names an expression file uses (histogram series named by their family).
fn names_used(text: &str) -> BTreeSet<String> {
    let pattern = regex::Regex::new(r"slipway_[a-z_]+").expect("regex");
    pattern
        .find_iter(text)
        .map(|m| {
            let name = m.as_str();
            ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(name)
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn prometheus_reads_what_happened_and_every_metric_the_rules_and_dashboard_use() {
    let mut world = World::start(
        &[(".platform.yaml", APP)],
        &[("SLIPWAY_METRICS_TOKEN", TOKEN.to_owned())],
    )
    .await;
    let anonymous = reqwest::get(world.server.url("/metrics"))
        .await
        .expect("scrape");
    assert_eq!(anonymous.status(), 401, "the token is asked for");

    let ns = "pr-acme-shop-8";
    let first = world.first_sha.clone();
    world.pull_request("opened", 8, &first).await;
    world.until(ns, &["running"], Some(&first)).await;
    until_scraped(
        &world,
        "slipway_pipeline_run_duration_seconds_count{status=\"succeeded\"} 1",
    )
    .await;
    let forged = world
        .server
        .http
        .post(world.server.url("/webhooks/github"))
        .header("x-github-delivery", "forged-1")
        .header("x-github-event", "push")
        .header("x-hub-signature-256", "sha256=00")
        .body("{}")
        .send()
        .await
        .expect("forged delivery");
    assert_eq!(forged.status(), 401);
    world.pull_request("closed", 8, &first).await;
    world.until(ns, &["deleted"], None).await;
    let text = until_scraped(
        &world,
        "slipway_preview_cleanups_total{outcome=\"removed\"} 1",
    )
    .await;

    // promtool lints the answer as Prometheus parses it.
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool runs (scripts/setup test installs Debian's prometheus)");
    std::io::Write::write_all(promtool.stdin.as_mut().expect("stdin"), text.as_bytes())
        .expect("written");
    let linted = promtool.wait_with_output().expect("promtool");
    assert!(
        linted.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&linted.stdout),
        String::from_utf8_lossy(&linted.stderr)
    );

    for line in [
        "slipway_webhook_deliveries_received_total{outcome=\"accepted\"} 2",
        "slipway_webhook_deliveries_received_total{outcome=\"bad_signature\"} 1",
        "slipway_webhook_processing_duration_seconds_count{status=\"processed\"} 2",
        "slipway_pipeline_run_duration_seconds_count{status=\"succeeded\"} 1",
        "slipway_pipeline_step_duration_seconds_count{status=\"succeeded\"} 1",
        "slipway_preview_deploy_duration_seconds_count{outcome=\"succeeded\"} 1",
        "slipway_preview_cleanups_total{outcome=\"failed\"} 0",
        "slipway_previews{status=\"running\"} 0",
        "slipway_queue_depth{queue=\"deliveries\"} 0",
        "slipway_queue_depth{queue=\"pipelines\"} 0",
        "slipway_queue_depth{queue=\"previews\"} 0",
        "slipway_queue_oldest_age_seconds{queue=\"notifications\"} 0",
        "slipway_dependency_up{backend=\"sqlite\",name=\"store\"} 1",
        "slipway_kubernetes_requests_total{code=\"201\",resource=\"namespaces\",verb=\"create\"}",
        "slipway_kubernetes_requests_total{code=\"200\",resource=\"pods/log\",verb=\"get\"}",
        "slipway_github_rate_limit_remaining ",
        "slipway_build_info{version=\"",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(line)),
            "`{line}` is not in\n{text}"
        );
    }
    assert!(
        !text.contains("acme") && !text.contains(&first) && !text.contains(ns),
        "no repository, commit or namespace in a label:\n{text}"
    );

    let exposed: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for file in [
        "deploy/prometheus/slipway.rules.yaml",
        "deploy/grafana/slipway.json",
    ] {
        let used = names_used(&std::fs::read_to_string(root.join(file)).expect(file));
        assert!(used.len() >= 5, "{file} uses {used:?}");
        let missing: Vec<&String> = used.difference(&exposed).collect();
        assert!(
            missing.is_empty(),
            "{file} uses {missing:?}, not in /metrics"
        );
    }
    world.server.stop().await;
}
