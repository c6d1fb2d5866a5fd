//! The pipelines and pipeline_steps tables for both SQL backends: the queries (valid for SQLite
//! and PostgreSQL), the row types, and `impl_pipeline_store!` implementing `PipelineStore`.

use domain::pipeline::{PipelineId, PipelineRun, PipelineStatus, StepRun, StepStatus, TriggerKind};
use domain::{RepositoryId, StateMachine, StoreError, UnknownState};

const COLUMNS: &str = "p.id, p.repository_id, r.name AS repository, p.git_ref, p.commit_sha, \
     p.trigger_kind, p.trigger_detail, p.pr_number, p.status, p.reason, p.retry_of, p.cancel_requested, \
     p.created_at_ms, p.started_at_ms, p.finished_at_ms";
const FROM: &str = "FROM pipelines p JOIN repositories r ON r.id = p.repository_id";

// A delivery's run exists once: inserting it again changes nothing, and `OF_DELIVERY` finds it.
pub(super) const INSERT: &str = "INSERT INTO pipelines \
     (repository_id, git_ref, commit_sha, trigger_kind, pr_number, status, retry_of, created_at_ms, \
     trigger_detail, delivery_id) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9) \
     ON CONFLICT (delivery_id) DO NOTHING RETURNING id";
pub(super) const OF_DELIVERY: &str = "SELECT id FROM pipelines WHERE delivery_id = $1";
// The subquery picks the oldest pending run; `AND status = 'pending'` makes a second claimer
// of the same row update nothing (PostgreSQL re-checks it after the first commits).
pub(super) const CLAIM: &str = "UPDATE pipelines SET status = 'running', claimed_by = $1, \
     started_at_ms = $2, heartbeat_ms = $2 \
     WHERE id = (SELECT id FROM pipelines WHERE status = 'pending' ORDER BY id LIMIT 1) \
     AND status = 'pending' RETURNING id";
pub(super) const PLAN: &str = "UPDATE pipelines SET commit_sha = $2, definition = $3 WHERE id = $1";
pub(super) const INSERT_STEP: &str = "INSERT INTO pipeline_steps \
     (pipeline_id, name, step_order, image, depends_on, status) VALUES ($1, $2, $3, $4, $5, 'pending')";
pub(super) const DEFINITION: &str = "SELECT definition FROM pipelines WHERE id = $1";
pub(super) const START_STEP: &str = "UPDATE pipeline_steps SET status = 'running', started_at_ms = $3 \
     WHERE pipeline_id = $1 AND name = $2 AND status = 'pending'";
pub(super) const FINISH_STEP: &str = "UPDATE pipeline_steps SET status = $3, exit_code = $4, \
     reason = $5, log_key = COALESCE($6, log_key), finished_at_ms = $7 \
     WHERE pipeline_id = $1 AND name = $2 AND status IN ('pending', 'running')";
pub(super) const FINISH: &str = "UPDATE pipelines SET status = $2, reason = $3, finished_at_ms = $4 \
     WHERE id = $1 AND status IN ('pending', 'running')";
pub(super) const SWEEP_STEPS: &str = "UPDATE pipeline_steps SET status = $2, \
     reason = COALESCE(reason, $3), \
     finished_at_ms = CASE WHEN started_at_ms IS NULL THEN NULL ELSE $4 END \
     WHERE pipeline_id = $1 AND status IN ('pending', 'running')";
pub(super) const HEARTBEAT: &str = "UPDATE pipelines SET heartbeat_ms = $2 \
     WHERE id = $1 AND claimed_by = $3 AND status = 'running'";
pub(super) const LET_GO: &str =
    "UPDATE pipelines SET heartbeat_ms = 0 WHERE id = $1 AND status = 'running'";
pub(super) const TAKE_OVER: &str = "UPDATE pipelines SET claimed_by = $2, heartbeat_ms = $3 \
     WHERE id = $1 AND status = 'running' AND heartbeat_ms < $4";
pub(super) const CANCEL_PENDING: &str = "UPDATE pipelines SET status = 'cancelled', \
     reason = 'cancelled before it started', cancel_requested = TRUE, finished_at_ms = $2 \
     WHERE id = $1 AND status = 'pending'";
