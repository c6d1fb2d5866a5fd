//! One Objects conformance suite, run against the filesystem and a real S3-protocol server.

use std::time::Duration;

use bytes::Bytes;
use domain::{ObjectKey, Objects, ObjectsError};
use futures::TryStreamExt;
use server::config::ObjectsConfig;
use server::objects::OpendalObjects;
use server::signing::UrlSigner;

use crate::support::{TestS3, TestServer, config};

fn key(k: &str) -> ObjectKey {
    ObjectKey::new(k).expect("valid key")
}

/// Everything but downloads, which need an HTTP client and (for fs) a running server.
async fn conformance(objects: &dyn Objects) {
    objects.check().await.expect("storage answers");
    let log = key("logs/pipelines/1/build.log");
    objects
        .put(&log, Bytes::from_static(b"line 1\nline 2\n"))
        .await
        .expect("put");
    assert_eq!(
        objects.get(&log).await.expect("get"),
        Bytes::from_static(b"line 1\nline 2\n")
    );

    objects
        .put(&log, Bytes::from_static(b"replaced\n"))
        .await
        .expect("overwrite");
    assert_eq!(
        objects.get(&log).await.expect("get"),
        Bytes::from_static(b"replaced\n")
    );

    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let artifact = key("artifacts/1/dist/app.tar");
    objects
        .put(&artifact, Bytes::from(big.clone()))
        .await
        .expect("put big");
    let chunks: Vec<Bytes> = objects
        .stream(&artifact)
        .await
        .expect("stream")
        .try_collect()
        .await
        .expect("chunks");
    assert_eq!(
        chunks.concat(),
        big,
        "streamed content is complete and in order"
    );

    objects
        .put(&key("logs/pipelines/2/test.log"), Bytes::from_static(b"x"))
        .await
        .expect("put");
    objects
        .put(
            &key("logs/pipelines/10/test.log"),
            Bytes::from_static(b"yy"),
        )
        .await
        .expect("put");
    let listed = objects.list("logs/pipelines/").await.expect("list");
    let keys: Vec<&str> = listed.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "logs/pipelines/1/build.log",
            "logs/pipelines/10/test.log",
            "logs/pipelines/2/test.log"
        ]
    );
    assert_eq!(listed[1].size, 2, "sizes are reported");
    assert!(
        objects.list("logs/pipelines/1/").await.expect("list").len() == 1,
        "prefix is a folder, not a string prefix"
    );
    assert!(
        objects
            .list("nothing/here/")
            .await
            .expect("empty list")
            .is_empty()
    );

    objects.delete(&log).await.expect("delete");
    assert!(matches!(
        objects.get(&log).await,
        Err(ObjectsError::NotFound(_))
    ));
    assert!(matches!(
        objects.stream(&log).await,
        Err(ObjectsError::NotFound(_))
    ));
    objects
        .delete(&log)
        .await
        .expect("deleting a missing object is fine");
}

#[tokio::test]
async fn filesystem_objects_conform() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), &[]);
    let signer = UrlSigner::from_config_or_data_dir(None, dir.path()).expect("signer");
    let objects = OpendalObjects::open(&config.objects, &config.public_url, &signer).expect("open");
    assert!(matches!(config.objects, ObjectsConfig::Fs { .. }));
    assert_eq!(objects.backend(), "fs");
    conformance(&objects).await;
}

#[tokio::test]
async fn s3_objects_conform() {
    let s3 = TestS3::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), &s3.settings());
    let signer = UrlSigner::from_config_or_data_dir(None, dir.path()).expect("signer");
    let objects = OpendalObjects::open(&config.objects, &config.public_url, &signer).expect("open");
    assert_eq!(objects.backend(), "s3");
    conformance(&objects).await;
}

#[tokio::test]
async fn s3_download_urls_are_presigned() {
    let s3 = TestS3::start().await;
    let server = TestServer::start(&s3.settings()).await;
    let objects = &server.running.adapters.objects;
    let artifact = key("artifacts/7/report.txt");
    objects
        .put(&artifact, Bytes::from_static(b"all green"))
        .await
        .expect("put");
    let url = objects
        .download_url(&artifact, Duration::from_secs(60))
        .await
        .expect("presign");
    assert!(
        url.starts_with(&s3.endpoint) && url.contains("X-Amz-Signature"),
        "{url}"
    );
    let body = reqwest::get(&url)
        .await
        .expect("download")
        .error_for_status()
        .expect("200")
        .bytes()
        .await
        .expect("body");
    assert_eq!(body, Bytes::from_static(b"all green"));
    let unsigned = url.split('?').next().expect("path");
    assert_eq!(
        reqwest::get(unsigned).await.expect("request").status(),
        403,
        "without a signature S3 refuses"
    );
    server.stop().await;
}

#[tokio::test]
async fn filesystem_downloads_go_through_slipways_signed_endpoint() {
    let server = TestServer::start(&[]).await;
    let objects = &server.running.adapters.objects;
    let log = key("logs/pipelines/3/build.log");
    objects
        .put(&log, Bytes::from_static(b"compiling\nok\n"))
        .await
        .expect("put");

    let url = objects
        .download_url(&log, Duration::from_secs(60))
        .await
        .expect("sign");
    assert!(
        url.starts_with(&server.url("/objects/logs/pipelines/3/build.log?expires=")),
        "{url}"
    );
    let response = server.http.get(&url).send().await.expect("download");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"build.log\""
    );
    assert_eq!(
        response.bytes().await.expect("body"),
        Bytes::from_static(b"compiling\nok\n")
    );

    let tampered = url.replace("pipelines/3/", "pipelines/4/");
    let refused = server.http.get(&tampered).send().await.expect("request");
    assert_eq!(
        refused.status(),
        403,
        "a signature covers exactly one object"
    );
    assert!(
        refused.text().await.expect("body").contains("signature"),
        "says why"
    );

    let unsigned = server
        .http
        .get(server.url("/objects/logs/pipelines/3/build.log"))
        .send()
        .await
        .expect("request");
    assert_eq!(unsigned.status(), 403);

    let gone = key("logs/pipelines/5/none.log");
    let missing_url = objects
        .download_url(&gone, Duration::from_secs(60))
        .await
        .expect("sign");
    assert_eq!(
        server
            .http
            .get(&missing_url)
            .send()
            .await
            .expect("request")
            .status(),
        404
    );
    server.stop().await;
}
