//! The in-process bus: a tokio broadcast channel, for a single Slipway process.

use async_trait::async_trait;
use domain::bus::Result;
use domain::{Bus, BusEvent};
use futures::stream::{self, BoxStream, StreamExt};
use tokio::sync::broadcast;

/// Events reach every subscriber in this process.
#[derive(Debug, Clone)]
pub struct InProcessBus {
    sender: broadcast::Sender<BusEvent>,
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(super::SUBSCRIBER_BUFFER).0,
        }
    }
}

/// Turns a broadcast receiver into a stream that skips ahead (with a warning) when it lags.
pub(crate) fn receiver_stream<T: Clone + Send + 'static>(
    receiver: broadcast::Receiver<T>,
) -> BoxStream<'static, T> {
    stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(item) => return Some((item, receiver)),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "a bus subscriber fell behind and skipped events");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
    .boxed()
}

#[async_trait]
impl Bus for InProcessBus {
    fn backend(&self) -> &'static str {
        "in-process"
    }

    async fn check(&self) -> Result<()> {
        Ok(())
    }

    async fn publish(&self, event: &BusEvent) -> Result<()> {
        // No subscriber is not an error: nobody is listening right now.
        let _ = self.sender.send(event.clone());
        Ok(())
    }

    async fn subscribe(&self) -> Result<BoxStream<'static, BusEvent>> {
        Ok(receiver_stream(self.sender.subscribe()))
    }
}