pub(super) const CANCEL_RUNNING: &str =
    "UPDATE pipelines SET cancel_requested = TRUE WHERE id = $1 AND status = 'running'";
/// Cancels a pull request's pending runs and asks its running ones to stop, in one statement
/// (every `SET` expression reads the row as it was).
pub(super) const SUPERSEDE: &str = "UPDATE pipelines SET cancel_requested = TRUE, \
     status = CASE WHEN status = 'pending' THEN 'cancelled' ELSE status END, \
     reason = CASE WHEN status = 'pending' THEN 'superseded by a newer push to the pull request' \
              ELSE reason END, \
     finished_at_ms = CASE WHEN status = 'pending' THEN $3 ELSE finished_at_ms END \
     WHERE repository_id = $1 AND pr_number = $2 \
     AND ($4 IS NULL OR delivery_id IS DISTINCT FROM $4) \
     AND (status = 'pending' OR (status = 'running' AND NOT cancel_requested))";
pub(super) const DISCARD: &str =
    "DELETE FROM pipelines WHERE id = $1 AND status IN ('pending', 'running')";
pub(super) const STEPS: &str = "SELECT name, image, depends_on, status, exit_code, reason, log_key, \
     started_at_ms, finished_at_ms FROM pipeline_steps WHERE pipeline_id = $1 ORDER BY step_order";

pub(super) fn get_query() -> String {
    format!("SELECT {COLUMNS} {FROM} WHERE p.id = $1")
}

pub(super) fn interrupted_query() -> String {
    format!(
        "SELECT {COLUMNS} {FROM} WHERE p.status = 'running' AND p.heartbeat_ms < $1 ORDER BY p.id"
    )
}

pub(super) fn list_query() -> String {
    format!(
        "SELECT {COLUMNS} {FROM} \
         WHERE ($1 IS NULL OR p.repository_id = $1) AND ($2 IS NULL OR p.status = $2) \
         AND ($3 IS NULL OR p.git_ref = $3) AND ($4 IS NULL OR p.trigger_kind = $4) \
         AND ($5 IS NULL OR p.id < $5) \
         AND ($7 IS NULL OR $7 LIKE '%,' || CAST(p.repository_id AS TEXT) || ',%') \
         AND ($8 IS NULL OR p.pr_number = $8) \
         ORDER BY p.id DESC LIMIT $6"
    )
}

/// Pages are at most this long.
pub(super) const MAX_PAGE: u32 = 200;

#[derive(Debug, sqlx::FromRow)]
pub(super) struct PipelineRow {
    id: i64,
    repository_id: i64,
    repository: String,
    git_ref: String,
    commit_sha: Option<String>,
    trigger_kind: String,
    trigger_detail: Option<String>,
    pr_number: Option<i64>,
    status: String,
    reason: Option<String>,
    retry_of: Option<i64>,
    cancel_requested: bool,
    created_at_ms: i64,
    started_at_ms: Option<i64>,
    finished_at_ms: Option<i64>,
}

impl TryFrom<PipelineRow> for PipelineRun {
    type Error = StoreError;

    fn try_from(row: PipelineRow) -> Result<Self, StoreError> {
        let trigger = TriggerKind::parse(&row.trigger_kind).ok_or_else(|| UnknownState {
            entity: "trigger",
            value: row.trigger_kind.clone(),
        })?;
        Ok(Self {
            id: PipelineId(row.id),
            repository_id: RepositoryId(row.repository_id),
            repository: row.repository,
            git_ref: row.git_ref,
            commit_sha: row.commit_sha,
            trigger,
            trigger_detail: row.trigger_detail,
            pr_number: row.pr_number,
            status: PipelineStatus::read(&row.status)?,
            reason: row.reason,
            retry_of: row.retry_of.map(PipelineId),
            cancel_requested: row.cancel_requested,
            created_at_ms: row.created_at_ms,
            started_at_ms: row.started_at_ms,
            finished_at_ms: row.finished_at_ms,
            steps: Vec::new(),
        })
    }
}

