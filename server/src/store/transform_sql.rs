//! The transform tables for both SQL backends: runs (spec as JSON, status kept in step with
//! the executions in the same transaction) and executions (the embedded queue: a claim takes
//! a due pending row, or one whose claim ran out, re-checked in the outer `WHERE` so two
//! workers never take the same row). `impl_transform_store!` implements `TransformStore`.

use std::collections::BTreeMap;

use domain::StateMachine;
use domain::transform::{
    Execution, ExecutionStatus, ExecutionTotals, TransformRun, TransformRunId, TransformRunStatus,
};
use domain::{RepositoryId, StoreError};

use super::guards::{quoted, sources_of};

const RUN_COLUMNS: &str =
    "id, name, spec, status, started_by, cancel_requested, created_at_ms, finished_at_ms";
const EXECUTION_COLUMNS: &str = "id, run_id, repository_id, repository, task_key, status, \
     attempts, max_attempts, base_sha, exit_code, reason, diff, patch_sha256, created_at_ms, \
     started_at_ms, finished_at_ms";
/// Pages are at most this long.
pub(super) const MAX_PAGE: u32 = 200;

pub(super) const INSERT_RUN: &str = "INSERT INTO transform_runs (name, spec, status, \
     started_by, created_at_ms) VALUES ($1, $2, 'queued', $3, $4) RETURNING id";
pub(super) const INSERT_EXECUTION: &str = "INSERT INTO transform_executions (run_id, \
     repository_id, repository, task_key, status, max_attempts, next_attempt_at_ms, \
     created_at_ms) VALUES ($1, $2, $3, $4, 'pending', $5, $6, $6) \
     ON CONFLICT (task_key) DO NOTHING";
pub(super) fn get_run() -> String {
    format!("SELECT {RUN_COLUMNS} FROM transform_runs WHERE id = $1")
}
pub(super) fn list_runs() -> String {
    format!(
        "SELECT {RUN_COLUMNS} FROM transform_runs r WHERE ($1 IS NULL OR r.id < $1) \
         AND ($2 IS NULL OR EXISTS (SELECT 1 FROM transform_executions e WHERE e.run_id = r.id \
         AND $2 LIKE '%,' || CAST(e.repository_id AS TEXT) || ',%')) \
         ORDER BY r.id DESC LIMIT $3"
    )
}
/// The statuses of the executions of the runs with ids in `$1..=$2` (one page of runs), in the
/// repositories of `$3` only (a `visible_list`; NULL: every repository).
pub(super) const STATUSES_BETWEEN: &str = "SELECT run_id, status FROM transform_executions \
     WHERE run_id >= $1 AND run_id <= $2 \
     AND ($3 IS NULL OR $3 LIKE '%,' || CAST(repository_id AS TEXT) || ',%')";
pub(super) const STATUSES_OF_RUN: &str =
    "SELECT run_id, status FROM transform_executions WHERE run_id = $1";
