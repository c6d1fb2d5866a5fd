//! Artifacts: files a step left behind, kept in object storage at
//! `artifacts/{pipeline_id}/{name}/{path}` with their size, type, checksum and expiry.

use serde::{Deserialize, Serialize};

use super::run::PipelineId;

/// One stored artifact file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArtifactFile {
    pub id: i64,
    pub pipeline_id: PipelineId,
    /// The artifact's name in `.platform.yaml`.
    pub artifact: String,
    /// The file's path within the artifact (relative to the artifact's `path`).
    pub path: String,
    pub object_key: String,
    pub size: i64,
    pub content_type: String,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    pub expires_at_ms: i64,
    pub created_at_ms: i64,
}

/// An artifact file to record (its content is already stored under `object_key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewArtifactFile {
    pub pipeline_id: PipelineId,
    pub artifact: String,
    pub path: String,
    pub object_key: String,
    pub size: i64,
    pub content_type: String,
    pub sha256: String,
    pub expires_at_ms: i64,
    pub created_at_ms: i64,
}

/// Where an artifact file is stored.
pub fn artifact_key(pipeline: PipelineId, artifact: &str, path: &str) -> String {
    format!("artifacts/{pipeline}/{artifact}/{path}")
}

/// A stored artifact file with a short-lived link to download it (absent when object storage
/// could not sign one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArtifactLink {
    #[serde(flatten)]
    pub file: ArtifactFile,
    pub download_url: Option<String>,
}
