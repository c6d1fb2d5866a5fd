//! The delivery worker: takes queued deliveries from the Store (woken through the bus, and by a
//! periodic look in case a wake-up was lost), claims each atomically so that one replica
//! processes it, and records the outcome on the delivery. Failures stay on the delivery; they
//! never reach GitHub.

use std::sync::Arc;
use std::time::Duration;

use domain::{Bus, BusEvent, DeliveryStatus, EntityKind, Store};
use futures::StreamExt;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::intake::now_ms;

pub use domain::delivery::DELIVERY_WORKER as WORKER;
/// How often the Store is checked without a wake-up.
const POLL: Duration = Duration::from_secs(10);
const BATCH: u32 = 50;

/// Events Slipway will act on once pull requests and previews are modelled; until then they
/// are recorded and marked as not acted on.
const LATER: [&str; 4] = [
    "pull_request",
    "push",
    "installation",
    "installation_repositories",
];

/// What processing made of one delivery.
fn outcome(event: &str, payload: &str) -> (DeliveryStatus, Option<String>) {
    match event {
        "ping" => {
            let zen = serde_json::from_str::<Value>(payload)
                .ok()
                .and_then(|p| p["zen"].as_str().map(str::to_owned));
            tracing::info!(zen = ?zen, "GitHub says hello");
            (DeliveryStatus::Processed, None)
        }
        event if LATER.contains(&event) => (
            DeliveryStatus::Ignored,
            Some(format!(
                "`{event}` deliveries are recorded; acting on them is not built yet"
            )),
        ),
        other => (
            DeliveryStatus::Ignored,
            Some(format!("Slipway does not use `{other}` events")),
        ),
    }
}

/// Processes one delivery if this worker wins the claim.
async fn process(store: &dyn Store, bus: &dyn Bus, delivery_id: &str) {
    match store.claim_delivery(delivery_id).await {
        Ok(true) => {}
        Ok(false) => return,
        Err(error) => {
            tracing::warn!(delivery.id = %delivery_id, error = %app::error::error_chain(&error), "could not claim a delivery");
            return;
        }
    }
    let (status, error) = match store.get_delivery(delivery_id).await {
        Ok((delivery, payload)) => outcome(&delivery.event, &payload),
        Err(error) => (
            DeliveryStatus::Failed,
            Some(format!(
                "could not read the delivery: {}",
                app::error::error_chain(&error)
            )),
        ),
    };
    if let Err(failure) = store
        .finish_delivery(delivery_id, status, error.as_deref(), now_ms())
        .await
    {
        tracing::error!(delivery.id = %delivery_id, error = %app::error::error_chain(&failure), "could not record how a delivery ended");
        return;
    }
    tracing::info!(delivery.id = %delivery_id, status = status.as_str(), "delivery processed");
    let changed = BusEvent::Changed {
        entity: EntityKind::Delivery,
        id: delivery_id.to_owned(),
        status: status.as_str().to_owned(),
    };
    if let Err(error) = bus.publish(&changed).await {
        tracing::warn!(error = %app::error::error_chain(&error), "could not announce a processed delivery");
    }
}

/// Works through every queued delivery.
async fn drain(store: &dyn Store, bus: &dyn Bus) {
    loop {
        let queued = match store.queued_deliveries(BATCH).await {
            Ok(queued) => queued,
            Err(error) => {
                tracing::warn!(error = %app::error::error_chain(&error), "could not look for queued deliveries");
                return;
            }
        };
        for id in &queued {
            process(store, bus, id).await;
        }
        if queued.len() < BATCH as usize {
            return;
        }
    }
}

/// Runs until `stop` is cancelled.
pub async fn run(store: Arc<dyn Store>, bus: Arc<dyn Bus>, stop: CancellationToken) {
    let mut wakes = match bus.subscribe().await {
        Ok(events) => events
            .filter(|e| {
                futures::future::ready(matches!(e, BusEvent::Wake { worker } if worker == WORKER))
            })
            .boxed(),
        Err(error) => {
            tracing::warn!(error = %app::error::error_chain(&error), "delivery worker cannot hear wake-ups; polling only");
            futures::stream::pending().boxed()
        }
    };
    loop {
        drain(store.as_ref(), bus.as_ref()).await;
        tokio::select! {
            () = stop.cancelled() => return,
            _ = wakes.next() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_are_processed_and_other_events_say_why_they_are_not() {
        assert_eq!(
            outcome("ping", r#"{"zen":"Design for failure."}"#),
            (DeliveryStatus::Processed, None)
        );
        let (status, note) = outcome("star", "{}");
        assert_eq!(status, DeliveryStatus::Ignored);
        assert_eq!(note.as_deref(), Some("Slipway does not use `star` events"));
    }
}
