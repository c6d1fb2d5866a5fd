//! The HTTP surface as users and operators meet it: health, readiness (naming what is down),
//! dashboard pages, server functions, and shutdown.

use serde_json::Value;

use crate::support::{TestPostgres, TestRedis, TestS3, TestServer, check_named};

#[tokio::test]
async fn embedded_defaults_are_ready_with_sqlite_fs_and_in_process_bus() {
    let server = TestServer::start(&[]).await;
    let health = server
        .http
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let (status, readiness) = server.readiness().await;
    assert_eq!(status, 200, "{readiness}");
    assert_eq!(readiness["ready"], true);
    assert_eq!(check_named(&readiness, "store")["backend"], "sqlite");
    assert_eq!(check_named(&readiness, "objects")["backend"], "fs");
    assert_eq!(check_named(&readiness, "bus")["backend"], "in-process");
    server.stop().await;
}

#[tokio::test]
async fn production_backends_serve_the_same_data_and_are_listed() {
    let (db, redis, s3) = (
        TestPostgres::create().await,
        TestRedis::start().await,
        TestS3::start().await,
    );
    let mut settings = s3.settings();
    settings.push(("SLIPWAY_DATABASE_URL", db.url.clone()));
    settings.push(("SLIPWAY_REDIS_URL", redis.url()));
    let server = TestServer::start(&settings).await;
    let (status, readiness) = server.readiness().await;
    assert_eq!(status, 200, "{readiness}");
    assert_eq!(check_named(&readiness, "store")["backend"], "postgres");
    assert_eq!(check_named(&readiness, "objects")["backend"], "s3");
    assert_eq!(check_named(&readiness, "bus")["backend"], "redis");

    add_repository(&server, "acme/shop", "https://github.com/acme/shop.git").await;
    let listed: Value = server
        .http
        .get(server.url("/rpc/list_repositories"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(listed[0]["name"], "acme/shop");
    server.stop().await;
    db.drop_database().await;
}

#[tokio::test]
async fn readiness_names_the_bus_while_redis_is_down_and_recovers_without_restart() {
    let mut redis = TestRedis::start().await;
    let server = TestServer::start(&[("SLIPWAY_REDIS_URL", redis.url())]).await;
    assert_eq!(server.readiness().await.0, 200);

    redis.stop().await;
    let (status, readiness) = server.readiness().await;
    assert_eq!(status, 503, "{readiness}");
    assert_eq!(readiness["ready"], false);
    let bus = check_named(&readiness, "bus");
    assert_eq!(bus["ok"], false);
    assert!(
        bus["error"].as_str().is_some_and(|e| !e.is_empty()),
        "says why: {bus}"
    );
    assert_eq!(
        check_named(&readiness, "store")["ok"],
        true,
        "only the bus is blamed"
    );

    redis.restart().await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let (status, readiness) = server.readiness().await;
        if status == 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still not ready after Redis returned: {readiness}"
        );
    }
    server.stop().await;
}

async fn add_repository(server: &TestServer, name: &str, clone_url: &str) -> reqwest::Response {
    server
        .http
        .post(server.url("/rpc/add_repository"))
        .header("accept", "application/json")
        .form(&[
            ("input[name]", name),
            ("input[clone_url]", clone_url),
            ("input[default_branch]", ""),
        ])
        .send()
        .await
        .expect("add_repository")
}

#[tokio::test]
async fn repositories_are_added_listed_and_validated_through_server_functions() {
    let server = TestServer::start(&[]).await;
    let added = add_repository(&server, "demo", "/srv/git/demo.git").await;
    assert_eq!(added.status(), 200);
    let repository: Value = added.json().await.expect("json");
    assert_eq!(repository["default_branch"], "main");

    let invalid = add_repository(&server, "demo2", "not a url").await;
    assert!(invalid.status().is_server_error() || invalid.status().is_client_error());
    let error: Value = invalid.json().await.expect("error json");
    assert_eq!(error["kind"], "invalid_input");
    assert!(
        error["message"]
            .as_str()
            .expect("message")
            .contains("clone URL `not a url` is not valid"),
        "{error}"
    );

    let duplicate: Value = add_repository(&server, "demo", "/other")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(duplicate["kind"], "conflict");

    let page = server.page("/settings").await;
    assert!(
        page.contains("/srv/git/demo.git"),
        "the settings page lists the repository (server-rendered)"
    );

    let id = repository["id"].as_i64().expect("id");
    let removed = server
        .http
        .post(server.url("/rpc/remove_repository"))
        .form(&[("id", id.to_string())])
        .send()
        .await
        .expect("remove");
    assert_eq!(removed.status(), 200);
    let page = server.page("/settings").await;
    assert!(
        page.contains("No repositories yet"),
        "empty state after removal"
    );
    server.stop().await;
}

