//! The notification tables for both SQL backends: subscriptions (events as a comma list,
//! secrets as base64 text), deliveries (one per subscription and subject event; a claim takes
//! only rows nobody holds, re-checked in the outer `WHERE` so two senders never take the same
//! row), and attempts. `impl_notification_store!` implements `NotificationStore`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use domain::notification::{
    NotificationAttempt, NotificationDelivery, NotificationEvent, NotificationStatus, Subscription,
};
use domain::secrets::SealedSecret;
use domain::{RepositoryId, StoreError};

const SUBSCRIPTION_COLUMNS: &str =
    "id, repository_id, url, events, secret_nonce, secret_ciphertext, created_at_ms";
const DELIVERY_COLUMNS: &str = "id, subscription_id, event, payload, status, attempts, \
     next_attempt_at_ms, last_status_code, last_error, redelivery_of, created_at_ms, delivered_at_ms";

pub(super) fn insert_subscription() -> String {
    format!(
        "INSERT INTO notification_subscriptions (repository_id, url, events, secret_nonce, \
         secret_ciphertext, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6) \
         RETURNING {SUBSCRIPTION_COLUMNS}"
    )
}
pub(super) fn list_subscriptions() -> String {
    format!(
        "SELECT {SUBSCRIPTION_COLUMNS} FROM notification_subscriptions WHERE repository_id = $1 \
         ORDER BY id"
    )
}
pub(super) fn get_subscription() -> String {
    format!("SELECT {SUBSCRIPTION_COLUMNS} FROM notification_subscriptions WHERE id = $1")
}
pub(super) const DELETE_SUBSCRIPTION: &str = "DELETE FROM notification_subscriptions WHERE id = $1";
pub(super) const ENQUEUE: &str = "INSERT INTO notification_deliveries (id, subscription_id, \
     event, subject_key, payload, status, next_attempt_at_ms, created_at_ms) \
     VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6) \
     ON CONFLICT (subscription_id, subject_key) DO NOTHING";
pub(super) fn claim_due() -> String {
    let free = "status = 'pending' AND next_attempt_at_ms <= $3 \
                AND (claimed_until_ms IS NULL OR claimed_until_ms < $3)";
    format!(
        "UPDATE notification_deliveries SET claimed_by = $1, claimed_until_ms = $2 \
         WHERE {free} AND id IN (SELECT id FROM notification_deliveries WHERE {free} \
         ORDER BY next_attempt_at_ms LIMIT $4) RETURNING {DELIVERY_COLUMNS}"
    )
}
pub(super) const DELIVERED: &str = "UPDATE notification_deliveries SET status = 'delivered', \
     attempts = $2, last_status_code = $3, last_error = NULL, delivered_at_ms = $4, \
     claimed_by = NULL, claimed_until_ms = NULL WHERE id = $1";
pub(super) const FAILED_ATTEMPT: &str = "UPDATE notification_deliveries SET status = $2, \
     attempts = $3, last_status_code = $4, last_error = $5, next_attempt_at_ms = $6, \
     claimed_by = NULL, claimed_until_ms = NULL WHERE id = $1";
pub(super) const INSERT_ATTEMPT: &str = "INSERT INTO notification_attempts (delivery_id, \
     attempt, at_ms, status_code, error, duration_ms, response) VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (delivery_id, attempt) DO NOTHING";
pub(super) fn list_deliveries() -> String {
    format!(
        "SELECT {DELIVERY_COLUMNS} FROM notification_deliveries WHERE subscription_id = $1 \
         ORDER BY created_at_ms DESC, id DESC LIMIT $2"
    )
}
pub(super) fn get_delivery() -> String {
    format!("SELECT {DELIVERY_COLUMNS} FROM notification_deliveries WHERE id = $1")
}
pub(super) const LIST_ATTEMPTS: &str = "SELECT attempt, at_ms, status_code, error, duration_ms, \
     response FROM notification_attempts WHERE delivery_id = $1 ORDER BY attempt";
