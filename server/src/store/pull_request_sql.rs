//! Pull requests and preview intents for both SQL backends: the queries (valid for SQLite and
//! PostgreSQL), the row type, and `impl_pull_request_store!` implementing `PullRequestStore`.

use domain::pull_request::{PullRequest, PullRequestSnapshot};

pub(super) const ADD_REPOSITORY: &str = "INSERT INTO repositories \
     (name, clone_url, default_branch, created_at_ms) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (name) DO NOTHING";
pub(super) const OPEN_NUMBERS: &str =
    "SELECT number FROM pull_requests WHERE repository = $1 AND open = TRUE ORDER BY number";
pub(super) const CLOSE: &str = "UPDATE pull_requests SET open = FALSE \
     WHERE repository = $1 AND number = $2 RETURNING id, head_sha";
pub(super) const REMOVE_REPOSITORY: &str = "DELETE FROM repositories WHERE name = $1";

// The update happens only when the incoming description is not older than the stored one;
// otherwise no row comes back and the event is stale.
pub(super) const UPSERT: &str = "INSERT INTO pull_requests \
     (repository, number, title, author, head_ref, head_sha, base_ref, draft, labels, open, merged, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
     ON CONFLICT (repository, number) DO UPDATE SET \
     title = excluded.title, author = excluded.author, head_ref = excluded.head_ref, \
     head_sha = excluded.head_sha, base_ref = excluded.base_ref, draft = excluded.draft, \
     labels = excluded.labels, open = excluded.open, merged = excluded.merged, \
     updated_at = excluded.updated_at \
     WHERE pull_requests.updated_at <= excluded.updated_at \
     RETURNING id";

pub(super) const INTENT: &str = "INSERT INTO preview_intents \
     (pull_request_id, head_sha, wanted, reason, decided_at_ms) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (pull_request_id, head_sha) DO UPDATE SET \
     wanted = excluded.wanted, reason = excluded.reason, decided_at_ms = excluded.decided_at_ms";

pub(super) const GET: &str = "SELECT pr.id, pr.repository, COALESCE(r.clone_url, '') AS clone_url, \
     COALESCE(r.default_branch, '') AS default_branch, pr.number, pr.title, pr.author, \
     pr.head_ref, pr.head_sha, pr.base_ref, pr.draft, pr.labels, pr.open, pr.merged, pr.updated_at, \
     COALESCE(i.wanted, FALSE) AS wanted, i.reason \
     FROM pull_requests pr \
     LEFT JOIN repositories r ON r.name = pr.repository \
     LEFT JOIN preview_intents i ON i.pull_request_id = pr.id AND i.head_sha = pr.head_sha \
     WHERE pr.repository = $1 AND pr.number = $2";

#[derive(Debug, sqlx::FromRow)]
pub(super) struct PullRequestRow {
    id: i64,
    repository: String,
    clone_url: String,
    default_branch: String,
    number: i64,
    title: String,
    author: String,
    head_ref: String,
    head_sha: String,
    base_ref: String,
    draft: bool,
    labels: String,
    open: bool,
    merged: bool,
    updated_at: String,
    wanted: bool,
    reason: Option<String>,
}

impl From<PullRequestRow> for PullRequest {
    fn from(row: PullRequestRow) -> Self {
        Self {
            id: row.id,
            snapshot: PullRequestSnapshot {
                repository: row.repository,
                clone_url: row.clone_url,
                default_branch: row.default_branch,
                number: row.number,
                title: row.title,
                author: row.author,
                head_ref: row.head_ref,
                head_sha: row.head_sha,
                base_ref: row.base_ref,
                draft: row.draft,
                // Written by this module as a JSON array of strings.
                labels: serde_json::from_str(&row.labels).unwrap_or_default(),
                open: row.open,
                merged: row.merged,
                updated_at: row.updated_at,
            },
            preview_wanted: row.wanted,
            preview_reason: row.reason,
        }
    }
}

pub(super) fn labels_json(snapshot: &PullRequestSnapshot) -> String {
    serde_json::to_string(&snapshot.labels).unwrap_or_else(|_| "[]".into())
}

