//! `impl_preview_store!`: the `PreviewStore` implementation for either sqlx pool, over the
//! queries and rows of `preview_sql`.

/// Implements `PreviewStore` for a struct with `pool` (writes) and `readers` (reads)
/// fields of any sqlx pool type.
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
                    .bind(domain::identity::visible_list(filter.visible.as_deref()))
                    .fetch_all(&self.readers)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "preview", "list"))?;
                sql::previews(rows)
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
                    .bind(domain::identity::visible_list(filter.visible.as_deref()))
                    .fetch_one(&self.readers)
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
                    .fetch_one(&self.readers)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "preview", id))?;
                row.try_into()
            }

            async fn get_preview_by_namespace(
                &self,
                namespace: &str,
            ) -> domain::store::Result<domain::preview::Preview> {
                use $crate::store::preview_sql as sql;
                let row: sql::PreviewRow = sqlx::query_as(&sql::by_namespace_query())
                    .bind(namespace)
                    .fetch_one(&self.readers)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "preview", namespace))?;
                row.try_into()
            }

            async fn preview_attempts(
                &self,
                preview_id: i64,
            ) -> domain::store::Result<Vec<domain::preview::PreviewAttempt>> {
                use $crate::store::preview_sql as sql;
                let rows: Vec<sql::AttemptRow> = sqlx::query_as(&sql::attempts_query())
                    .bind(preview_id)
                    .fetch_all(&self.readers)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "preview", preview_id))?;
                sql::attempts(rows)
            }

            async fn claim_preview_attempts(
                &self,
                at_ms: i64,
                stale_before_ms: i64,
                limit: u32,
            ) -> domain::store::Result<Vec<domain::preview::PreviewAttempt>> {
                use $crate::store::preview_sql as sql;
                let fail = |e| $crate::store::sql_store::map_error(e, "preview attempt", "claim");
                let rows: Vec<sql::AttemptRow> = sqlx::query_as(&sql::claim_query())
                    .bind(at_ms)
                    .bind(stale_before_ms)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(fail)?;
                let mut claimed: Vec<domain::preview::PreviewAttempt> = sql::attempts(rows)?;
                claimed.sort_by_key(|a| a.id);
                Ok(claimed)
            }

            async fn heartbeat_preview_removal(
                &self,
                id: i64,
                at_ms: i64,
            ) -> domain::store::Result<bool> {
                let beat = sqlx::query($crate::store::preview_sql::REMOVAL_HEARTBEAT)
                    .bind(id)
                    .bind(at_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "preview", id))?;
                Ok(beat.rows_affected() == 1)
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
                    .fetch_all(&self.readers)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "preview", "removals"))?;
                sql::previews(rows)
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
                Ok(Some(attempt.try_into()?))
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
                        .fetch_all(&self.readers)
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