pub(super) fn list_executions() -> String {
    format!(
        "SELECT {EXECUTION_COLUMNS} FROM transform_executions WHERE run_id = $1 \
         ORDER BY repository, id"
    )
}
pub(super) fn get_execution() -> String {
    format!("SELECT {EXECUTION_COLUMNS} FROM transform_executions WHERE id = $1")
}
/// The inner select is a scalar subquery, evaluated once: as `IN (…)`, PostgreSQL may evaluate
/// it again for each row and, seeing the row it just took as taken, take a second one.
/// `lock`: what PostgreSQL adds to the inner `SELECT` (`FOR UPDATE SKIP LOCKED`) so that
/// workers claiming at once each get a different row rather than one of them nothing; SQLite
/// has one writer, so claims never meet there.
pub(super) fn claim(lock: &str) -> String {
    let free = free("$3");
    let guard = sources_of(ExecutionStatus::Scheduled);
    format!(
        "UPDATE transform_executions SET status = 'scheduled', attempts = attempts + 1, \
         claimed_by = $1, claimed_until_ms = $2 \
         WHERE {free} AND status IN ({guard}) AND id = (SELECT id FROM transform_executions \
         WHERE {free} ORDER BY next_attempt_at_ms, id LIMIT 1{lock}) RETURNING {EXECUTION_COLUMNS}"
    )
}
/// Whether an execution may be claimed at `now` (a bound parameter): pending and due, or
/// claimed by a worker that stopped renewing.
fn free(now: &str) -> String {
    format!(
        "((status = 'pending' AND next_attempt_at_ms <= {now}) \
         OR (status IN ('scheduled', 'running') AND claimed_until_ms < {now}))"
    )
}
/// Claims the execution with key `$4` when it is free (see [`claim`]).
pub(super) fn claim_by_key() -> String {
    format!(
        "UPDATE transform_executions SET status = 'scheduled', attempts = attempts + 1, \
         claimed_by = $1, claimed_until_ms = $2 \
         WHERE task_key = $4 AND {free} AND status IN ({guard}) RETURNING {EXECUTION_COLUMNS}",
        free = free("$3"),
        guard = sources_of(ExecutionStatus::Scheduled),
    )
}
pub(super) fn by_key() -> String {
    format!("SELECT {EXECUTION_COLUMNS} FROM transform_executions WHERE task_key = $1")
}
/// Marks up to `$2` free executions not on the task stream as added to it at `$1`.
pub(super) fn publish_due() -> String {
    format!(
        "UPDATE transform_executions SET published_at_ms = $1 WHERE id IN (SELECT id FROM \
         transform_executions WHERE published_at_ms IS NULL AND {free} \
         ORDER BY next_attempt_at_ms, id LIMIT $2) AND published_at_ms IS NULL \
         RETURNING {EXECUTION_COLUMNS}",
        free = free("$1"),
    )
}
/// Execution `$1` (every execution not ended, when `$1` is NULL) is to be added to the
/// stream again.
pub(super) fn unpublish() -> String {
    format!(
        "UPDATE transform_executions SET published_at_ms = NULL \
         WHERE ($1 IS NULL OR id = $1) AND published_at_ms IS NOT NULL \
         AND status IN ({})",
        quoted(
            ExecutionStatus::ALL
                .iter()
                .copied()
                .filter(|s| !s.is_finished())
        )
    )
}
pub(super) const RENEW: &str = "UPDATE transform_executions SET claimed_until_ms = $3 \
     WHERE id = $1 AND claimed_by = $2 AND status IN ('scheduled', 'running')";
pub(super) const CANCEL_REQUESTED: &str = "SELECT r.cancel_requested FROM transform_runs r \
     JOIN transform_executions e ON e.run_id = r.id WHERE e.id = $1";
pub(super) fn start() -> String {
    format!(
        "UPDATE transform_executions SET status = 'running', base_sha = $3, started_at_ms = $4 \
         WHERE id = $1 AND claimed_by = $2 AND status IN ({})",
        sources_of(ExecutionStatus::Running)
    )
}
/// Ends an attempt with `status` (bound as `$3`), guarded by what may become it.
pub(super) fn finish(status: ExecutionStatus) -> String {
    format!(
        "UPDATE transform_executions SET status = $3, exit_code = $4, reason = $5, diff = $6, \
         patch_sha256 = $7, finished_at_ms = $8, claimed_by = NULL, claimed_until_ms = NULL \
         WHERE id = $1 AND claimed_by = $2 AND status IN ({}) RETURNING {EXECUTION_COLUMNS}",
        sources_of(status)
    )
}
pub(super) fn retry_later() -> String {
    format!(
        "UPDATE transform_executions SET status = 'pending', reason = $3, \
         next_attempt_at_ms = $4, claimed_by = NULL, claimed_until_ms = NULL, \
         published_at_ms = NULL \
         WHERE id = $1 AND claimed_by = $2 AND status IN ({}) RETURNING {EXECUTION_COLUMNS}",
        sources_of(ExecutionStatus::Pending)
    )
}
pub(super) fn dead_letter() -> String {
    format!(
        "UPDATE transform_executions SET status = 'dead_lettered', reason = $3, \
         finished_at_ms = $4, claimed_by = NULL, claimed_until_ms = NULL \
         WHERE id = $1 AND claimed_by = $2 AND status IN ({}) RETURNING {EXECUTION_COLUMNS}",
        sources_of(ExecutionStatus::DeadLettered)
    )
}
pub(super) const RELEASE: &str = "UPDATE transform_executions SET status = 'pending', \
     attempts = attempts - 1, claimed_by = NULL, claimed_until_ms = NULL, \
     published_at_ms = NULL WHERE claimed_by = $1 AND status IN ('scheduled', 'running') RETURNING run_id";