/// Rows as runs (without steps); the first unknown status fails the read.
pub(super) fn runs(rows: Vec<PipelineRow>) -> Result<Vec<PipelineRun>, StoreError> {
    rows.into_iter().map(PipelineRun::try_from).collect()
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct StepRow {
    name: String,
    image: String,
    depends_on: String,
    status: String,
    exit_code: Option<i32>,
    reason: Option<String>,
    log_key: Option<String>,
    started_at_ms: Option<i64>,
    finished_at_ms: Option<i64>,
}

impl TryFrom<StepRow> for StepRun {
    type Error = StoreError;

    fn try_from(row: StepRow) -> Result<Self, StoreError> {
        Ok(Self {
            name: row.name,
            image: row.image,
            depends_on: serde_json::from_str(&row.depends_on).unwrap_or_default(),
            status: StepStatus::read(&row.status)?,
            exit_code: row.exit_code,
            reason: row.reason,
            log_key: row.log_key,
            started_at_ms: row.started_at_ms,
            finished_at_ms: row.finished_at_ms,
        })
    }
}

/// Implements `domain::pipeline::PipelineStore` for a struct with `pool` (writes) and `readers`
/// (reads) fields.
macro_rules! impl_pipeline_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl domain::pipeline::PipelineStore for $store {
            async fn create_pipeline(
                &self,
                new: &domain::pipeline::NewPipeline,
                at_ms: i64,
            ) -> domain::store::Result<domain::pipeline::PipelineRun> {
                use $crate::store::pipeline_sql as sql;
                use $crate::store::sql_store::map_error;
                let inserted: Option<i64> = sqlx::query_scalar(sql::INSERT)
                    .bind(new.repository_id.0)
                    .bind(&new.git_ref)
                    .bind(&new.commit_sha)
                    .bind(new.trigger.as_str())
                    .bind(new.pr_number)
                    .bind(new.retry_of.map(|id| id.0))
                    .bind(at_ms)
                    .bind(&new.trigger_detail)
                    .bind(&new.delivery_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| map_error(e, "repository", new.repository_id))?;
                let id = match inserted {
                    Some(id) => id,
                    // The delivery queued its run already.
                    None => sqlx::query_scalar(sql::OF_DELIVERY)
                        .bind(&new.delivery_id)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(|e| map_error(e, "pipeline", "of the delivery"))?,
                };
                self.get_pipeline(domain::pipeline::PipelineId(id)).await
            }

            async fn claim_pipeline(
                &self,
                worker: &str,
                at_ms: i64,
            ) -> domain::store::Result<Option<domain::pipeline::PipelineRun>> {
                use $crate::store::pipeline_sql as sql;
                use $crate::store::sql_store::map_error;
                let id: Option<i64> = sqlx::query_scalar(sql::CLAIM)
                    .bind(worker)
                    .bind(at_ms)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| map_error(e, "pipeline", "pending"))?;
                match id {
                    Some(id) => Ok(Some(
                        self.get_pipeline(domain::pipeline::PipelineId(id)).await?,
                    )),
                    None => Ok(None),
                }
            }

            async fn plan_pipeline(
                &self,
                id: domain::pipeline::PipelineId,
                commit_sha: &str,
                definition: &domain::pipeline::PipelineDefinition,
            ) -> domain::store::Result<()> {
                use $crate::store::pipeline_sql as sql;
                use $crate::store::sql_store::map_error;
                let json = serde_json::to_string(definition)
                    .map_err(|e| domain::StoreError::Internal(Box::new(e)))?;
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err(|e| map_error(e, "pipeline", id))?;
                sqlx::query(sql::PLAN)
                    .bind(id.0)
                    .bind(commit_sha)
                    .bind(json)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| map_error(e, "pipeline", id))?;
                for (order, step) in definition.steps.iter().enumerate() {
                    let depends_on = serde_json::to_string(&step.depends_on)
                        .map_err(|e| domain::StoreError::Internal(Box::new(e)))?;
                    sqlx::query(sql::INSERT_STEP)
                        .bind(id.0)
                        .bind(&step.name)
                        .bind(i32::try_from(order).unwrap_or(i32::MAX))
                        .bind(&step.image)
                        .bind(depends_on)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| map_error(e, "pipeline step", &step.name))?;
                }
                tx.commit()
                    .await
                    .map_err(|e| map_error(e, "pipeline", id))?;
                Ok(())
            }

            async fn pipeline_definition(
                &self,
                id: domain::pipeline::PipelineId,
            ) -> domain::store::Result<Option<domain::pipeline::PipelineDefinition>> {
                use $crate::store::pipeline_sql as sql;
                use $crate::store::sql_store::map_error;
                let json: Option<String> = sqlx::query_scalar(sql::DEFINITION)
                    .bind(id.0)
                    .fetch_one(&self.readers)
                    .await
                    .map_err(|e| map_error(e, "pipeline", id))?;
                json.map(|json| serde_json::from_str(&json))
                    .transpose()
                    .map_err(|e| domain::StoreError::Internal(Box::new(e)))
            }

            async fn start_step(
                &self,
                id: domain::pipeline::PipelineId,
                step: &str,
                at_ms: i64,
            ) -> domain::store::Result<()> {
                use $crate::store::pipeline_sql as sql;
                sqlx::query(sql::START_STEP)
                    .bind(id.0)
                    .bind(step)
                    .bind(at_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "pipeline step", step))?;
                Ok(())
            }

            async fn finish_step(
                &self,
                id: domain::pipeline::PipelineId,
                step: &str,
                outcome: &domain::pipeline::StepOutcome,
                at_ms: i64,
            ) -> domain::store::Result<()> {
                use $crate::store::pipeline_sql as sql;
                sqlx::query(sql::FINISH_STEP)
                    .bind(id.0)
                    .bind(step)
                    .bind(outcome.status.as_str())
                    .bind(outcome.exit_code)
                    .bind(&outcome.reason)
                    .bind(&outcome.log_key)
                    .bind(at_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "pipeline step", step))?;
                Ok(())
            }

            async fn finish_pipeline(
                &self,
                id: domain::pipeline::PipelineId,
                status: domain::pipeline::PipelineStatus,
                reason: Option<&str>,
                at_ms: i64,
            ) -> domain::store::Result<bool> {
                use $crate::store::pipeline_sql as sql;
                use $crate::store::sql_store::map_error;
                let leftover = if status == domain::pipeline::PipelineStatus::Cancelled {
                    domain::pipeline::StepStatus::Cancelled
                } else {
                    domain::pipeline::StepStatus::Skipped
                };
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err(|e| map_error(e, "pipeline", id))?;
                let done = sqlx::query(sql::FINISH)
                    .bind(id.0)
                    .bind(status.as_str())
                    .bind(reason)
                    .bind(at_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| map_error(e, "pipeline", id))?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                sqlx::query(sql::SWEEP_STEPS)
                    .bind(id.0)
                    .bind(leftover.as_str())
                    .bind(reason)
                    .bind(at_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| map_error(e, "pipeline", id))?;
                tx.commit()
                    .await
                    .map_err(|e| map_error(e, "pipeline", id))?;
                Ok(true)
            }

            async fn heartbeat_pipeline(
                &self,
                id: domain::pipeline::PipelineId,
                worker: &str,
                at_ms: i64,
            ) -> domain::store::Result<bool> {
                let beat = sqlx::query($crate::store::pipeline_sql::HEARTBEAT)
                    .bind(id.0)
                    .bind(at_ms)
                    .bind(worker)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "pipeline", id))?;
                Ok(beat.rows_affected() == 1)
            }

            async fn let_go_pipeline(
                &self,
                id: domain::pipeline::PipelineId,
            ) -> domain::store::Result<()> {
                sqlx::query($crate::store::pipeline_sql::LET_GO)
                    .bind(id.0)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "pipeline", id))?;
                Ok(())
            }

            async fn take_over_pipeline(
                &self,
                id: domain::pipeline::PipelineId,
                worker: &str,
                at_ms: i64,
                stale_before_ms: i64,
            ) -> domain::store::Result<bool> {
                let taken = sqlx::query($crate::store::pipeline_sql::TAKE_OVER)
                    .bind(id.0)
                    .bind(worker)
                    .bind(at_ms)
                    .bind(stale_before_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "pipeline", id))?;
                Ok(taken.rows_affected() == 1)
            }

            async fn interrupted_pipelines(
                &self,
                stale_before_ms: i64,
            ) -> domain::store::Result<Vec<domain::pipeline::PipelineRun>> {
                let rows: Vec<$crate::store::pipeline_sql::PipelineRow> =
                    sqlx::query_as(&$crate::store::pipeline_sql::interrupted_query())
                        .bind(stale_before_ms)
                        .fetch_all(&self.readers)
                        .await
                        .map_err(|e| $crate::store::sql_store::map_error(e, "pipeline", "*"))?;
                $crate::store::pipeline_sql::runs(rows)
            }

            async fn request_cancel(
                &self,
                id: domain::pipeline::PipelineId,
                at_ms: i64,
            ) -> domain::store::Result<domain::pipeline::PipelineRun> {
                use $crate::store::pipeline_sql as sql;
                use $crate::store::sql_store::map_error;
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err(|e| map_error(e, "pipeline", id))?;
                let cancelled = sqlx::query(sql::CANCEL_PENDING)
                    .bind(id.0)
                    .bind(at_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| map_error(e, "pipeline", id))?;
                if cancelled.rows_affected() == 0 {
                    sqlx::query(sql::CANCEL_RUNNING)
                        .bind(id.0)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| map_error(e, "pipeline", id))?;
                }
                tx.commit()
                    .await
                    .map_err(|e| map_error(e, "pipeline", id))?;
                self.get_pipeline(id).await
            }

            async fn supersede_pull_request_runs(
                &self,
                repository_id: domain::RepositoryId,
                pr_number: i64,
                delivery_id: Option<&str>,
                at_ms: i64,
            ) -> domain::store::Result<u64> {
                use $crate::store::pipeline_sql as sql;
                use $crate::store::sql_store::map_error;
                let superseded = sqlx::query(sql::SUPERSEDE)
                    .bind(repository_id.0)
                    .bind(pr_number)
                    .bind(at_ms)
                    .bind(delivery_id)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| map_error(e, "pipeline", pr_number))?;
                Ok(superseded.rows_affected())
            }

            async fn discard_pipeline(
                &self,
                id: domain::pipeline::PipelineId,
            ) -> domain::store::Result<()> {
                sqlx::query($crate::store::pipeline_sql::DISCARD)
                    .bind(id.0)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "pipeline", id))?;
                Ok(())
            }

            async fn list_pipelines(
                &self,
                filter: &domain::pipeline::PipelineFilter,
            ) -> domain::store::Result<Vec<domain::pipeline::PipelineRun>> {
                use $crate::store::pipeline_sql as sql;
                let limit = i64::from(filter.limit.clamp(1, sql::MAX_PAGE));
                let rows: Vec<sql::PipelineRow> = sqlx::query_as(&sql::list_query())
                    .bind(filter.repository_id.map(|id| id.0))
                    .bind(filter.status.map(|s| s.as_str()))
                    .bind(filter.git_ref.as_deref())
                    .bind(filter.trigger.map(|t| t.as_str()))
                    .bind(filter.before.map(|id| id.0))
                    .bind(limit)
                    .bind(domain::identity::visible_list(filter.visible.as_deref()))
                    .bind(filter.pr_number)
                    .fetch_all(&self.readers)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "pipeline", "*"))?;
                $crate::store::pipeline_sql::runs(rows)
            }

            async fn get_pipeline(
                &self,
                id: domain::pipeline::PipelineId,
            ) -> domain::store::Result<domain::pipeline::PipelineRun> {
                use $crate::store::pipeline_sql as sql;
                use $crate::store::sql_store::map_error;
                let row: sql::PipelineRow = sqlx::query_as(&sql::get_query())
                    .bind(id.0)
                    .fetch_one(&self.readers)
                    .await
                    .map_err(|e| map_error(e, "pipeline", id))?;
                let steps: Vec<sql::StepRow> = sqlx::query_as(sql::STEPS)
                    .bind(id.0)
                    .fetch_all(&self.readers)
                    .await
                    .map_err(|e| map_error(e, "pipeline", id))?;
                let mut run = domain::pipeline::PipelineRun::try_from(row)?;
                run.steps = steps
                    .into_iter()
                    .map(domain::pipeline::StepRun::try_from)
                    .collect::<Result<_, _>>()?;
                Ok(run)
            }
        }
    };
}

pub(super) use impl_pipeline_store;
