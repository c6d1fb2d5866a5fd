//! The delivery worker: takes queued deliveries from the Store (woken through the bus, and by a
//! periodic look in case a wake-up was lost), claims each atomically so that one replica
//! processes it, and records the outcome on the delivery. Deliveries about different pull
//! requests are processed concurrently, those about one in the order they came. Failures stay
//! on the delivery; they never reach GitHub.

use std::sync::Arc;
use std::time::Duration;

use domain::{Bus, BusEvent, Delivery, DeliveryStatus, EntityKind, Store};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::events;
use super::intake::now_ms;

pub use domain::delivery::DELIVERY_WORKER as WORKER;
/// How often the Store is checked without a wake-up.
const POLL: Duration = Duration::from_secs(10);
const BATCH: u32 = 50;
/// Deliveries about different subjects processed at once.
const CONCURRENCY: usize = 8;
/// A claim older than this belongs to a worker that stopped mid-way (processing takes
/// milliseconds to seconds).
const CLAIM_TIMEOUT: Duration = Duration::from_secs(300);

/// A queued delivery as read once, before grouping: its record and payload, or why they
/// could not be read.
struct Queued {
    id: String,
    read: Result<(Delivery, String), String>,
}

/// Processes one delivery if this worker wins the claim.
async fn process(store: &dyn Store, bus: &dyn Bus, queued: Queued) {
    let delivery_id = queued.id.as_str();
    match store.claim_delivery(delivery_id, now_ms()).await {
        Ok(true) => {}
        Ok(false) => return,
        Err(error) => {
            tracing::warn!(delivery.id = %delivery_id, error = %app::error::error_chain(&error), "could not claim a delivery");
            return;
        }
    }
    let mut event = String::new();
    let (status, error) = match queued.read {
        Ok((delivery, payload)) => {
            event = delivery.event;
            events::handle(store, &event, &payload, now_ms()).await
        }
        Err(error) => (
            DeliveryStatus::Failed,
            Some(format!("could not read the delivery: {error}")),
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
    // Pushes and pull requests may have queued pipeline runs: start them now, not at the
    // executor's next look.
    if status == DeliveryStatus::Processed && matches!(event.as_str(), "push" | "pull_request") {
        let wake = BusEvent::Wake {
            worker: app::pipeline_actions::PIPELINE_WORKER.to_owned(),
        };
        let _ = bus.publish(&wake).await;
    }
    // Pull request events may have changed what previews are wanted.
    if status == DeliveryStatus::Processed && event == "pull_request" {
        let wake = BusEvent::Wake {
            worker: app::preview_actions::PREVIEW_WORKER.to_owned(),
        };
        let _ = bus.publish(&wake).await;
    }
}

/// What a delivery is about: a repository and, for pull request events, the pull request.
type Subject = Option<(String, Option<i64>)>;

/// The queued deliveries grouped by what they are about (a pull request, or else a
/// repository), oldest first within a group: groups are processed concurrently, each one in
/// order, so two events of one pull request never overtake each other.
async fn in_order_per_subject(store: &dyn Store, queued: &[String]) -> Vec<Vec<Queued>> {
    let mut groups: Vec<(Subject, Vec<Queued>)> = Vec::new();
    for id in queued {
        let read = store
            .get_delivery(id)
            .await
            .map_err(|e| app::error::error_chain(&e));
        let subject = read.as_ref().ok().and_then(|(delivery, _)| {
            delivery
                .repository
                .clone()
                .map(|r| (r, delivery.pull_request))
        });
        let queued = Queued {
            id: id.clone(),
            read,
        };
        match groups
            .iter_mut()
            .find(|(s, _)| subject.is_some() && *s == subject)
        {
            Some((_, group)) => group.push(queued),
            None => groups.push((subject, vec![queued])),
        }
    }
    groups.into_iter().map(|(_, group)| group).collect()
}

/// Works through every queued delivery, first taking back claims a dead worker left.
async fn drain(store: &dyn Store, bus: &dyn Bus) {
    let stale_before = now_ms() - CLAIM_TIMEOUT.as_millis() as i64;
    match store.release_stale_claims(stale_before).await {
        Ok(0) => {}
        Ok(released) => tracing::warn!(released, "queued again deliveries whose worker stopped"),
        Err(error) => {
            tracing::warn!(error = %app::error::error_chain(&error), "could not release stale claims")
        }
    }
    loop {
        let queued = match store.queued_deliveries(BATCH).await {
            Ok(queued) => queued,
            Err(error) => {
                tracing::warn!(error = %app::error::error_chain(&error), "could not look for queued deliveries");
                return;
            }
        };
        let groups = in_order_per_subject(store, &queued).await;
        futures::stream::iter(groups)
            .for_each_concurrent(CONCURRENCY, |group| async move {
                for queued in group {
                    process(store, bus, queued).await;
                }
            })
            .await;
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
