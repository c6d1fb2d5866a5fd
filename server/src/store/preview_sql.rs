//! Preview environments and their attempts for both SQL backends: the queries (valid for SQLite
//! and PostgreSQL), row types, what a pull request's verdict writes (`desire`, run inside the
//! pull request's own transaction), and `impl_preview_store!` implementing `PreviewStore`.

use domain::preview::{AttemptStatus, Preview, PreviewAttempt, PreviewStatus};

/// Columns of a [`Preview`], joined with its pull request.
const PREVIEW_COLUMNS: &str = "SELECT p.id, pr.repository, pr.number, pr.title, pr.author, \
     pr.head_ref AS branch, p.namespace, p.status, p.head_sha, p.url, p.reason, p.wanted, p.round, \
     p.created_at_ms, p.updated_at_ms, p.last_push_at_ms, p.deployed_at_ms, p.expires_at_ms, \
     p.comment_id FROM previews p JOIN pull_requests pr ON pr.id = p.pull_request_id";
const ATTEMPT_COLUMNS: &str =
    "id, preview_id, sha, round, status, reason, created_at_ms, started_at_ms, finished_at_ms";

pub(super) fn get_query() -> String {
    format!("{PREVIEW_COLUMNS} WHERE p.id = $1")
}

pub(super) fn by_namespace_query() -> String {
    format!("{PREVIEW_COLUMNS} WHERE p.namespace = $1")
}

const FILTER: &str = "WHERE ($1 IS NULL OR p.status = $1) AND ($2 IS NULL OR pr.repository = $2) \
     AND ($3 IS NULL OR LOWER(p.namespace) LIKE $3 OR LOWER(pr.title) LIKE $3 \
          OR LOWER(pr.author) LIKE $3 OR LOWER(pr.head_ref) LIKE $3) \
     AND ($4 OR p.status <> 'deleted')";

pub(super) fn list_query() -> String {
    format!(
        "{PREVIEW_COLUMNS} {FILTER} ORDER BY p.updated_at_ms DESC, p.id DESC LIMIT $5 OFFSET $6"
    )
}

pub(super) fn count_query() -> String {
    format!(
        "SELECT COUNT(*) FROM previews p JOIN pull_requests pr ON pr.id = p.pull_request_id {FILTER}"
    )
}

pub(super) fn attempts_query() -> String {
    format!("SELECT {ATTEMPT_COLUMNS} FROM preview_attempts WHERE preview_id = $1 ORDER BY id DESC")
}

/// Statuses in which a removal is under way or done.
const REMOVED: &str = "('deleting', 'deleted', 'cleanup_failed')";

/// A wanted head commit: the preview is created, or brought to the new commit; a removed or
/// unwanted one comes back in a new round (so the same commit can be deployed again).
pub(super) fn desire_query() -> String {
    format!(
        "INSERT INTO previews (pull_request_id, namespace, status, wanted, round, head_sha, \
         created_at_ms, updated_at_ms, last_push_at_ms) \
         VALUES ($1, $2, 'pending', TRUE, 0, $3, $4, $4, $4) \
         ON CONFLICT (pull_request_id) DO UPDATE SET \
         round = CASE WHEN previews.status IN {REMOVED} OR NOT previews.wanted \
                 THEN previews.round + 1 ELSE previews.round END, \
         status = CASE WHEN previews.status = 'deleting' THEN previews.status \
                  WHEN previews.head_sha <> excluded.head_sha OR previews.status IN {REMOVED} \
                       OR NOT previews.wanted THEN 'pending' ELSE previews.status END, \
         last_push_at_ms = CASE WHEN previews.head_sha <> excluded.head_sha \
                 THEN excluded.last_push_at_ms ELSE previews.last_push_at_ms END, \
         updated_at_ms = CASE WHEN previews.head_sha <> excluded.head_sha OR NOT previews.wanted \
                 OR previews.status IN {REMOVED} THEN excluded.updated_at_ms ELSE previews.updated_at_ms END, \
         wanted = TRUE, head_sha = excluded.head_sha \
         RETURNING id, round"
    )
}

