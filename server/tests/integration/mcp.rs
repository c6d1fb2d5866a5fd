//! MCP at `/mcp`, as agents meet it: the official Python SDK (a client Slipway did not write)
//! and the Rust SDK's own client
//! lists the tools a token may use and makes the calls an agent makes — from "why is the
//! preview of PR 42 failing?" to its pod's log and a retry, and a failed run's step log —
//! and plain HTTP checks what happens before MCP: no token, a revoked one, the metadata
//! document.

use std::path::PathBuf;

use domain::Cluster;
use serde_json::{Value, json};

use crate::pipeline_support::{RunWatcher, add_project, commit, git, sample_repository, trigger};
use crate::preview_support::{REPOSITORY, World};
use crate::support::TestServer;

const APP: &str = r#"
preview:
  app:
    image: registry.example.com/shop:1
    command: [sh, -c, 'echo "listening on 3000"; exec sleep 600']
    port: 3000
"#;

const NOISY: &str = r#"
pipeline:
  steps:
    - name: test
      image: alpine
      commands:
        - i=1; while [ $i -le 10000 ]; do echo "test line $i"; i=$((i+1)); done
        - exit 4
"#;

const SLOW: &str = r#"
pipeline:
  steps:
    - name: wait
      image: alpine
      commands:
        - sleep 120
"#;

fn python() -> PathBuf {
    crate::support::test_venv_bin("python")
}

/// Runs the Python SDK's client with `token` and `calls`; what it printed.
pub async fn python_client(server: &TestServer, token: &str, calls: Value) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/mcp_client.py");
    let out = tokio::process::Command::new(python())
        .arg(script)
        .arg(server.url("/mcp"))
        .arg(token)
        .arg(calls.to_string())
        .output()
        .await
        .expect("python runs (scripts/setup test installs the mcp package)");
    assert!(
        out.status.success(),
        "the Python MCP client failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the client prints JSON")
}

