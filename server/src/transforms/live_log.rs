//! What followers of a running attempt see: each kept (redacted) line published on the bus as
//! it comes (stream `transform/{execution}/{attempt}`, numbered from 1), and the log so far
//! stored as `logs.txt` at least every second while it grows, so a follower that joins late —
//! on any replica — starts from there and the lines the bus carried fill in the rest. What
//! was stored last is replaced by the whole log when the attempt ends.

use std::time::{Duration, Instant};

use bytes::Bytes;

use domain::transform::ClaimedExecution;
use domain::transform::run::{artifact_key, log_stream};
use domain::{Bus, BusEvent, ObjectKey, Objects};

/// The log so far is stored this often while it grows.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// Publishes and stores one attempt's log while it runs.
pub struct LiveLog<'a> {
    bus: &'a dyn Bus,
    objects: &'a dyn Objects,
    stream: String,
    key: Option<ObjectKey>,
    flushed_at: Instant,
    flushed_lines: usize,
}

impl<'a> LiveLog<'a> {
    pub fn new(bus: &'a dyn Bus, objects: &'a dyn Objects, claimed: &ClaimedExecution) -> Self {
        let execution = &claimed.execution;
        Self {
            bus,
            objects,
            stream: log_stream(execution.id, execution.attempts),
            key: ObjectKey::new(&artifact_key(
                execution.run_id,
                &execution.repository,
                "logs.txt",
            ))
            .ok(),
            flushed_at: Instant::now(),
            flushed_lines: 0,
        }
    }

    /// Line number `seq` of the log, kept as `line`.
    pub async fn line(&self, seq: usize, line: &str) {
        let event = BusEvent::LogLine {
            stream: self.stream.clone(),
            seq: seq as u64,
            line: line.to_owned(),
        };
        if let Err(error) = self.bus.publish(&event).await {
            tracing::debug!(error = %error, "cannot publish a transform log line");
        }
    }

    /// Stores `text` (its first `lines` lines) when it grew and the last store is a while ago.
    pub async fn flush_if_due(&mut self, text: &str, lines: usize) {
        if lines == self.flushed_lines || self.flushed_at.elapsed() < FLUSH_EVERY {
            return;
        }
        let Some(key) = &self.key else {
            return;
        };
        self.flushed_at = Instant::now();
        match self.objects.put(key, Bytes::from(text.to_owned())).await {
            Ok(()) => self.flushed_lines = lines,
            Err(error) => {
                tracing::debug!(error = %error, "cannot store a transform log so far")
            }
        }
    }
}