pub(super) const ADD_ATTEMPT: &str = "INSERT INTO preview_attempts \
     (preview_id, sha, round, status, created_at_ms) VALUES ($1, $2, $3, 'pending', $4) \
     ON CONFLICT (preview_id, sha, round) DO NOTHING";

/// Cancels the open attempts of a preview other than (sha, round).
pub(super) const SUPERSEDE: &str = "UPDATE preview_attempts SET status = 'cancelled', \
     reason = $4, finished_at_ms = $5 \
     WHERE preview_id = $1 AND status IN ('pending', 'deploying') AND NOT (sha = $2 AND round = $3)";

pub(super) const UNWANT: &str = "UPDATE previews SET wanted = FALSE, reason = $2, updated_at_ms = $3 \
     WHERE pull_request_id = $1 AND wanted";

pub(super) fn claim_query() -> String {
    let claimable = "(a.status = 'pending' OR (a.status = 'deploying' AND a.heartbeat_ms < $2))";
    format!(
        "UPDATE preview_attempts SET status = 'deploying', started_at_ms = $1, heartbeat_ms = $1 \
         WHERE id = (SELECT a.id FROM preview_attempts a JOIN previews p ON p.id = a.preview_id \
             WHERE p.wanted AND p.status <> 'deleting' AND a.round = p.round AND a.sha = p.head_sha \
             AND {claimable} ORDER BY a.id LIMIT 1) \
         AND (status = 'pending' OR (status = 'deploying' AND heartbeat_ms < $2)) \
         RETURNING {ATTEMPT_COLUMNS}"
    )
}

pub(super) const HEARTBEAT: &str = "UPDATE preview_attempts SET heartbeat_ms = $2 \
     WHERE id = $1 AND status = 'deploying' RETURNING id";

/// Moves the preview of a current attempt (still deploying, of the preview's round and commit)
/// to `$2`, when its status is one that may become it. One statement: a read followed by a
/// write in one SQLite transaction fails when another writer commits in between.
pub(super) fn progress_query(target: PreviewStatus) -> String {
    let from: Vec<String> = PreviewStatus::ALL
        .into_iter()
        .filter(|s| *s == target || s.can_become(target))
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    format!(
        "UPDATE previews SET status = $2, reason = $3, updated_at_ms = $4 \
         WHERE wanted AND status IN ({}) AND EXISTS (SELECT 1 FROM preview_attempts a \
             WHERE a.id = $1 AND a.preview_id = previews.id AND a.status = 'deploying' \
             AND a.round = previews.round AND a.sha = previews.head_sha)",
        from.join(", ")
    )
}

pub(super) const END_ATTEMPT: &str = "UPDATE preview_attempts SET status = $2, reason = $3, \
     finished_at_ms = $4 WHERE id = $1 AND status = 'deploying' RETURNING preview_id, sha, round";

pub(super) const FINISH_PREVIEW: &str = "UPDATE previews SET status = $4, reason = $5, \
     url = COALESCE($6, url), deployed_at_ms = CASE WHEN $6 IS NULL THEN deployed_at_ms ELSE $7 END, \
     expires_at_ms = COALESCE($8, expires_at_ms), updated_at_ms = $7 \
     WHERE id = $1 AND round = $2 AND head_sha = $3 AND wanted AND status <> 'deleting'";

pub(super) fn to_remove_query() -> String {
    format!(
        "{PREVIEW_COLUMNS} WHERE (p.status NOT IN {REMOVED} AND (NOT p.wanted OR p.expires_at_ms < $1)) \
         OR (p.status IN ('cleanup_failed', 'deleting') AND p.updated_at_ms < $2) \
         ORDER BY p.id"
    )
}

/// Removals left `deleting` this long were abandoned by a replica that stopped.
pub(super) const ABANDONED_REMOVAL_MS: i64 = 10 * 60 * 1000;

pub(super) const BEGIN_REMOVAL: &str = "UPDATE previews SET status = 'deleting', reason = $2, \
     updated_at_ms = $3 WHERE id = $1 \
     AND (status NOT IN ('deleting', 'deleted') OR (status = 'deleting' AND updated_at_ms < $4))";

