//! `GET /api/openapi.json`: an OpenAPI 3.1 document that an independent validator accepts
//! (openapi-spec-validator, installed by `scripts/setup test`), naming exactly the routes the
//! README's API tables list.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;

use crate::support::TestServer;

/// The validator's virtual environment: `SLIPWAY_TEST_VENV`, or where `scripts/setup test` puts it.
fn validator() -> PathBuf {
    let venv = std::env::var_os("SLIPWAY_TEST_VENV").map_or_else(
        || {
            let home = std::env::var_os("HOME").unwrap_or_default();
            PathBuf::from(home).join(".cache/slipway/venv")
        },
        PathBuf::from,
    );
    venv.join("bin/openapi-spec-validator")
}

async fn document(server: &TestServer) -> Value {
    let response = server
        .http
        .get(server.url("/api/openapi.json"))
        .send()
        .await
        .expect("openapi.json");
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

/// `(METHOD, path)` of every operation in the document.
fn operations(document: &Value) -> BTreeSet<(String, String)> {
    let paths = document["paths"].as_object().expect("paths");
    let mut found = BTreeSet::new();
    for (path, item) in paths {
        for method in item.as_object().expect("path item").keys() {
            found.insert((method.to_uppercase(), path.clone()));
        }
    }
    found
}

/// `(METHOD, path)` of every route the README's tables name as `` `METHOD /path` ``.
fn readme_routes() -> BTreeSet<(String, String)> {
    let readme = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let text = std::fs::read_to_string(readme).expect("README.md");
    let route = regex::Regex::new(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`\s?]*)").expect("regex");
    text.lines()
        .filter(|line| line.starts_with('|'))
        .flat_map(|line| route.captures_iter(line).collect::<Vec<_>>())
        .map(|c| (c[1].to_owned(), c[2].to_owned()))
        .collect()
}

#[tokio::test]
async fn the_document_is_valid_openapi_3_1() {
    let server = TestServer::start(&[]).await;
    let document = document(&server).await;
    assert_eq!(document["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&document).expect("json")).expect("write");
    let validator = validator();
    let output = tokio::process::Command::new(&validator)
        .arg(&file)
        .output()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} (scripts/setup test installs it): {e}",
                validator.display()
            )
        });
    assert!(
        output.status.success(),
        "openapi-spec-validator refused the document:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // Errors have one shape, and every operation says what it answers.
    assert!(document["components"]["schemas"]["ErrorBody"].is_object());
    for (method, path) in operations(&document) {
        let operation = &document["paths"][&path][method.to_lowercase()];
        assert!(
            operation["responses"].is_object(),
            "{method} {path} has no responses"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn the_readme_lists_exactly_the_routes_of_the_document() {
    let server = TestServer::start(&[]).await;
    let documented = operations(&document(&server).await);
    let listed = readme_routes();
    let missing: Vec<_> = documented.difference(&listed).collect();
    let unknown: Vec<_> = listed.difference(&documented).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "routes in the document but not in the README's tables: {missing:?}\n\
         routes in the README's tables but not in the document: {unknown:?}"
    );
    server.stop().await;
}
