//! The build-engine design's project-scoped pipeline routes, as a client written against that
//! document calls them: the run, a step's log, its artifacts and a download redirect, cancel,
//! and `success`/`failure` as status words; a run of another project is not found.

use serde_json::Value;

use crate::pipeline_support::{RunWatcher, add_project, sample_repository, trigger};
use crate::support::TestServer;

const PLATFORM: &str = "pipeline:\n  steps:\n    - name: build\n      image: alpine\n      commands:\n        - mkdir -p out\n        - echo built > out/app.txt\n        - echo build done\n  artifacts:\n    - name: out\n      path: out\n";

async fn get(server: &TestServer, path: &str) -> (u16, String) {
    let response = server.http.get(server.url(path)).send().await.expect(path);
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

#[tokio::test]
async fn a_run_answers_within_its_project_and_nowhere_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(dir.path(), &[(".platform.yaml", PLATFORM)]);
    let server = TestServer::start(&[]).await;
    let project = add_project(&server, "shop", &repo).await;
    let other = add_project(&server, "blog", &repo).await;
    let mut watcher = RunWatcher::new(&server).await;
    let id = trigger(&server, project, "main").await;
    let run = watcher.until(&server, id, &["succeeded", "failed"]).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let base = format!("/api/projects/{project}/pipelines/{id}");

    let (status, body) = get(&server, &base).await;
    let detail: Value = serde_json::from_str(&body).expect("json");
    assert_eq!((status, detail["id"].as_i64()), (200, Some(id)), "{body}");
    assert_eq!(detail["steps"][0]["name"], "build");

    let (status, log) = get(&server, &format!("{base}/steps/build/logs")).await;
    assert_eq!(status, 200);
    assert!(log.contains("build done"), "{log}");

    let (status, body) = get(&server, &format!("{base}/artifacts")).await;
    assert_eq!(status, 200, "{body}");
    let listed: Value = serde_json::from_str(&body).expect("json");
    let file = &listed["items"][0];
    assert_eq!(file["path"], "app.txt", "{listed}");
    let artifact = file["id"].as_i64().expect("artifact id");

    let no_redirects = crate::support::token_client(&server.admin_token)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let download = format!("{base}/artifacts/{artifact}/download");
    let answer = no_redirects
        .get(server.url(&download))
        .send()
        .await
        .expect("download");
    assert_eq!(answer.status(), 307);
    let location = answer.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let fetched = server.http.get(&location).send().await.expect("follow");
    assert_eq!(fetched.text().await.expect("text"), "built\n");

    // The design's status words filter as Slipway's.
    let (_, body) = get(
        &server,
        &format!("/api/projects/{project}/pipelines?status=success"),
    )
    .await;
    let page: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(page["items"][0]["id"].as_i64(), Some(id), "{page}");
    let (_, body) = get(
        &server,
        &format!("/api/projects/{project}/pipelines?status=failure"),
    )
    .await;
    let page: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(0), "{page}");

    // The same run under another project does not exist, exactly like an unknown one.
    let elsewhere = format!("/api/projects/{other}/pipelines/{id}");
    for path in [
        elsewhere.clone(),
        format!("{elsewhere}/steps/build/logs"),
        format!("{elsewhere}/artifacts"),
        format!("{elsewhere}/artifacts/{artifact}/download"),
        format!("/api/projects/{project}/pipelines/999999"),
    ] {
        let (status, body) = get(&server, &path).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    let cancel = server
        .http
        .post(server.url(&format!("{elsewhere}/cancel")))
        .send()
        .await
        .expect("cancel");
    assert_eq!(cancel.status(), 404);
    let cancel = server
        .http
        .post(server.url(&format!("{base}/cancel")))
        .send()
        .await
        .expect("cancel");
    assert_eq!(cancel.status(), 409, "it already ended");
    server.stop().await;
}
