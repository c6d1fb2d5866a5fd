//! The notification deliveries a run's or preview's change calls for: one per subscription of
//! its repository that wants the event, recorded once per subject event however often the
//! change is observed (and by however many replicas); the sender is woken when any is new.

use domain::notification::{NewNotificationDelivery, NotificationEvent, payload};
use domain::pipeline::PipelineRun;
use domain::preview::Preview;
use domain::time::now_ms;
use domain::{BusEvent, Repository};
use services::notifications::{NOTIFICATION_WORKER, new_delivery_id};

use super::Reporter;

pub(super) async fn pipeline(reporter: &Reporter, repository: &Repository, run: &PipelineRun) {
    let Some(event) = payload::pipeline_event(run) else {
        return;
    };
    let now = now_ms();
    let url = format!("{}/pipelines/{}", reporter.public_url, run.id);
    let body = payload::pipeline_payload(run, event, &url, now);
    let key = payload::pipeline_key(run, event);
    enqueue(reporter, repository, event, key, body, now).await;
}

pub(super) async fn preview(reporter: &Reporter, repository: &Repository, preview: &Preview) {
    let Some(event) = payload::preview_event(preview) else {
        return;
    };
    let now = now_ms();
    let url = format!("{}/previews/{}", reporter.public_url, preview.id);
    let body = payload::preview_payload(preview, event, &url, now);
    let key = payload::preview_key(preview, event);
    enqueue(reporter, repository, event, key, body, now).await;
}

async fn enqueue(
    reporter: &Reporter,
    repository: &Repository,
    event: NotificationEvent,
    subject_key: String,
    body: serde_json::Value,
    now: i64,
) {
    if !repository.reporting.notifications {
        return;
    }
    let subscriptions = match reporter.store.subscriptions_for(repository.id, event).await {
        Ok(subscriptions) => subscriptions,
        Err(error) => {
            tracing::warn!(repository.id = %repository.id, error = %domain::error_chain(&error), "cannot read notification subscriptions");
            return;
        }
    };
    let payload = body.to_string();
    let mut added = false;
    for subscription in subscriptions {
        let delivery = NewNotificationDelivery {
            id: new_delivery_id(),
            subscription_id: subscription.id,
            event,
            subject_key: subject_key.clone(),
            payload: payload.clone(),
            created_at_ms: now,
        };
        match reporter.store.enqueue_notification(&delivery).await {
            Ok(true) => {
                tracing::debug!(notification.delivery = %delivery.id, event = event.as_str(), "notification recorded");
                added = true;
            }
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(subscription.id = subscription.id, error = %domain::error_chain(&error), "cannot record a notification delivery")
            }
        }
    }
    if added {
        let wake = BusEvent::Wake {
            worker: NOTIFICATION_WORKER.to_owned(),
        };
        if let Err(error) = reporter.bus.publish(&wake).await {
            tracing::warn!(error = %domain::error_chain(&error), "cannot wake the notification sender; it looks within a second");
        }
    }
}
