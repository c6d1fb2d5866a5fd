//! GitHub webhooks: verified intake at `POST /webhooks/github`, recording each delivery once,
//! and the worker that processes queued deliveries after the answer: pull requests and their
//! preview intents, pipeline runs for pushes and pull requests (and again when GitHub's re-run
//! buttons ask), repositories from installations;
//! and the backlog of deliveries not processed yet, which deploys and pipeline runs give way to.

pub mod backlog;
pub(crate) mod events;
pub(crate) mod intake;
pub(crate) mod pipeline_triggers;
pub(crate) mod rerun_requests;
pub mod rules;
pub mod signature;
pub mod worker;

use std::sync::Arc;

use domain::{Bus, Store};

pub use backlog::DeliveryBacklog;
pub use intake::{MAX_BODY, receive_github};
pub use signature::WebhookSecrets;

/// What the intake needs.
#[derive(Clone)]
pub struct WebhookState {
    pub secrets: WebhookSecrets,
    pub store: Arc<dyn Store>,
    pub bus: Arc<dyn Bus>,
    pub backlog: DeliveryBacklog,
    /// Recorded deliveries go straight to this replica's worker.
    pub arrivals: worker::Arrivals,
}
