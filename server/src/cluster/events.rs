//! A namespace's events, oldest first, in the port's words.

use domain::cluster::{ClusterEvent, Result};
use k8s_openapi::api::core::v1::Event;
use kube::Client;
use kube::api::{Api, ListParams};

use super::errors::retrying;

fn event_of(event: Event) -> ClusterEvent {
    let at = event
        .last_timestamp
        .or(event.first_timestamp)
        .map(|t| t.0.to_string())
        .or_else(|| event.event_time.map(|t| t.0.to_string()));
    let object = &event.involved_object;
    ClusterEvent {
        at,
        warning: event.type_.as_deref() == Some("Warning"),
        reason: event.reason.unwrap_or_default(),
        object: format!(
            "{}/{}",
            object.kind.clone().unwrap_or_default(),
            object.name.clone().unwrap_or_default()
        ),
        message: event.message.unwrap_or_default(),
        count: event.count.and_then(|c| u32::try_from(c).ok()).unwrap_or(1),
    }
}

pub async fn of_namespace(client: &Client, namespace: &str) -> Result<Vec<ClusterEvent>> {
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    let params = ListParams::default();
    let list = retrying("list events", || api.list(&params)).await?;
    let mut events: Vec<ClusterEvent> = list.items.into_iter().map(event_of).collect();
    // RFC 3339 times in UTC sort as text; the sort is stable, so equal times keep list order.
    events.sort_by(|a, b| a.at.cmp(&b.at));
    Ok(events)
}