pub(super) const REQUEST_CANCEL: &str =
    "UPDATE transform_runs SET cancel_requested = TRUE WHERE id = $1";
pub(super) const CANCEL_PENDING: &str = "UPDATE transform_executions SET status = 'cancelled', \
     finished_at_ms = $2 WHERE run_id = $1 AND status = 'pending'";
pub(super) fn retry() -> String {
    format!(
        "UPDATE transform_executions SET status = 'pending', attempts = 0, \
         next_attempt_at_ms = $2, base_sha = NULL, exit_code = NULL, reason = NULL, diff = NULL, \
         patch_sha256 = NULL, started_at_ms = NULL, finished_at_ms = NULL, \
         published_at_ms = NULL WHERE run_id = $1 AND ($3 IS NULL OR id = $3) AND status IN ({retriable}) \
         RETURNING {EXECUTION_COLUMNS}",
        retriable = quoted(
            ExecutionStatus::ALL
                .iter()
                .copied()
                .filter(|s| s.is_retriable())
        )
    )
}
pub(super) const CLEAR_CANCEL: &str =
    "UPDATE transform_runs SET cancel_requested = FALSE WHERE id = $1";
/// Moves a run to the status its executions say (`$2`), guarded by what may become it.
pub(super) fn set_run_status(status: TransformRunStatus) -> String {
    format!(
        "UPDATE transform_runs SET status = $2, finished_at_ms = $3 WHERE id = $1 \
         AND status IN ({})",
        sources_of(status)
    )
}

pub(super) const QUEUE_STATE: &str =
    "SELECT paused, changed_by, changed_at_ms FROM transform_queue WHERE id = 1";
pub(super) const SET_QUEUE: &str = "INSERT INTO transform_queue (id, paused, changed_by, \
     changed_at_ms) VALUES (1, $1, $2, $3) ON CONFLICT (id) DO UPDATE SET \
     paused = excluded.paused, changed_by = excluded.changed_by, \
     changed_at_ms = excluded.changed_at_ms RETURNING paused, changed_by, changed_at_ms";

#[derive(Debug, sqlx::FromRow)]
pub(super) struct QueueRow {
    paused: bool,
    changed_by: Option<String>,
    changed_at_ms: i64,
}

