//! The Redis/Valkey bus (fred): a publisher client and one subscriber client per process.
//! Both reconnect forever with backoff; the subscriber resubscribes after every reconnect,
//! so a Redis restart delays events but does not end subscriptions.

use std::time::Duration;

use async_trait::async_trait;
use domain::bus::Result;
use domain::{Bus, BusError, BusEvent};
use fred::clients::SubscriberClient;
use fred::prelude::{
    Builder, Client, ClientLike, Config, EventInterface, PubsubInterface, ReconnectPolicy,
};
use futures::stream::{BoxStream, StreamExt};
use secrecy::{ExposeSecret, SecretString};

use super::{CHANNEL, decode, encode};

const TIMEOUT: Duration = Duration::from_secs(2);

/// Events reach every Slipway process connected to the same Redis.
pub struct RedisBus {
    publisher: Client,
    subscriber: SubscriberClient,
}

impl std::fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisBus")
    }
}

/// Why the Redis bus could not start.
#[derive(Debug, thiserror::Error)]
pub enum RedisOpenError {
    #[error("SLIPWAY_REDIS_URL is not usable")]
    Settings(#[source] fred::error::Error),
    #[error("cannot reach Redis at {address} (SLIPWAY_REDIS_URL)")]
    Unreachable {
        address: String,
        #[source]
        source: fred::error::Error,
    },
}

impl RedisBus {
    /// Connects both clients; fails when Redis does not answer now.
    pub async fn open(url: &SecretString, display: &str) -> Result<Self, RedisOpenError> {
        let builder = builder(url)?;
        let unreachable = |source| RedisOpenError::Unreachable {
            address: display.to_owned(),
            source,
        };
        let publisher = builder.build().map_err(RedisOpenError::Settings)?;
        let subscriber = builder
            .build_subscriber_client()
            .map_err(RedisOpenError::Settings)?;
        publisher.init().await.map_err(unreachable)?;
        subscriber.init().await.map_err(unreachable)?;
        // Keeps the subscription alive across reconnects; the task ends with the client.
        let _resubscribe = subscriber.manage_subscriptions();
        subscriber.subscribe(CHANNEL).await.map_err(unreachable)?;
        Ok(Self {
            publisher,
            subscriber,
        })
    }

    /// Waits (at most `limit`) until both connections are up, e.g. after Redis restarted.
    /// Returns whether they are.
    pub async fn wait_until_connected(&self, limit: Duration) -> bool {
        let both = async {
            wait_for(&self.publisher).await;
            wait_for(&self.subscriber).await;
        };
        tokio::time::timeout(limit, both).await.is_ok()
    }

    /// Closes both connections.
    pub async fn close(&self) {
        let _ = self.subscriber.quit().await;
        let _ = self.publisher.quit().await;
    }
}

/// Clients of `url` that time out after 2 s and reconnect forever with backoff.
pub(crate) fn builder(url: &SecretString) -> Result<Builder, RedisOpenError> {
    let config = Config::from_url(url.expose_secret()).map_err(RedisOpenError::Settings)?;
    let mut builder = Builder::from_config(config);
    builder
        .with_connection_config(|c| {
            c.connection_timeout = TIMEOUT;
            c.internal_command_timeout = TIMEOUT;
        })
        .with_performance_config(|p| {
            p.default_command_timeout = TIMEOUT;
            p.broadcast_channel_capacity = super::SUBSCRIBER_BUFFER;
        })
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2));
    Ok(builder)
}

async fn wait_for(client: &impl ClientLike) {
    while !client.is_connected() {
        // The short bound covers a reconnection that lands between the two calls.
        let _ = tokio::time::timeout(Duration::from_millis(100), client.wait_for_connect()).await;
    }
}

fn unavailable(error: fred::error::Error) -> BusError {
    BusError::Unavailable(Box::new(error))
}

#[async_trait]
impl Bus for RedisBus {
    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn check(&self) -> Result<()> {
        // Both connections matter: one publishes, the other receives.
        let _: String = self.publisher.ping(None).await.map_err(unavailable)?;
        if !self.subscriber.is_connected() {
            return Err(BusError::Unavailable(
                "the subscriber connection to Redis is down".into(),
            ));
        }
        Ok(())
    }

    async fn publish(&self, event: &BusEvent) -> Result<()> {
        let _: i64 = self
            .publisher
            .publish(CHANNEL, encode(event)?)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn subscribe(&self) -> Result<BoxStream<'static, BusEvent>> {
        let messages = super::in_process::receiver_stream(self.subscriber.message_rx());
        Ok(messages
            .filter_map(|message| async move {
                if message.channel != CHANNEL {
                    return None;
                }
                message.value.as_str().and_then(|text| decode(&text))
            })
            .boxed())
    }
}
