//! The transform queue's switch: whether workers take new executions (running ones go on),
//! read by anyone signed in, paused and resumed by instance admins — the seed's rollback, so a
//! bad change can be stopped from spreading while it is looked at. With Redis, the state says
//! what the task stream holds too.

use domain::time::now_ms;
use domain::transform::QueueState;

use crate::audit::Record;
use crate::caller::{Action, Caller};
use crate::{Result, Services};

/// How long the task stream may take to say what it holds.
const TASKS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

impl Services {
    /// Whether workers take new executions.
    pub async fn transform_queue(&self, caller: &Caller) -> Result<QueueState> {
        self.authorize(caller, Action::TransformRead, None).await?;
        let state = self.store.transform_queue_state().await?;
        Ok(self.with_tasks(state).await)
    }

    /// `state` with the task stream's, when there is one and Redis answers in time.
    pub(crate) async fn with_tasks(&self, state: QueueState) -> QueueState {
        let Some(queue) = &self.task_queue else {
            return state;
        };
        let tasks = match tokio::time::timeout(TASKS_TIMEOUT, queue.state()).await {
            Ok(Ok(tasks)) => Some(tasks),
            Ok(Err(error)) => {
                tracing::debug!(error = %domain::error_chain(&error), "cannot read the task stream");
                None
            }
            Err(_) => None,
        };
        QueueState { tasks, ..state }
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
            Ok(self.with_tasks(state).await)
        }
        .await;
        self.audited(caller, record, changed).await
    }
}
