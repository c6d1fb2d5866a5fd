//! The application layer, called as every edge calls it, against a real SQLite Store: each
//! action's outcome and its error kinds (the store conformance suite covers PostgreSQL).

use domain::pipeline::{NewPipeline, TriggerKind};
use domain::{ErrorKind, NewDelivery, RepositoryId};
use services::Caller;
use services::pipelines::{ListPipelines, PipelineRef, RetryPipeline, TriggerPipeline};
use services::repositories::AddRepository;
use services::secrets::SetSecret;

use crate::support::TestServer;

fn kind<T: std::fmt::Debug>(result: services::Result<T>) -> ErrorKind {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(error) => error.kind(),
    }
}

async fn add(layer: &services::Services, name: &str) -> domain::Repository {
    let input = AddRepository {
        name: name.into(),
        clone_url: format!("/srv/git/{name}.git"),
        ..AddRepository::default()
    };
    layer
        .add_repository(&Caller::System, input)
        .await
        .expect("add")
}

/// A run of `main` started from the API.
fn api_run(repository_id: RepositoryId) -> NewPipeline {
    NewPipeline {
        repository_id,
        git_ref: "main".into(),
        commit_sha: None,
        trigger: TriggerKind::Api,
        trigger_detail: None,
        pr_number: None,
        retry_of: None,
        delivery_id: None,
    }
}

