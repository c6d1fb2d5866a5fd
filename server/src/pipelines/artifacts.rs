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

/// A pod's upload of one artifact file, through a link signed for its run and artifact.
#[derive(Debug)]
pub struct Upload {
    pub pipeline: PipelineId,
    pub artifact: String,
    /// The file's path within the artifact.
    pub path: String,
    pub expires: Option<u64>,
    pub signature: Option<String>,
    pub content: Bytes,
}

/// Why an upload was not stored.
#[derive(Debug, thiserror::Error)]
pub enum UploadRefused {
    #[error("an upload needs `expires` and `signature`")]
    Unsigned,
    #[error("upload refused: {0}")]
    Signature(crate::signing::SignatureError),
    #[error("pipeline {0} has no plan yet")]
    NotPlanned(PipelineId),
    #[error("pipeline {pipeline} defines no artifact `{artifact}`")]
    UnknownArtifact {
        pipeline: PipelineId,
        artifact: String,
    },
    #[error(transparent)]
    Store(#[from] domain::StoreError),
    /// The file could not be kept (its path, or object storage); the message says which.
    #[error("{}", .0.message)]
    Storing(RunnerError),
}

impl UploadRefused {
    /// The kind of refusal, for the answer's status.
    pub fn kind(&self) -> domain::ErrorKind {
        use domain::ErrorKind;
        match self {
            Self::Unsigned | Self::Signature(_) => ErrorKind::Forbidden,
            Self::NotPlanned(_) => ErrorKind::Conflict,
            Self::UnknownArtifact { .. } => ErrorKind::NotFound,
            Self::Store(_) => ErrorKind::Unavailable,
            Self::Storing(_) => ErrorKind::InvalidInput,
        }
    }
}

/// Stores an upload once its link is verified and the run defines the artifact.
pub async fn accept_upload(
    store: Arc<dyn Store>,
    objects: Arc<dyn Objects>,
    signer: &UrlSigner,
    upload: Upload,
) -> Result<(), UploadRefused> {
    let (Some(expires), Some(signature)) = (upload.expires, upload.signature.as_deref()) else {
        return Err(UploadRefused::Unsigned);
    };
    let id = upload.pipeline;
    verify_upload(signer, id, &upload.artifact, expires, signature)
        .map_err(UploadRefused::Signature)?;
    let definition = store
        .pipeline_definition(id)
        .await?
        .ok_or(UploadRefused::NotPlanned(id))?;
    let Some(wanted) = definition
        .artifacts
        .iter()
        .find(|a| a.name == upload.artifact)
    else {
        return Err(UploadRefused::UnknownArtifact {
            pipeline: id,
            artifact: upload.artifact,
        });
    };
    let storage = ArtifactStorage {
        store,
        objects,
        pipeline: id,
    };
    storage
        .store(wanted, &upload.path, upload.content)
        .await
        .map_err(UploadRefused::Storing)
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
