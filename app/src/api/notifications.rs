//! A repository's notification subscriptions for the Settings page: list, add (URL, events,
//! secret), remove, a subscription's latest deliveries, and redelivering one — each one call
//! into the application layer (`services`).

use domain::notification::{NotificationDelivery, Subscription};
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// The add-subscription form: one checkbox per event (each sends `on` when ticked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscribeInput {
    pub repository_id: i64,
    pub url: String,
    pub secret: String,
    #[serde(default)]
    pub pipeline_started: Option<String>,
    #[serde(default)]
    pub pipeline_succeeded: Option<String>,
    #[serde(default)]
    pub pipeline_failed: Option<String>,
    #[serde(default)]
    pub pipeline_cancelled: Option<String>,
    #[serde(default)]
    pub preview_running: Option<String>,
    #[serde(default)]
    pub preview_failed: Option<String>,
    #[serde(default)]
    pub preview_removed: Option<String>,
}

impl SubscribeInput {
    /// The names of the ticked events.
    pub fn events(&self) -> Vec<String> {
        [
            (&self.pipeline_started, "pipeline.started"),
            (&self.pipeline_succeeded, "pipeline.succeeded"),
            (&self.pipeline_failed, "pipeline.failed"),
            (&self.pipeline_cancelled, "pipeline.cancelled"),
            (&self.preview_running, "preview.running"),
            (&self.preview_failed, "preview.failed"),
            (&self.preview_removed, "preview.removed"),
        ]
        .into_iter()
        .filter(|(ticked, _)| ticked.is_some())
        .map(|(_, name)| name.to_owned())
        .collect()
    }
}

#[server(prefix = "/rpc", endpoint = "list_subscriptions", input = GetUrl)]
pub async fn list_subscriptions(repository_id: i64) -> Result<Vec<Subscription>, AppError> {
    let (services, caller) = crate::context::request()?;
    let id = domain::RepositoryId(repository_id);
    Ok(services.list_subscriptions(&caller, id).await?)
}

#[server(prefix = "/rpc", endpoint = "subscribe")]
pub async fn subscribe(input: SubscribeInput) -> Result<Subscription, AppError> {
    let (services, caller) = crate::context::request()?;
    let id = domain::RepositoryId(input.repository_id);
    let subscribe = services::notifications::Subscribe {
        events: input.events(),
        url: input.url,
        secret: input.secret,
    };
    Ok(services.subscribe(&caller, id, subscribe).await?)
}

#[server(prefix = "/rpc", endpoint = "unsubscribe")]
pub async fn unsubscribe(repository_id: i64, subscription_id: i64) -> Result<(), AppError> {
    let (services, caller) = crate::context::request()?;
    let id = domain::RepositoryId(repository_id);
    Ok(services.unsubscribe(&caller, id, subscription_id).await?)
}

#[server(prefix = "/rpc", endpoint = "list_notification_deliveries", input = GetUrl)]
pub async fn list_notification_deliveries(
    repository_id: i64,
    subscription_id: i64,
) -> Result<Vec<NotificationDelivery>, AppError> {
    let (services, caller) = crate::context::request()?;
    let id = domain::RepositoryId(repository_id);
    Ok(services
        .list_notification_deliveries(&caller, id, subscription_id)
        .await?)
}

#[server(prefix = "/rpc", endpoint = "redeliver_notification")]
pub async fn redeliver_notification(
    repository_id: i64,
    delivery_id: String,
) -> Result<NotificationDelivery, AppError> {
    let (services, caller) = crate::context::request()?;
    let id = domain::RepositoryId(repository_id);
    Ok(services
        .redeliver_notification(&caller, id, &delivery_id)
        .await?)
}