pub(super) const CANCEL_OPEN_ATTEMPTS: &str = "UPDATE preview_attempts SET status = 'cancelled', \
     reason = $2, finished_at_ms = $3 WHERE preview_id = $1 AND status IN ('pending', 'deploying')";

/// A removal that succeeded leaves the preview `deleted`, unless the pull request wanted it
/// again meanwhile (a new round is pending).
pub(super) const FINISH_REMOVAL: &str = "UPDATE previews SET \
     status = CASE WHEN $2 IS NOT NULL THEN 'cleanup_failed' \
          WHEN wanted AND EXISTS (SELECT 1 FROM preview_attempts a WHERE a.preview_id = previews.id \
               AND a.status = 'pending' AND a.round = previews.round) THEN 'pending' \
          ELSE 'deleted' END, \
     reason = COALESCE($2, reason), updated_at_ms = $3 \
     WHERE id = $1 AND status = 'deleting'";

pub(super) const RETRY: &str = "UPDATE previews SET round = round + 1, status = 'pending', \
     reason = NULL, updated_at_ms = $2 WHERE id = $1 AND wanted AND status <> 'deleting' \
     RETURNING round, head_sha";

pub(super) fn attempt_query() -> String {
    format!(
        "SELECT {ATTEMPT_COLUMNS} FROM preview_attempts WHERE preview_id = $1 AND sha = $2 AND round = $3"
    )
}

pub(super) const REQUEST_REMOVAL: &str = "UPDATE previews SET wanted = FALSE, reason = $2, \
     updated_at_ms = $3 WHERE id = $1";

pub(super) const SET_COMMENT: &str = "UPDATE previews SET comment_id = $2 WHERE id = $1";

pub(super) const LIVE_NAMESPACES: &str =
    "SELECT namespace FROM previews WHERE status <> 'deleted' ORDER BY namespace";

#[derive(Debug, sqlx::FromRow)]
pub(super) struct PreviewRow {
    id: i64,
    repository: String,
    number: i64,
    title: String,
    author: String,
    branch: String,
    namespace: String,
    status: String,
    head_sha: String,
    url: Option<String>,
    reason: Option<String>,
    wanted: bool,
    round: i64,
    created_at_ms: i64,
    updated_at_ms: i64,
    last_push_at_ms: i64,
    deployed_at_ms: Option<i64>,
    expires_at_ms: Option<i64>,
    comment_id: Option<i64>,
}

