//! Maps kube-rs errors onto the Cluster port's errors, and retries the transient ones
//! (429, 5xx, timeouts, dropped connections) with exponential backoff and jitter.

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use domain::cluster::{ClusterError, Result};

/// How many times a transient failure is retried, and how long the waits grow.
fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(2))
        .with_max_times(4)
        .with_jitter()
}

/// True for failures that may pass by themselves.
pub fn is_transient(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => status.code == 429 || status.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => true,
        _ => false,
    }
}

/// Maps an error, naming the object (`kind`, `name`) for not-found errors.
pub fn map(error: kube::Error, kind: &'static str, name: &str) -> ClusterError {
    match error {
        kube::Error::Api(status) => match status.code {
            404 => ClusterError::NotFound {
                kind,
                name: name.to_owned(),
            },
            409 => ClusterError::Conflict(status.message),
            403 => ClusterError::Forbidden(status.message),
            400 | 422 => ClusterError::Invalid(status.message),
            _ => ClusterError::Unavailable(Box::new(kube::Error::Api(status))),
        },
        other => ClusterError::Unavailable(Box::new(other)),
    }
}

/// Runs `call`, retrying transient failures; `what` names the action in logs.
pub async fn retrying<T, F, Fut>(what: &str, call: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    retrying_for(what, "object", "", call).await
}

/// Like [`retrying`], naming the object a 404 is about.
pub async fn retrying_for<T, F, Fut>(
    what: &str,
    kind: &'static str,
    name: &str,
    call: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    call.retry(backoff())
        .when(is_transient)
        .notify(|error, wait| tracing::warn!(%error, retry_in_ms = wait.as_millis() as u64, "cluster: {what} failed; retrying"))
        .await
        .map_err(|e| map(e, kind, name))
}
