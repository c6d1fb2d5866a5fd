//! Objects adapter over opendal: the filesystem (embedded default) or S3 / MinIO.
//! Both backends pass the same conformance suite (`server/tests/objects.rs`). S3 calls are
//! bounded in time (a server that stops answering fails the call instead of hanging it) and
//! retried with backoff while the server answers 5xx or cannot be reached; the readiness check
//! is not retried, so `/readyz` says at once what is wrong.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use domain::objects::Result;
use domain::{ObjectKey, ObjectMeta, Objects, ObjectsError};
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use opendal::layers::{RetryLayer, TimeoutLayer};
use opendal::{ErrorKind, Operator, services};
use secrecy::ExposeSecret;
use url::Url;

use crate::config::{ObjectsConfig, S3Config};
use crate::signing::UrlSigner;

/// The longest one S3 call (not counting its body's transfer) may take.
const S3_CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// The longest an S3 body may go without a byte moving.
const S3_IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a failed S3 call is tried again (after 1, 2, 4, 8 s, with jitter).
const S3_RETRIES: usize = 4;

/// Path of Slipway's own download endpoint; the object key follows it.
pub const DOWNLOAD_ROUTE_PREFIX: &str = "/objects/";

/// How URLs for downloads are made.
#[derive(Debug, Clone)]
enum Downloads {
    /// The backend presigns (S3).
    Presigned,
    /// Slipway serves the object itself behind an HMAC-signed link.
    Signed { public_url: Url, signer: UrlSigner },
}

/// The Objects port on an opendal operator.
#[derive(Debug, Clone)]
pub struct OpendalObjects {
    operator: Operator,
    /// The same store without retries, for the readiness check.
    checked: Operator,
    backend: &'static str,
    downloads: Downloads,
}