pub(super) fn redeliver() -> String {
    format!(
        "INSERT INTO notification_deliveries (id, subscription_id, event, subject_key, payload, \
         status, next_attempt_at_ms, created_at_ms, redelivery_of) \
         SELECT CAST($2 AS TEXT), subscription_id, event, subject_key || '#' || CAST($2 AS TEXT), \
         payload, 'pending', CAST($3 AS BIGINT), CAST($3 AS BIGINT), id \
         FROM notification_deliveries WHERE id = $1 RETURNING {DELIVERY_COLUMNS}"
    )
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct SubscriptionRow {
    id: i64,
    repository_id: i64,
    url: String,
    events: String,
    secret_nonce: String,
    secret_ciphertext: String,
    created_at_ms: i64,
}

impl SubscriptionRow {
    pub(super) fn subscription(&self) -> Subscription {
        Subscription {
            id: self.id,
            repository_id: RepositoryId(self.repository_id),
            url: self.url.clone(),
            // Written from the same type; an unknown name (from a newer Slipway) is left out.
            events: self
                .events
                .split(',')
                .filter_map(NotificationEvent::parse)
                .collect(),
            created_at_ms: self.created_at_ms,
        }
    }

    /// Undecodable text stays empty: opening it then fails, naming the subscription.
    pub(super) fn sealed(&self) -> SealedSecret {
        SealedSecret {
            name: Subscription::secret_name(RepositoryId(self.repository_id), &self.url),
            nonce: STANDARD.decode(&self.secret_nonce).unwrap_or_default(),
            ciphertext: STANDARD.decode(&self.secret_ciphertext).unwrap_or_default(),
            updated_at_ms: self.created_at_ms,
        }
    }
}

pub(super) fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

pub(super) fn events_text(events: &[NotificationEvent]) -> String {
    events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct DeliveryRow {
    id: String,
    subscription_id: i64,
    event: String,
    payload: String,
    status: String,
    attempts: i64,
    next_attempt_at_ms: i64,
    last_status_code: Option<i64>,
    last_error: Option<String>,
    redelivery_of: Option<String>,
    created_at_ms: i64,
    delivered_at_ms: Option<i64>,
}

impl TryFrom<DeliveryRow> for NotificationDelivery {
    type Error = StoreError;

    fn try_from(row: DeliveryRow) -> Result<Self, StoreError> {
        let unknown = |what: &str, value: &str| {
            StoreError::Internal(
                format!("notification delivery {}: unknown {what} `{value}`", row.id).into(),
            )
        };
        Ok(Self {
            event: NotificationEvent::parse(&row.event)
                .ok_or_else(|| unknown("event", &row.event))?,
            status: NotificationStatus::parse(&row.status)
                .ok_or_else(|| unknown("status", &row.status))?,
            subscription_id: row.subscription_id,
            payload: row.payload,
            attempts: u32::try_from(row.attempts).unwrap_or(u32::MAX),
            next_attempt_at_ms: row.next_attempt_at_ms,
            last_status_code: row.last_status_code.and_then(|c| u16::try_from(c).ok()),
            last_error: row.last_error,
            redelivery_of: row.redelivery_of,
            created_at_ms: row.created_at_ms,
            delivered_at_ms: row.delivered_at_ms,
            id: row.id,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct AttemptRow {
    attempt: i64,
    at_ms: i64,
    status_code: Option<i64>,
    error: Option<String>,
    duration_ms: i64,
    response: Option<String>,
}

impl From<AttemptRow> for NotificationAttempt {
    fn from(row: AttemptRow) -> Self {
        Self {
            attempt: u32::try_from(row.attempt).unwrap_or(u32::MAX),
            at_ms: row.at_ms,
            status_code: row.status_code.and_then(|c| u16::try_from(c).ok()),
            error: row.error,
            duration_ms: row.duration_ms,
            response: row.response,
        }
    }
}

/// Implements `domain::notification::NotificationStore` for a struct with `pool` (writes) and
/// `readers` (reads) fields.
macro_rules! impl_notification_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl domain::notification::NotificationStore for $store {
            async fn create_subscription(
                &self,
                new: &domain::notification::NewSubscription,
                now_ms: i64,
            ) -> domain::store::Result<domain::notification::Subscription> {
                use $crate::store::notification_sql as sql;
                let row: sql::SubscriptionRow = sqlx::query_as(&sql::insert_subscription())
                    .bind(new.repository_id.0)
                    .bind(&new.url)
                    .bind(sql::events_text(&new.events))
                    .bind(sql::encode(&new.secret.nonce))
                    .bind(sql::encode(&new.secret.ciphertext))
                    .bind(now_ms)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| {
                        $crate::store::sql_store::map_error(e, "repository", new.repository_id)
                    })?;
                Ok(row.subscription())
            }

            async fn list_subscriptions(
                &self,
                repository: domain::RepositoryId,
            ) -> domain::store::Result<Vec<domain::notification::Subscription>> {
                use $crate::store::notification_sql as sql;
                let rows: Vec<sql::SubscriptionRow> = sqlx::query_as(&sql::list_subscriptions())
                    .bind(repository.0)
                    .fetch_all(&self.readers)
                    .await
                    .map_err(|e| {
                        $crate::store::sql_store::map_error(e, "subscription", repository)
                    })?;
                Ok(rows
                    .iter()
                    .map(sql::SubscriptionRow::subscription)
                    .collect())
            }

            async fn get_subscription(
                &self,
                id: i64,
            ) -> domain::store::Result<domain::notification::Subscription> {
                use $crate::store::notification_sql as sql;
                let row: sql::SubscriptionRow = sqlx::query_as(&sql::get_subscription())
                    .bind(id)
                    .fetch_one(&self.readers)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "subscription", id))?;
                Ok(row.subscription())
            }

            async fn delete_subscription(&self, id: i64) -> domain::store::Result<bool> {
                let done = sqlx::query($crate::store::notification_sql::DELETE_SUBSCRIPTION)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "subscription", id))?;
                Ok(done.rows_affected() == 1)
            }

            async fn subscriptions_for(
                &self,
                repository: domain::RepositoryId,
                event: domain::notification::NotificationEvent,
            ) -> domain::store::Result<Vec<domain::notification::Subscription>> {
                let all =
                    domain::notification::NotificationStore::list_subscriptions(self, repository)
                        .await?;
                Ok(all
                    .into_iter()
                    .filter(|s| s.events.contains(&event))
                    .collect())
            }

            async fn enqueue_notification(
                &self,
                delivery: &domain::notification::NewNotificationDelivery,
            ) -> domain::store::Result<bool> {
                let done = sqlx::query($crate::store::notification_sql::ENQUEUE)
                    .bind(&delivery.id)
                    .bind(delivery.subscription_id)
                    .bind(delivery.event.as_str())
                    .bind(&delivery.subject_key)
                    .bind(&delivery.payload)
                    .bind(delivery.created_at_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| {
                        $crate::store::sql_store::map_error(
                            e,
                            "subscription",
                            delivery.subscription_id,
                        )
                    })?;
                Ok(done.rows_affected() == 1)
            }

            async fn claim_due_notifications(
                &self,
                owner: &str,
                now_ms: i64,
                until_ms: i64,
                limit: u32,
            ) -> domain::store::Result<Vec<domain::notification::DueNotification>> {
                use $crate::store::notification_sql as sql;
                let rows: Vec<sql::DeliveryRow> = sqlx::query_as(&sql::claim_due())
                    .bind(owner)
                    .bind(until_ms)
                    .bind(now_ms)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| {
                        $crate::store::sql_store::map_error(e, "notification delivery", owner)
                    })?;
                let mut due = Vec::with_capacity(rows.len());
                for row in rows {
                    let delivery: domain::notification::NotificationDelivery = row.try_into()?;
                    let subscription: sql::SubscriptionRow =
                        sqlx::query_as(&sql::get_subscription())
                            .bind(delivery.subscription_id)
                            .fetch_one(&self.readers)
                            .await
                            .map_err(|e| {
                                $crate::store::sql_store::map_error(
                                    e,
                                    "subscription",
                                    delivery.subscription_id,
                                )
                            })?;
                    due.push(domain::notification::DueNotification {
                        url: subscription.subscription().url,
                        secret: subscription.sealed(),
                        delivery,
                    });
                }
                Ok(due)
            }

            async fn record_notification_attempt(
                &self,
                delivery_id: &str,
                attempt: &domain::notification::NotificationAttempt,
                outcome: domain::notification::AttemptOutcome,
            ) -> domain::store::Result<()> {
                use domain::notification::AttemptOutcome;
                use $crate::store::notification_sql as sql;
                use $crate::store::sql_store::map_error;
                let what = "notification delivery";
                let code = attempt.status_code.map(i64::from);
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err(|e| map_error(e, what, delivery_id))?;
                sqlx::query(sql::INSERT_ATTEMPT)
                    .bind(delivery_id)
                    .bind(i64::from(attempt.attempt))
                    .bind(attempt.at_ms)
                    .bind(code)
                    .bind(&attempt.error)
                    .bind(attempt.duration_ms)
                    .bind(&attempt.response)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| map_error(e, what, delivery_id))?;
                let moved = match outcome {
                    AttemptOutcome::Delivered => sqlx::query(sql::DELIVERED)
                        .bind(delivery_id)
                        .bind(i64::from(attempt.attempt))
                        .bind(code)
                        .bind(attempt.at_ms + attempt.duration_ms),
                    AttemptOutcome::RetryAt(next) => sqlx::query(sql::FAILED_ATTEMPT)
                        .bind(delivery_id)
                        .bind("pending")
                        .bind(i64::from(attempt.attempt))
                        .bind(code)
                        .bind(&attempt.error)
                        .bind(next),
                    AttemptOutcome::GaveUp => sqlx::query(sql::FAILED_ATTEMPT)
                        .bind(delivery_id)
                        .bind("failed")
                        .bind(i64::from(attempt.attempt))
                        .bind(code)
                        .bind(&attempt.error)
                        .bind(attempt.at_ms),
                };
                moved
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| map_error(e, what, delivery_id))?;
                tx.commit()
                    .await
                    .map_err(|e| map_error(e, what, delivery_id))?;
                Ok(())
            }

            async fn list_notification_deliveries(
                &self,
                subscription: i64,
                limit: u32,
            ) -> domain::store::Result<Vec<domain::notification::NotificationDelivery>> {
                use $crate::store::notification_sql as sql;
                let rows: Vec<sql::DeliveryRow> = sqlx::query_as(&sql::list_deliveries())
                    .bind(subscription)
                    .bind(i64::from(limit))
                    .fetch_all(&self.readers)
                    .await
                    .map_err(|e| {
                        $crate::store::sql_store::map_error(e, "subscription", subscription)
                    })?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn get_notification_delivery(
                &self,
                id: &str,
            ) -> domain::store::Result<(
                domain::notification::NotificationDelivery,
                Vec<domain::notification::NotificationAttempt>,
            )> {
                use $crate::store::notification_sql as sql;
                let what = "notification delivery";
                let row: sql::DeliveryRow = sqlx::query_as(&sql::get_delivery())
                    .bind(id)
                    .fetch_one(&self.readers)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, what, id))?;
                let attempts: Vec<sql::AttemptRow> = sqlx::query_as(sql::LIST_ATTEMPTS)
                    .bind(id)
                    .fetch_all(&self.readers)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, what, id))?;
                Ok((
                    row.try_into()?,
                    attempts.into_iter().map(Into::into).collect(),
                ))
            }

            async fn redeliver_notification(
                &self,
                id: &str,
                new_id: &str,
                now_ms: i64,
            ) -> domain::store::Result<domain::notification::NotificationDelivery> {
                use $crate::store::notification_sql as sql;
                let row: sql::DeliveryRow = sqlx::query_as(&sql::redeliver())
                    .bind(id)
                    .bind(new_id)
                    .bind(now_ms)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| {
                        $crate::store::sql_store::map_error(e, "notification delivery", id)
                    })?;
                row.try_into()
            }
        }
    };
}

pub(super) use impl_notification_store;