fn tool_names(answer: &Value) -> Vec<&str> {
    answer["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["name"].as_str().expect("name"))
        .collect()
}

/// A member of a team granted `level` on the repository `repository`; their token of `scope`.
pub async fn developer(
    server: &TestServer,
    login: &str,
    repository: &str,
    level: &str,
    scope: &str,
) -> String {
    server.slipway(&["users", "create", login], None).await;
    let users: Value = server
        .http
        .get(server.url("/api/users"))
        .send()
        .await
        .expect("users")
        .json()
        .await
        .expect("json");
    let user = users["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|u| u["login"] == login)
        .expect("user")["id"]
        .clone();
    let team: Value = server
        .http
        .post(server.url("/api/teams"))
        .json(&json!({ "name": format!("{login}'s team") }))
        .send()
        .await
        .expect("team")
        .json()
        .await
        .expect("json");
    let repositories: Value = server
        .http
        .get(server.url("/api/projects"))
        .send()
        .await
        .expect("projects")
        .json()
        .await
        .expect("json");
    let id = repositories["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["name"] == repository)
        .expect("repository")["id"]
        .clone();
    let team = &team["id"];
    server
        .http
        .put(server.url(&format!("/api/teams/{team}/members/{user}")))
        .send()
        .await
        .expect("member");
    server
        .http
        .put(server.url(&format!("/api/teams/{team}/repositories/{id}")))
        .json(&json!({ "level": level }))
        .send()
        .await
        .expect("grant");
    server.token_for(login, scope).await
}

#[tokio::test]
async fn an_agent_goes_from_a_pull_request_to_its_preview_s_log_and_a_retry_with_a_developer_s_token()
 {
    let mut world = World::start(&[(".platform.yaml", APP)], &[]).await;
    let first = world.first_sha.clone();
    world.pull_request("opened", 42, &first).await;
    world
        .until("pr-acme-shop-42", &["running"], Some(&first))
        .await;
    // Another pull request, closed: its preview is gone and stays gone.
    world.pull_request("opened", 43, &first).await;
    world.pull_request("closed", 43, &first).await;
    world.until("pr-acme-shop-43", &["deleted"], None).await;
    let server = &world.server;
    let writer = developer(server, "dev", REPOSITORY, "write", "write").await;
    let reader = developer(server, "watcher", REPOSITORY, "read", "read").await;

    let calls = json!([
        { "name": "list_preview_environments", "arguments": { "repository": REPOSITORY } },
        { "name": "get_preview_environment", "arguments": { "repository": REPOSITORY, "number": 42 } },
        { "name": "get_preview_logs", "arguments": { "repository": REPOSITORY, "number": 42, "tail_lines": 5 } },
        { "name": "retry_preview_deployment", "arguments": { "preview": "pr-acme-shop-42" } },
        { "name": "get_preview_environment", "arguments": { "preview": "999999" } },
        { "name": "retry_preview_deployment", "arguments": { "repository": REPOSITORY, "number": 43 } },
    ]);
    let answer = python_client(server, &writer, calls).await;
    assert_eq!(answer["server"], "slipway");
    let names = tool_names(&answer);
    assert_eq!(
        names.len(),
        19,
        "a write token is offered every tool: {names:?}"
    );
    assert_eq!(
        &names[..3],
        [
            "list_repositories",
            "list_preview_environments",
            "get_preview_environment"
        ]
    );
    let tools = answer["tools"].as_array().expect("tools");
    assert!(
        tools
            .iter()
            .all(|t| t["openWorldHint"] == false && t["schemaType"] == "object")
    );
    let delete = tools
        .iter()
        .find(|t| t["name"] == "delete_preview_environment")
        .expect("delete");
    assert_eq!(
        (
            delete["readOnlyHint"].clone(),
            delete["destructiveHint"].clone()
        ),
        (json!(false), json!(true))
    );

    let results = answer["results"].as_array().expect("results");
    let listed = &results[0]["structuredContent"];
    assert_eq!(results[0]["isError"], false, "{listed}");
    assert_eq!(listed["items"][0]["number"], 42);
    assert_eq!(
        results[0]["text"][0]
            .as_str()
            .map(|t| serde_json::from_str::<Value>(t).ok()),
        Some(Some(listed.clone())),
        "the same JSON as text"
    );
    let detail = &results[1]["structuredContent"];
    assert_eq!(detail["preview"]["status"], "running", "{detail}");
    assert!(!detail["attempts"].as_array().expect("attempts").is_empty());
    let log = &results[2]["structuredContent"];
    assert_eq!(results[2]["isError"], false, "{log}");
    assert!(
        log["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .any(|l| l.as_str().is_some_and(|l| l.contains("listening on 3000"))),
        "{log}"
    );
    assert_eq!(results[3]["isError"], false, "{}", results[3]);
    assert_eq!(results[4]["isError"], true);
    assert_eq!(
        results[4]["structuredContent"]["error"]["code"],
        "NOT_FOUND"
    );
    let closed = &results[5]["structuredContent"]["error"];
    assert_eq!(closed["code"], "INVALID_INPUT", "{closed}");
    assert!(
        closed["message"]
            .as_str()
            .is_some_and(|m| m.contains("does not want one")),
        "the refusal says why: {closed}"
    );

    // A reader sees the read-only tools only, and a write call is refused anyway.
    let calls = json!([{ "name": "delete_preview_environment", "arguments": { "preview": "pr-acme-shop-42" } }]);
    let answer = python_client(server, &reader, calls).await;
    let names = tool_names(&answer);
    assert_eq!(names.len(), 11, "{names:?}");
    assert!(!names.contains(&"delete_preview_environment"));
    let refused = &answer["results"][0];
    assert_eq!(refused["isError"], true);
    assert_eq!(
        refused["structuredContent"]["error"]["code"],
        "UNAUTHORIZED"
    );
    assert!(
        refused["structuredContent"]["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("needs write access")),
        "{refused}"
    );
    let denied: Value = server
        .http
        .get(server.url("/api/audit?action=preview.delete"))
        .send()
        .await
        .expect("audit")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (
            denied["items"][0]["actor_login"].as_str(),
            denied["items"][0]["outcome"].as_str()
        ),
        (Some("watcher"), Some("denied")),
        "the refusal is audited: {denied}"
    );
    let still = world.preview("pr-acme-shop-42").await;
    assert_eq!(still["preview"]["status"], "running");

    // The retry is in the audit log as the developer's token, naming the tool.
    let audit: Value = server
        .http
        .get(server.url("/api/audit?action=preview.retry"))
        .send()
        .await
        .expect("audit")
        .json()
        .await
        .expect("json");
    let row = &audit["items"][0];
    assert_eq!(
        (row["actor_login"].as_str(), row["actor_kind"].as_str()),
        (Some("dev"), Some("token")),
        "{audit}"
    );
    assert_eq!(row["request_id"], "mcp:retry_preview_deployment");

    // The developer removes it; the namespace goes.
    let calls = json!([{ "name": "delete_preview_environment", "arguments": { "repository": REPOSITORY, "number": 42 } }]);
    let answer = python_client(server, &writer, calls).await;
    assert_eq!(answer["results"][0]["isError"], false, "{answer}");
    world.until("pr-acme-shop-42", &["deleted"], None).await;
    assert!(
        world
            .cluster
            .get_namespace("pr-acme-shop-42")
            .await
            .expect("read")
            .is_none()
    );
}

#[tokio::test]
async fn a_failed_run_s_step_log_comes_back_as_its_tail_and_other_teams_runs_are_not_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(dir.path(), &[(".platform.yaml", NOISY)]);
    let server = TestServer::start(&[]).await;
    let shop = add_project(&server, "acme/shop", &repo).await;
    let hidden = add_project(&server, "acme/hidden", &repo).await;
    let mut watcher = RunWatcher::new(&server).await;
    let run = trigger(&server, shop, "main").await;
    let other = trigger(&server, hidden, "main").await;
    watcher.until(&server, run, &["failed"]).await;
    let token = developer(&server, "dev", "acme/shop", "write", "write").await;

    let calls = json!([
        { "name": "get_step_logs", "arguments": { "run_id": run, "tail_lines": 50 } },
        { "name": "get_step_logs", "arguments": { "run_id": run, "tail_lines": 5000 } },
        { "name": "get_pipeline_run", "arguments": { "run_id": other } },
        { "name": "get_pipeline_run", "arguments": { "run_id": 987654 } },
        { "name": "list_repositories" },
        { "name": "get_step_logs", "arguments": { "run_id": run, "tail": 3 } },
    ]);
    let answer = python_client(&server, &token, calls).await;
    let results = answer["results"].as_array().expect("results");
    let tail = &results[0]["structuredContent"];
    assert_eq!(tail["step"], "test");
    assert_eq!(tail["status"], "failed");
    // The step's 10,000 lines, and the commands and exit status the runner wrote around them.
    let total = tail["total_lines"].as_u64().expect("total");
    assert!((10_000..10_010).contains(&total), "{total}");
    let lines = tail["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), 50);
    assert!(lines.iter().any(|l| l == "test line 10000"), "{tail}");
    assert!(
        !lines.iter().any(|l| l == "test line 9900"),
        "only the tail"
    );
    assert_eq!(
        (tail["truncated"].clone(), tail["lines_left_out"].clone()),
        (json!(true), json!(total - 50))
    );
    let most = &results[1]["structuredContent"];
    assert_eq!(
        most["lines"].as_array().expect("lines").len(),
        2000,
        "at most 2,000 lines"
    );
    let size = results[1]["text"][0].as_str().expect("text").len();
    assert!(size <= 64 * 1024, "an answer stays under 64 KB: {size}");
    println!(
        "get_step_logs of a 10,000-line log: 50 lines {} bytes, 2,000 lines {size} bytes",
        results[0]["text"][0].as_str().map_or(0, str::len)
    );

    // Another team's run answers exactly as a run that does not exist.
    let hidden_error = &results[2]["structuredContent"]["error"];
    let missing_error = &results[3]["structuredContent"]["error"];
    assert_eq!(hidden_error["code"], "NOT_FOUND");
    assert_eq!(missing_error["code"], "NOT_FOUND");
    assert_eq!(
        hidden_error["message"]
            .as_str()
            .map(|m| m.replace(&other.to_string(), "N")),
        missing_error["message"]
            .as_str()
            .map(|m| m.replace("987654", "N"))
    );
    let repositories = &results[4]["structuredContent"]["items"];
    assert_eq!(
        repositories,
        &json!([{ "id": shop, "name": "acme/shop", "default_branch": "main", "level": "write" }])
    );
    assert_eq!(
        results[5]["structuredContent"]["error"]["code"], "INVALID_INPUT",
        "an unknown argument is named"
    );
    server.stop().await;
}

#[tokio::test]
async fn without_a_token_mcp_answers_401_pointing_at_its_metadata_document() {
    let server = TestServer::start(&[]).await;
    let initialize = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "curl", "version": "1" } } });
    let send = |token: Option<String>| {
        let mut request = server
            .anonymous
            .post(server.url("/mcp"))
            .header("accept", "application/json, text/event-stream")
            .json(&initialize);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let metadata_url = server.url("/.well-known/oauth-protected-resource");
    let revoked = server.token_for("admin", "read").await;
    let me: Value = server
        .anonymous
        .get(server.url("/api/me"))
        .bearer_auth(&revoked)
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    let id = me["token"]["id"].to_string();
    server.slipway(&["tokens", "revoke", &id], None).await;
    for token in [None, Some("slw_not_a_token".to_owned()), Some(revoked)] {
        let refused = send(token).await.expect("post");
        assert_eq!(refused.status(), 401);
        let challenge = refused.headers()["www-authenticate"]
            .to_str()
            .expect("header");
        assert_eq!(
            challenge,
            format!("Bearer resource_metadata=\"{metadata_url}\"")
        );
    }
    let token = server.token_for("admin", "read").await;
    let rebound = server
        .anonymous
        .post(server.url("/mcp"))
        .header("host", "evil.example")
        .header("accept", "application/json, text/event-stream")
        .bearer_auth(&token)
        .json(&initialize)
        .send()
        .await
        .expect("post");
    assert_eq!(
        rebound.status(),
        403,
        "a Host other than SLIPWAY_PUBLIC_URL's is refused"
    );
    let accepted = send(Some(token)).await.expect("post");
    assert_eq!(
        accepted.status(),
        200,
        "{}",
        accepted.text().await.unwrap_or_default()
    );

    let document: Value = server
        .anonymous
        .get(&metadata_url)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(document["resource"], server.url("/mcp"));
    assert_eq!(document["bearer_methods_supported"], json!(["header"]));
    server.stop().await;
}

/// The SDK's own client (rmcp) with `token`: the tools it is offered, and `list_repositories`.
async fn rust_client(server: &TestServer, token: &str) -> (Vec<String>, Value) {
    use rmcp::ServiceExt;
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    let config =
        StreamableHttpClientTransportConfig::with_uri(server.url("/mcp")).auth_header(token);
    let client =
        ().serve(StreamableHttpClientTransport::from_config(config))
            .await
            .expect("the SDK's client initializes");
    let tools = client.list_all_tools().await.expect("tools/list");
    let names = tools.iter().map(|t| t.name.to_string()).collect();
    let listed = client
        .call_tool(rmcp::model::CallToolRequestParams::new("list_repositories"))
        .await
        .expect("tools/call");
    client.cancel().await.expect("close");
    (names, listed.structured_content.unwrap_or_default())
}

#[tokio::test]
async fn the_sdk_s_own_client_sees_the_tools_its_token_allows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(dir.path(), &[(".platform.yaml", NOISY)]);
    let server = TestServer::start(&[]).await;
    add_project(&server, "acme/shop", &repo).await;
    add_project(&server, "acme/hidden", &repo).await;
    let reader = developer(&server, "reader", "acme/shop", "read", "read").await;
    let writer = developer(&server, "writer", "acme/shop", "write", "write").await;

    let (read_tools, repositories) = rust_client(&server, &reader).await;
    assert_eq!(read_tools.len(), 11, "{read_tools:?}");
    assert_eq!(repositories["items"][0]["level"], "read");
    assert_eq!(
        repositories["items"].as_array().map(Vec::len),
        Some(1),
        "{repositories}"
    );
    let (write_tools, _) = rust_client(&server, &writer).await;
    let expected: Vec<&str> = vec![
        "list_repositories",
        "list_preview_environments",
        "get_preview_environment",
        "get_preview_logs",
        "retry_preview_deployment",
        "delete_preview_environment",
        "list_pipeline_runs",
        "get_pipeline_run",
        "get_step_logs",
        "list_artifacts",
        "trigger_pipeline",
        "retry_pipeline_run",
        "cancel_pipeline_run",
        "list_transform_runs",
        "get_transform_run",
        "get_transform_patch",
        "start_transform_run",
        "retry_transform_executions",
        "cancel_transform_run",
    ];
    assert_eq!(write_tools, expected, "every tool, in a fixed order");
    server.stop().await;
}

