//! `slipway backup FOLDER` while Slipway runs: the copy serves as a data dir of its own, with
//! every repository, secret and stored log, and the key that opens the secrets.

use std::process::Command;

use domain::ObjectKey;
use services::Caller;
use services::repositories::AddRepository;
use services::secrets::SetSecret;

use crate::support::TestServer;

fn backup(data_dir: &std::path::Path, folder: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(["backup", &folder.display().to_string()])
        .env("SLIPWAY_DATA_DIR", data_dir)
        .output()
        .expect("run slipway backup")
}

#[tokio::test]
async fn a_backup_taken_while_serving_restores_everything() {
    let data = tempfile::tempdir().expect("tempdir");
    let data_dir = data.path().to_owned();
    let server = TestServer::start_in(data, &[]).await;
    let layer = server.running.services.clone();
    let caller = Caller::System;
    let input = AddRepository {
        name: "acme/shop".into(),
        clone_url: "/srv/git/shop.git".into(),
        ..AddRepository::default()
    };
    let shop = layer.add_repository(&caller, input).await.expect("add");
    let secret = SetSecret {
        repository: shop.id,
        name: "API_TOKEN".into(),
        value: "hunter2".into(),
    };
    layer.set_secret(&caller, secret).await.expect("secret");
    let log = ObjectKey::new("logs/pipelines/1/build.log").expect("key");
    let objects = &server.running.adapters.objects;
    objects.put(&log, "built\n".into()).await.expect("put");

    let copy = tempfile::tempdir().expect("tempdir");
    let out = backup(&data_dir, copy.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("keys: secrets.key, signing.key"),
        "{stdout}"
    );
    assert!(stdout.contains(&format!(
        "restore: SLIPWAY_DATA_DIR={}",
        copy.path().display()
    )));
    // A second backup into the same folder would mix two copies: refused.
    let again = backup(&data_dir, copy.path());
    assert_eq!(again.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("is not an empty folder"), "{stderr}");
    server.stop().await;

    let restored = TestServer::start_in(copy, &[]).await;
    let layer = restored.running.services.clone();
    let names: Vec<String> = layer
        .list_repositories(&caller)
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["acme/shop"]);
    let store = &restored.running.adapters.store;
    let sealed = store.sealed_secrets(shop.id).await.expect("sealed");
    let opened = restored
        .running
        .adapters
        .secret_box
        .open(&sealed[0])
        .expect("opens");
    assert_eq!(opened, "hunter2", "the copied key opens the copied secrets");
    let objects = &restored.running.adapters.objects;
    let text = objects
        .get(&log)
        .await
        .expect("the stored log is in the copy");
    assert_eq!(&text[..], b"built\n");
    restored.stop().await;
}

#[test]
fn postgres_installations_are_pointed_at_pg_dump() {
    let data = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(["backup", "/nonexistent/never-written"])
        .env("SLIPWAY_DATA_DIR", data.path())
        .env("SLIPWAY_DATABASE_URL", "postgres://u:hunter2@127.0.0.1:1/x")
        .output()
        .expect("run slipway backup");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("back it up with pg_dump"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(!std::path::Path::new("/nonexistent/never-written").exists());
}
