//! The JSON API and the dashboard's server functions are two edges on the same application
//! functions: the same input gives the same result and the same kind of error through both.

use reqwest::Response;
use serde_json::Value;

use crate::support::TestServer;

/// The kind a JSON answer's status stands for, in the words server functions use.
fn kind_of_status(status: u16) -> &'static str {
    match status {
        200..=299 => "ok",
        400 => "invalid_input",
        403 => "forbidden",
        404 => "not_found",
        409 => "conflict",
        503 => "unavailable",
        _ => "internal",
    }
}

/// What a server function answered: `ok`, or its error's kind, and the message.
async fn rpc_outcome(response: Response) -> (String, String) {
    let ok = response.status().is_success();
    let body: Value = response.json().await.expect("json");
    if ok {
        return ("ok".into(), String::new());
    }
    let message = body["message"].as_str().unwrap_or_default().to_owned();
    (body["kind"].as_str().unwrap_or("?").to_owned(), message)
}

/// What a JSON route answered: `ok`, or the kind its status stands for, and the message.
async fn api_outcome(response: Response) -> (String, String) {
    let kind = kind_of_status(response.status().as_u16()).to_owned();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let message = body["error"].as_str().unwrap_or_default().to_owned();
    (kind, message)
}

async fn call_rpc(server: &TestServer, name: &str, form: &[(&str, &str)]) -> (String, String) {
    let response = server
        .http
        .post(server.url(&format!("/rpc/{name}")))
        .header("accept", "application/json")
        .form(form)
        .send()
        .await
        .expect("server function");
    rpc_outcome(response).await
}

async fn api_post(server: &TestServer, path: &str, body: Value) -> (String, String) {
    let response = server
        .http
        .post(server.url(path))
        .json(&body)
        .send()
        .await
        .expect("api");
    api_outcome(response).await
}

#[tokio::test]
async fn adding_a_repository_answers_alike_through_both_edges() {
    let server = TestServer::start(&[]).await;
    let seeded = api_post(
        &server,
        "/api/projects",
        serde_json::json!({ "name": "taken", "clone_url": "/srv/git/taken.git" }),
    )
    .await;
    assert_eq!(seeded.0, "ok", "{seeded:?}");
    // (expected kind, name for the API, name for the server function, clone URL, cluster)
    let cases = [
        ("ok", "edge-api", "edge-rpc", "/srv/git/a.git", ""),
        ("invalid_input", "b-api", "b-rpc", "not a url", ""),
        ("conflict", "taken", "taken", "/srv/git/other.git", ""),
        ("invalid_input", "c-api", "c-rpc", "/srv/git/c.git", "mars"),
    ];
    for (expected, api_name, rpc_name, clone_url, cluster) in cases {
        let body =
            serde_json::json!({ "name": api_name, "clone_url": clone_url, "cluster": cluster });
        let api = api_post(&server, "/api/projects", body).await;
        let form = [
            ("input[name]", rpc_name),
            ("input[clone_url]", clone_url),
            ("input[default_branch]", ""),
            ("input[cluster]", cluster),
        ];
        let rpc = call_rpc(&server, "add_repository", &form).await;
        assert_eq!(api.0, expected, "JSON API, {rpc_name}: {api:?}");
        assert_eq!(rpc.0, expected, "server function, {rpc_name}: {rpc:?}");
        assert_eq!(api.1, rpc.1, "the same message for {rpc_name}");
    }
    server.stop().await;
}

/// A method and JSON route, and the server function and form that ask the same.
type Case = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