#[tokio::test]
async fn a_run_is_found_only_within_its_own_repository() {
    let server = TestServer::start(&[]).await;
    let layer = server.running.services.clone();
    let caller = Caller::System;
    let (shop, blog) = (add(&layer, "shop").await, add(&layer, "blog").await);
    let new = api_run(shop.id);
    let run = layer.start_pipeline(&caller, &new).await.expect("start");
    let mine = PipelineRef::in_project(shop.id.0, run.id.0);
    let theirs = PipelineRef::in_project(blog.id.0, run.id.0);
    assert_eq!(
        layer.get_pipeline(&caller, mine).await.expect("get").id,
        run.id
    );
    assert_eq!(
        kind(layer.get_pipeline(&caller, theirs).await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(layer.cancel_pipeline(&caller, theirs).await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(layer.list_artifacts(&caller, theirs).await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(layer.artifact_download(&caller, mine, 12345).await),
        ErrorKind::NotFound,
        "an artifact file the run does not have"
    );
    let retry = RetryPipeline {
        run: theirs,
        failed_only: false,
    };
    assert_eq!(
        kind(layer.retry_pipeline(&caller, retry).await),
        ErrorKind::NotFound
    );

    // The build-engine design's status words read as Slipway's.
    let failure = ListPipelines {
        status: Some("failure".into()),
        ..ListPipelines::default()
    };
    layer
        .list_pipelines(&caller, failure)
        .await
        .expect("failure is a status");
    let sideways = ListPipelines {
        status: Some("sideways".into()),
        ..ListPipelines::default()
    };
    let error = layer
        .list_pipelines(&caller, sideways)
        .await
        .expect_err("refused");
    assert_eq!(
        (error.kind(), error.field()),
        (ErrorKind::InvalidInput, Some("status"))
    );
    let unknown_repository = ListPipelines {
        repository: Some("424242".into()),
        ..ListPipelines::default()
    };
    assert_eq!(
        kind(layer.list_pipelines(&caller, unknown_repository).await),
        ErrorKind::NotFound
    );
    let trigger = TriggerPipeline {
        repository: blog.id,
        git_ref: "--upload-pack=evil".into(),
    };
    let error = layer
        .trigger_pipeline(&caller, trigger)
        .await
        .expect_err("refused");
    assert_eq!(
        (error.kind(), error.field()),
        (ErrorKind::InvalidInput, Some("git_ref"))
    );
    server.stop().await;
}

#[tokio::test]
async fn repositories_and_secrets_refuse_bad_input_naming_the_field() {
    let server = TestServer::start(&[]).await;
    let layer = server.running.services.clone();
    let caller = Caller::System;
    let shop = add(&layer, "shop").await;
    let duplicate = AddRepository {
        name: "shop".into(),
        clone_url: "/srv/git/elsewhere.git".into(),
        ..AddRepository::default()
    };
    assert_eq!(
        kind(layer.add_repository(&caller, duplicate).await),
        ErrorKind::Conflict
    );
    let on_mars = AddRepository {
        name: "rover".into(),
        clone_url: "/srv/git/rover.git".into(),
        cluster: "mars".into(),
        ..AddRepository::default()
    };
    let error = layer
        .add_repository(&caller, on_mars)
        .await
        .expect_err("refused");
    assert_eq!(error.field(), Some("cluster"));
    assert!(
        error.to_string().contains("no cluster is configured"),
        "{error}"
    );

    let bad_name = SetSecret {
        repository: shop.id,
        name: "not a name".into(),
        value: "x".into(),
    };
    let error = layer
        .set_secret(&caller, bad_name)
        .await
        .expect_err("refused");
    assert_eq!(
        (error.kind(), error.field()),
        (ErrorKind::InvalidInput, Some("name"))
    );
    let elsewhere = SetSecret {
        repository: RepositoryId(424242),
        name: "TOKEN".into(),
        value: "x".into(),
    };
    assert_eq!(
        kind(layer.set_secret(&caller, elsewhere).await),
        ErrorKind::NotFound
    );
    let set = SetSecret {
        repository: shop.id,
        name: "TOKEN".into(),
        value: "hunter2".into(),
    };
    layer.set_secret(&caller, set).await.expect("set");
    let names = layer.list_secrets(&caller, shop.id).await.expect("list");
    assert_eq!(
        names.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["TOKEN"]
    );
    assert_eq!(
        kind(layer.remove_secret(&caller, shop.id, "NOPE").await),
        ErrorKind::NotFound
    );
    layer
        .remove_repository(&caller, shop.id)
        .await
        .expect("remove");
    assert_eq!(
        kind(layer.remove_repository(&caller, shop.id).await),
        ErrorKind::NotFound
    );
    server.stop().await;
}

#[tokio::test]
async fn a_delivery_a_worker_holds_is_not_queued_again() {
    use domain::delivery::DeliveryStore;
    let delivery = NewDelivery {
        delivery_id: "held-1".into(),
        event: "ping".into(),
        action: None,
        repository: None,
        pull_request: None,
        payload: "{}".into(),
        received_at_ms: 1,
        error: None,
    };
    // Claimed now by a worker of another replica, before this server starts (so its own
    // worker cannot take it first); the claim's lease is far from running out.
    let data = tempfile::tempdir().expect("tempdir");
    let now = domain::time::now_ms();
    {
        let other = server::store::SqliteStore::open(&data.path().join("slipway.db"))
            .await
            .expect("store");
        other.record_delivery(&delivery).await.expect("record");
        let held = other.claim_delivery("held-1", now).await.expect("claim");
        assert!(held.is_some(), "claimed as a worker would");
    }
    let server = TestServer::start_in(data, &[]).await;
    let layer = server.running.services.clone();
    let caller = Caller::System;
    let store = &server.running.adapters.store;
    let error = layer
        .redeliver(&caller, "held-1")
        .await
        .expect_err("refused");
    assert_eq!(error.kind(), ErrorKind::Conflict);
    assert_eq!(error.to_string(), "delivery `held-1` is processing");
    store
        .finish_delivery("held-1", domain::DeliveryStatus::Processed, None, now + 1)
        .await
        .expect("the worker's outcome is kept");
    let again = layer
        .redeliver(&caller, "held-1")
        .await
        .expect("queued again");
    assert_eq!(again.status, domain::DeliveryStatus::Queued);
    assert_eq!(
        kind(layer.redeliver(&caller, "nope").await),
        ErrorKind::NotFound
    );
    server.stop().await;
}

#[tokio::test]
async fn reads_name_what_they_cannot_find_and_refuse_bad_filters() {
    use domain::repository::PreviewRulesConfig;
    use services::deliveries::ListDeliveries;
    use services::previews::ListPreviews;
    use services::step_logs::StepLogRef;
    let server = TestServer::start(&[]).await;
    let layer = server.running.services.clone();
    let caller = Caller::System;
    let shop = add(&layer, "shop").await;

    let rules = PreviewRulesConfig {
        target_branches: vec!["release/[".into()],
        ..PreviewRulesConfig::default()
    };
    let error = layer
        .set_preview_rules(&caller, shop.id, rules)
        .await
        .expect_err("refused");
    assert_eq!(error.field(), Some("target_branches"));
    let fine = PreviewRulesConfig {
        target_branches: vec!["release/*".into()],
        ..PreviewRulesConfig::default()
    };
    let changed = layer
        .set_preview_rules(&caller, shop.id, fine)
        .await
        .expect("set");
    assert_eq!(changed.preview_rules.target_branches, ["release/*"]);

    let bad = ListDeliveries {
        status: Some("lost".into()),
        ..ListDeliveries::default()
    };
    let error = layer
        .list_deliveries(&caller, bad)
        .await
        .expect_err("refused");
    assert_eq!(error.field(), Some("status"));
    let error = layer
        .get_delivery(&caller, "nope")
        .await
        .expect_err("unknown");
    assert_eq!(error.to_string(), "delivery `nope` not found");
    let bad = ListPreviews {
        status: Some("sideways".into()),
        ..ListPreviews::default()
    };
    assert_eq!(
        kind(layer.list_previews(&caller, bad).await),
        ErrorKind::InvalidInput
    );
    let page = layer
        .list_previews(&caller, ListPreviews::default())
        .await
        .expect("list");
    assert_eq!((page.total, page.next_offset), (0, None));
    assert_eq!(
        kind(layer.get_preview(&caller, "pr-nobody-1").await),
        ErrorKind::NotFound
    );

    let error = layer
        .published_image(&caller, shop.id, "0123456789abcdef0123456789abcdef01234567")
        .await
        .expect_err("no image");
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert!(
        error.to_string().starts_with("no pipeline of repository"),
        "{error}"
    );

    let new = api_run(shop.id);
    let run = layer.start_pipeline(&caller, &new).await.expect("start");
    let read_once = StepLogRef {
        run: PipelineRef::id(run.id.0),
        step: "build".into(),
        follow: false,
    };
    // The clone of /srv/git/shop.git fails, so the run ends without steps.
    let error = layer
        .step_log(&caller, read_once)
        .await
        .expect_err("no steps");
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(
        error.to_string(),
        format!("pipeline {} has no steps yet", run.id)
    );
    let info = layer.instance_info(&caller).await.expect("instance");
    assert_eq!(info.clusters, Vec::<String>::new());
    server.stop().await;
}
