//! A repository's notification subscriptions (a receiver URL, the events it wants, a signing
//! secret that goes in and never comes back out), the deliveries made to each with their
//! attempts, and redelivering one — as GitHub's own webhook pages offer. Repository admins
//! manage them; every change and redelivery is audited.

use domain::RepositoryId;
use domain::notification::{
    NewSubscription, NotificationAttempt, NotificationDelivery, NotificationEvent, Subscription,
};
use domain::time::now_ms;
use serde::{Deserialize, Serialize};

use crate::audit::Record;
use crate::caller::{Action, Caller};
use crate::{Error, Result, Services};

/// The notification sender's name on the bus (`BusEvent::Wake { worker }`).
pub const NOTIFICATION_WORKER: &str = "notifications";
/// A signing secret needs at least this many characters.
pub const MIN_SECRET_CHARS: usize = 16;
const MAX_URL_CHARS: usize = 2_048;
/// Deliveries a list shows at most.
pub const MAX_LISTED: u32 = 100;

/// A subscription to add.
#[derive(Clone, Deserialize, utoipa::ToSchema)]
pub struct Subscribe {
    /// Where deliveries are POSTed (`http` or `https`).
    pub url: String,
    /// Event names: `pipeline.started`, `pipeline.succeeded`, `pipeline.failed`,
    /// `pipeline.cancelled`, `preview.running`, `preview.failed`, `preview.removed`
    /// (`build.success` and `build.failure` name the two pipeline endings).
    pub events: Vec<String>,
    /// Signs each delivery (`X-Slipway-Signature-256`); at least 16 characters. Never shown
    /// again.
    pub secret: String,
}

impl std::fmt::Debug for Subscribe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscribe")
            .field("url", &self.url)
            .field("events", &self.events)
            .field("secret", &"***")
            .finish()
    }
}

/// A delivery with its attempts.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryDetail {
    pub delivery: NotificationDelivery,
    pub attempts: Vec<NotificationAttempt>,
}

