//! Writes a run cannot afford to lose: how a step or a run ended. While the Store is
//! unavailable (a reset connection, a failover) such a write is tried again with growing
//! pauses for up to [`PATIENCE`], instead of being dropped with a log line. A dropped end left
//! the run `running` until its heartbeat went stale, and the executor that took it over then
//! ran its steps a second time.

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use domain::StoreError;

/// How long an end is tried again. The run's heartbeats go on meanwhile, so it goes stale (and
/// is taken over) only if the Store stays out of reach for its heartbeats too.
const PATIENCE: Duration = Duration::from_secs(45);

/// Pauses from 200 ms, doubling up to 5 s, until [`PATIENCE`] is spent.
fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(5))
        .without_max_times()
        .with_total_delay(Some(PATIENCE))
}

/// `write`, tried again while the Store is unavailable; any other outcome is returned at once.
pub async fn until_stored<T, Fut>(
    what: &'static str,
    write: impl FnMut() -> Fut,
) -> Result<T, StoreError>
where
    Fut: Future<Output = Result<T, StoreError>>,
{
    write
        .retry(backoff())
        .when(|error| matches!(error, StoreError::Unavailable(_)))
        .notify(|error, pause| {
            tracing::warn!(error = %error, retry_in = ?pause, "cannot store {what} yet");
        })
        .await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn unavailable() -> StoreError {
        StoreError::Unavailable("connection reset by peer".into())
    }

    #[tokio::test]
    async fn an_unavailable_store_is_tried_again_and_other_errors_are_not() {
        let calls = AtomicU32::new(0);
        let stored = until_stored("a test end", || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(unavailable()),
                _ => Ok("stored"),
            }
        })
        .await;
        assert_eq!(
            (stored.ok(), calls.load(Ordering::SeqCst)),
            (Some("stored"), 3)
        );

        let calls = AtomicU32::new(0);
        let refused = until_stored("a test end", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(StoreError::NotFound {
                entity: "pipeline",
                key: "7".into(),
            })
        })
        .await;
        assert!(matches!(refused, Err(StoreError::NotFound { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "not tried again");
    }
}
