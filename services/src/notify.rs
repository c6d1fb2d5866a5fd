//! Telling the rest of Slipway that something changed: `Changed` events for open pages and
//! other replicas, `Wake` events for workers. The Store already holds every change, and workers
//! also poll it, so a bus that does not answer delays work and is logged, never an error.

use domain::pipeline::{PIPELINE_WORKER, PipelineRun};
use domain::preview::{PREVIEW_WORKER, Preview};
use domain::{BusEvent, EntityKind, error_chain};

use crate::Services;

impl Services {
    /// Publishes `event`; a failure is logged with `what` was being said.
    pub async fn publish(&self, event: BusEvent, what: &str) {
        if let Err(error) = self.bus.publish(&event).await {
            tracing::warn!(error = %error_chain(&error), "could not {what} on the bus");
        }
    }

    /// Tells open pages that `entity` `id` is now `status`.
    pub async fn announce(&self, entity: EntityKind, id: String, status: &str) {
        let event = BusEvent::Changed {
            entity,
            id,
            status: status.to_owned(),
        };
        self.publish(event, "announce a change").await;
    }

    /// Asks the worker called `worker` to look for work now.
    pub async fn wake(&self, worker: &str) {
        let event = BusEvent::Wake {
            worker: worker.to_owned(),
        };
        self.publish(event, "wake a worker").await;
    }

    pub async fn announce_preview(&self, preview: &Preview) {
        let id = preview.id.to_string();
        self.announce(EntityKind::Preview, id, preview.status.as_str())
            .await;
    }

    pub async fn announce_pipeline(&self, run: &PipelineRun) {
        let id = run.id.to_string();
        self.announce(EntityKind::Pipeline, id, run.status.as_str())
            .await;
    }

    /// Asks the preview worker to look for work now.
    pub async fn wake_previews(&self) {
        self.wake(PREVIEW_WORKER).await;
    }

    /// Asks the pipeline executors to look for work now.
    pub async fn wake_pipelines(&self) {
        self.wake(PIPELINE_WORKER).await;
    }

    /// The bus's change notifications, for a signed-in person's open pages (which then
    /// re-read what changed through functions that check what they may see).
    pub async fn follow_changes(
        &self,
        caller: &crate::Caller,
    ) -> crate::Result<futures::stream::BoxStream<'static, BusEvent>> {
        self.authorize(caller, crate::caller::Action::InstanceRead, None)
            .await?;
        self.bus
            .subscribe()
            .await
            .map_err(|error| crate::Error::Unavailable {
                dependency: "the bus",
                source: Box::new(error),
            })
    }
}
