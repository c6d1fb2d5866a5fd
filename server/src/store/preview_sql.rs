//! Preview environments and their attempts for both SQL backends: the queries (valid for SQLite
//! and PostgreSQL), row types, and what a pull request's verdict writes (`desire_preview!`, run
//! inside the pull request's own transaction). `preview_store` implements `PreviewStore` with
//! them.

use domain::preview::{AttemptStatus, Preview, PreviewAttempt, PreviewStatus};
use domain::{StateMachine, StoreError};

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

/// The list's conditions; `$visible` is the caller's reach (see `domain::identity::visible_list`).
fn filter(visible: u8) -> String {
    format!(
        "WHERE ($1 IS NULL OR p.status = $1) AND ($2 IS NULL OR pr.repository = $2) \
         AND ($3 IS NULL OR LOWER(p.namespace) LIKE $3 OR LOWER(pr.title) LIKE $3 \
              OR LOWER(pr.author) LIKE $3 OR LOWER(pr.head_ref) LIKE $3) \
         AND ($4 OR p.status <> 'deleted') \
         AND (${visible} IS NULL OR pr.repository IN (SELECT r.name FROM repositories r \
              WHERE ${visible} LIKE '%,' || CAST(r.id AS TEXT) || ',%'))"
    )
}

pub(super) fn list_query() -> String {
    format!(
        "{PREVIEW_COLUMNS} {} ORDER BY p.updated_at_ms DESC, p.id DESC LIMIT $5 OFFSET $6",
        filter(7)
    )
}

pub(super) fn count_query() -> String {
    format!(
        "SELECT COUNT(*) FROM previews p JOIN pull_requests pr ON pr.id = p.pull_request_id {}",
        filter(5)
    )
}

pub(super) fn attempts_query() -> String {
    format!("SELECT {ATTEMPT_COLUMNS} FROM preview_attempts WHERE preview_id = $1 ORDER BY id DESC")
}

/// Statuses in which a removal is under way or done.
const REMOVED: &str = "('deleting', 'deleted', 'cleanup_failed')";

/// A wanted head commit: the preview is created, or brought to the new commit; a removed or
/// unwanted one comes back in a new round (so the same commit can be deployed again).
/// A new preview takes the readable namespace `$2`, or `$5` (with a hash) when another pull
/// request holds `$2`; an existing one keeps the namespace it has.
pub(super) fn desire_query() -> String {
    format!(
        "INSERT INTO previews (pull_request_id, namespace, status, wanted, round, head_sha, \
         created_at_ms, updated_at_ms, last_push_at_ms) \
         VALUES ($1, CASE WHEN EXISTS (SELECT 1 FROM previews WHERE namespace = $2 \
             AND pull_request_id <> $1) THEN $5 ELSE $2 END, \
             'pending', TRUE, 0, $3, $4, $4, $4) \
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
         WHERE id IN (SELECT a.id FROM preview_attempts a JOIN previews p ON p.id = a.preview_id \
             WHERE p.wanted AND p.status <> 'deleting' AND a.round = p.round AND a.sha = p.head_sha \
             AND {claimable} ORDER BY a.id LIMIT $3) \
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
         OR (p.status = 'cleanup_failed' AND p.updated_at_ms < $2) \
         OR (p.status = 'deleting' AND {REMOVAL_BEAT} < $1 - {ABANDONED_REMOVAL_MS}) \
         ORDER BY p.id"
    )
}

/// A removal not heartbeaten for this long (three missed heartbeats) was abandoned by a
/// replica that stopped; another takes it over.
pub(super) const ABANDONED_REMOVAL_MS: i64 = 9_000;
/// When a removal was last heard of (rows from before heartbeats: when it began).
const REMOVAL_BEAT: &str = "COALESCE(p.removal_heartbeat_ms, p.updated_at_ms)";

pub(super) const REMOVAL_HEARTBEAT: &str = "UPDATE previews SET removal_heartbeat_ms = $2 \
     WHERE id = $1 AND status = 'deleting'";

pub(super) const BEGIN_REMOVAL: &str = "UPDATE previews SET status = 'deleting', reason = $2, \
     updated_at_ms = $3, removal_heartbeat_ms = $3 WHERE id = $1 \
     AND (status NOT IN ('deleting', 'deleted') \
          OR (status = 'deleting' AND COALESCE(removal_heartbeat_ms, updated_at_ms) < $4))";

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

impl TryFrom<PreviewRow> for Preview {
    type Error = StoreError;

    fn try_from(row: PreviewRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            repository: row.repository,
            number: row.number,
            title: row.title,
            author: row.author,
            branch: row.branch,
            namespace: row.namespace,
            status: PreviewStatus::read(&row.status)?,
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
        })
    }
}

/// Rows as previews; the first unknown status fails the read.
pub(super) fn previews(rows: Vec<PreviewRow>) -> Result<Vec<Preview>, StoreError> {
    rows.into_iter().map(Preview::try_from).collect()
}

/// Rows as attempts; the first unknown status fails the read.
pub(super) fn attempts(rows: Vec<AttemptRow>) -> Result<Vec<PreviewAttempt>, StoreError> {
    rows.into_iter().map(PreviewAttempt::try_from).collect()
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

impl TryFrom<AttemptRow> for PreviewAttempt {
    type Error = StoreError;

    fn try_from(row: AttemptRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            preview_id: row.preview_id,
            sha: row.sha,
            round: row.round,
            status: AttemptStatus::read(&row.status)?,
            reason: row.reason,
            created_at_ms: row.created_at_ms,
            started_at_ms: row.started_at_ms,
            finished_at_ms: row.finished_at_ms,
        })
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
                    use domain::preview::namespace::{distinct_namespace, preview_namespace};
                    let (id, round): (i64, i64) = sqlx::query_as(&sql::desire_query())
                        .bind($pr)
                        .bind(preview_namespace($repository, $number))
                        .bind($sha)
                        .bind($at_ms)
                        .bind(distinct_namespace($repository, $number))
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