/// Why object storage could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("object storage settings are not usable")]
    Settings(#[source] opendal::Error),
    #[error("cannot create the objects folder {0}")]
    Folder(String, #[source] std::io::Error),
}

impl OpendalObjects {
    pub fn open(
        config: &ObjectsConfig,
        public_url: &Url,
        signer: &UrlSigner,
    ) -> Result<Self, OpenError> {
        match config {
            ObjectsConfig::Fs { root } => {
                std::fs::create_dir_all(root)
                    .map_err(|e| OpenError::Folder(root.display().to_string(), e))?;
                let root = root.to_string_lossy();
                let operator = Operator::new(services::Fs::default().root(&root))
                    .map_err(OpenError::Settings)?
                    .finish();
                let downloads = Downloads::Signed {
                    public_url: public_url.clone(),
                    signer: signer.clone(),
                };
                Ok(Self {
                    checked: operator.clone(),
                    operator,
                    backend: "fs",
                    downloads,
                })
            }
            ObjectsConfig::S3(s3) => {
                let timeouts = TimeoutLayer::new()
                    .with_timeout(S3_CALL_TIMEOUT)
                    .with_io_timeout(S3_IO_TIMEOUT);
                let checked = Operator::new(s3_builder(s3))
                    .map_err(OpenError::Settings)?
                    .layer(timeouts)
                    .finish();
                // Retries wrap the timeouts, so a call that timed out is tried again.
                let operator = checked
                    .clone()
                    .layer(RetryLayer::new().with_max_times(S3_RETRIES).with_jitter());
                Ok(Self {
                    checked,
                    operator,
                    backend: "s3",
                    downloads: Downloads::Presigned,
                })
            }
        }
    }

    /// Where the bucket or folder is, for error messages.
    pub fn describe(config: &ObjectsConfig) -> String {
        match config {
            ObjectsConfig::Fs { root } => format!("folder {}", root.display()),
            ObjectsConfig::S3(s3) => {
                format!(
                    "bucket {} at {}",
                    s3.bucket,
                    s3.endpoint.as_deref().unwrap_or("AWS S3")
                )
            }
        }
    }
}

fn s3_builder(s3: &S3Config) -> services::S3 {
    let mut builder = services::S3::default()
        .bucket(&s3.bucket)
        .region(&s3.region)
        .root("/");
    if let Some(endpoint) = &s3.endpoint {
        builder = builder.endpoint(endpoint);
    }
    if let (Some(id), Some(secret)) = (&s3.access_key_id, &s3.secret_access_key) {
        // Explicit keys: never look further (no ~/.aws files, no instance metadata service).
        builder = builder
            .access_key_id(id)
            .secret_access_key(secret.expose_secret())
            .disable_config_load()
            .disable_ec2_metadata();
    }
    if !s3.path_style {
        builder = builder.enable_virtual_host_style();
    }
    builder
}

fn map_error(key: &str, error: opendal::Error) -> ObjectsError {
    match error.kind() {
        ErrorKind::NotFound => ObjectsError::NotFound(key.to_owned()),
        _ => ObjectsError::Unavailable(Box::new(error)),
    }
}

#[async_trait]
impl Objects for OpendalObjects {
    fn backend(&self) -> &'static str {
        self.backend
    }

    async fn check(&self) -> Result<()> {
        self.checked
            .check()
            .await
            .map_err(|e| ObjectsError::Unavailable(Box::new(e)))
    }

    async fn put(&self, key: &ObjectKey, content: Bytes) -> Result<()> {
        self.operator
            .write(key.as_str(), content)
            .await
            .map(|_| ())
            .map_err(|e| map_error(key.as_str(), e))
    }

    async fn get(&self, key: &ObjectKey) -> Result<Bytes> {
        let buffer = self
            .operator
            .read(key.as_str())
            .await
            .map_err(|e| map_error(key.as_str(), e))?;
        Ok(buffer.to_bytes())
    }

    async fn stream(&self, key: &ObjectKey) -> Result<BoxStream<'static, Result<Bytes>>> {
        let name = key.as_str().to_owned();
        // `stat` first so a missing object is an error now, not in the middle of a response.
        self.operator
            .stat(&name)
            .await
            .map_err(|e| map_error(&name, e))?;
        let reader = self
            .operator
            .reader(&name)
            .await
            .map_err(|e| map_error(&name, e))?;
        let stream = reader
            .into_bytes_stream(..)
            .await
            .map_err(|e| map_error(&name, e))?;
        Ok(stream
            .map_err(move |e| ObjectsError::Unavailable(Box::new(e)))
            .boxed())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let entries = self
            .operator
            .list_with(prefix)
            .recursive(true)
            .await
            .map_err(|e| map_error(prefix, e))?;
        let mut objects = Vec::new();
        for entry in entries {
            if entry.metadata().is_file() && entry.path().starts_with(prefix) {
                let size = match entry.metadata().content_length() {
                    0 => self
                        .operator
                        .stat(entry.path())
                        .await
                        .map(|m| m.content_length())
                        .unwrap_or(0),
                    n => n,
                };
                objects.push(ObjectMeta {
                    key: entry.path().to_owned(),
                    size,
                });
            }
        }
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        self.operator
            .delete(key.as_str())
            .await
            .map_err(|e| map_error(key.as_str(), e))
    }

    async fn download_url(&self, key: &ObjectKey, ttl: Duration) -> Result<String> {
        match &self.downloads {
            Downloads::Presigned => {
                let request = self
                    .operator
                    .presign_read(key.as_str(), ttl)
                    .await
                    .map_err(|e| map_error(key.as_str(), e))?;
                Ok(request.uri().to_string())
            }
            Downloads::Signed { public_url, signer } => {
                let path = format!("{DOWNLOAD_ROUTE_PREFIX}{}", key.as_str());
                let (expires, signature) = signer.sign(&path, ttl);
                let mut url = public_url.clone();
                url.set_path(&path);
                url.query_pairs_mut()
                    .append_pair("expires", &expires.to_string())
                    .append_pair("signature", &signature);
                Ok(url.to_string())
            }
        }
    }
}

/// The content type an object is served with, from its name. Anything but plain text and JSON,
/// HTML included, is served as opaque bytes so it never runs on Slipway's origin.
pub fn content_type(key: &str) -> &'static str {
    match key.rsplit('.').next() {
        Some("log" | "txt") => "text/plain; charset=utf-8",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}
