//! The Redis task stream `preview.tasks`, read by the consumer group `slipway`: each entry is
//! one `ExecuteTransform` task (field `task`, JSON; other systems may add them too). A worker
//! reads new entries with `XREADGROUP`, takes over entries a stopped worker left (`XAUTOCLAIM`
//! once they have gone a claim's length without a heartbeat), keeps the entries it runs alive
//! (`XCLAIM … JUSTID`), and acknowledges (then deletes) an entry only once its outcome is
//! stored. Entries that are not valid tasks, and tasks that gave up, go to
//! `preview.tasks.dlq` with the reason. The Store stays the record of every execution and the
//! authority on who runs it: the stream only carries the tasks.

use std::collections::HashMap;
use std::time::Duration;

use domain::transform::task::{ExecuteTransform, MAX_TASK_BYTES, TaskError};
use domain::transform::{TaskQueue, TaskStreamState};
use fred::prelude::{Client, ClientLike, StreamsInterface, Value};
use fred::types::streams::XCap;
use secrecy::SecretString;

use crate::bus::{RedisOpenError, redis_builder};

/// The stream of tasks.
pub const STREAM: &str = "preview.tasks";
/// Where tasks that cannot run, or gave up, are kept with the reason.
pub const DEAD_LETTERS: &str = "preview.tasks.dlq";
/// The consumer group every Slipway replica reads with.
pub const GROUP: &str = "slipway";
/// The entry field that holds the task.
pub const TASK_FIELD: &str = "task";
/// The dead letters kept (about; the oldest go first).
const KEPT_DEAD_LETTERS: i64 = 10_000;

/// One entry read from the stream: its id, and its task's text (or why there is none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub text: Result<String, TaskError>,
}

/// An entry as Redis answers it: its id and fields.
type RawEntry = (String, HashMap<String, Value>);

/// A Redis error, worded for the log.
pub type StreamError = fred::error::Error;

/// The stream; a replica reads it as a consumer of the group named after its worker.
pub struct TaskStream {
    client: Client,
}

impl std::fmt::Debug for TaskStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TaskStream({STREAM})")
    }
}

impl TaskStream {
    /// Connects; fails when Redis does not answer now.
    pub async fn open(url: &SecretString, display: &str) -> Result<Self, RedisOpenError> {
        let client = redis_builder(url)?
            .build()
            .map_err(RedisOpenError::Settings)?;
        client
            .init()
            .await
            .map_err(|source| RedisOpenError::Unreachable {
                address: display.to_owned(),
                source,
            })?;
        Ok(Self { client })
    }

