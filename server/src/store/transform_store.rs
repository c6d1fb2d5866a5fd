//! `impl_transform_store!`: the `TransformStore` of a SQL Store, over the SQL of
//! `transform_sql`. Every move of an execution and its run's new status are one transaction.
//! `$claim_lock` is what the backend adds to a claim's inner select (see `transform_sql::claim`).

macro_rules! impl_transform_store {
    ($store:ty, $claim_lock:expr) => {
        #[async_trait::async_trait]
        impl domain::transform::TransformStore for $store {
            async fn create_transform_run(
                &self,
                run: &domain::transform::NewTransformRun,
                now_ms: i64,
            ) -> domain::store::Result<domain::transform::TransformRun> {
                use $crate::store::sql_store::map_error;
                use $crate::store::transform_sql as sql;
                let what = "transform run";
                let spec = sql::json(&run.spec)?;
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err(|e| map_error(e, what, &run.spec.name))?;
                let (id,): (i64,) = sqlx::query_as(sql::INSERT_RUN)
                    .bind(&run.spec.name)
                    .bind(&spec)
                    .bind(&run.started_by)
                    .bind(now_ms)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| map_error(e, what, &run.spec.name))?;
                let run_id = domain::transform::TransformRunId(id);
                for (repository_id, name) in &run.repositories {
                    sqlx::query(sql::INSERT_EXECUTION)
                        .bind(id)
                        .bind(repository_id.0)
                        .bind(name)
                        .bind(domain::transform::Execution::key_for(run_id, name))
                        .bind(i64::from(run.max_attempts))
                        .bind(now_ms)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| map_error(e, "transform execution", name))?;
                }
                tx.commit().await.map_err(|e| map_error(e, what, id))?;
                self.get_transform_run(run_id).await
            }

            async fn enqueue_execution(
                &self,
                run: domain::transform::TransformRunId,
                repository: domain::RepositoryId,
                repository_name: &str,
                max_attempts: u32,
                now_ms: i64,
            ) -> domain::store::Result<bool> {
                use $crate::store::sql_store::map_error;
                use $crate::store::transform_sql as sql;
                let key = domain::transform::Execution::key_for(run, repository_name);
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err(|e| map_error(e, "transform run", run))?;
                let added = sqlx::query(sql::INSERT_EXECUTION)
                    .bind(run.0)
                    .bind(repository.0)
                    .bind(repository_name)
                    .bind(&key)
                    .bind(i64::from(max_attempts))
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| map_error(e, "transform run", run))?
                    .rows_affected()
                    > 0;
                $crate::store::transform_sql::refresh_run!(tx, run.0, now_ms);
                tx.commit()
                    .await
                    .map_err(|e| map_error(e, "transform run", run))?;
                Ok(added)
            }

            async fn list_transform_runs(
                &self,
                filter: &domain::transform::TransformRunFilter,
            ) -> domain::store::Result<Vec<domain::transform::TransformRun>> {
                use $crate::store::sql_store::map_error;
                use $crate::store::transform_sql as sql;
                let what = "transform run";
                let limit = i64::from(filter.limit.clamp(1, sql::MAX_PAGE));
                let rows: Vec<sql::RunRow> = sqlx::query_as(&sql::list_runs())
                    .bind(filter.before.map(|id| id.0))
                    .bind(domain::identity::visible_list(filter.visible.as_deref()))
                    .bind(limit)
                    .fetch_all(&self.readers)
                    .await
                    .map_err(|e| map_error(e, what, "list"))?;
                let ids = rows.iter().map(|r| r.id());
                let (Some(low), Some(high)) = (ids.clone().min(), ids.max()) else {
                    return Ok(Vec::new());
                };
                let statuses: Vec<sql::StatusRow> = sqlx::query_as(sql::STATUSES_BETWEEN)
                    .bind(low)
                    .bind(high)
                    .bind(domain::identity::visible_list(filter.visible.as_deref()))
                    .fetch_all(&self.readers)
                    .await
                    .map_err(|e| map_error(e, what, "list"))?;
                let mut by_run = sql::statuses_by_run(statuses)?;
                rows.into_iter()
                    .map(|row| {
                        let statuses = by_run.remove(&row.id()).unwrap_or_default();
                        row.run(&statuses)
                    })
                    .collect()
            }

            async fn get_transform_run(
                &self,
                id: domain::transform::TransformRunId,
            ) -> domain::store::Result<domain::transform::TransformRun> {
                use $crate::store::sql_store::map_error;
                use $crate::store::transform_sql as sql;
                let what = "transform run";
                let row: sql::RunRow = sqlx::query_as(&sql::get_run())
                    .bind(id.0)
                    .fetch_one(&self.readers)
                    .await
                    .map_err(|e| map_error(e, what, id))?;
                let statuses: Vec<sql::StatusRow> = sqlx::query_as(sql::STATUSES_OF_RUN)
                    .bind(id.0)
                    .fetch_all(&self.readers)
                    .await
                    .map_err(|e| map_error(e, what, id))?;
                let statuses = sql::statuses_by_run(statuses)?
                    .remove(&id.0)
                    .unwrap_or_default();
                row.run(&statuses)
            }

            async fn list_executions(
                &self,
                run: domain::transform::TransformRunId,
            ) -> domain::store::Result<Vec<domain::transform::Execution>> {
                use $crate::store::transform_sql as sql;
                let rows: Vec<sql::ExecutionRow> = sqlx::query_as(&sql::list_executions())
                    .bind(run.0)
                    .fetch_all(&self.readers)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "transform run", run))?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn get_execution(
                &self,
                id: i64,
            ) -> domain::store::Result<domain::transform::Execution> {
                use $crate::store::transform_sql as sql;
                let row: sql::ExecutionRow = sqlx::query_as(&sql::get_execution())
                    .bind(id)
                    .fetch_one(&self.readers)
                    .await
                    .map_err(|e| {
                        $crate::store::sql_store::map_error(e, "transform execution", id)
                    })?;
                row.try_into()
            }

            async fn claim_execution(
                &self,
                owner: &str,
                now_ms: i64,
                until_ms: i64,
            ) -> domain::store::Result<Option<domain::transform::ClaimedExecution>> {
                use $crate::store::sql_store::map_error;
                use $crate::store::transform_sql as sql;
                let what = "transform execution";
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err(|e| map_error(e, what, owner))?;
                let row: Option<sql::ExecutionRow> = sqlx::query_as(&sql::claim($claim_lock))
                    .bind(owner)
                    .bind(until_ms)
                    .bind(now_ms)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| map_error(e, what, owner))?;
                let Some(row) = row else {
                    return Ok(None);
                };
                Ok(Some($crate::store::transform_sql::commit_claim!(
                    tx, row, now_ms, owner
                )))
            }

            async fn claim_execution_by_key(
                &self,
                key: &str,
                owner: &str,
                now_ms: i64,
                until_ms: i64,
            ) -> domain::store::Result<domain::transform::KeyedClaim> {
                use domain::transform::{ExecutionStatus, KeyedClaim};
                use $crate::store::sql_store::map_error;
                use $crate::store::transform_sql as sql;
                let what = "transform execution";
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err(|e| map_error(e, what, key))?;
                let row: Option<sql::ExecutionRow> = sqlx::query_as(&sql::claim_by_key())
                    .bind(owner)
                    .bind(until_ms)
                    .bind(now_ms)
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| map_error(e, what, key))?;
                let Some(row) = row else {
                    let found: Option<sql::ExecutionRow> = sqlx::query_as(&sql::by_key())
                        .bind(key)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(|e| map_error(e, what, key))?;
                    let Some(found) = found else {
                        return Ok(KeyedClaim::Unknown);
                    };
                    let execution: domain::transform::Execution = found.try_into()?;
                    return Ok(match execution.status {
                        ExecutionStatus::Pending => KeyedClaim::NotDue,
                        ExecutionStatus::Scheduled | ExecutionStatus::Running => KeyedClaim::Held,
                        _ => KeyedClaim::Ended(execution),
                    });
                };
                Ok(KeyedClaim::Claimed(
                    $crate::store::transform_sql::commit_claim!(tx, row, now_ms, key),
                ))
            }

            async fn publish_due_executions(
                &self,
                now_ms: i64,
                limit: u32,
            ) -> domain::store::Result<Vec<domain::transform::Execution>> {
                use $crate::store::transform_sql as sql;
                let rows: Vec<sql::ExecutionRow> = sqlx::query_as(&sql::publish_due())
                    .bind(now_ms)
                    .bind(i64::from(limit.clamp(1, sql::MAX_PAGE)))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| {
                        $crate::store::sql_store::map_error(e, "transform execution", "publish")
                    })?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn unpublish_executions(&self, only: Option<i64>) -> domain::store::Result<u64> {
                use $crate::store::transform_sql as sql;
                Ok(sqlx::query(&sql::unpublish())
                    .bind(only)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| {
                        $crate::store::sql_store::map_error(e, "transform execution", "unpublish")
                    })?
                    .rows_affected())
            }

            async fn renew_execution(
                &self,
                id: i64,
                owner: &str,
                until_ms: i64,
            ) -> domain::store::Result<domain::transform::Renewal> {
                use domain::transform::Renewal;
                use $crate::store::sql_store::map_error;
                use $crate::store::transform_sql as sql;
                let what = "transform execution";
                let held = sqlx::query(sql::RENEW)
                    .bind(id)
                    .bind(owner)
                    .bind(until_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| map_error(e, what, id))?
                    .rows_affected()
                    > 0;
                if !held {
                    return Ok(Renewal::Lost);
                }
                let (cancel,): (bool,) = sqlx::query_as(sql::CANCEL_REQUESTED)
                    .bind(id)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| map_error(e, what, id))?;
                Ok(if cancel {
                    Renewal::CancelRequested
                } else {
                    Renewal::Held
                })
            }

            async fn start_execution(
                &self,
                id: i64,
                owner: &str,
                base_sha: &str,
                now_ms: i64,
            ) -> domain::store::Result<()> {
                use $crate::store::transform_sql as sql;
                let what = "transform execution";
                let moved = sqlx::query(&sql::start())
                    .bind(id)
                    .bind(owner)
                    .bind(base_sha)
                    .bind(now_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, what, id))?
                    .rows_affected();
                if moved == 0 {
                    return Err(domain::StoreError::InvalidState {
                        entity: what,
                        key: id.to_string(),
                        status: "no longer held by this worker",
                    });
                }
                Ok(())
            }

            async fn finish_execution(
                &self,
                id: i64,
                owner: &str,
                outcome: &domain::transform::ExecutionOutcome,
                now_ms: i64,
            ) -> domain::store::Result<domain::transform::Execution> {
                use $crate::store::sql_store::map_error;
                use $crate::store::transform_sql as sql;
                let what = "transform execution";
                let diff = outcome.diff.as_ref().map(sql::json).transpose()?;
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err(|e| map_error(e, what, id))?;
                let row: Option<sql::ExecutionRow> = sqlx::query_as(&sql::finish(outcome.status))
                    .bind(id)
                    .bind(owner)
                    .bind(outcome.status.as_str())
                    .bind(outcome.exit_code.map(i64::from))
                    .bind(&outcome.reason)
                    .bind(diff)
                    .bind(&outcome.patch_sha256)
                    .bind(now_ms)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| map_error(e, what, id))?;
                let execution = sql::held(row, id)?;
                $crate::store::transform_sql::refresh_run!(tx, execution.run_id.0, now_ms);
                tx.commit().await.map_err(|e| map_error(e, what, id))?;
                Ok(execution)
            }

            async fn fail_execution_attempt(
                &self,
                id: i64,
                owner: &str,
                reason: &str,
                retry_at_ms: Option<i64>,
                now_ms: i64,
            ) -> domain::store::Result<domain::transform::Execution> {
                use $crate::store::sql_store::map_error;
                use $crate::store::transform_sql as sql;
                let what = "transform execution";
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err(|e| map_error(e, what, id))?;
                let (text, at) = match retry_at_ms {
                    Some(at) => (sql::retry_later(), at),
                    None => (sql::dead_letter(), now_ms),
                };
                let row: Option<sql::ExecutionRow> = sqlx::query_as(&text)
                    .bind(id)
                    .bind(owner)
                    .bind(reason)
                    .bind(at)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| map_error(e, what, id))?;
                let execution = sql::held(row, id)?;
                $crate::store::transform_sql::refresh_run!(tx, execution.run_id.0, now_ms);
                tx.commit().await.map_err(|e| map_error(e, what, id))?;
                Ok(execution)
            }

            async fn release_executions(&self, owner: &str) -> domain::store::Result<u64> {
                use $crate::store::sql_store::map_error;
                use $crate::store::transform_sql as sql;
                let what = "transform execution";
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err(|e| map_error(e, what, owner))?;
                let runs: Vec<(i64,)> = sqlx::query_as(sql::RELEASE)
                    .bind(owner)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(|e| map_error(e, what, owner))?;
                let released = runs.len() as u64;
                let mut runs: Vec<i64> = runs.into_iter().map(|(id,)| id).collect();
                runs.sort_unstable();
                runs.dedup();
                let now_ms = domain::time::now_ms();
                for run in runs {
                    $crate::store::transform_sql::refresh_run!(tx, run, now_ms);
                }
                tx.commit().await.map_err(|e| map_error(e, what, owner))?;
                Ok(released)
            }

            async fn cancel_transform_run(
                &self,
                id: domain::transform::TransformRunId,
                now_ms: i64,
            ) -> domain::store::Result<domain::transform::TransformRun> {
                use $crate::store::sql_store::map_error;
                use $crate::store::transform_sql as sql;
                let what = "transform run";
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err(|e| map_error(e, what, id))?;
                let found = sqlx::query(sql::REQUEST_CANCEL)
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| map_error(e, what, id))?
                    .rows_affected();
                if found == 0 {
                    return Err(domain::StoreError::NotFound {
                        entity: what,
                        key: id.to_string(),
                    });
                }
                sqlx::query(sql::CANCEL_PENDING)
                    .bind(id.0)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| map_error(e, what, id))?;
                $crate::store::transform_sql::refresh_run!(tx, id.0, now_ms);
                tx.commit().await.map_err(|e| map_error(e, what, id))?;
                self.get_transform_run(id).await
            }

            async fn transform_queue_state(
                &self,
            ) -> domain::store::Result<domain::transform::QueueState> {
                use $crate::store::transform_sql as sql;
                let row: Option<sql::QueueRow> = sqlx::query_as(sql::QUEUE_STATE)
                    .fetch_optional(&self.readers)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "transform queue", 1))?;
                Ok(row.map(Into::into).unwrap_or_default())
            }

            async fn set_transform_queue_paused(
                &self,
                paused: bool,
                by: Option<&str>,
                now_ms: i64,
            ) -> domain::store::Result<domain::transform::QueueState> {
                use $crate::store::transform_sql as sql;
                let row: sql::QueueRow = sqlx::query_as(sql::SET_QUEUE)
                    .bind(paused)
                    .bind(by)
                    .bind(now_ms)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "transform queue", 1))?;
                Ok(row.into())
            }

            async fn retry_executions(
                &self,
                run: domain::transform::TransformRunId,
                execution: Option<i64>,
                now_ms: i64,
            ) -> domain::store::Result<Vec<domain::transform::Execution>> {
                use $crate::store::sql_store::map_error;
                use $crate::store::transform_sql as sql;
                let what = "transform run";
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err(|e| map_error(e, what, run))?;
                let rows: Vec<sql::ExecutionRow> = sqlx::query_as(&sql::retry())
                    .bind(run.0)
                    .bind(now_ms)
                    .bind(execution)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(|e| map_error(e, what, run))?;
                if !rows.is_empty() {
                    sqlx::query(sql::CLEAR_CANCEL)
                        .bind(run.0)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| map_error(e, what, run))?;
                    $crate::store::transform_sql::refresh_run!(tx, run.0, now_ms);
                }
                tx.commit().await.map_err(|e| map_error(e, what, run))?;
                rows.into_iter().map(TryInto::try_into).collect()
            }
        }
    };
}

pub(super) use impl_transform_store;
