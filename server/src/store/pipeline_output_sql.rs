//! The published_images and artifact_files tables for both SQL backends: the queries, the row
//! types, and `impl_pipeline_output_store!` implementing `PipelineOutputStore`.

use domain::RepositoryId;
use domain::pipeline::PipelineId;

pub(super) const RECORD_IMAGE: &str = "INSERT INTO published_images \
     (repository_id, commit_sha, image_ref, pipeline_id, published_at_ms) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (repository_id, commit_sha) DO UPDATE SET image_ref = excluded.image_ref, \
     pipeline_id = excluded.pipeline_id, published_at_ms = excluded.published_at_ms";
pub(super) const PUBLISHED_IMAGE: &str = "SELECT repository_id, commit_sha, image_ref, pipeline_id, \
     published_at_ms FROM published_images WHERE repository_id = $1 AND commit_sha = $2";
const ARTIFACT_COLUMNS: &str = "id, pipeline_id, artifact, path, object_key, size, content_type, \
     sha256, expires_at_ms, created_at_ms";
pub(super) fn add_artifact_query() -> String {
    format!(
        "INSERT INTO artifact_files (pipeline_id, artifact, path, object_key, size, content_type, \
         sha256, expires_at_ms, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (pipeline_id, artifact, path) DO UPDATE SET object_key = excluded.object_key, \
         size = excluded.size, content_type = excluded.content_type, sha256 = excluded.sha256, \
         expires_at_ms = excluded.expires_at_ms, created_at_ms = excluded.created_at_ms \
         RETURNING {ARTIFACT_COLUMNS}"
    )
}
pub(super) fn list_artifacts_query() -> String {
    format!(
        "SELECT {ARTIFACT_COLUMNS} FROM artifact_files WHERE pipeline_id = $1 ORDER BY artifact, path"
    )
}
pub(super) fn expired_artifacts_query() -> String {
    format!(
        "SELECT {ARTIFACT_COLUMNS} FROM artifact_files WHERE expires_at_ms <= $1 \
         ORDER BY expires_at_ms LIMIT $2"
    )
}
pub(super) const DELETE_ARTIFACT: &str = "DELETE FROM artifact_files WHERE id = $1";

#[derive(Debug, sqlx::FromRow)]
pub(super) struct ArtifactRow {
    id: i64,
    pipeline_id: i64,
    artifact: String,
    path: String,
    object_key: String,
    size: i64,
    content_type: String,
    sha256: String,
    expires_at_ms: i64,
    created_at_ms: i64,
}

impl From<ArtifactRow> for domain::pipeline::artifact::ArtifactFile {
    fn from(row: ArtifactRow) -> Self {
        Self {
            id: row.id,
            pipeline_id: PipelineId(row.pipeline_id),
            artifact: row.artifact,
            path: row.path,
            object_key: row.object_key,
            size: row.size,
            content_type: row.content_type,
            sha256: row.sha256,
            expires_at_ms: row.expires_at_ms,
            created_at_ms: row.created_at_ms,
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct ImageRow {
    repository_id: i64,
    commit_sha: String,
    image_ref: String,
    pipeline_id: i64,
    published_at_ms: i64,
}

impl From<ImageRow> for domain::pipeline::PublishedImage {
    fn from(row: ImageRow) -> Self {
        Self {
            repository_id: RepositoryId(row.repository_id),
            commit_sha: row.commit_sha,
            image_ref: row.image_ref,
            pipeline_id: PipelineId(row.pipeline_id),
            published_at_ms: row.published_at_ms,
        }
    }
}

/// Implements `domain::pipeline::PipelineOutputStore` for a struct with `pool` (writes) and `readers`
/// (reads) fields.
macro_rules! impl_pipeline_output_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl domain::pipeline::PipelineOutputStore for $store {
            async fn record_published_image(
                &self,
                image: &domain::pipeline::PublishedImage,
            ) -> domain::store::Result<()> {
                sqlx::query($crate::store::pipeline_output_sql::RECORD_IMAGE)
                    .bind(image.repository_id.0)
                    .bind(&image.commit_sha)
                    .bind(&image.image_ref)
                    .bind(image.pipeline_id.0)
                    .bind(image.published_at_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| {
                        $crate::store::sql_store::map_error(e, "image", &image.image_ref)
                    })?;
                Ok(())
            }

            async fn published_image(
                &self,
                repository_id: domain::RepositoryId,
                commit_sha: &str,
            ) -> domain::store::Result<Option<domain::pipeline::PublishedImage>> {
                let row: Option<$crate::store::pipeline_output_sql::ImageRow> =
                    sqlx::query_as($crate::store::pipeline_output_sql::PUBLISHED_IMAGE)
                        .bind(repository_id.0)
                        .bind(commit_sha)
                        .fetch_optional(&self.readers)
                        .await
                        .map_err(|e| $crate::store::sql_store::map_error(e, "image", commit_sha))?;
                Ok(row.map(Into::into))
            }

            async fn add_artifact_file(
                &self,
                file: &domain::pipeline::artifact::NewArtifactFile,
            ) -> domain::store::Result<domain::pipeline::artifact::ArtifactFile> {
                let row: $crate::store::pipeline_output_sql::ArtifactRow =
                    sqlx::query_as(&$crate::store::pipeline_output_sql::add_artifact_query())
                        .bind(file.pipeline_id.0)
                        .bind(&file.artifact)
                        .bind(&file.path)
                        .bind(&file.object_key)
                        .bind(file.size)
                        .bind(&file.content_type)
                        .bind(&file.sha256)
                        .bind(file.expires_at_ms)
                        .bind(file.created_at_ms)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(|e| {
                            $crate::store::sql_store::map_error(e, "pipeline", file.pipeline_id)
                        })?;
                Ok(row.into())
            }

            async fn list_artifact_files(
                &self,
                pipeline: domain::pipeline::PipelineId,
            ) -> domain::store::Result<Vec<domain::pipeline::artifact::ArtifactFile>> {
                let rows: Vec<$crate::store::pipeline_output_sql::ArtifactRow> =
                    sqlx::query_as(&$crate::store::pipeline_output_sql::list_artifacts_query())
                        .bind(pipeline.0)
                        .fetch_all(&self.readers)
                        .await
                        .map_err(|e| {
                            $crate::store::sql_store::map_error(e, "pipeline", pipeline)
                        })?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn expired_artifact_files(
                &self,
                now_ms: i64,
                limit: u32,
            ) -> domain::store::Result<Vec<domain::pipeline::artifact::ArtifactFile>> {
                let rows: Vec<$crate::store::pipeline_output_sql::ArtifactRow> =
                    sqlx::query_as(&$crate::store::pipeline_output_sql::expired_artifacts_query())
                        .bind(now_ms)
                        .bind(i64::from(limit))
                        .fetch_all(&self.readers)
                        .await
                        .map_err(|e| $crate::store::sql_store::map_error(e, "artifact", "*"))?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn delete_artifact_file(&self, id: i64) -> domain::store::Result<()> {
                sqlx::query($crate::store::pipeline_output_sql::DELETE_ARTIFACT)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "artifact", id))?;
                Ok(())
            }
        }
    };
}

pub(super) use impl_pipeline_output_store;