#[tokio::test]
async fn every_page_renders_without_javascript_and_unknown_paths_are_404() {
    let server = TestServer::start(&[]).await;
    for (path, title, empty_state) in [
        ("/", "Previews", "No previews yet"),
        ("/previews", "Previews", "Connect a repository"),
        ("/pipelines", "Pipelines", "No pipelines yet"),
        ("/operator", "Operator", "No environments to measure"),
        ("/deliveries", "Deliveries", "/webhooks/github"),
        ("/settings", "Settings", "No repositories yet"),
    ] {
        let response = server
            .http
            .get(server.url(path))
            .send()
            .await
            .expect("page");
        assert_eq!(response.status(), 200, "{path}");
        let html = response.text().await.expect("html");
        assert!(
            html.contains(&format!("<title>{title} · Slipway</title>")),
            "{path} has its title"
        );
        assert!(
            html.contains(empty_state),
            "{path} explains what will appear: {empty_state}"
        );
        for nav in [
            "Previews",
            "Pipelines",
            "Operator",
            "Deliveries",
            "Settings",
        ] {
            assert!(html.contains(nav), "{path} has the {nav} link");
        }
    }
    let operator = server.page("/operator").await;
    assert!(
        operator.contains("sqlite") && operator.contains("in-process"),
        "operator page shows real dependency state"
    );
    let missing = server
        .http
        .get(server.url("/no/such/page"))
        .send()
        .await
        .expect("page");
    assert_eq!(missing.status(), 404);
    assert!(
        missing
            .text()
            .await
            .expect("html")
            .contains("Page not found")
    );
    server.stop().await;
}

#[tokio::test]
async fn stopping_closes_the_port() {
    let server = TestServer::start(&[]).await;
    let address = server.running.address;
    server.stop().await;
    assert!(
        tokio::net::TcpStream::connect(address).await.is_err(),
        "no longer accepting after stop"
    );
}

#[tokio::test]
async fn demo_mode_serves_an_embedded_simulated_cluster() {
    let server = TestServer::start(&[("SLIPWAY_CLUSTER", "sim".to_owned())]).await;
    let (status, readiness) = server.readiness().await;
    assert_eq!(status, 200, "{readiness}");
    let cluster = check_named(&readiness, "cluster/default");
    assert_eq!(
        (cluster["backend"].as_str(), cluster["ok"].as_bool()),
        (Some("kube-sim"), Some(true))
    );
    // Repositories can be pinned to a configured cluster, and only to one.
    let pinned: Value = server
        .http
        .post(server.url("/rpc/add_repository"))
        .header("accept", "application/json")
        .form(&[
            ("input[name]", "pinned"),
            ("input[clone_url]", "/srv/git/pinned.git"),
            ("input[cluster]", "default"),
        ])
        .send()
        .await
        .expect("add")
        .json()
        .await
        .expect("json");
    assert_eq!(pinned["cluster"], "default", "{pinned}");
    let unknown: Value = server
        .http
        .post(server.url("/rpc/add_repository"))
        .header("accept", "application/json")
        .form(&[
            ("input[name]", "elsewhere"),
            ("input[clone_url]", "/srv/git/elsewhere.git"),
            ("input[cluster]", "mars"),
        ])
        .send()
        .await
        .expect("add")
        .json()
        .await
        .expect("json");
    assert_eq!(unknown["kind"], "invalid_input");
    assert_eq!(
        unknown["message"],
        "cluster `mars` is not configured; configured: default"
    );

    let entry = &server.running.adapters.clusters[0];
    let spec = domain::cluster::NamespaceSpec {
        name: "demo".into(),
        ..Default::default()
    };
    entry
        .cluster
        .ensure_namespace(&spec)
        .await
        .expect("the embedded cluster works");
    let operator = server.page("/operator").await;
    assert!(
        operator.contains("cluster/default") && operator.contains("kube-sim"),
        "operators see the cluster"
    );
    server.stop().await;
}

#[tokio::test]
async fn readiness_names_a_cluster_that_stops_answering() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let sim = kube_sim::KubeSim::start(listener, kube_sim::Options::default())
        .await
        .expect("kube-sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).expect("write");
    let server =
        TestServer::start(&[("SLIPWAY_KUBECONFIG", kubeconfig.display().to_string())]).await;
    let (status, readiness) = server.readiness().await;
    assert_eq!(status, 200, "{readiness}");
    assert_eq!(
        check_named(&readiness, "cluster/default")["backend"],
        "kubernetes"
    );

    sim.stop().await;
    let (status, readiness) = server.readiness().await;
    assert_eq!(status, 503, "{readiness}");
    let cluster = check_named(&readiness, "cluster/default");
    assert_eq!(cluster["ok"], false);
    assert!(
        cluster["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{cluster}"
    );
    assert_eq!(check_named(&readiness, "store")["ok"], true);
    server.stop().await;
}