#[tokio::test]
async fn unknown_things_are_not_found_through_both_edges() {
    let server = TestServer::start(&[]).await;
    let api = api_post(
        &server,
        "/api/deliveries/no-such-delivery/redeliver",
        Value::Null,
    )
    .await;
    let rpc = call_rpc(&server, "redeliver_delivery", &[("id", "no-such-delivery")]).await;
    assert_eq!((api.0.as_str(), rpc.0.as_str()), ("not_found", "not_found"));
    assert_eq!(api.1, rpc.1, "the same message");

    // (method, JSON route, server function, its form): each names something that does not exist.
    let cases: [Case; 7] = [
        (
            "POST",
            "/api/previews/pr-nobody-1/retry",
            "retry_preview",
            &[("key", "pr-nobody-1")],
        ),
        (
            "DELETE",
            "/api/previews/pr-nobody-1",
            "delete_preview",
            &[("key", "pr-nobody-1")],
        ),
        (
            "GET",
            "/api/previews/pr-nobody-1",
            "get_preview",
            &[("key", "pr-nobody-1")],
        ),
        (
            "POST",
            "/api/pipelines/424242/cancel",
            "cancel_pipeline",
            &[("id", "424242")],
        ),
        (
            "POST",
            "/api/pipelines/424242/retry",
            "retry_pipeline",
            &[("id", "424242")],
        ),
        (
            "GET",
            "/api/pipelines/424242",
            "get_pipeline",
            &[("id", "424242")],
        ),
        (
            "GET",
            "/api/projects/424242/secrets",
            "list_secrets",
            &[("repository_id", "424242")],
        ),
    ];
    for (method, path, name, form) in cases {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let response = server.http.request(method, server.url(path)).send().await;
        let api = api_outcome(response.expect("api")).await;
        let rpc = if name.starts_with("get_") || name.starts_with("list_") {
            let response = server
                .http
                .get(server.url(&format!("/rpc/{name}")))
                .query(form)
                .header("accept", "application/json")
                .send()
                .await
                .expect("rpc");
            rpc_outcome(response).await
        } else {
            call_rpc(&server, name, form).await
        };
        assert_eq!(
            (api.0.as_str(), rpc.0.as_str()),
            ("not_found", "not_found"),
            "{path} / {name}"
        );
        assert_eq!(api.1, rpc.1, "{path} / {name}: the same message");
    }

    let api = api_post(
        &server,
        "/api/projects/999/pipelines",
        serde_json::json!({ "git_ref": "main" }),
    )
    .await;
    let rpc = call_rpc(
        &server,
        "trigger_pipeline",
        &[("input[repository_id]", "999"), ("input[git_ref]", "main")],
    )
    .await;
    assert_eq!((api.0.as_str(), rpc.0.as_str()), ("not_found", "not_found"));
    assert_eq!(api.1, rpc.1, "the same message");

    let api = api_post(
        &server,
        "/api/projects/999/pipelines",
        serde_json::json!({ "git_ref": "" }),
    )
    .await;
    let rpc = call_rpc(
        &server,
        "trigger_pipeline",
        &[("input[repository_id]", "999"), ("input[git_ref]", " ")],
    )
    .await;
    assert_eq!(
        (api.0.as_str(), rpc.0.as_str()),
        ("invalid_input", "invalid_input"),
        "the input is checked before the repository is looked up"
    );
    server.stop().await;
}

#[tokio::test]
async fn list_filters_refuse_the_same_words_through_both_edges() {
    let server = TestServer::start(&[]).await;
    for (path, rpc_name) in [
        ("/api/previews?status=sideways", "list_previews"),
        ("/api/pipelines?status=sideways", "list_pipelines"),
        ("/api/deliveries?status=sideways", "list_deliveries"),
    ] {
        let api = api_outcome(server.http.get(server.url(path)).send().await.expect("api")).await;
        let rpc = server
            .http
            .get(server.url(&format!("/rpc/{rpc_name}?query[status]=sideways")))
            .header("accept", "application/json")
            .send()
            .await
            .expect("rpc");
        let rpc = rpc_outcome(rpc).await;
        assert_eq!(api.0, "invalid_input", "{path}: {api:?}");
        assert_eq!(rpc.0, "invalid_input", "{rpc_name}: {rpc:?}");
        assert_eq!(api.1, rpc.1, "{path}: the same message");
        assert!(
            api.1.starts_with("status `sideways` is not one of: "),
            "{api:?}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn malformed_paths_queries_and_bodies_answer_in_the_error_shape() {
    let server = TestServer::start(&[]).await;
    let cases = [
        server.http.get(server.url("/api/pipelines/not-a-number")),
        server.http.get(server.url("/api/previews?limit=-1")),
        server
            .http
            .post(server.url("/api/projects"))
            .header("content-type", "application/json")
            .body("{not json"),
    ];
    for request in cases {
        let response = request.send().await.expect("request");
        let url = response.url().to_string();
        assert_eq!(response.status(), 400, "{url}");
        let body: Value = response.json().await.expect("a JSON error body");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{url}: {body}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn every_route_that_takes_a_body_refuses_one_over_its_limit_with_413_in_the_error_shape() {
    let server = TestServer::start(&[]).await;
    let document: Value = server
        .http
        .get(server.url("/api/openapi.json"))
        .send()
        .await
        .expect("openapi.json")
        .json()
        .await
        .expect("json");
    // 3 MiB of JSON: over the 2 MiB every JSON route takes. Uploads (artifacts, transform
    // outputs) and webhooks have larger limits of their own, tested where they are.
    let oversized = format!("{{\"name\": \"{}\"}}", "a".repeat(3 * 1024 * 1024));
    let parameter = regex::Regex::new(r"\{[^}]+\}").expect("regex");
    let mut tried = 0;
    for (path, item) in document["paths"].as_object().expect("paths") {
        if path.starts_with("/api/artifacts/") || path.starts_with("/api/transform-uploads/") {
            continue;
        }
        for (method, operation) in item.as_object().expect("path item") {
            if operation.get("requestBody").is_none() {
                continue;
            }
            let url = server.url(&parameter.replace_all(path, "1"));
            let method =
                reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let response = server
                .http
                .request(method.clone(), &url)
                .header("content-type", "application/json")
                .body(oversized.clone())
                .send()
                .await
                .expect("request");
            assert_eq!(response.status(), 413, "{method} {path}");
            let body: Value = response.json().await.expect("a JSON error body");
            assert_eq!(
                body["error"], "the request body is larger than the 2 MiB this route takes",
                "{method} {path}"
            );
            tried += 1;
        }
    }
    assert!(tried >= 10, "only {tried} routes take a body");
    server.stop().await;
}
