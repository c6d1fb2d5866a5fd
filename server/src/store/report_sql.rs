//! The reports table for both SQL backends: a claim is one upsert that only takes a row
//! nobody holds (or whose claim ran out), and the sweep joins recent runs and previews with
//! what was last sent. `impl_report_store!` implements `ReportStore`.

pub(super) const CLAIM: &str = "INSERT INTO reports \
     (kind, subject_id, claimed_by, claimed_until_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (kind, subject_id) DO UPDATE SET claimed_by = excluded.claimed_by, \
     claimed_until_ms = excluded.claimed_until_ms \
     WHERE reports.claimed_by IS NULL OR reports.claimed_by = $3 \
     OR reports.claimed_until_ms < $5 \
     RETURNING remote_id, remote_key, fingerprint, sent_status, sent_at_ms";
pub(super) const FINISH: &str = "UPDATE reports SET remote_id = $4, remote_key = $5, \
     fingerprint = $6, sent_status = $7, sent_at_ms = $8, updated_at_ms = $9, \
     claimed_by = NULL, claimed_until_ms = NULL \
     WHERE kind = $1 AND subject_id = $2 AND claimed_by = $3";
pub(super) const RELEASE: &str = "UPDATE reports SET claimed_by = NULL, \
     claimed_until_ms = NULL WHERE kind = $1 AND subject_id = $2 AND claimed_by = $3";
/// Runs with a commit whose status is not the one last reported.
pub(super) const UNREPORTED_PIPELINES: &str = "SELECT p.id FROM pipelines p \
     LEFT JOIN reports r ON r.kind = 'pipeline' AND r.subject_id = p.id \
     WHERE p.created_at_ms >= $1 AND p.commit_sha IS NOT NULL \
     AND (r.sent_status IS NULL OR r.sent_status <> p.status) ORDER BY p.id LIMIT $2";
/// Previews whose status or attempt is not the one last reported.
pub(super) const UNREPORTED_PREVIEWS: &str = "SELECT p.id FROM previews p \
     LEFT JOIN reports r ON r.kind = 'preview' AND r.subject_id = p.id \
     WHERE p.updated_at_ms >= $1 AND (r.sent_status IS NULL OR r.sent_status <> p.status \
     OR r.remote_key IS NULL OR r.remote_key <> p.head_sha || '@' || CAST(p.round AS TEXT)) \
     ORDER BY p.id LIMIT $2";

#[derive(Debug, sqlx::FromRow)]
pub(super) struct ReportRow {
    remote_id: Option<i64>,
    remote_key: Option<String>,
    fingerprint: Option<String>,
    sent_status: Option<String>,
    sent_at_ms: Option<i64>,
}

impl From<ReportRow> for domain::report::ReportRecord {
    fn from(row: ReportRow) -> Self {
        Self {
            remote_id: row.remote_id,
            remote_key: row.remote_key,
            fingerprint: row.fingerprint,
            sent_status: row.sent_status,
            sent_at_ms: row.sent_at_ms,
        }
    }
}

/// Implements `domain::report::ReportStore` for a struct with `pool` (writes) and `readers`
/// (reads) fields.
macro_rules! impl_report_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl domain::report::ReportStore for $store {
            async fn claim_report(
                &self,
                kind: domain::report::ReportKind,
                subject_id: i64,
                owner: &str,
                now_ms: i64,
                until_ms: i64,
            ) -> domain::store::Result<Option<domain::report::ReportRecord>> {
                use $crate::store::report_sql as sql;
                let row: Option<sql::ReportRow> = sqlx::query_as(sql::CLAIM)
                    .bind(kind.as_str())
                    .bind(subject_id)
                    .bind(owner)
                    .bind(until_ms)
                    .bind(now_ms)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "report", subject_id))?;
                Ok(row.map(Into::into))
            }

            async fn finish_report(
                &self,
                kind: domain::report::ReportKind,
                subject_id: i64,
                owner: &str,
                record: &domain::report::ReportRecord,
                now_ms: i64,
            ) -> domain::store::Result<()> {
                sqlx::query($crate::store::report_sql::FINISH)
                    .bind(kind.as_str())
                    .bind(subject_id)
                    .bind(owner)
                    .bind(record.remote_id)
                    .bind(&record.remote_key)
                    .bind(&record.fingerprint)
                    .bind(&record.sent_status)
                    .bind(record.sent_at_ms)
                    .bind(now_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "report", subject_id))?;
                Ok(())
            }

            async fn release_report(
                &self,
                kind: domain::report::ReportKind,
                subject_id: i64,
                owner: &str,
            ) -> domain::store::Result<()> {
                sqlx::query($crate::store::report_sql::RELEASE)
                    .bind(kind.as_str())
                    .bind(subject_id)
                    .bind(owner)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "report", subject_id))?;
                Ok(())
            }

            async fn unreported(
                &self,
                kind: domain::report::ReportKind,
                since_ms: i64,
                limit: u32,
            ) -> domain::store::Result<Vec<i64>> {
                use $crate::store::report_sql as sql;
                let query = match kind {
                    domain::report::ReportKind::Pipeline => sql::UNREPORTED_PIPELINES,
                    domain::report::ReportKind::Preview => sql::UNREPORTED_PREVIEWS,
                };
                sqlx::query_scalar(query)
                    .bind(since_ms)
                    .bind(i64::from(limit))
                    .fetch_all(&self.readers)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "report", kind.as_str()))
            }
        }
    };
}

pub(super) use impl_report_store;
