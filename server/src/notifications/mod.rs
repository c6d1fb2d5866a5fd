//! The notification sender: takes due deliveries from the Store (one replica each), POSTs them
//! signed to their receivers, keeps each attempt with the answer, and schedules the next try
//! with a growing gap until a day has passed. Woken when a delivery is recorded, and looking
//! every second for retries that fell due. A receiver that is slow or down holds only its own
//! delivery, for at most [`send::TIMEOUT`]: nothing else in Slipway waits for it.

mod send;

use std::sync::Arc;
use std::time::Duration;

use domain::notification::DueNotification;
use domain::time::now_ms;
use domain::{Bus, BusEvent, Store};
use futures::StreamExt;
use services::notifications::NOTIFICATION_WORKER;
use services::secret_box::SecretBox;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How often due retries are looked for without a wake-up.
const POLL: Duration = Duration::from_secs(1);
/// Deliveries in flight at once on this replica.
const IN_FLIGHT: usize = 8;
/// How long a claim holds: longer than a send can take.
const CLAIM: Duration = Duration::from_secs(60);

/// What the sender needs.
pub struct Sender {
    pub store: Arc<dyn Store>,
    pub bus: Arc<dyn Bus>,
    pub secret_box: SecretBox,
    pub http: reqwest::Client,
    /// This replica's name in claims.
    pub owner: String,
    /// The gap after a first failed attempt (doubling after each next one).
    pub first_gap: Duration,
}

impl Sender {
    /// An HTTP client for receivers: no redirects followed (GitHub's hooks do not either), and
    /// Slipway's name as the user agent.
    pub fn client() -> reqwest::Result<reqwest::Client> {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Slipway-Notifications/", env!("CARGO_PKG_VERSION")))
            .timeout(send::TIMEOUT)
            .build()
    }
}

/// Runs until `stop` is cancelled; deliveries in flight finish first (each bounded by its
/// timeout), and a claim left behind runs out for another replica.
pub async fn run(sender: Arc<Sender>, stop: CancellationToken) {
    let mut wakes = match sender.bus.subscribe().await {
        Ok(events) => events
            .filter(|e| {
                futures::future::ready(
                    matches!(e, BusEvent::Wake { worker } if worker == NOTIFICATION_WORKER),
                )
            })
            .boxed(),
        Err(error) => {
            tracing::warn!(error = %domain::error_chain(&error), "the notification sender cannot hear wake-ups; polling only");
            futures::stream::pending().boxed()
        }
    };
    let mut sending: JoinSet<()> = JoinSet::new();
    loop {
        let room = IN_FLIGHT.saturating_sub(sending.len());
        if room > 0 {
            for due in claim(&sender, room).await {
                let sender = sender.clone();
                sending.spawn(async move { send::deliver(&sender, due).await });
            }
        }
        tokio::select! {
            () = stop.cancelled() => break,
            _ = wakes.next() => {}
            Some(_) = sending.join_next(), if !sending.is_empty() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
    while sending.join_next().await.is_some() {}
}

async fn claim(sender: &Sender, room: usize) -> Vec<DueNotification> {
    let now = now_ms();
    let until = now + CLAIM.as_millis() as i64;
    let limit = u32::try_from(room).unwrap_or(u32::MAX);
    match sender
        .store
        .claim_due_notifications(&sender.owner, now, until, limit)
        .await
    {
        Ok(due) => due,
        Err(error) => {
            tracing::warn!(error = %domain::error_chain(&error), "cannot look for due notification deliveries");
            Vec::new()
        }
    }
}
