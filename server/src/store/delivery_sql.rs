//! The deliveries table for both SQL backends: the queries (written once, valid for SQLite and
//! PostgreSQL), the row type, and `impl_delivery_store!` implementing `DeliveryStore`.

use domain::{Delivery, DeliveryStatus, StateMachine, StoreError};

use super::guards::{quoted, sources_of};

const COLUMNS: &str = "seq, delivery_id, event, action, repository, pull_request, received_at_ms, \
     status, error, attempts, processed_at_ms";

// The same delivery id twice: the second insert does nothing, which is how a repeated
// delivery is recognised, atomically, whatever the number of replicas.
pub(super) const RECORD: &str = "INSERT INTO deliveries \
     (delivery_id, event, action, repository, pull_request, received_at_ms, payload, status, error) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (delivery_id) DO NOTHING";
pub(super) fn claim_query() -> String {
    format!(
        "UPDATE deliveries SET status = 'processing', attempts = attempts + 1, claimed_at_ms = $2 \
         WHERE delivery_id = $1 AND status IN ({}) RETURNING {COLUMNS}, payload",
        sources_of(DeliveryStatus::Processing)
    )
}
pub(super) const RELEASE_STALE: &str = "UPDATE deliveries SET status = 'queued' \
     WHERE status = 'processing' AND claimed_at_ms < $1";
pub(super) const RENEW: &str = "UPDATE deliveries SET claimed_at_ms = $2 \
     WHERE delivery_id = $1 AND status = 'processing'";
/// Ends processing as `target`, only from a state that may become it (a worker's claim).
pub(super) fn finish_query(target: DeliveryStatus) -> String {
    format!(
        "UPDATE deliveries SET status = $2, error = $3, processed_at_ms = $4 \
         WHERE delivery_id = $1 AND status IN ({})",
        sources_of(target)
    )
}
/// "Process again": only a delivery no worker holds.
pub(super) fn requeue_query() -> String {
    let from = DeliveryStatus::ALL
        .into_iter()
        .filter(|s| s.can_redeliver());
    format!(
        "UPDATE deliveries SET status = 'queued', error = NULL, processed_at_ms = NULL \
         WHERE delivery_id = $1 AND status IN ({}) RETURNING {COLUMNS}",
        quoted(from)
    )
}

pub(super) fn list_query() -> String {
    format!(
        "SELECT {COLUMNS} FROM deliveries \
         WHERE ($1 IS NULL OR event = $1) AND ($2 IS NULL OR status = $2) \
         AND ($3 IS NULL OR repository = $3) AND ($4 IS NULL OR seq < $4) \
         AND ($6 IS NULL OR repository IN (SELECT r.name FROM repositories r \
              WHERE $6 LIKE '%,' || CAST(r.id AS TEXT) || ',%')) \
         ORDER BY seq DESC LIMIT $5"
    )
}

pub(super) fn queued_query() -> String {
    format!(
        "SELECT {COLUMNS} FROM deliveries WHERE status = 'queued' AND seq > $1 ORDER BY seq LIMIT $2"
    )
}

pub(super) fn get_query() -> String {
    format!("SELECT {COLUMNS}, payload FROM deliveries WHERE delivery_id = $1")
}

/// Why a guarded update changed nothing: the delivery does not exist, or its state does not
/// allow the move (named).
pub(super) async fn refused(store: &dyn domain::DeliveryStore, delivery_id: &str) -> StoreError {
    match store.get_delivery(delivery_id).await {
        Ok((delivery, _)) => StoreError::InvalidState {
            entity: "delivery",
            key: delivery_id.to_owned(),
            status: delivery.status.as_str(),
        },
        Err(error) => error,
    }
}

/// Pages are at most this long.
pub(super) const MAX_PAGE: u32 = 200;

#[derive(Debug, sqlx::FromRow)]
pub(super) struct DeliveryRow {
    seq: i64,
    delivery_id: String,
    event: String,
    action: Option<String>,
    repository: Option<String>,
    pull_request: Option<i64>,
    received_at_ms: i64,
    status: String,
    error: Option<String>,
    attempts: i64,
    processed_at_ms: Option<i64>,
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct DeliveryWithPayload {
    #[sqlx(flatten)]
    pub(super) row: DeliveryRow,
    pub(super) payload: String,
}

impl TryFrom<DeliveryRow> for Delivery {
    type Error = StoreError;

