//! Artifact storage: each file a step leaves behind is stored at
//! `artifacts/{pipeline}/{artifact}/{path}` with its size, content type, SHA-256 and expiry;
//! pods upload through `PUT /api/artifacts/…` with a short-lived signed URL scoped to one
//! pipeline and artifact; expired files are swept.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use domain::pipeline::artifact::{NewArtifactFile, artifact_key};
use domain::pipeline::{ArtifactDefinition, ArtifactSink, PipelineId, RunnerError};
use domain::{ObjectKey, Objects, Store};

use crate::signing::UrlSigner;
use domain::time::now_ms;

/// Expired files removed per sweep.
const SWEEP_BATCH: u32 = 200;

/// Stores one run's artifact files.
#[derive(Clone)]
pub struct ArtifactStorage {
    pub store: Arc<dyn Store>,
    pub objects: Arc<dyn Objects>,
    pub pipeline: PipelineId,
}

#[async_trait]
impl ArtifactSink for ArtifactStorage {
    async fn store(
        &self,
        artifact: &ArtifactDefinition,
        path: &str,
        content: Bytes,
    ) -> Result<(), RunnerError> {
        let key = ObjectKey::new(&artifact_key(self.pipeline, &artifact.name, path))
            .map_err(|e| RunnerError::new(format!("artifact `{}`: {e}", artifact.name)))?;
        let now = now_ms();
        let file = NewArtifactFile {
            pipeline_id: self.pipeline,
            artifact: artifact.name.clone(),
            path: path.to_owned(),
            object_key: key.as_str().to_owned(),
            size: i64::try_from(content.len()).unwrap_or(i64::MAX),
            content_type: crate::objects::content_type(path).to_owned(),
            sha256: hex::encode(Sha256::digest(&content)),
            expires_at_ms: now.saturating_add(
                i64::try_from(artifact.expires_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
            ),
            created_at_ms: now,
        };
        self.objects.put(&key, content).await.map_err(|e| {
            RunnerError::with_source(format!("cannot store artifact `{}`", artifact.name), e)
        })?;
        self.store.add_artifact_file(&file).await.map_err(|e| {
            RunnerError::with_source(format!("cannot record artifact `{}`", artifact.name), e)
        })?;
        Ok(())
    }
}

/// The path an upload URL signs: one pipeline's one artifact.
pub fn upload_scope(pipeline: PipelineId, artifact: &str) -> String {
    format!("artifact-upload/{pipeline}/{artifact}")
}

/// A URL a pod can `PUT` the files of `artifact` to (append the file's path), valid for `ttl`.
pub fn upload_url(
    signer: &UrlSigner,
    public_url: &str,
    pipeline: PipelineId,
    artifact: &str,
    ttl: Duration,
) -> (String, String) {
    let (expires, signature) = signer.sign(&upload_scope(pipeline, artifact), ttl);
    (
        format!(
            "{}/api/artifacts/{pipeline}/{artifact}/",
            public_url.trim_end_matches('/')
        ),
        format!("expires={expires}&signature={signature}"),
    )
}

/// Checks an upload's signature for this pipeline and artifact.
pub fn verify_upload(
    signer: &UrlSigner,
    pipeline: PipelineId,
    artifact: &str,
    expires: u64,
    signature: &str,
) -> Result<(), crate::signing::SignatureError> {
    signer.verify(&upload_scope(pipeline, artifact), expires, signature)
}

/// Deletes expired artifact files (objects, then records); returns how many.
pub async fn sweep_expired(store: &dyn Store, objects: &dyn Objects, now: i64) -> usize {
    let expired = match store.expired_artifact_files(now, SWEEP_BATCH).await {
        Ok(expired) => expired,
        Err(error) => {
            tracing::warn!(error = %error, "cannot look for expired artifacts");
            return 0;
        }
    };
    let mut removed = 0;
    for file in expired {
        let deleted = match ObjectKey::new(&file.object_key) {
            Ok(key) => objects.delete(&key).await.is_ok(),
            Err(_) => true,
        };
        if deleted && store.delete_artifact_file(file.id).await.is_ok() {
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!(removed, "expired artifact files removed");
    }
    removed
}
