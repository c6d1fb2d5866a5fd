//! One delivery attempt: the body signed with the subscription's secret (HMAC-SHA256 over the
//! exact bytes, `X-Slipway-Signature-256: sha256=…`, as GitHub signs its hooks), sent with its
//! event and delivery id, and the receiver's answer kept (status and the start of the body).

use std::time::{Duration, Instant};

use domain::notification::{AttemptOutcome, DueNotification, NotificationAttempt, after_failure};
use domain::time::now_ms;
use futures::StreamExt;

use super::Sender;

/// How long a receiver has to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an answer is kept.
const RESPONSE_CHARS: usize = 2_000;
const RESPONSE_BYTES: usize = 8 * 1024;

pub const SIGNATURE_HEADER: &str = "x-slipway-signature-256";
pub const EVENT_HEADER: &str = "x-slipway-event";
pub const DELIVERY_HEADER: &str = "x-slipway-delivery";

/// Tries `due` once and records how it went.
pub(super) async fn deliver(sender: &Sender, due: DueNotification) {
    let delivery = &due.delivery;
    let number = delivery.attempts + 1;
    let started_ms = now_ms();
    let started = Instant::now();
    let answer = match sender.secret_box.open(&due.secret) {
        Ok(secret) => post(sender, &due, &secret).await,
        Err(error) => Err(format!(
            "the subscription's secret cannot be opened ({error}); was SLIPWAY_SECRETS_KEY changed?"
        )),
    };
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let (attempt, outcome) = match answer {
        Ok((status, response)) if status.is_success() => (
            NotificationAttempt {
                attempt: number,
                at_ms: started_ms,
                status_code: Some(status.as_u16()),
                error: None,
                duration_ms,
                response: Some(response),
            },
            AttemptOutcome::Delivered,
        ),
        Ok((status, response)) => (
            NotificationAttempt {
                attempt: number,
                at_ms: started_ms,
                status_code: Some(status.as_u16()),
                error: Some(format!("the receiver answered {status}")),
                duration_ms,
                response: Some(response),
            },
            retry(sender, &due, number),
        ),
        Err(why) => (
            NotificationAttempt {
                attempt: number,
                at_ms: started_ms,
                status_code: None,
                error: Some(why),
                duration_ms,
                response: None,
            },
            retry(sender, &due, number),
        ),
    };
    crate::metrics::notification_attempted(&outcome);
    match outcome {
        AttemptOutcome::Delivered => {
            tracing::info!(notification.delivery = %delivery.id, event = delivery.event.as_str(), attempt = number, "notification delivered")
        }
        AttemptOutcome::RetryAt(at) => {
            tracing::warn!(notification.delivery = %delivery.id, attempt = number, error = attempt.error.as_deref().unwrap_or(""), retry_in_ms = at - now_ms(), "notification not delivered; trying again")
        }
        AttemptOutcome::GaveUp => {
            tracing::warn!(notification.delivery = %delivery.id, attempt = number, error = attempt.error.as_deref().unwrap_or(""), "notification not delivered within a day; given up")
        }
    }
    if let Err(error) = sender
        .store
        .record_notification_attempt(&delivery.id, &attempt, outcome)
        .await
    {
        tracing::warn!(notification.delivery = %delivery.id, error = %domain::error_chain(&error), "cannot record a notification attempt; its claim runs out and it is tried again");
    }
}

fn retry(sender: &Sender, due: &DueNotification, number: u32) -> AttemptOutcome {
    let first_gap = i64::try_from(sender.first_gap.as_millis()).unwrap_or(i64::MAX);
    after_failure(number, first_gap, due.delivery.created_at_ms, now_ms())
}

/// POSTs the delivery; the answer's status and the start of its body, or why there was none.
async fn post(
    sender: &Sender,
    due: &DueNotification,
    secret: &str,
) -> Result<(reqwest::StatusCode, String), String> {
    let body = due.delivery.payload.clone().into_bytes();
    let signature = crate::webhooks::signature::sign(secret, &body);
    let sent = sender
        .http
        .post(&due.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(EVENT_HEADER, due.delivery.event.as_str())
        .header(DELIVERY_HEADER, &due.delivery.id)
        .header(SIGNATURE_HEADER, signature)
        .body(body)
        .send()
        .await
        .map_err(|error| {
            if error.is_timeout() {
                format!("the receiver did not answer within {}s", TIMEOUT.as_secs())
            } else if error.is_connect() {
                format!(
                    "cannot connect to the receiver: {}",
                    domain::error_chain(&error)
                )
            } else {
                format!("the request failed: {}", domain::error_chain(&error))
            }
        })?;
    let status = sent.status();
    Ok((status, start_of(sent).await))
}

/// The first [`RESPONSE_CHARS`] characters of an answer's body (read no further than needed).
async fn start_of(response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        bytes.extend_from_slice(&chunk);
        if bytes.len() >= RESPONSE_BYTES {
            break;
        }
    }
    String::from_utf8_lossy(&bytes)
        .chars()
        .take(RESPONSE_CHARS)
        .collect()
}