impl From<QueueRow> for domain::transform::QueueState {
    fn from(row: QueueRow) -> Self {
        Self {
            paused: row.paused,
            changed_by: row.changed_by,
            changed_at_ms: Some(row.changed_at_ms),
            tasks: None,
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct RunRow {
    id: i64,
    name: String,
    spec: String,
    status: String,
    started_by: Option<String>,
    cancel_requested: bool,
    created_at_ms: i64,
    finished_at_ms: Option<i64>,
}

impl RunRow {
    pub(super) fn status(&self) -> Result<TransformRunStatus, StoreError> {
        Ok(TransformRunStatus::read(&self.status)?)
    }

    pub(super) fn id(&self) -> i64 {
        self.id
    }

    pub(super) fn spec(&self) -> Result<domain::transform::TransformSpec, StoreError> {
        serde_json::from_str(&self.spec).map_err(|e| StoreError::Internal(Box::new(e)))
    }

    pub(super) fn cancel_requested(&self) -> bool {
        self.cancel_requested
    }

    pub(super) fn run(self, statuses: &[ExecutionStatus]) -> Result<TransformRun, StoreError> {
        let status = self.status()?;
        let spec = self.spec()?;
        Ok(TransformRun {
            id: TransformRunId(self.id),
            name: self.name,
            status,
            spec,
            started_by: self.started_by,
            cancel_requested: self.cancel_requested,
            totals: ExecutionTotals::of(statuses),
            created_at_ms: self.created_at_ms,
            finished_at_ms: self.finished_at_ms,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct StatusRow {
    run_id: i64,
    status: String,
}

/// Execution statuses by run id.
pub(super) fn statuses_by_run(
    rows: Vec<StatusRow>,
) -> Result<BTreeMap<i64, Vec<ExecutionStatus>>, StoreError> {
    let mut by_run: BTreeMap<i64, Vec<ExecutionStatus>> = BTreeMap::new();
    for row in rows {
        by_run
            .entry(row.run_id)
            .or_default()
            .push(ExecutionStatus::read(&row.status)?);
    }
    Ok(by_run)
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct ExecutionRow {
    id: i64,
    run_id: i64,
    repository_id: i64,
    repository: String,
    task_key: String,
    status: String,
    attempts: i64,
    max_attempts: i64,
    base_sha: Option<String>,
    exit_code: Option<i64>,
    reason: Option<String>,
    diff: Option<String>,
    patch_sha256: Option<String>,
    created_at_ms: i64,
    started_at_ms: Option<i64>,
    finished_at_ms: Option<i64>,
}

impl TryFrom<ExecutionRow> for Execution {
    type Error = StoreError;

    fn try_from(row: ExecutionRow) -> Result<Self, StoreError> {
        let count = |n: i64| u32::try_from(n).unwrap_or(0);
        Ok(Self {
            id: row.id,
            run_id: TransformRunId(row.run_id),
            repository_id: RepositoryId(row.repository_id),
            repository: row.repository,
            key: row.task_key,
            status: ExecutionStatus::read(&row.status)?,
            attempts: count(row.attempts),
            max_attempts: count(row.max_attempts),
            base_sha: row.base_sha,
            exit_code: row.exit_code.and_then(|c| i32::try_from(c).ok()),
            reason: row.reason,
            // Written from the same type.
            diff: row.diff.and_then(|json| serde_json::from_str(&json).ok()),
            patch_sha256: row.patch_sha256,
            created_at_ms: row.created_at_ms,
            started_at_ms: row.started_at_ms,
            finished_at_ms: row.finished_at_ms,
        })
    }
}

/// The execution an update returned; `InvalidState` when it matched nothing (the claim was
/// lost, or the execution is not in a state that may move so).
pub(super) fn held(row: Option<ExecutionRow>, id: i64) -> Result<Execution, StoreError> {
    match row {
        Some(row) => row.try_into(),
        None => Err(StoreError::InvalidState {
            entity: "transform execution",
            key: id.to_string(),
            status: "no longer held by this worker",
        }),
    }
}

/// The JSON a value is stored as.
pub(super) fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Internal(Box::new(e)))
}

/// Brings run `$run`'s status in step with its executions, inside transaction `$tx`.
macro_rules! refresh_run {
    ($tx:expr, $run:expr, $now:expr) => {{
        use domain::StateMachine as _;
        use $crate::store::sql_store::map_error;
        use $crate::store::transform_sql as sql;
        let run_id: i64 = $run;
        let row: sql::RunRow = sqlx::query_as(&sql::get_run())
            .bind(run_id)
            .fetch_one(&mut *$tx)
            .await
            .map_err(|e| map_error(e, "transform run", run_id))?;
        let statuses: Vec<sql::StatusRow> = sqlx::query_as(sql::STATUSES_OF_RUN)
            .bind(run_id)
            .fetch_all(&mut *$tx)
            .await
            .map_err(|e| map_error(e, "transform run", run_id))?;
        let statuses = sql::statuses_by_run(statuses)?
            .remove(&run_id)
            .unwrap_or_default();
        let current = row.status()?;
        let wanted = domain::transform::TransformRunStatus::of(&statuses, row.cancel_requested());
        if wanted != current && current.can_become(wanted) {
            let finished = wanted.is_finished().then_some($now);
            sqlx::query(&sql::set_run_status(wanted))
                .bind(run_id)
                .bind(wanted.as_str())
                .bind(finished)
                .execute(&mut *$tx)
                .await
                .map_err(|e| map_error(e, "transform run", run_id))?;
        }
    }};
}

pub(super) use refresh_run;

/// The execution claimed as `$row` inside `$tx`, with its run's spec: the run's status brought
/// in step, and `$tx` committed.
macro_rules! commit_claim {
    ($tx:expr, $row:expr, $now:expr, $key:expr) => {{
        use $crate::store::sql_store::map_error;
        use $crate::store::transform_sql as sql;
        let execution: domain::transform::Execution = $row.try_into()?;
        let run: sql::RunRow = sqlx::query_as(&sql::get_run())
            .bind(execution.run_id.0)
            .fetch_one(&mut *$tx)
            .await
            .map_err(|e| map_error(e, "transform run", execution.run_id))?;
        let spec = run.spec()?;
        $crate::store::transform_sql::refresh_run!($tx, execution.run_id.0, $now);
        $tx.commit()
            .await
            .map_err(|e| map_error(e, "transform execution", $key))?;
        domain::transform::ClaimedExecution { execution, spec }
    }};
}

pub(super) use commit_claim;
