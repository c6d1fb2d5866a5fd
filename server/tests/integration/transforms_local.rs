//! Transform runs on the local runner, end to end through the API: a change tried on two real
//! repositories, one that it changes (its patch applies with `git apply` to a fresh clone, its
//! summary counts what changed) and one it does not; secrets kept out of every log; a step
//! that runs too long; a clone that keeps failing going to the dead letters and coming back; a
//! dry run; cancel; Slipway stopped in the middle of an execution; bad specs with their line
//! and column — and not one write to GitHub.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::fake_github;
use crate::pipeline_support::{add_project, git, sample_repository};
use crate::support::TestServer;

/// A run's detail until `done` says it is what the test waits for (a minute at most).
pub async fn until_run(server: &TestServer, id: i64, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        let run = get(server, &format!("/api/runs/{id}")).await;
        if done(&run) {
            return run;
        }
        if tokio::time::Instant::now() > deadline {
            let executions = executions(server, id).await;
            panic!("the run did not get there within a minute: {run}\n{executions:#?}");
        }
    }
}

pub fn finished(run: &Value) -> bool {
    ["completed", "partially_failed", "cancelled"].contains(&run["status"].as_str().unwrap_or(""))
}

async fn get(server: &TestServer, path: &str) -> Value {
    let response = server.http.get(server.url(path)).send().await.expect("get");
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.expect("json")
}

pub async fn text(server: &TestServer, path: &str) -> (u16, String) {
    let response = server.http.get(server.url(path)).send().await.expect("get");
    let status = response.status().as_u16();
    (status, response.text().await.expect("text"))
}

/// `POST path` as the admin: status and JSON body (`null` when there is none).
pub async fn post(server: &TestServer, path: &str) -> (u16, Value) {
    let response = server
        .http
        .post(server.url(path))
        .send()
        .await
        .expect("post");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `POST /api/runs` with a YAML spec: status and body.
pub async fn start(server: &TestServer, spec: &str) -> (u16, Value) {
    let response = server
        .http
        .post(server.url("/api/runs"))
        .header("content-type", "application/yaml")
        .body(spec.to_owned())
        .send()
        .await
        .expect("start");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

pub async fn executions(server: &TestServer, id: i64) -> Vec<Value> {
    let body = get(server, &format!("/api/runs/{id}/executions")).await;
    body["items"].as_array().cloned().expect("items")
}

pub fn of<'a>(executions: &'a [Value], repository: &str) -> &'a Value {
    executions
        .iter()
        .find(|e| e["repository"] == repository)
        .expect("an execution of the repository")
}

/// Two repositories in their own folders: `acme/api` pins serde 1.0.1, `acme/web` has none.
pub fn two_repositories(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let api_dir = dir.join("api");
    let web_dir = dir.join("web");
    let (api, _) = sample_repository(
        &api_dir,
        &[
            ("Cargo.toml", "[dependencies]\nserde = \"1.0.1\"\n"),
            ("README.md", "# api\n"),
        ],
    );
    let (web, _) = sample_repository(&web_dir, &[("README.md", "# web\n")]);
    (api, web)
}

pub const BUMP: &str = r#"
name: bump-serde
repositories: ["acme/*"]
steps:
  - name: bump
    image: alpine
    secrets: [REGISTRY_TOKEN]
    env: { TARGET: "1.0.2" }
    commands:
      - 'echo "using $REGISTRY_TOKEN and ghp_abcdefghijklmnopqrstuvwxyz0123456789"'
      - 'if [ -f Cargo.toml ]; then sed -i "s/1.0.1/$TARGET/" Cargo.toml; printf "new file\n" > NEW.md; printf "\000\001\002\377" > data.bin; fi'
  - name: check
    image: alpine
    commands:
      - 'grep -q "$TARGET" Cargo.toml 2>/dev/null || echo "nothing to bump here"'
      - 'echo "test result: ok. 4 passed; 1 failed; 2 ignored; 0 measured"'
"#;

