//! The deliveries this replica has received and not yet processed, so that follow-up work can
//! give way to them. During a burst (two hundred pull requests opened by a script, a mass
//! rebase), every delivery is taken up — its pull request recorded and its preview's namespace
//! created — before deploys spend the machine on templates, guard rails and rollouts. Deploys
//! wait for a quiet moment: nothing unprocessed and nothing received for a short while; never
//! longer than a bound, so steady traffic only delays them a little.
//!
//! The count is this replica's: deliveries it recorded that another replica processes are
//! forgotten when the delivery worker finds the queue empty, and the bound covers the rest.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// How long nothing may arrive before a burst counts as over.
const QUIET: Duration = Duration::from_millis(100);
/// How long follow-up work gives way to unprocessed deliveries, at most.
const GIVE_WAY: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct State {
    unprocessed: usize,
    last_arrival: Option<Instant>,
}

/// Counts deliveries from the moment the intake takes them until the worker is done with them.
#[derive(Debug, Clone)]
pub struct DeliveryBacklog {
    state: Arc<Mutex<State>>,
    settled: Arc<Notify>,
}

impl Default for DeliveryBacklog {
    fn default() -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                unprocessed: 0,
                last_arrival: None,
            })),
            settled: Arc::default(),
        }
    }
}

impl DeliveryBacklog {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A delivery is being recorded (counted before it is stored, so that the worker cannot
    /// finish it first); [`settled`](Self::settled) undoes it when it was not stored.
    pub fn arriving(&self) {
        let mut state = self.state();
        state.unprocessed += 1;
        state.last_arrival = Some(Instant::now());
    }

    /// The worker is done with a delivery (whatever the outcome), or the intake did not store it.
    pub fn settled(&self) {
        let mut state = self.state();
        state.unprocessed = state.unprocessed.saturating_sub(1);
        if state.unprocessed == 0 {
            self.settled.notify_waiters();
        }
    }

    /// The worker found nothing queued and nothing in progress: whatever is still counted was
    /// processed elsewhere.
    pub fn drained(&self) {
        self.state().unprocessed = 0;
        self.settled.notify_waiters();
    }

    /// How long until the backlog is quiet: `None` while deliveries are unprocessed.
    fn quiet_in(&self) -> Option<Duration> {
        let state = self.state();
        if state.unprocessed > 0 {
            return None;
        }
        Some(
            state
                .last_arrival
                .map_or(Duration::ZERO, |at| QUIET.saturating_sub(at.elapsed())),
        )
    }

    /// Lets unprocessed deliveries go first: waits for a quiet moment, at most a second.
    pub async fn give_way(&self) {
        self.wait_quiet(GIVE_WAY).await;
    }

    /// Waits until nothing is unprocessed and nothing arrived for a short while, or `at_most`.
    async fn wait_quiet(&self, at_most: Duration) {
        let deadline = Instant::now() + at_most;
        loop {
            let settled = self.settled.notified();
            let wake_at = match self.quiet_in() {
                Some(Duration::ZERO) => return,
                Some(left) => Instant::now() + left,
                None => deadline,
            };
            if Instant::now() >= deadline {
                return;
            }
            tokio::select! {
                () = settled => {}
                () = tokio::time::sleep_until(wake_at.min(deadline)) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_empty_backlog_does_not_hold_anyone() {
        let backlog = DeliveryBacklog::default();
        let started = Instant::now();
        backlog.wait_quiet(Duration::from_secs(5)).await;
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn a_waiter_is_let_go_once_the_burst_is_processed_and_quiet() {
        let backlog = DeliveryBacklog::default();
        backlog.arriving();
        backlog.arriving();
        let waiter = tokio::spawn({
            let backlog = backlog.clone();
            async move { backlog.wait_quiet(Duration::from_secs(30)).await }
        });
        backlog.settled();
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "one delivery is still unprocessed");
        let settled_at = Instant::now();
        backlog.settled();
        tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .expect("let go long before the bound")
            .expect("the waiter did not panic");
        assert!(
            settled_at.elapsed() < Duration::from_secs(5),
            "let go after a quiet moment, not at the 30 s bound"
        );
    }

    #[tokio::test]
    async fn a_backlog_that_never_settles_holds_a_waiter_only_up_to_the_bound() {
        let backlog = DeliveryBacklog::default();
        backlog.arriving();
        let started = Instant::now();
        backlog.wait_quiet(Duration::from_millis(300)).await;
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(300), "waited {waited:?}");
        assert!(waited < Duration::from_secs(5), "waited {waited:?}");
    }

    #[tokio::test]
    async fn deliveries_processed_elsewhere_are_forgotten_when_the_queue_is_found_empty() {
        let backlog = DeliveryBacklog::default();
        backlog.arriving();
        backlog.arriving();
        backlog.drained();
        assert_eq!(backlog.state().unprocessed, 0);
        backlog.settled();
        assert_eq!(backlog.state().unprocessed, 0, "never below zero");
    }
}