    /// Creates the group (and the stream) unless it exists; `true` when it did not — a new
    /// Redis, or one that lost its data, so every waiting task must be added again.
    pub async fn ensure_group(&self) -> Result<bool, StreamError> {
        match self
            .client
            .xgroup_create::<Value, _, _, _>(STREAM, GROUP, "0", true)
            .await
        {
            Ok(_) => Ok(true),
            Err(error) if error.details().starts_with("BUSYGROUP") => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Adds `task`, checked first; its entry id.
    pub async fn add(&self, task: &ExecuteTransform) -> Result<String, AddError> {
        task.check().map_err(AddError::Invalid)?;
        self.client
            .xadd(STREAM, false, None, "*", vec![(TASK_FIELD, task.to_json())])
            .await
            .map_err(AddError::Unavailable)
    }

    /// Up to `count` entries for `consumer`: first those another consumer left for longer
    /// than `stalled_after`, then new ones. It does not wait for one: the worker is woken when
    /// Slipway adds tasks, and looks every 2 s for those other systems add. `Err` with
    /// `NOGROUP` when the group is gone.
    pub async fn take(
        &self,
        consumer: &str,
        count: usize,
        stalled_after: Duration,
    ) -> Result<Vec<Entry>, StreamError> {
        let count = u64::try_from(count.max(1)).unwrap_or(1);
        let idle = u64::try_from(stalled_after.as_millis()).unwrap_or(u64::MAX);
        let (_, stalled): (String, Vec<RawEntry>) = self
            .client
            .xautoclaim_values(STREAM, GROUP, consumer, idle, "0-0", Some(count), false)
            .await?;
        if !stalled.is_empty() {
            return Ok(stalled.into_iter().map(entry).collect());
        }
        let fresh = self
            .client
            .xreadgroup_map::<String, String, String, Value, _, _, _, _>(
                GROUP,
                consumer,
                Some(count),
                None,
                false,
                STREAM,
                ">",
            )
            .await?;
        Ok(fresh
            .into_values()
            .flatten()
            .map(|(id, fields)| entry((id, fields)))
            .collect())
    }

    /// Tells the group `consumer` still runs entry `id`, so nobody takes it over.
    pub async fn heartbeat(&self, consumer: &str, id: &str) -> Result<(), StreamError> {
        let _: Value = self
            .client
            .xclaim(
                STREAM, GROUP, consumer, 0, id, None, None, None, false, true,
            )
            .await?;
        Ok(())
    }

    /// Acknowledges entry `id` and deletes it: its task is done with.
    pub async fn ack(&self, id: &str) -> Result<(), StreamError> {
        let _: i64 = self.client.xack(STREAM, GROUP, id).await?;
        let _: i64 = self.client.xdel(STREAM, id).await?;
        Ok(())
    }

    /// Keeps `text` in the dead letters with `reason`, then acknowledges entry `id`.
    pub async fn dead_letter(&self, id: &str, text: &str, reason: &str) -> Result<(), StreamError> {
        let at_ms = domain::time::now_ms().to_string();
        let kept: String = text.chars().take(MAX_TASK_BYTES).collect();
        let cap: XCap = ("MAXLEN", "~", KEPT_DEAD_LETTERS).try_into()?;
        let _: String = self
            .client
            .xadd(
                DEAD_LETTERS,
                false,
                cap,
                "*",
                vec![
                    (TASK_FIELD, kept.as_str()),
                    ("reason", reason),
                    ("entry", id),
                    ("at_ms", at_ms.as_str()),
                ],
            )
            .await?;
        self.ack(id).await
    }

    /// How many entries wait, are being run, and were dead-lettered.
    pub async fn stats(&self) -> Result<TaskStreamState, StreamError> {
        let depth: i64 = self.client.xlen(STREAM).await?;
        let dead_letters: i64 = self.client.xlen(DEAD_LETTERS).await?;
        let summary: Value = self.client.xpending(STREAM, GROUP, ()).await?;
        let pending = match summary {
            Value::Array(parts) => parts.first().and_then(Value::as_i64).unwrap_or(0),
            _ => 0,
        };
        let first: Vec<RawEntry> = self.client.xrange_values(STREAM, "-", "+", Some(1)).await?;
        let oldest_at_ms = first.first().and_then(|(id, _)| added_at_ms(id));
        Ok(TaskStreamState {
            stream: STREAM.to_owned(),
            group: GROUP.to_owned(),
            depth,
            pending,
            dead_letters,
            oldest_at_ms,
        })
    }

    /// Whether Redis answers.
    pub async fn check(&self) -> Result<(), StreamError> {
        let _: String = self.client.ping(None).await?;
        Ok(())
    }

    /// Closes the connection.
    pub async fn close(&self) {
        let _ = self.client.quit().await;
    }
}

#[async_trait::async_trait]
impl TaskQueue for TaskStream {
    async fn state(&self) -> domain::bus::Result<TaskStreamState> {
        self.stats()
            .await
            .map_err(|e| domain::BusError::Unavailable(Box::new(e)))
    }
}

/// Why a task was not added.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    #[error("the task is not valid: {0}")]
    Invalid(TaskError),
    #[error("cannot add the task to {STREAM}")]
    Unavailable(#[source] StreamError),
}

/// Whether `error` says the group (or the stream) is gone: Redis lost its data.
pub fn group_is_gone(error: &StreamError) -> bool {
    error.details().starts_with("NOGROUP")
}

/// An entry id is `{milliseconds}-{sequence}`.
fn added_at_ms(id: &str) -> Option<i64> {
    id.split_once('-').and_then(|(ms, _)| ms.parse().ok())
}

fn entry((id, mut fields): RawEntry) -> Entry {
    let text = match fields.remove(TASK_FIELD) {
        Some(value) => value.into_string().ok_or_else(|| TaskError {
            path: ".".into(),
            reason: format!("the entry's `{TASK_FIELD}` field is not text"),
        }),
        None => Err(TaskError {
            path: ".".into(),
            reason: format!("the entry has no `{TASK_FIELD}` field"),
        }),
    };
    Entry { id, text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_id_says_when_it_was_added() {
        assert_eq!(added_at_ms("1700000000123-4"), Some(1_700_000_000_123));
        assert_eq!(added_at_ms("nonsense"), None);
    }

    #[test]
    fn an_entry_without_a_task_says_so() {
        let read = entry((
            "1-0".into(),
            HashMap::from([("job".into(), Value::from("x"))]),
        ));
        let error = read.text.expect_err("no task");
        assert!(error.reason.contains("no `task` field"), "{error}");
    }
}
