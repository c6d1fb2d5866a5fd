//! The transform queue's switch: whether workers take new executions (running ones go on),
//! read by anyone signed in, paused and resumed by instance admins — the seed's rollback, so a
//! bad change can be stopped from spreading while it is looked at.

use domain::time::now_ms;
use domain::transform::QueueState;

use crate::audit::Record;
use crate::caller::{Action, Caller};
use crate::{Result, Services};

impl Services {
    /// Whether workers take new executions.
    pub async fn transform_queue(&self, caller: &Caller) -> Result<QueueState> {
        self.authorize(caller, Action::TransformRead, None).await?;
        Ok(self.store.transform_queue_state().await?)
    }

    /// Stops (`paused`) or restarts the taking of new executions, on every replica.
    pub async fn set_transform_queue_paused(
        &self,
        caller: &Caller,
        paused: bool,
    ) -> Result<QueueState> {
        self.authorize(caller, Action::TransformPause, None).await?;
        let word = if paused { "paused" } else { "resumed" };
        let record = Record::of(Action::TransformPause).details(word);
        let by = caller.identity().map(|i| i.user.login.clone());
        let changed = async {
            let state = self
                .store
                .set_transform_queue_paused(paused, by.as_deref(), now_ms())
                .await?;
            tracing::info!(paused, by = by.as_deref(), "transform queue {word}");
            if !paused {
                self.wake(domain::transform::TRANSFORM_WORKER).await;
            }
            Ok(state)
        }
        .await;
        self.audited(caller, record, changed).await
    }
}