#[tokio::test]
async fn a_run_keeps_a_patch_that_applies_a_correct_summary_and_writes_nothing_to_github() {
    let (github_url, github) = fake_github::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (api, web) = two_repositories(dir.path());
    let server = TestServer::start(&[
        (
            "SLIPWAY_GITHUB_TOKEN",
            "ghp_configuredtokenforthetest0000".to_owned(),
        ),
        ("SLIPWAY_GITHUB_API_URL", github_url),
    ])
    .await;
    let api_id = add_project(&server, "acme/api", &api).await;
    add_project(&server, "acme/web", &web).await;
    let secret = "registry-secret-value-42";
    for project in [api_id] {
        let response = server
            .http
            .put(server.url(&format!("/api/projects/{project}/secrets/REGISTRY_TOKEN")))
            .json(&json!({ "value": secret }))
            .send()
            .await
            .expect("secret");
        assert!(response.status().is_success(), "{}", response.status());
    }
    // acme/web has no REGISTRY_TOKEN: its execution fails, naming the step and the secret.
    let (status, run) = start(&server, BUMP).await;
    assert_eq!(status, 201, "{run}");
    assert_eq!(run["status"], "queued");
    assert_eq!(run["totals"]["total"], 2);
    let id = run["id"].as_i64().expect("id");
    let run = until_run(&server, id, finished).await;
    assert_eq!(run["status"], "partially_failed", "{run}");
    assert_eq!(
        (
            run["totals"]["succeeded"].as_u64(),
            run["totals"]["failed"].as_u64()
        ),
        (Some(1), Some(1))
    );

    let all = executions(&server, id).await;
    let web_run = of(&all, "acme/web");
    assert_eq!(web_run["status"], "failed");
    assert_eq!(
        web_run["reason"],
        "step `bump` needs secret `REGISTRY_TOKEN`, which this repository does not have"
    );
    let api_run = of(&all, "acme/api");
    assert_eq!(api_run["status"], "succeeded", "{api_run}");
    assert_eq!(api_run["ready_to_publish"], true);
    assert_eq!(api_run["exit_code"], 0);
    assert_eq!(api_run["key"], format!("preview:{id}:acme/api"));
    let files: Vec<&str> = api_run["diff"]["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert_eq!(files, ["Cargo.toml", "NEW.md", "data.bin"]);
    assert_eq!(api_run["diff"]["additions"], 2, "Cargo.toml +1, NEW.md +1");
    assert_eq!(api_run["diff"]["deletions"], 1);
    assert!(api_run["diff"]["files"][2]["additions"].is_null(), "binary");

    // The patch applies to a fresh clone and makes exactly the change, binary file included.
    let (status, patch) = text(&server, api_run["patch_url"].as_str().expect("patch url")).await;
    assert_eq!(status, 200);
    let fresh = dir.path().join("fresh");
    git(
        dir.path(),
        &["clone", "--quiet", &api.display().to_string(), "fresh"],
    );
    std::fs::write(dir.path().join("patch.diff"), &patch).expect("write patch");
    git(&fresh, &["apply", "--check", "../patch.diff"]);
    git(&fresh, &["apply", "../patch.diff"]);
    let cargo = std::fs::read_to_string(fresh.join("Cargo.toml")).expect("read");
    assert!(cargo.contains("serde = \"1.0.2\""), "{cargo}");
    assert_eq!(
        std::fs::read(fresh.join("data.bin")).expect("read"),
        [0, 1, 2, 255]
    );

    // The summary says the same, with the patch's SHA-256.
    let summary: Value = serde_json::from_str(
        &text(&server, api_run["summary_url"].as_str().expect("url"))
            .await
            .1,
    )
    .expect("summary json");
    assert_eq!(summary["status"], "succeeded");
    assert_eq!(summary["repository"], "acme/api");
    assert_eq!(summary["files"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        summary["patch_sha256"],
        hex::encode(Sha256::digest(patch.as_bytes()))
    );
    assert_eq!(summary["patch_sha256"], api_run["patch_sha256"]);
    assert_eq!(summary["ready_to_publish"], true);
    assert_eq!(
        summary["tests"],
        json!({ "passed": 4, "failed": 1, "skipped": 2 }),
        "the step's test totals"
    );

    // The log shows the steps and none of the secrets.
    let (_, log) = text(&server, api_run["log_url"].as_str().expect("url")).await;
    assert!(log.contains("::slipway:: step bump"), "{log}");
    assert!(log.contains("::slipway:: step check"), "{log}");
    assert!(log.contains("using *** and ***"), "{log}");
    for hidden in [secret, "ghp_abcdefghijklmnopqrstuvwxyz0123456789"] {
        assert!(!log.contains(hidden), "{hidden} in {log}");
        let api_answer = serde_json::to_string(&all).expect("json");
        assert!(!api_answer.contains(hidden));
    }

    // The unchanged repository: a fixed secret later, retried, it has no changes.
    let web_id = web_run["id"].as_i64().expect("id");
    let (status, _) = text(
        &server,
        &format!("/api/runs/{id}/executions/{web_id}/artifacts/patch.diff"),
    )
    .await;
    assert_eq!(status, 404, "a failed execution keeps no patch");
    let web_project = get(&server, "/api/projects").await["items"]
        .as_array()
        .and_then(|items| items.iter().find(|p| p["name"] == "acme/web").cloned())
        .expect("web project");
    server
        .http
        .put(server.url(&format!(
            "/api/projects/{}/secrets/REGISTRY_TOKEN",
            web_project["id"]
        )))
        .json(&json!({ "value": "another-secret-value" }))
        .send()
        .await
        .expect("secret");
    let (status, _) = post(
        &server,
        &format!("/api/runs/{id}/executions/{web_id}/retry"),
    )
    .await;
    assert_eq!(status, 200);
    let run = until_run(&server, id, finished).await;
    assert_eq!(run["status"], "completed", "{run}");
    let web_run = of(&executions(&server, id).await, "acme/web").clone();
    assert_eq!(web_run["status"], "no_changes");
    assert_eq!(web_run["ready_to_publish"], false);
    assert!(web_run["patch_url"].is_null());
    let (_, log) = text(&server, web_run["log_url"].as_str().expect("url")).await;
    assert!(log.contains("nothing to bump here"), "{log}");

    // Not one write to GitHub (reads and clone tokens aside).
    let requests = github.requests.lock().expect("lock").clone();
    let writes: Vec<&String> = requests
        .iter()
        .map(|(line, _)| line)
        .filter(|line| !line.starts_with("GET ") && !line.contains("/access_tokens"))
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
    server.stop().await;
}