#[tokio::test]
async fn an_agent_lists_reads_retries_triggers_and_cancels_pipeline_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(dir.path(), &[(".platform.yaml", NOISY)]);
    git(&repo, &["checkout", "--quiet", "-b", "slow"]);
    commit(&repo, &[(".platform.yaml", SLOW)], "a slow pipeline");
    git(&repo, &["checkout", "--quiet", "main"]);
    let server = TestServer::start(&[]).await;
    let shop = add_project(&server, "acme/shop", &repo).await;
    let mut watcher = RunWatcher::new(&server).await;
    let run = trigger(&server, shop, "main").await;
    watcher.until(&server, run, &["failed"]).await;
    let token = developer(&server, "dev", "acme/shop", "write", "write").await;

    let calls = json!([
        { "name": "list_pipeline_runs", "arguments": { "repository": "acme/shop", "status": "failed" } },
        { "name": "get_pipeline_run", "arguments": { "run_id": run } },
        { "name": "list_artifacts", "arguments": { "run_id": run } },
        { "name": "retry_pipeline_run", "arguments": { "run_id": run, "failed_only": true } },
        { "name": "trigger_pipeline", "arguments": { "repository": "acme/shop", "ref": "slow" } },
    ]);
    let answer = python_client(&server, &token, calls).await;
    let results = answer["results"].as_array().expect("results");
    for (n, result) in results.iter().enumerate() {
        assert_eq!(result["isError"], false, "call {n}: {result}");
    }
    let listed = &results[0]["structuredContent"]["items"];
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["id"], run);
    let detail = &results[1]["structuredContent"];
    assert_eq!(detail["steps"][0]["name"], "test");
    assert_eq!(detail["steps"][0]["exit_code"], 4);
    assert_eq!(results[2]["structuredContent"]["items"], json!([]));
    let retried = results[3]["structuredContent"]["id"]
        .as_i64()
        .expect("new run");
    assert_ne!(retried, run);
    let started = &results[4]["structuredContent"];
    assert_eq!(started["git_ref"], "slow");
    let slow = started["id"].as_i64().expect("id");
    watcher.until_step_runs(&server, slow, "wait").await;

    let calls = json!([{ "name": "cancel_pipeline_run", "arguments": { "run_id": slow } }]);
    let answer = python_client(&server, &token, calls).await;
    assert_eq!(answer["results"][0]["isError"], false, "{answer}");
    watcher.until(&server, slow, &["cancelled"]).await;
    let audit: Value = server
        .http
        .get(server.url("/api/audit?action=pipeline.cancel"))
        .send()
        .await
        .expect("audit")
        .json()
        .await
        .expect("json");
    assert_eq!(
        audit["items"][0]["request_id"], "mcp:cancel_pipeline_run",
        "{audit}"
    );
    server.stop().await;
}

#[tokio::test]
async fn operators_make_mcp_read_only_or_turn_it_off() {
    let server = TestServer::start(&[("SLIPWAY_MCP", "read-only".into())]).await;
    let admin = server.token_for("admin", "admin").await;
    let (tools, _) = rust_client(&server, &admin).await;
    assert_eq!(
        tools.len(),
        11,
        "an admin token, and still only reads: {tools:?}"
    );
    server.stop().await;

    let server = TestServer::start(&[("SLIPWAY_MCP", "off".into())]).await;
    let admin = server.token_for("admin", "admin").await;
    let off = server
        .anonymous
        .post(server.url("/mcp"))
        .bearer_auth(&admin)
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" }))
        .send()
        .await
        .expect("post");
    assert_eq!(off.status(), 404);
    server.stop().await;
}
