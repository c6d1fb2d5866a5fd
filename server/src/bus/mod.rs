//! Bus adapters: in-process (embedded default, one Slipway process) and Redis/Valkey (several
//! replicas). Events travel as JSON on one channel.

mod in_process;
mod redis;

pub use in_process::InProcessBus;
pub(crate) use redis::builder as redis_builder;
pub use redis::{RedisBus, RedisOpenError};

/// The Redis channel every Slipway process publishes to and listens on.
pub const CHANNEL: &str = "slipway:events";

/// How many events a slow subscriber may fall behind before it skips ahead.
pub(crate) const SUBSCRIBER_BUFFER: usize = 4096;

/// The JSON form of an event on the wire.
pub(crate) fn encode(event: &domain::BusEvent) -> Result<String, domain::BusError> {
    serde_json::to_string(event).map_err(|e| domain::BusError::Encoding(Box::new(e)))
}

pub(crate) fn decode(text: &str) -> Option<domain::BusEvent> {
    match serde_json::from_str(text) {
        Ok(event) => Some(event),
        Err(error) => {
            tracing::warn!(%error, "ignoring a bus message that is not a Slipway event");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::{BusEvent, EntityKind};

    #[test]
    fn events_have_a_stable_wire_shape() {
        let event = BusEvent::Changed {
            entity: EntityKind::Repository,
            id: "7".into(),
            status: "added".into(),
        };
        let json = super::encode(&event).expect("encodes");
        assert_eq!(
            json,
            r#"{"type":"changed","entity":"repository","id":"7","status":"added"}"#
        );
        assert_eq!(super::decode(&json), Some(event));
        assert_eq!(super::decode("{\"type\":\"unknown\"}"), None);
    }
}