/// A receiver URL: absolute `http(s)` with a host, no credentials in it.
fn receiver_url(text: &str) -> Result<String> {
    let text = text.trim();
    let refuse = |why: &str| Error::invalid("url", format!("`{text}` {why}"));
    if text.chars().count() > MAX_URL_CHARS {
        return Err(Error::invalid(
            "url",
            format!("the URL is longer than {MAX_URL_CHARS} characters"),
        ));
    }
    let url = url::Url::parse(text).map_err(|e| refuse(&format!("is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refuse("is not an http or https URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(refuse("has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse(
            "carries credentials; use the secret to let the receiver check deliveries",
        ));
    }
    Ok(url.to_string())
}

fn events(names: &[String]) -> Result<Vec<NotificationEvent>> {
    let mut events = Vec::new();
    for name in names.iter().flat_map(|n| n.split(',')).map(str::trim) {
        if name.is_empty() {
            continue;
        }
        let event = NotificationEvent::parse(name).ok_or_else(|| {
            Error::invalid(
                "events",
                format!(
                    "`{name}` is not an event; choose from {}",
                    NotificationEvent::names()
                ),
            )
        })?;
        if !events.contains(&event) {
            events.push(event);
        }
    }
    if events.is_empty() {
        return Err(Error::invalid(
            "events",
            format!("choose at least one event: {}", NotificationEvent::names()),
        ));
    }
    events.sort();
    Ok(events)
}

impl Services {
    /// The repository's subscriptions.
    pub async fn list_subscriptions(
        &self,
        caller: &Caller,
        repository: RepositoryId,
    ) -> Result<Vec<Subscription>> {
        self.repository(caller, Action::NotificationRead, repository)
            .await?;
        Ok(self.store.list_subscriptions(repository).await?)
    }

    /// Adds a subscription: its URL and events checked, its secret sealed.
    pub async fn subscribe(
        &self,
        caller: &Caller,
        repository: RepositoryId,
        input: Subscribe,
    ) -> Result<Subscription> {
        let found = self
            .repository(caller, Action::NotificationChange, repository)
            .await?;
        let record = Record::of(Action::NotificationChange)
            .on(Some(&found))
            .target(format!("subscription to {}", input.url.trim()));
        let added = async {
            let url = receiver_url(&input.url)?;
            let events = events(&input.events)?;
            if input.secret.chars().count() < MIN_SECRET_CHARS {
                return Err(Error::invalid(
                    "secret",
                    format!(
                        "the secret needs at least {MIN_SECRET_CHARS} characters (a random string: the receiver checks each delivery's signature with it)"
                    ),
                ));
            }
            let now = now_ms();
            let secret = self
                .secret_box
                .seal(&Subscription::secret_name(repository, &url), &input.secret, now)
                .map_err(|e| Error::Internal(Box::new(e)))?;
            let new = NewSubscription {
                repository_id: repository,
                url,
                events,
                secret,
            };
            let subscription = self.store.create_subscription(&new, now).await?;
            tracing::info!(repository.id = %repository, subscription.id = subscription.id, "notification subscription added");
            Ok(subscription)
        }
        .await;
        self.audited(caller, record, added).await
    }

    /// Removes a subscription and its deliveries.
    pub async fn unsubscribe(
        &self,
        caller: &Caller,
        repository: RepositoryId,
        subscription: i64,
    ) -> Result<()> {
        let found = self
            .repository(caller, Action::NotificationChange, repository)
            .await?;
        let record = Record::of(Action::NotificationChange)
            .on(Some(&found))
            .target(format!("subscription {subscription}"))
            .details("removed");
        let removed = async {
            self.subscription_of(repository, subscription).await?;
            self.store.delete_subscription(subscription).await?;
            tracing::info!(repository.id = %repository, subscription.id = subscription, "notification subscription removed");
            Ok(())
        }
        .await;
        self.audited(caller, record, removed).await
    }

    /// A subscription's latest deliveries, newest first.
    pub async fn list_notification_deliveries(
        &self,
        caller: &Caller,
        repository: RepositoryId,
        subscription: i64,
    ) -> Result<Vec<NotificationDelivery>> {
        self.repository(caller, Action::NotificationRead, repository)
            .await?;
        self.subscription_of(repository, subscription).await?;
        Ok(self
            .store
            .list_notification_deliveries(subscription, MAX_LISTED)
            .await?)
    }

    /// One delivery with every attempt.
    pub async fn notification_delivery(
        &self,
        caller: &Caller,
        repository: RepositoryId,
        delivery: &str,
    ) -> Result<DeliveryDetail> {
        self.repository(caller, Action::NotificationRead, repository)
            .await?;
        self.delivery_of(repository, delivery).await
    }

    /// Sends a delivery again, as a new delivery of the same body, now.
    pub async fn redeliver_notification(
        &self,
        caller: &Caller,
        repository: RepositoryId,
        delivery: &str,
    ) -> Result<NotificationDelivery> {
        let found = self
            .repository(caller, Action::NotificationRedeliver, repository)
            .await?;
        let record = Record::of(Action::NotificationRedeliver)
            .on(Some(&found))
            .target(format!("notification delivery {delivery}"));
        let redelivered = async {
            self.delivery_of(repository, delivery).await?;
            let new_id = new_delivery_id();
            let again = self
                .store
                .redeliver_notification(delivery, &new_id, now_ms())
                .await?;
            tracing::info!(repository.id = %repository, notification.delivery = %new_id, redelivery_of = %delivery, "notification redelivered");
            self.wake(NOTIFICATION_WORKER).await;
            Ok(again)
        }
        .await;
        self.audited(caller, record, redelivered).await
    }

    /// The subscription, if it is this repository's; otherwise not found, as if it did not exist.
    async fn subscription_of(
        &self,
        repository: RepositoryId,
        subscription: i64,
    ) -> Result<Subscription> {
        let missing = || Error::NotFound(format!("subscription {subscription} not found"));
        match self.store.get_subscription(subscription).await {
            Ok(found) if found.repository_id == repository => Ok(found),
            Ok(_) | Err(domain::StoreError::NotFound { .. }) => Err(missing()),
            Err(error) => Err(error.into()),
        }
    }

    async fn delivery_of(
        &self,
        repository: RepositoryId,
        delivery: &str,
    ) -> Result<DeliveryDetail> {
        let missing = || Error::NotFound(format!("notification delivery `{delivery}` not found"));
        let (found, attempts) = match self.store.get_notification_delivery(delivery).await {
            Ok(found) => found,
            Err(domain::StoreError::NotFound { .. }) => return Err(missing()),
            Err(error) => return Err(error.into()),
        };
        self.subscription_of(repository, found.subscription_id)
            .await
            .map_err(|_| missing())?;
        Ok(DeliveryDetail {
            delivery: found,
            attempts,
        })
    }
}

/// A new delivery's id: 128 random bits as hex (sent as `X-Slipway-Delivery`).
pub fn new_delivery_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receiver_urls_are_absolute_http_without_credentials() {
        assert_eq!(
            receiver_url(" https://hooks.example.com/slipway ")
                .ok()
                .as_deref(),
            Some("https://hooks.example.com/slipway")
        );
        for bad in [
            "hooks.example.com",
            "ftp://hooks.example.com",
            "https://user:pw@hooks.example.com/",
            "http://",
        ] {
            assert!(receiver_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn events_are_named_known_and_deduplicated() {
        let names = vec![
            "build.failure, pipeline.failed".to_owned(),
            "preview.running".into(),
        ];
        assert_eq!(
            events(&names).ok(),
            Some(vec![
                NotificationEvent::PipelineFailed,
                NotificationEvent::PreviewRunning
            ])
        );
        let error = events(&["pipeline.exploded".to_owned()])
            .err()
            .map(|e| e.to_string());
        assert!(
            error
                .as_deref()
                .is_some_and(|e| e.contains("pipeline.succeeded")),
            "{error:?}"
        );
        assert!(events(&[]).is_err());
    }
}
