//! The Store's part for notifications: subscriptions (secrets sealed), deliveries recorded once
//! per subscription and subject event, claimed by one sender at a time when due, and every
//! attempt kept.

use async_trait::async_trait;

use super::{
    AttemptOutcome, NewNotificationDelivery, NewSubscription, NotificationAttempt,
    NotificationDelivery, NotificationEvent, Subscription,
};
use crate::RepositoryId;
use crate::secrets::SealedSecret;
use crate::store::Result;

/// A delivery a sender has claimed, with where it goes and the sealed secret it is signed with.
#[derive(Debug, Clone)]
pub struct DueNotification {
    pub delivery: NotificationDelivery,
    pub url: String,
    pub secret: SealedSecret,
}

#[async_trait]
pub trait NotificationStore: Send + Sync {
    async fn create_subscription(
        &self,
        subscription: &NewSubscription,
        now_ms: i64,
    ) -> Result<Subscription>;

    /// A repository's subscriptions, oldest first.
    async fn list_subscriptions(&self, repository: RepositoryId) -> Result<Vec<Subscription>>;

    /// `NotFound` when there is none.
    async fn get_subscription(&self, id: i64) -> Result<Subscription>;

    /// Removes it with its deliveries; `false` when there was none.
    async fn delete_subscription(&self, id: i64) -> Result<bool>;

    /// The subscriptions of `repository` that want `event`.
    async fn subscriptions_for(
        &self,
        repository: RepositoryId,
        event: NotificationEvent,
    ) -> Result<Vec<Subscription>>;

    /// Records a delivery, due now; `false` when this subscription already has one for the
    /// same subject event.
    async fn enqueue_notification(&self, delivery: &NewNotificationDelivery) -> Result<bool>;

    /// Takes up to `limit` pending deliveries due by `now_ms` for `owner` until `until_ms`
    /// (each taken by one owner only), soonest first.
    async fn claim_due_notifications(
        &self,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
        limit: u32,
    ) -> Result<Vec<DueNotification>>;

    /// Keeps an attempt and moves the delivery on (delivered, due again, or given up), letting
    /// the claim go.
    async fn record_notification_attempt(
        &self,
        delivery_id: &str,
        attempt: &NotificationAttempt,
        outcome: AttemptOutcome,
    ) -> Result<()>;

    /// A subscription's deliveries, newest first.
    async fn list_notification_deliveries(
        &self,
        subscription: i64,
        limit: u32,
    ) -> Result<Vec<NotificationDelivery>>;

    /// A delivery and its attempts (oldest first); `NotFound` when there is none.
    async fn get_notification_delivery(
        &self,
        id: &str,
    ) -> Result<(NotificationDelivery, Vec<NotificationAttempt>)>;

    /// Records delivery `id` again as a new delivery `new_id`, due now.
    async fn redeliver_notification(
        &self,
        id: &str,
        new_id: &str,
        now_ms: i64,
    ) -> Result<NotificationDelivery>;
}