    fn try_from(row: DeliveryRow) -> Result<Self, StoreError> {
        Ok(Self {
            seq: row.seq,
            delivery_id: row.delivery_id,
            event: row.event,
            action: row.action,
            repository: row.repository,
            pull_request: row.pull_request,
            received_at_ms: row.received_at_ms,
            status: DeliveryStatus::read(&row.status)?,
            error: row.error,
            attempts: row.attempts,
            processed_at_ms: row.processed_at_ms,
        })
    }
}

/// Rows as deliveries; the first unknown status fails the read.
pub(super) fn deliveries(rows: Vec<DeliveryRow>) -> Result<Vec<Delivery>, StoreError> {
    rows.into_iter().map(Delivery::try_from).collect()
}

/// Implements `domain::DeliveryStore` for a struct with `pool` (writes) and `readers` (reads)
/// fields of any sqlx pool type.
macro_rules! impl_delivery_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl domain::DeliveryStore for $store {
            async fn record_delivery(
                &self,
                delivery: &domain::NewDelivery,
            ) -> domain::store::Result<bool> {
                use $crate::store::delivery_sql as sql;
                let status = if delivery.error.is_some() {
                    domain::DeliveryStatus::Failed
                } else {
                    domain::DeliveryStatus::Queued
                };
                let done = sqlx::query(sql::RECORD)
                    .bind(&delivery.delivery_id)
                    .bind(&delivery.event)
                    .bind(&delivery.action)
                    .bind(&delivery.repository)
                    .bind(delivery.pull_request)
                    .bind(delivery.received_at_ms)
                    .bind(&delivery.payload)
                    .bind(status.as_str())
                    .bind(&delivery.error)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| {
                        $crate::store::sql_store::map_error(e, "delivery", &delivery.delivery_id)
                    })?;
                Ok(done.rows_affected() == 1)
            }

            async fn list_deliveries(
                &self,
                filter: &domain::DeliveryFilter,
            ) -> domain::store::Result<Vec<domain::Delivery>> {
                use $crate::store::delivery_sql as sql;
                let limit = i64::from(filter.limit.clamp(1, sql::MAX_PAGE));
                let rows: Vec<sql::DeliveryRow> = sqlx::query_as(&sql::list_query())
                    .bind(&filter.event)
                    .bind(filter.status.map(domain::DeliveryStatus::as_str))
                    .bind(&filter.repository)
                    .bind(filter.before)
                    .bind(limit)
                    .bind(domain::identity::visible_list(filter.visible.as_deref()))
                    .fetch_all(&self.readers)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "delivery", "*"))?;
                sql::deliveries(rows)
            }

            async fn get_delivery(
                &self,
                delivery_id: &str,
            ) -> domain::store::Result<(domain::Delivery, String)> {
                use $crate::store::delivery_sql as sql;
                let found: sql::DeliveryWithPayload = sqlx::query_as(&sql::get_query())
                    .bind(delivery_id)
                    .fetch_one(&self.readers)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "delivery", delivery_id))?;
                Ok((found.row.try_into()?, found.payload))
            }

            async fn claim_delivery(
                &self,
                delivery_id: &str,
                at_ms: i64,
            ) -> domain::store::Result<Option<(domain::Delivery, String)>> {
                use $crate::store::delivery_sql as sql;
                let claimed: Option<sql::DeliveryWithPayload> = sqlx::query_as(&sql::claim_query())
                    .bind(delivery_id)
                    .bind(at_ms)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "delivery", delivery_id))?;
                match claimed {
                    Some(found) => Ok(Some((found.row.try_into()?, found.payload))),
                    None => Ok(None),
                }
            }

            async fn release_stale_claims(&self, before_ms: i64) -> domain::store::Result<u64> {
                let done = sqlx::query($crate::store::delivery_sql::RELEASE_STALE)
                    .bind(before_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "delivery", "*"))?;
                Ok(done.rows_affected())
            }

            async fn renew_delivery_claim(
                &self,
                delivery_id: &str,
                at_ms: i64,
            ) -> domain::store::Result<bool> {
                let done = sqlx::query($crate::store::delivery_sql::RENEW)
                    .bind(delivery_id)
                    .bind(at_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "delivery", delivery_id))?;
                Ok(done.rows_affected() == 1)
            }

            async fn finish_delivery(
                &self,
                delivery_id: &str,
                status: domain::DeliveryStatus,
                error: Option<&str>,
                at_ms: i64,
            ) -> domain::store::Result<()> {
                use $crate::store::delivery_sql as sql;
                let done = sqlx::query(&sql::finish_query(status))
                    .bind(delivery_id)
                    .bind(status.as_str())
                    .bind(error)
                    // A delivery handed back to the queue has not been processed yet.
                    .bind(status.is_finished().then_some(at_ms))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "delivery", delivery_id))?;
                if done.rows_affected() == 0 {
                    return Err(sql::refused(self, delivery_id).await);
                }
                Ok(())
            }

            async fn requeue_delivery(
                &self,
                delivery_id: &str,
            ) -> domain::store::Result<domain::Delivery> {
                use $crate::store::delivery_sql as sql;
                let row: Option<sql::DeliveryRow> = sqlx::query_as(&sql::requeue_query())
                    .bind(delivery_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "delivery", delivery_id))?;
                match row {
                    Some(row) => row.try_into(),
                    None => Err(sql::refused(self, delivery_id).await),
                }
            }

            async fn queued_deliveries(
                &self,
                after_seq: i64,
                limit: u32,
            ) -> domain::store::Result<Vec<domain::Delivery>> {
                let rows: Vec<$crate::store::delivery_sql::DeliveryRow> =
                    sqlx::query_as(&$crate::store::delivery_sql::queued_query())
                        .bind(after_seq)
                        .bind(i64::from(limit))
                        .fetch_all(&self.readers)
                        .await
                        .map_err(|e| $crate::store::sql_store::map_error(e, "delivery", "*"))?;
                $crate::store::delivery_sql::deliveries(rows)
            }
        }
    };
}

pub(super) use impl_delivery_store;
