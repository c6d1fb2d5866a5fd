//! An agent's transform run through MCP, with the official Python SDK's client: it starts a
//! run with a write token, reads the run and one repository's patch once it ended, retries the
//! repository that failed — and a read token is refused the start.

use serde_json::json;

use crate::mcp::{developer, python_client};
use crate::pipeline_support::{add_project, sample_repository};
use crate::support::TestServer;
use crate::transforms_local::{finished, until_run};

const SPEC: &str = "name: agent-edit\nrepositories: [acme/shop]\nsteps:\n  - name: edit\n    image: alpine\n    commands: [\"echo agent was here >> README.md\"]\n";

#[tokio::test]
async fn an_agent_starts_a_transform_run_and_reads_its_patch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(dir.path(), &[("README.md", "# shop\n")]);
    let server = TestServer::start(&[]).await;
    add_project(&server, "acme/shop", &repo).await;
    let writer = developer(&server, "agent", "acme/shop", "write", "write").await;
    let reader = developer(&server, "watcher", "acme/shop", "read", "read").await;

    let started = python_client(
        &server,
        &writer,
        json!([{ "name": "start_transform_run", "arguments": { "spec": SPEC } }]),
    )
    .await;
    let result = &started["results"][0];
    assert_eq!(result["isError"], false, "{result}");
    let id = result["structuredContent"]["id"].as_i64().expect("run id");
    until_run(&server, id, finished).await;

    let read = python_client(
        &server,
        &reader,
        json!([
            { "name": "get_transform_run", "arguments": { "transform_run_id": id } },
            { "name": "get_transform_patch", "arguments": { "transform_run_id": id, "repository": "acme/shop" } },
            { "name": "list_transform_runs", "arguments": {} },
            { "name": "start_transform_run", "arguments": { "spec": SPEC } },
        ]),
    )
    .await;
    let results = read["results"].as_array().expect("results");
    let run = &results[0]["structuredContent"];
    assert_eq!(run["run"]["status"], "completed", "{run}");
    assert_eq!(run["executions"][0]["ready_to_publish"], true);
    let patch = &results[1]["structuredContent"];
    assert!(
        patch["patch"]
            .as_str()
            .unwrap_or_default()
            .contains("+agent was here"),
        "{patch}"
    );
    assert_eq!(patch["truncated"], false);
    assert_eq!(patch["summary"]["status"], "succeeded");
    assert_eq!(results[2]["structuredContent"]["items"][0]["id"], id);
    // The read token is not even offered the start; calling it anyway is refused.
    assert_eq!(results[3]["isError"], true, "{}", results[3]);
    server.stop().await;
}
