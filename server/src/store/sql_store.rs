//! What the SQLite and PostgreSQL stores share: the SQL text (sqlx accepts `$1` placeholders
//! on both), row types, error mapping, and the `Store` implementation generated for each pool.

use domain::{Repository, RepositoryId, StoreError};

pub(super) const CHECK: &str = "SELECT 1";
/// Waiting work per queue, in the order of `domain::health::QUEUES`: deliveries not processed
/// yet, pipeline runs not claimed, preview attempts not started, notifications not delivered,
/// transform executions waiting for a worker.
pub(super) const QUEUE_DEPTHS: &str = "\
     SELECT 'deliveries' AS queue, COUNT(*) AS depth, MIN(received_at_ms) AS oldest_at_ms \
       FROM deliveries WHERE status IN ('queued', 'processing') \
     UNION ALL SELECT 'pipelines', COUNT(*), MIN(created_at_ms) FROM pipelines WHERE status = 'pending' \
     UNION ALL SELECT 'previews', COUNT(*), MIN(created_at_ms) FROM preview_attempts WHERE status = 'pending' \
     UNION ALL SELECT 'notifications', COUNT(*), MIN(created_at_ms) FROM notification_deliveries WHERE status = 'pending' \
     UNION ALL SELECT 'transforms', COUNT(*), MIN(next_attempt_at_ms) FROM transform_executions WHERE status = 'pending'";
pub(super) const INSERT_REPOSITORY: &str = "INSERT INTO repositories (name, clone_url, default_branch, cluster, created_at_ms) \
     VALUES ($1, $2, $3, $4, $5) RETURNING id, name, clone_url, default_branch, cluster, preview_rules, reporting, created_at_ms";
pub(super) const LIST_REPOSITORIES: &str = "SELECT id, name, clone_url, default_branch, cluster, preview_rules, reporting, created_at_ms \
     FROM repositories ORDER BY name";
pub(super) const GET_REPOSITORY: &str = "SELECT id, name, clone_url, default_branch, cluster, preview_rules, reporting, created_at_ms \
     FROM repositories WHERE id = $1";
pub(super) const GET_REPOSITORY_NAMED: &str = "SELECT id, name, clone_url, default_branch, cluster, preview_rules, reporting, created_at_ms \
     FROM repositories WHERE name = $1";
pub(super) const SET_PREVIEW_RULES: &str = "UPDATE repositories SET preview_rules = $2 WHERE id = $1 \
     RETURNING id, name, clone_url, default_branch, cluster, preview_rules, reporting, created_at_ms";
pub(super) const SET_REPORTING: &str = "UPDATE repositories SET reporting = $2 WHERE id = $1 \
     RETURNING id, name, clone_url, default_branch, cluster, preview_rules, reporting, created_at_ms";
pub(super) const DELETE_REPOSITORY: &str = "DELETE FROM repositories WHERE id = $1";

#[derive(Debug, sqlx::FromRow)]
pub(super) struct RepositoryRow {
    id: i64,
    name: String,
    clone_url: String,
    default_branch: String,
    cluster: Option<String>,
    preview_rules: Option<String>,
    reporting: Option<String>,
    created_at_ms: i64,
}

impl From<RepositoryRow> for Repository {
    fn from(row: RepositoryRow) -> Self {
        Self {
            id: RepositoryId(row.id),
            name: row.name,
            clone_url: row.clone_url,
            default_branch: row.default_branch,
            cluster: row.cluster,
            // Written by `set_preview_rules` from the same type; NULL means the defaults.
            preview_rules: row
                .preview_rules
                .and_then(|json| serde_json::from_str(&json).ok())
                .unwrap_or_default(),
            // Written by `set_reporting`; NULL means everything on.
            reporting: row
                .reporting
                .and_then(|json| serde_json::from_str(&json).ok())
                .unwrap_or_default(),
            created_at_ms: row.created_at_ms,
        }
    }
}

/// Maps a sqlx error to what the caller can act on; `entity`/`key` name the row involved.
pub(super) fn map_error(
    error: sqlx::Error,
    entity: &'static str,
    key: impl ToString,
) -> StoreError {
    match error {
        sqlx::Error::RowNotFound => StoreError::NotFound {
            entity,
            key: key.to_string(),
        },
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict {
            entity,
            key: key.to_string(),
        },
        e @ (sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)) => StoreError::Unavailable(Box::new(e)),
        other => StoreError::Internal(Box::new(other)),
    }
}