/// Implements `PullRequestStore` for a struct with `pool` (writes) and `readers` (reads)
/// fields of any sqlx pool type.
macro_rules! impl_pull_request_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl domain::pull_request::PullRequestStore for $store {
            async fn record_pull_request(
                &self,
                snapshot: &domain::pull_request::PullRequestSnapshot,
                verdict: &domain::pull_request::PreviewVerdict,
                at_ms: i64,
            ) -> domain::store::Result<domain::pull_request::Recorded> {
                use $crate::store::pull_request_sql as sql;
                use $crate::store::sql_store::map_error;
                let key = format!("{}#{}", snapshot.repository, snapshot.number);
                let fail = |e| map_error(e, "pull request", &key);
                let mut tx = self.pool.begin().await.map_err(fail)?;
                sqlx::query(sql::ADD_REPOSITORY)
                    .bind(&snapshot.repository)
                    .bind(&snapshot.clone_url)
                    .bind(&snapshot.default_branch)
                    .bind(at_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
                let id: Option<(i64,)> = sqlx::query_as(sql::UPSERT)
                    .bind(&snapshot.repository)
                    .bind(snapshot.number)
                    .bind(&snapshot.title)
                    .bind(&snapshot.author)
                    .bind(&snapshot.head_ref)
                    .bind(&snapshot.head_sha)
                    .bind(&snapshot.base_ref)
                    .bind(snapshot.draft)
                    .bind(sql::labels_json(snapshot))
                    .bind(snapshot.open)
                    .bind(snapshot.merged)
                    .bind(&snapshot.updated_at)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(fail)?;
                let Some((id,)) = id else {
                    tx.commit().await.map_err(fail)?;
                    return Ok(domain::pull_request::Recorded::Stale);
                };
                let (wanted, reason) = match verdict {
                    domain::pull_request::PreviewVerdict::Wanted => (true, None),
                    domain::pull_request::PreviewVerdict::NotWanted(why) => (false, Some(why)),
                };
                sqlx::query(sql::INTENT)
                    .bind(id)
                    .bind(&snapshot.head_sha)
                    .bind(wanted)
                    .bind(reason)
                    .bind(at_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
                $crate::store::preview_sql::desire_preview!(
                    tx,
                    id,
                    &snapshot.repository,
                    snapshot.number,
                    &snapshot.head_sha,
                    reason,
                    at_ms
                )
                .map_err(fail)?;
                tx.commit().await.map_err(fail)?;
                Ok(domain::pull_request::Recorded::Applied)
            }

            async fn get_pull_request(
                &self,
                repository: &str,
                number: i64,
            ) -> domain::store::Result<domain::pull_request::PullRequest> {
                let row: $crate::store::pull_request_sql::PullRequestRow =
                    sqlx::query_as($crate::store::pull_request_sql::GET)
                        .bind(repository)
                        .bind(number)
                        .fetch_one(&self.readers)
                        .await
                        .map_err(|e| {
                            $crate::store::sql_store::map_error(
                                e,
                                "pull request",
                                format!("{repository}#{number}"),
                            )
                        })?;
                Ok(row.into())
            }

            async fn open_pull_request_numbers(
                &self,
                repository: &str,
            ) -> domain::store::Result<Vec<i64>> {
                let rows: Vec<(i64,)> =
                    sqlx::query_as($crate::store::pull_request_sql::OPEN_NUMBERS)
                        .bind(repository)
                        .fetch_all(&self.readers)
                        .await
                        .map_err(|e| {
                            $crate::store::sql_store::map_error(e, "pull request", repository)
                        })?;
                Ok(rows.into_iter().map(|(n,)| n).collect())
            }

            async fn close_pull_request(
                &self,
                repository: &str,
                number: i64,
                why: &str,
                at_ms: i64,
            ) -> domain::store::Result<()> {
                use $crate::store::pull_request_sql as sql;
                let key = format!("{repository}#{number}");
                let fail = |e| $crate::store::sql_store::map_error(e, "pull request", &key);
                let mut tx = self.pool.begin().await.map_err(fail)?;
                let (id, head_sha): (i64, String) = sqlx::query_as(sql::CLOSE)
                    .bind(repository)
                    .bind(number)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(fail)?;
                sqlx::query(sql::INTENT)
                    .bind(id)
                    .bind(&head_sha)
                    .bind(false)
                    .bind(why)
                    .bind(at_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
                $crate::store::preview_sql::desire_preview!(
                    tx,
                    id,
                    repository,
                    number,
                    &head_sha,
                    Some(why),
                    at_ms
                )
                .map_err(fail)?;
                tx.commit().await.map_err(fail)?;
                Ok(())
            }

            async fn add_github_repository(
                &self,
                name: &str,
                clone_url: &str,
                default_branch: &str,
                at_ms: i64,
            ) -> domain::store::Result<()> {
                sqlx::query($crate::store::pull_request_sql::ADD_REPOSITORY)
                    .bind(name)
                    .bind(clone_url)
                    .bind(default_branch)
                    .bind(at_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "repository", name))?;
                Ok(())
            }

            async fn remove_repository_named(&self, name: &str) -> domain::store::Result<bool> {
                let done = sqlx::query($crate::store::pull_request_sql::REMOVE_REPOSITORY)
                    .bind(name)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "repository", name))?;
                Ok(done.rows_affected() > 0)
            }
        }
    };
}

pub(super) use impl_pull_request_store;
