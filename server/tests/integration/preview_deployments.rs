//! Previews as GitHub Deployments, through signed webhooks, kube-sim and the fake GitHub: each
//! deploy attempt is a deployment of its commit in the pull request's environment, its
//! statuses end `success` with the preview's URL (or `failure` with why and a link to the
//! preview's page), a push makes the older deployment `inactive`, and so does closing.

use serde_json::Value;

use crate::fake_github::Fake;
use crate::pipeline_support::commit;
use crate::preview_support::World;

const APP: &str = r#"
preview:
  app:
    image: registry.example.com/shop:1
    command: [sh, -c, 'echo "listening on 3000"; exec sleep 600']
    port: 3000
"#;

/// The states of deployment `n` (oldest first) of the preview's environment.
fn states(fake: &Fake, n: usize) -> Vec<String> {
    fake.deployment_list()
        .get(n)
        .map(|(_, d)| {
            d.statuses
                .iter()
                .map(|s| s["state"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn last_status(fake: &Fake, n: usize) -> Value {
    fake.deployment_list()[n]
        .1
        .statuses
        .last()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn each_deploy_is_a_deployment_whose_statuses_follow_the_preview() {
    let mut world = World::start(&[(".platform.yaml", APP)], &[]).await;
    let ns = "pr-acme-shop-21";
    let first = world.first_sha.clone();
    world.pull_request("opened", 21, &first).await;
    world.until(ns, &["running"], Some(&first)).await;
    world
        .until_github("a successful deployment", |w| {
            states(&w.github, 0).last().map(String::as_str) == Some("success")
        })
        .await;
    let calls = |prefix: &str| {
        world
            .github
            .requests
            .lock()
            .expect("lock")
            .iter()
            .filter(|(line, _)| line.starts_with(prefix))
            .count()
    };
    println!(
        "GitHub calls for one preview deploy: {} deployment writes, {} comment calls, {} commit statuses",
        calls("POST /repos/acme/shop/deployments"),
        calls("GET /repos/acme/shop/issues")
            + calls("POST /repos/acme/shop/issues")
            + calls("PATCH /repos/acme/shop/issues"),
        calls("POST /repos/acme/shop/statuses"),
    );
    let (_, deployment) = world.github.deployment_list()[0].clone();
    assert_eq!(deployment.repository, "acme/shop");
    assert_eq!(deployment.body["ref"], first.as_str());
    assert_eq!(deployment.body["environment"], "preview/pr-21");
    assert_eq!(deployment.body["transient_environment"], true);
    let seen = states(&world.github, 0);
    assert!(
        seen.first()
            .is_some_and(|s| s == "queued" || s == "in_progress"),
        "it starts queued or in progress: {seen:?}"
    );
    let done = last_status(&world.github, 0);
    assert_eq!(
        done["environment_url"],
        "https://pr-acme-shop-21.preview.example.com"
    );
    let page = done["log_url"].as_str().unwrap_or_default().to_owned();
    assert!(page.starts_with(&world.server.url("/previews/")), "{page}");

    // A push: the older deployment becomes inactive, the new commit gets its own.
    let (_, second) = commit(&world.repo, &[("README.md", "second\n")], "second");
    world.pull_request("synchronize", 21, &second).await;
    world.until(ns, &["running"], Some(&second)).await;
    world
        .until_github("the second deployment's success", |w| {
            states(&w.github, 1).last().map(String::as_str) == Some("success")
        })
        .await;
    assert_eq!(world.github.deployment_list().len(), 2);
    assert_eq!(
        world.github.deployment_list()[1].1.body["ref"],
        second.as_str()
    );
    assert_eq!(
        states(&world.github, 0).last().map(String::as_str),
        Some("inactive"),
        "the first one is superseded"
    );
    assert!(
        last_status(&world.github, 0)["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("Superseded by")),
    );

    // Closing: the environment's deployment becomes inactive; nothing new is made.
    world.pull_request("closed", 21, &second).await;
    world.until(ns, &["deleted"], None).await;
    world
        .until_github("the deployment made inactive", |w| {
            states(&w.github, 1).last().map(String::as_str) == Some("inactive")
        })
        .await;
    assert_eq!(world.github.deployment_list().len(), 2);
    assert_eq!(
        states(&world.github, 0)
            .iter()
            .filter(|s| *s == "inactive")
            .count(),
        1,
        "the superseded one is told once"
    );
    world.server.stop().await;
}

#[tokio::test]
async fn a_failed_deploy_is_a_failed_deployment_saying_why() {
    // kube-sim cannot pull a `:missing` tag.
    let broken = APP.replace("shop:1", "shop:missing");
    let mut world = World::start(&[(".platform.yaml", &broken)], &[]).await;
    let first = world.first_sha.clone();
    world.pull_request("opened", 22, &first).await;
    let detail = world.until("pr-acme-shop-22", &["failed"], None).await;
    world
        .until_github("a failed deployment", |w| {
            states(&w.github, 0).last().map(String::as_str) == Some("failure")
        })
        .await;
    let failed = last_status(&world.github, 0);
    let reason = detail["preview"]["reason"].as_str().unwrap_or_default();
    let first_line = reason.lines().next().unwrap_or_default();
    assert!(
        failed["description"]
            .as_str()
            .is_some_and(|d| !d.is_empty() && first_line.starts_with(d.trim_end_matches('…'))),
        "{failed} / {reason}"
    );
    assert_eq!(failed.get("environment_url"), None);
    world.server.stop().await;
}

#[tokio::test]
async fn a_repository_that_turns_the_comment_off_gets_only_its_deployment() {
    let mut world = World::start(&[(".platform.yaml", APP)], &[]).await;
    let projects: Value = world
        .server
        .http
        .get(world.server.url("/api/projects"))
        .send()
        .await
        .expect("projects")
        .json()
        .await
        .expect("json");
    let id = projects["items"][0]["id"].as_i64().expect("the repository");
    let response = world
        .server
        .http
        .post(world.server.url("/rpc/set_reporting"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "input[id]={id}&input[checks]=on&input[deployments]=on"
        ))
        .send()
        .await
        .expect("set reporting");
    assert!(response.status().is_success(), "{response:?}");
    assert_eq!(
        response.json::<Value>().await.expect("json")["reporting"],
        serde_json::json!({ "checks": true, "deployments": true, "comment": false, "notifications": false })
    );
    let first = world.first_sha.clone();
    world.pull_request("opened", 23, &first).await;
    world.until("pr-acme-shop-23", &["running"], None).await;
    world
        .until_github("a successful deployment", |w| {
            states(&w.github, 0).last().map(String::as_str) == Some("success")
        })
        .await;
    assert!(world.comments(23).is_empty(), "no comment");
    assert!(world.statuses(&first).is_empty(), "no preview status");
    world.server.stop().await;
}

#[tokio::test]
async fn a_deployment_whose_status_could_not_be_sent_is_not_made_twice() {
    let mut world = World::start(&[(".platform.yaml", APP)], &[]).await;
    // More failures than the adapter's own retries: the reporter has to try again later.
    world
        .github
        .failing_deployment_statuses
        .store(5, std::sync::atomic::Ordering::SeqCst);
    let first = world.first_sha.clone();
    world.pull_request("opened", 24, &first).await;
    world.until("pr-acme-shop-24", &["running"], None).await;
    world
        .until_github("the deployment's success once GitHub answers again", |w| {
            states(&w.github, 0).last().map(String::as_str) == Some("success")
        })
        .await;
    assert_eq!(
        world.github.deployment_list().len(),
        1,
        "one deployment for the attempt"
    );
    world.server.stop().await;
}