impl From<PreviewRow> for Preview {
    fn from(row: PreviewRow) -> Self {
        Self {
            id: row.id,
            repository: row.repository,
            number: row.number,
            title: row.title,
            author: row.author,
            branch: row.branch,
            namespace: row.namespace,
            // Written by this module from the same enum.
            status: PreviewStatus::parse(&row.status).unwrap_or(PreviewStatus::Failed),
            head_sha: row.head_sha,
            url: row.url,
            reason: row.reason,
            wanted: row.wanted,
            round: row.round,
            created_at_ms: row.created_at_ms,
            updated_at_ms: row.updated_at_ms,
            last_push_at_ms: row.last_push_at_ms,
            deployed_at_ms: row.deployed_at_ms,
            expires_at_ms: row.expires_at_ms,
            comment_id: row.comment_id,
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct AttemptRow {
    id: i64,
    preview_id: i64,
    sha: String,
    round: i64,
    status: String,
    reason: Option<String>,
    created_at_ms: i64,
    started_at_ms: Option<i64>,
    finished_at_ms: Option<i64>,
}

impl From<AttemptRow> for PreviewAttempt {
    fn from(row: AttemptRow) -> Self {
        Self {
            id: row.id,
            preview_id: row.preview_id,
            sha: row.sha,
            round: row.round,
            status: AttemptStatus::parse(&row.status).unwrap_or(AttemptStatus::Failed),
            reason: row.reason,
            created_at_ms: row.created_at_ms,
            started_at_ms: row.started_at_ms,
            finished_at_ms: row.finished_at_ms,
        }
    }
}

/// `%text%`, lower-cased, for the search filter.
pub(super) fn search_pattern(search: Option<&str>) -> Option<String> {
    search
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| format!("%{}%", s.to_lowercase()))
}

/// "superseded by abc1234".
pub(super) fn superseded_by(sha: &str) -> String {
    format!("superseded by {}", sha.get(..7).unwrap_or(sha))
}

/// In transaction `$tx`: adds the attempt (preview, sha, round) unless it exists, and cancels
/// the preview's other open attempts as superseded by it. Evaluates to `Result<(), sqlx::Error>`.
macro_rules! add_attempt {
    ($tx:ident, $preview:expr, $sha:expr, $round:expr, $at_ms:expr) => {
        async {
            use $crate::store::preview_sql as sql;
            sqlx::query(sql::ADD_ATTEMPT)
                .bind($preview)
                .bind($sha)
                .bind($round)
                .bind($at_ms)
                .execute(&mut *$tx)
                .await?;
            sqlx::query(sql::SUPERSEDE)
                .bind($preview)
                .bind($sha)
                .bind($round)
                .bind(sql::superseded_by($sha))
                .bind($at_ms)
                .execute(&mut *$tx)
                .await?;
            Ok::<(), sqlx::Error>(())
        }
        .await
    };
}

/// In transaction `$tx`, what pull request `$pr` wants at its head commit: a wanted commit
/// creates or updates its preview and adds the attempt; an unwanted one marks the preview no
/// longer wanted, saying why. Evaluates to `Result<(), sqlx::Error>`.
macro_rules! desire_preview {
    ($tx:ident, $pr:expr, $repository:expr, $number:expr, $sha:expr, $why:expr, $at_ms:expr) => {
        async {
            use $crate::store::preview_sql as sql;
            match $why {
                None => {
                    let namespace = domain::preview::preview_namespace($repository, $number);
                    let (id, round): (i64, i64) = sqlx::query_as(&sql::desire_query())
                        .bind($pr)
                        .bind(&namespace)
                        .bind($sha)
                        .bind($at_ms)
                        .fetch_one(&mut *$tx)
                        .await?;
                    $crate::store::preview_sql::add_attempt!($tx, id, $sha, round, $at_ms)
                }
                Some(why) => {
                    sqlx::query(sql::UNWANT)
                        .bind($pr)
                        .bind(why)
                        .bind($at_ms)
                        .execute(&mut *$tx)
                        .await?;
                    Ok::<(), sqlx::Error>(())
                }
            }
        }
        .await
    };
}

pub(super) use {add_attempt, desire_preview};

/// Implements `PreviewStore` for a struct with a `pool` field of any sqlx pool type.
macro_rules! impl_preview_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl domain::preview::PreviewStore for $store {
            async fn list_previews(
                &self,
                filter: &domain::preview::PreviewFilter,
            ) -> domain::store::Result<Vec<domain::preview::Preview>> {
                use $crate::store::preview_sql as sql;
                let rows: Vec<sql::PreviewRow> = sqlx::query_as(&sql::list_query())
                    .bind(filter.status.map(|s| s.as_str()))
                    .bind(filter.repository.as_deref())
                    .bind(sql::search_pattern(filter.search.as_deref()))
                    .bind(filter.include_deleted)
                    .bind(i64::from(filter.limit.clamp(1, 500)))
                    .bind(i64::from(filter.offset))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "preview", "list"))?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn count_previews(
                &self,
                filter: &domain::preview::PreviewFilter,
            ) -> domain::store::Result<u64> {
                use $crate::store::preview_sql as sql;
                let (count,): (i64,) = sqlx::query_as(&sql::count_query())
                    .bind(filter.status.map(|s| s.as_str()))
                    .bind(filter.repository.as_deref())
                    .bind(sql::search_pattern(filter.search.as_deref()))
                    .bind(filter.include_deleted)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "preview", "count"))?;
                Ok(u64::try_from(count).unwrap_or(0))
            }

            async fn get_preview(
                &self,
                id: i64,
            ) -> domain::store::Result<domain::preview::Preview> {
                use $crate::store::preview_sql as sql;
                let row: sql::PreviewRow = sqlx::query_as(&sql::get_query())
                    .bind(id)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "preview", id))?;
                Ok(row.into())
            }

            async fn get_preview_by_namespace(
                &self,
                namespace: &str,
            ) -> domain::store::Result<domain::preview::Preview> {
                use $crate::store::preview_sql as sql;
                let row: sql::PreviewRow = sqlx::query_as(&sql::by_namespace_query())
                    .bind(namespace)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "preview", namespace))?;
                Ok(row.into())
            }

            async fn preview_attempts(
                &self,
                preview_id: i64,
            ) -> domain::store::Result<Vec<domain::preview::PreviewAttempt>> {
                use $crate::store::preview_sql as sql;
                let rows: Vec<sql::AttemptRow> = sqlx::query_as(&sql::attempts_query())
                    .bind(preview_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "preview", preview_id))?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn claim_preview_attempt(
                &self,
                at_ms: i64,
                stale_before_ms: i64,
            ) -> domain::store::Result<Option<domain::preview::ClaimedAttempt>> {
                use $crate::store::preview_sql as sql;
                let fail = |e| $crate::store::sql_store::map_error(e, "preview attempt", "claim");
                let attempt: Option<sql::AttemptRow> = sqlx::query_as(&sql::claim_query())
                    .bind(at_ms)
                    .bind(stale_before_ms)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(fail)?;
                let Some(attempt) = attempt else {
                    return Ok(None);
                };
                let attempt: domain::preview::PreviewAttempt = attempt.into();
                let preview = self.get_preview(attempt.preview_id).await?;
                Ok(Some(domain::preview::ClaimedAttempt { preview, attempt }))
            }

            async fn heartbeat_preview_attempt(
                &self,
                attempt_id: i64,
                at_ms: i64,
            ) -> domain::store::Result<bool> {
                let alive: Option<(i64,)> = sqlx::query_as($crate::store::preview_sql::HEARTBEAT)
                    .bind(attempt_id)
                    .bind(at_ms)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| {
                        $crate::store::sql_store::map_error(e, "preview attempt", attempt_id)
                    })?;
                Ok(alive.is_some())
            }

            async fn set_attempt_progress(
                &self,
                attempt_id: i64,
                status: domain::preview::PreviewStatus,
                reason: Option<&str>,
                at_ms: i64,
            ) -> domain::store::Result<bool> {
                let done = sqlx::query(&$crate::store::preview_sql::progress_query(status))
                    .bind(attempt_id)
                    .bind(status.as_str())
                    .bind(reason)
                    .bind(at_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| {
                        $crate::store::sql_store::map_error(e, "preview attempt", attempt_id)
                    })?;
                Ok(done.rows_affected() == 1)
            }

            async fn finish_preview_attempt(
                &self,
                attempt_id: i64,
                outcome: domain::preview::AttemptOutcome<'_>,
                expires_at_ms: Option<i64>,
                at_ms: i64,
            ) -> domain::store::Result<bool> {
                use $crate::store::preview_sql as sql;
                let fail =
                    |e| $crate::store::sql_store::map_error(e, "preview attempt", attempt_id);
                let mut tx = self.pool.begin().await.map_err(fail)?;
                let ended: Option<(i64, String, i64)> = sqlx::query_as(sql::END_ATTEMPT)
                    .bind(attempt_id)
                    .bind(outcome.attempt_status().as_str())
                    .bind(outcome.reason())
                    .bind(at_ms)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(fail)?;
                let Some((preview_id, sha, round)) = ended else {
                    return Ok(false);
                };
                let url = match &outcome {
                    domain::preview::AttemptOutcome::Succeeded { url } => Some(*url),
                    _ => None,
                };
                let done = sqlx::query(sql::FINISH_PREVIEW)
                    .bind(preview_id)
                    .bind(round)
                    .bind(&sha)
                    .bind(outcome.preview_status().as_str())
                    .bind(outcome.reason())
                    .bind(url)
                    .bind(at_ms)
                    .bind(expires_at_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
                tx.commit().await.map_err(fail)?;
                Ok(done.rows_affected() == 1)
            }

            async fn previews_to_remove(
                &self,
                at_ms: i64,
                retry_before_ms: i64,
            ) -> domain::store::Result<Vec<domain::preview::Preview>> {
                use $crate::store::preview_sql as sql;
                let rows: Vec<sql::PreviewRow> = sqlx::query_as(&sql::to_remove_query())
                    .bind(at_ms)
                    .bind(retry_before_ms)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "preview", "removals"))?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn begin_preview_removal(
                &self,
                id: i64,
                why: &str,
                at_ms: i64,
            ) -> domain::store::Result<bool> {
                use $crate::store::preview_sql as sql;
                let fail = |e| $crate::store::sql_store::map_error(e, "preview", id);
                let mut tx = self.pool.begin().await.map_err(fail)?;
                let began = sqlx::query(sql::BEGIN_REMOVAL)
                    .bind(id)
                    .bind(why)
                    .bind(at_ms)
                    .bind(at_ms - sql::ABANDONED_REMOVAL_MS)
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
                if began.rows_affected() == 0 {
                    return Ok(false);
                }
                sqlx::query(sql::CANCEL_OPEN_ATTEMPTS)
                    .bind(id)
                    .bind(format!("cancelled: {why}"))
                    .bind(at_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
                tx.commit().await.map_err(fail)?;
                Ok(true)
            }

            async fn finish_preview_removal(
                &self,
                id: i64,
                failure: Option<&str>,
                at_ms: i64,
            ) -> domain::store::Result<domain::preview::Preview> {
                sqlx::query($crate::store::preview_sql::FINISH_REMOVAL)
                    .bind(id)
                    .bind(failure)
                    .bind(at_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "preview", id))?;
                self.get_preview(id).await
            }

            async fn retry_preview(
                &self,
                id: i64,
                at_ms: i64,
            ) -> domain::store::Result<Option<domain::preview::PreviewAttempt>> {
                use $crate::store::preview_sql as sql;
                let fail = |e| $crate::store::sql_store::map_error(e, "preview", id);
                let mut tx = self.pool.begin().await.map_err(fail)?;
                let bumped: Option<(i64, String)> = sqlx::query_as(sql::RETRY)
                    .bind(id)
                    .bind(at_ms)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(fail)?;
                let Some((round, sha)) = bumped else {
                    // Tell "no such preview" from "not wanted".
                    drop(tx);
                    self.get_preview(id).await?;
                    return Ok(None);
                };
                $crate::store::preview_sql::add_attempt!(tx, id, &sha, round, at_ms)
                    .map_err(fail)?;
                let attempt: sql::AttemptRow = sqlx::query_as(&sql::attempt_query())
                    .bind(id)
                    .bind(&sha)
                    .bind(round)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(fail)?;
                tx.commit().await.map_err(fail)?;
                Ok(Some(attempt.into()))
            }

            async fn request_preview_removal(
                &self,
                id: i64,
                why: &str,
                at_ms: i64,
            ) -> domain::store::Result<domain::preview::Preview> {
                sqlx::query($crate::store::preview_sql::REQUEST_REMOVAL)
                    .bind(id)
                    .bind(why)
                    .bind(at_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "preview", id))?;
                self.get_preview(id).await
            }

            async fn set_preview_comment(
                &self,
                id: i64,
                comment_id: i64,
            ) -> domain::store::Result<()> {
                sqlx::query($crate::store::preview_sql::SET_COMMENT)
                    .bind(id)
                    .bind(comment_id)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "preview", id))?;
                Ok(())
            }

            async fn live_preview_namespaces(&self) -> domain::store::Result<Vec<String>> {
                let rows: Vec<(String,)> =
                    sqlx::query_as($crate::store::preview_sql::LIVE_NAMESPACES)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(|e| {
                            $crate::store::sql_store::map_error(e, "preview", "namespaces")
                        })?;
                Ok(rows.into_iter().map(|(n,)| n).collect())
            }
        }
    };
}

pub(super) use impl_preview_store;