/// Implements `domain::Store` for a struct with `pool` (writes) and `readers` (reads)
/// fields of any sqlx pool type.
macro_rules! impl_store {
    ($store:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl domain::Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn check(&self) -> domain::store::Result<()> {
                sqlx::query($crate::store::sql_store::CHECK)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "database", $backend))?;
                Ok(())
            }

            async fn queue_depths(&self) -> domain::store::Result<Vec<domain::health::QueueDepth>> {
                let rows: Vec<(String, i64, Option<i64>)> =
                    sqlx::query_as($crate::store::sql_store::QUEUE_DEPTHS)
                        .fetch_all(&self.readers)
                        .await
                        .map_err(|e| $crate::store::sql_store::map_error(e, "queue", "*"))?;
                Ok(rows
                    .into_iter()
                    .filter_map(|(queue, depth, oldest_at_ms)| {
                        let queue = domain::health::QUEUES.into_iter().find(|q| *q == queue)?;
                        Some(domain::health::QueueDepth {
                            queue,
                            depth,
                            oldest_at_ms,
                        })
                    })
                    .collect())
            }

            async fn add_repository(
                &self,
                new: &domain::NewRepository,
            ) -> domain::store::Result<domain::Repository> {
                let row: $crate::store::sql_store::RepositoryRow =
                    sqlx::query_as($crate::store::sql_store::INSERT_REPOSITORY)
                        .bind(new.name())
                        .bind(new.clone_url())
                        .bind(new.default_branch())
                        .bind(new.cluster())
                        .bind(domain::time::now_ms())
                        .fetch_one(&self.pool)
                        .await
                        .map_err(|e| {
                            $crate::store::sql_store::map_error(e, "repository", new.name())
                        })?;
                Ok(row.into())
            }

            async fn list_repositories(&self) -> domain::store::Result<Vec<domain::Repository>> {
                let rows: Vec<$crate::store::sql_store::RepositoryRow> =
                    sqlx::query_as($crate::store::sql_store::LIST_REPOSITORIES)
                        .fetch_all(&self.readers)
                        .await
                        .map_err(|e| $crate::store::sql_store::map_error(e, "repository", "*"))?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn get_repository(
                &self,
                id: domain::RepositoryId,
            ) -> domain::store::Result<domain::Repository> {
                let row: $crate::store::sql_store::RepositoryRow =
                    sqlx::query_as($crate::store::sql_store::GET_REPOSITORY)
                        .bind(id.0)
                        .fetch_one(&self.readers)
                        .await
                        .map_err(|e| $crate::store::sql_store::map_error(e, "repository", id))?;
                Ok(row.into())
            }

            async fn get_repository_named(
                &self,
                name: &str,
            ) -> domain::store::Result<Option<domain::Repository>> {
                let row: Option<$crate::store::sql_store::RepositoryRow> =
                    sqlx::query_as($crate::store::sql_store::GET_REPOSITORY_NAMED)
                        .bind(name)
                        .fetch_optional(&self.readers)
                        .await
                        .map_err(|e| $crate::store::sql_store::map_error(e, "repository", name))?;
                Ok(row.map(Into::into))
            }

            async fn set_preview_rules(
                &self,
                id: domain::RepositoryId,
                rules: &domain::repository::PreviewRulesConfig,
            ) -> domain::store::Result<domain::Repository> {
                let json = serde_json::to_string(rules)
                    .map_err(|e| domain::StoreError::Internal(Box::new(e)))?;
                let row: $crate::store::sql_store::RepositoryRow =
                    sqlx::query_as($crate::store::sql_store::SET_PREVIEW_RULES)
                        .bind(id.0)
                        .bind(json)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(|e| $crate::store::sql_store::map_error(e, "repository", id))?;
                Ok(row.into())
            }

            async fn set_reporting(
                &self,
                id: domain::RepositoryId,
                reporting: &domain::repository::ReportingConfig,
            ) -> domain::store::Result<domain::Repository> {
                let json = serde_json::to_string(reporting)
                    .map_err(|e| domain::StoreError::Internal(Box::new(e)))?;
                let row: $crate::store::sql_store::RepositoryRow =
                    sqlx::query_as($crate::store::sql_store::SET_REPORTING)
                        .bind(id.0)
                        .bind(json)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(|e| $crate::store::sql_store::map_error(e, "repository", id))?;
                Ok(row.into())
            }

            async fn remove_repository(
                &self,
                id: domain::RepositoryId,
            ) -> domain::store::Result<()> {
                let done = sqlx::query($crate::store::sql_store::DELETE_REPOSITORY)
                    .bind(id.0)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "repository", id))?;
                if done.rows_affected() == 0 {
                    return Err(domain::StoreError::NotFound {
                        entity: "repository",
                        key: id.to_string(),
                    });
                }
                Ok(())
            }
        }
    };
}

pub(super) use impl_store;
