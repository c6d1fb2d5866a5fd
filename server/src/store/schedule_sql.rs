//! The pipeline_schedules table for both SQL backends: the queries, the row type, and
//! `impl_schedule_store!` implementing `ScheduleStore` (advancing a schedule is a
//! compare-and-set, so an occurrence starts one run whatever the number of replicas).

use domain::RepositoryId;

pub(super) const SCHEDULES_OF: &str = "SELECT repository_id, cron, branch, next_at_ms FROM pipeline_schedules WHERE repository_id = $1";
pub(super) const DELETE_SCHEDULE: &str = "DELETE FROM pipeline_schedules \
     WHERE repository_id = $1 AND cron = $2 AND branch = $3";
pub(super) const INSERT_SCHEDULE: &str = "INSERT INTO pipeline_schedules \
     (repository_id, cron, branch, next_at_ms) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
pub(super) const DUE_SCHEDULES: &str = "SELECT repository_id, cron, branch, next_at_ms \
     FROM pipeline_schedules WHERE next_at_ms <= $1 ORDER BY next_at_ms";
pub(super) const ADVANCE_SCHEDULE: &str = "UPDATE pipeline_schedules SET next_at_ms = $5 \
     WHERE repository_id = $1 AND cron = $2 AND branch = $3 AND next_at_ms = $4";

#[derive(Debug, sqlx::FromRow)]
pub(super) struct ScheduleRow {
    repository_id: i64,
    cron: String,
    branch: String,
    next_at_ms: i64,
}

impl From<ScheduleRow> for domain::pipeline::ScheduleEntry {
    fn from(row: ScheduleRow) -> Self {
        Self {
            repository_id: RepositoryId(row.repository_id),
            cron: row.cron,
            branch: row.branch,
            next_at_ms: row.next_at_ms,
        }
    }
}

/// Implements `domain::pipeline::ScheduleStore` for a struct with `pool` (writes) and `readers`
/// (reads) fields.
macro_rules! impl_schedule_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl domain::pipeline::ScheduleStore for $store {
            async fn set_schedules(
                &self,
                repository_id: domain::RepositoryId,
                schedules: &[domain::pipeline::ScheduleEntry],
            ) -> domain::store::Result<()> {
                use $crate::store::schedule_sql as sql;
                use $crate::store::sql_store::map_error;
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err(|e| map_error(e, "schedule", repository_id))?;
                // Only what changed is written: a schedule kept as it was keeps its row (and
                // its next time), so a replica advancing it meanwhile is never undone.
                let existing: Vec<sql::ScheduleRow> = sqlx::query_as(sql::SCHEDULES_OF)
                    .bind(repository_id.0)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(|e| map_error(e, "schedule", repository_id))?;
                for gone in existing
                    .into_iter()
                    .map(domain::pipeline::ScheduleEntry::from)
                {
                    let kept = schedules
                        .iter()
                        .any(|s| s.cron == gone.cron && s.branch == gone.branch);
                    if kept {
                        continue;
                    }
                    sqlx::query(sql::DELETE_SCHEDULE)
                        .bind(repository_id.0)
                        .bind(&gone.cron)
                        .bind(&gone.branch)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| map_error(e, "schedule", &gone.cron))?;
                }
                for entry in schedules {
                    sqlx::query(sql::INSERT_SCHEDULE)
                        .bind(repository_id.0)
                        .bind(&entry.cron)
                        .bind(&entry.branch)
                        .bind(entry.next_at_ms)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| map_error(e, "schedule", &entry.cron))?;
                }
                tx.commit()
                    .await
                    .map_err(|e| map_error(e, "schedule", repository_id))?;
                Ok(())
            }

            async fn due_schedules(
                &self,
                now_ms: i64,
            ) -> domain::store::Result<Vec<domain::pipeline::ScheduleEntry>> {
                let rows: Vec<$crate::store::schedule_sql::ScheduleRow> =
                    sqlx::query_as($crate::store::schedule_sql::DUE_SCHEDULES)
                        .bind(now_ms)
                        .fetch_all(&self.readers)
                        .await
                        .map_err(|e| $crate::store::sql_store::map_error(e, "schedule", "*"))?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn advance_schedule(
                &self,
                entry: &domain::pipeline::ScheduleEntry,
                next_ms: i64,
            ) -> domain::store::Result<bool> {
                let done = sqlx::query($crate::store::schedule_sql::ADVANCE_SCHEDULE)
                    .bind(entry.repository_id.0)
                    .bind(&entry.cron)
                    .bind(&entry.branch)
                    .bind(entry.next_at_ms)
                    .bind(next_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "schedule", &entry.cron))?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

pub(super) use impl_schedule_store;
