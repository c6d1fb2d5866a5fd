//! The Objects port: blobs such as logs and artifacts, addressed by slash-separated keys.
//! Implemented over opendal (`fs` and `s3`) in `server::objects`.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

pub type Result<T, E = ObjectsError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ObjectsError {
    #[error("object `{0}` not found")]
    NotFound(String),
    #[error(
        "object key `{0}` is not valid: use non-empty segments separated by `/`, without `.` or `..`"
    )]
    InvalidKey(String),
    #[error("object storage is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A validated object key such as `logs/pipelines/42/build.log`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ObjectKey(String);

impl ObjectKey {
    pub fn new(key: &str) -> Result<Self> {
        let valid = !key.is_empty()
            && key.len() <= 1024
            && key.split('/').all(|segment| {
                !segment.is_empty()
                    && segment != "."
                    && segment != ".."
                    && !segment.chars().any(|c| c.is_control() || c == '\\')
            });
        if valid {
            Ok(Self(key.to_owned()))
        } else {
            Err(ObjectsError::InvalidKey(key.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a listing reports of one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
}

#[async_trait]
pub trait Objects: Send + Sync + 'static {
    /// Short name of the backend, as `/readyz` reports it (`fs`, `s3`).
    fn backend(&self) -> &'static str;

    /// Proves the storage answers (lists the root).
    async fn check(&self) -> Result<()>;

    /// Writes the whole object, replacing any previous content.
    async fn put(&self, key: &ObjectKey, content: Bytes) -> Result<()>;

    async fn get(&self, key: &ObjectKey) -> Result<Bytes>;

    /// The object's content in chunks, for large logs and artifacts.
    async fn stream(&self, key: &ObjectKey) -> Result<BoxStream<'static, Result<Bytes>>>;

    /// Every object whose key starts with `prefix` (a folder such as `logs/42/`), by key.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>>;

    /// Deletes the object; deleting a missing object is not an error.
    async fn delete(&self, key: &ObjectKey) -> Result<()>;

    /// A URL a browser can download the object from for `ttl`: presigned where the backend
    /// supports it, otherwise Slipway's own signed endpoint.
    async fn download_url(&self, key: &ObjectKey, ttl: Duration) -> Result<String>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_refuse_traversal_and_empty_segments() {
        assert!(ObjectKey::new("logs/pipelines/1/build.log").is_ok());
        for bad in ["", "/abs", "a//b", "a/../b", "./a", "a/", "a\\b", "a\nb"] {
            assert!(ObjectKey::new(bad).is_err(), "{bad:?}");
        }
    }
}
