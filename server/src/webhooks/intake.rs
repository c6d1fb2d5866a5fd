//! `POST /webhooks/github`: refuses what GitHub did not sign (401, nothing recorded), records
//! each verified delivery once and answers at once; processing happens later, in the worker.
//! After the signature is verified the answer is always 2xx, whatever the payload holds.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use domain::{BusEvent, NewDelivery};
use serde_json::{Value, json};

use super::WebhookState;
use super::worker::{Arrival, WORKER};
use crate::metrics::Received;

/// GitHub's limit for a payload; larger bodies are refused with 413 before they are read.
pub const MAX_BODY: usize = 25 * 1024 * 1024;

fn answer(status: StatusCode, message: impl Into<String>) -> (StatusCode, Json<Value>) {
    let key = if status.is_success() {
        "status"
    } else {
        "error"
    };
    (status, Json(json!({ key: message.into() })))
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The JSON text of the payload: the body itself, or its `payload` field when GitHub is set
/// to send `application/x-www-form-urlencoded`.
fn payload_text(headers: &HeaderMap, body: &[u8]) -> Result<String, UnreadableBody> {
    let form = header_text(headers, header::CONTENT_TYPE.as_str())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if form {
        url::form_urlencoded::parse(body)
            .find(|(key, _)| key == "payload")
            .map(|(_, value)| value.into_owned())
            .ok_or(UnreadableBody::NoPayloadField)
    } else {
        String::from_utf8(body.to_vec()).map_err(|_| UnreadableBody::NotText)
    }
}

/// Why a delivery's body holds no payload to read (recorded as the delivery's error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
enum UnreadableBody {
    #[error("the form-encoded body has no `payload` field")]
    NoPayloadField,
    #[error("the body is not UTF-8 text")]
    NotText,
}

/// The delivery to record: what the payload says, or the reason it cannot be read.
pub(crate) fn describe(
    delivery_id: &str,
    event: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> NewDelivery {
    let mut delivery = NewDelivery {
        delivery_id: delivery_id.to_owned(),
        event: event.to_owned(),
        action: None,
        repository: None,
        pull_request: None,
        payload: String::new(),
        received_at_ms: domain::time::now_ms(),
        error: None,
    };
    let text = match payload_text(headers, body) {
        Ok(text) => text,
        Err(error) => {
            delivery.payload = String::from_utf8_lossy(body).into_owned();
            delivery.error = Some(error.to_string());
            return delivery;
        }
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(payload) => {
            delivery.action = payload["action"].as_str().map(str::to_owned);
            delivery.repository = payload["repository"]["full_name"]
                .as_str()
                .map(str::to_owned);
            delivery.pull_request = payload["pull_request"]["number"]
                .as_i64()
                .or_else(|| payload["number"].as_i64());
        }
        Err(error) => {
            delivery.error = Some(format!(
                "the payload is not valid JSON (line {}, column {}): {error}",
                error.line(),
                error.column()
            ));
        }
    }
    delivery.payload = text;
    delivery
}

/// What the endpoint answered, and what that was for `/metrics`.
type Answered = (Received, (StatusCode, Json<Value>));

pub async fn receive_github(
    State(state): State<WebhookState>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    let (outcome, answered) = receive(&state, &headers, &body).await;
    crate::metrics::delivery_received(outcome);
    answered
}

async fn receive(state: &WebhookState, headers: &HeaderMap, body: &[u8]) -> Answered {
    if state.secrets.is_empty() {
        return (
            Received::Disabled,
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "webhooks are disabled: SLIPWAY_GITHUB_WEBHOOK_SECRET is not set",
            ),
        );
    }
    if let Err(refused) = state
        .secrets
        .verify(body, header_text(headers, "x-hub-signature-256"))
    {
        tracing::warn!(error = %refused, "webhook refused");
        return (
            Received::BadSignature,
            answer(StatusCode::UNAUTHORIZED, refused.to_string()),
        );
    }
    let (Some(delivery_id), Some(event)) = (
        header_text(headers, "x-github-delivery"),
        header_text(headers, "x-github-event"),
    ) else {
        return (
            Received::Malformed,
            answer(
                StatusCode::BAD_REQUEST,
                "X-GitHub-Delivery and X-GitHub-Event headers are required",
            ),
        );
    };
    let delivery = describe(delivery_id, event, headers, body);
    state.backlog.arriving();
    let recorded = state.store.record_delivery(&delivery).await;
    if !matches!(recorded, Ok(true)) {
        state.backlog.settled();
    }
    match recorded {
        Ok(false) => (
            Received::Duplicate,
            answer(
                StatusCode::OK,
                format!("delivery {delivery_id} was received before; nothing to do"),
            ),
        ),
        Ok(true) => {
            tracing::info!(delivery.id = %delivery_id, delivery.event = %event, action = ?delivery.action, "delivery recorded");
            let arrival = Arrival {
                delivery_id: delivery.delivery_id,
                repository: delivery.repository,
                pull_request: delivery.pull_request,
            };
            if state.arrivals.send(arrival).is_err() {
                // This replica's worker has stopped: another's finds the delivery in the Store.
                let wake = BusEvent::Wake {
                    worker: WORKER.to_owned(),
                };
                if let Err(error) = state.bus.publish(&wake).await {
                    // Workers also poll the Store: the delivery is late, not lost.
                    tracing::warn!(error = %domain::error_chain(&error), "could not wake the delivery worker");
                }
            }
            let status = if delivery.error.is_some() {
                "recorded; its payload cannot be processed"
            } else {
                "queued"
            };
            (Received::Accepted, answer(StatusCode::ACCEPTED, status))
        }
        Err(error) => {
            // GitHub redelivers on failure; nothing was recorded, so nothing is lost.
            tracing::error!(delivery.id = %delivery_id, error = %domain::error_chain(&error), "could not record a delivery");
            (
                Received::NotRecorded,
                answer(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the delivery could not be recorded; please redeliver it",
                ),
            )
        }
    }
}
