//! Step logs: each line is redacted, numbered, kept in memory while the step runs (so a viewer
//! that connects late gets every earlier line, then each new one, exactly once and in order),
//! published on the bus, and written to object storage in parts every few seconds; when the
//! step ends the parts become one object, `logs/pipelines/{id}/{step}.log`. A step's log is
//! bounded (16 KiB a line, 16 MiB in all); what goes over is said in the log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use bytes::Bytes;
use tokio::sync::watch;

use domain::pipeline::{LogLine, PipelineId, step_log_key, step_log_parts_prefix, step_log_stream};
use domain::{Bus, BusEvent, ObjectKey, Objects, ObjectsError};

use super::redact::Redactor;
use domain::time::now_ms;

/// Unwritten output is stored at least this often.
pub const FLUSH_EVERY: Duration = Duration::from_secs(2);
/// …or as soon as this much has accumulated.
const FLUSH_BYTES: usize = 256 * 1024;
/// How long a finished step's log is retried while object storage is unavailable.
const STORE_PATIENCE: Duration = Duration::from_secs(600);

/// Pauses from 500 ms, doubling up to 15 s, until [`STORE_PATIENCE`] is spent.
fn store_backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(500))
        .with_max_delay(Duration::from_secs(15))
        .without_max_times()
        .with_total_delay(Some(STORE_PATIENCE))
}
/// A line is kept up to this many bytes, cut after it is redacted (so a secret or token the cut
/// would split is masked first), whichever runner it came from.
pub const MAX_LINE_BYTES: usize = 16 * 1024;
/// What a cut line ends with.
const CUT_MARK: &str = " … (line cut at 16 KiB)";
/// A step's log keeps at most this much text; later output is counted, not kept (the step goes
/// on). It bounds what a running step holds in memory for its viewers and what is stored.
pub const MAX_STEP_LOG_BYTES: usize = 16 * 1024 * 1024;

/// `line` cut to [`MAX_LINE_BYTES`] (at a character boundary), saying so.
fn cut(mut line: String) -> String {
    if line.len() <= MAX_LINE_BYTES {
        return line;
    }
    let mut end = MAX_LINE_BYTES;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    line.truncate(end);
    line.push_str(CUT_MARK);
    line
}

/// One step's log while it runs: its lines so far and a signal when more arrive.
#[derive(Debug)]
pub struct LiveLog {
    lines: RwLock<Vec<LogLine>>,
    /// `(lines so far, finished)`.
    progress: watch::Sender<(usize, bool)>,
}

impl LiveLog {
    fn new() -> Self {
        Self {
            lines: RwLock::new(Vec::new()),
            progress: watch::channel((0, false)).0,
        }
    }

    /// Adds lines and wakes viewers once for all of them.
    fn append(&self, new: impl IntoIterator<Item = LogLine>) {
        let count = {
            let mut lines = self.lines.write().unwrap_or_else(|e| e.into_inner());
            lines.extend(new);
            lines.len()
        };
        self.progress.send_modify(|p| p.0 = count);
    }

    fn finish(&self) {
        self.progress.send_modify(|p| p.1 = true);
    }

    /// Lines after the first `from`, cloned.
    pub fn lines_from(&self, from: usize) -> Vec<LogLine> {
        let lines = self.lines.read().unwrap_or_else(|e| e.into_inner());
        lines
            .get(from..)
            .map(<[LogLine]>::to_vec)
            .unwrap_or_default()
    }

    /// Watches `(lines so far, finished)`.
    pub fn progress(&self) -> watch::Receiver<(usize, bool)> {
        self.progress.subscribe()
    }
}

/// The logs of the steps running in this process, by stream name.
#[derive(Debug, Default, Clone)]
pub struct LogHub {
    live: Arc<Mutex<HashMap<String, Arc<LiveLog>>>>,
}

impl LogHub {
    /// The live log of a step running in this process.
    pub fn live(&self, id: PipelineId, step: &str) -> Option<Arc<LiveLog>> {
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.get(&step_log_stream(id, step)).cloned()
    }

    fn open(&self, stream: &str) -> Arc<LiveLog> {
        let log = Arc::new(LiveLog::new());
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.insert(stream.to_owned(), log.clone());
        log
    }

    fn close(&self, stream: &str) {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(log) = live.remove(stream) {
            log.finish();
        }
    }
}

/// Writes one step's log.
pub struct StepLog {
    id: PipelineId,
    step: String,
    stream: String,
    live: Arc<LiveLog>,
    hub: LogHub,
    objects: Arc<dyn Objects>,
    bus: Arc<dyn Bus>,
    redactor: Redactor,
    seq: u64,
    unwritten: String,
    parts: Vec<ObjectKey>,
    last_flush: Instant,
    /// Text kept so far; whether [`MAX_STEP_LOG_BYTES`] was reached, and the lines not kept since.
    kept_bytes: usize,
    cut_off: bool,
    dropped: u64,
}

impl StepLog {
    pub fn open(
        hub: &LogHub,
        objects: Arc<dyn Objects>,
        bus: Arc<dyn Bus>,
        id: PipelineId,
        step: &str,
        redactor: Redactor,
    ) -> Self {
        let stream = step_log_stream(id, step);
        let live = hub.open(&stream);
        Self {
            id,
            step: step.to_owned(),
            stream,
            live,
            hub: hub.clone(),
            objects,
            bus,
            redactor,
            seq: 0,
            unwritten: String::new(),
            parts: Vec::new(),
            last_flush: Instant::now(),
            kept_bytes: 0,
            cut_off: false,
            dropped: 0,
        }
    }

    /// Redacts, numbers, shows and (soon) stores one line.
    pub async fn push(&mut self, raw: &str) {
        self.push_all([raw]).await;
    }

    /// Redacts, numbers, shows and (soon) stores lines that arrived together; viewers are woken
    /// once for the batch. Past [`MAX_STEP_LOG_BYTES`] lines are counted, not kept.
    pub async fn push_all<S: AsRef<str>>(&mut self, raw: impl IntoIterator<Item = S>) {
        let mut texts = Vec::new();
        for raw in raw {
            if self.cut_off {
                self.dropped += 1;
                continue;
            }
            let text = cut(self.redactor.line(raw.as_ref()));
            self.kept_bytes += text.len();
            if self.kept_bytes > MAX_STEP_LOG_BYTES {
                // This line is not kept either: the log says why in its place.
                self.cut_off = true;
                self.dropped = 1;
                texts.push(format!(
                    "slipway: this step's log reached {} MiB; the rest of its output is not kept (the step goes on)",
                    MAX_STEP_LOG_BYTES / (1024 * 1024)
                ));
            } else {
                texts.push(text);
            }
        }
        self.publish(texts).await;
    }

    /// Numbers, shows and (soon) stores lines as they are.
    async fn publish(&mut self, texts: Vec<String>) {
        if texts.is_empty() {
            return;
        }
        let at_ms = now_ms();
        let mut batch = Vec::new();
        for text in texts {
            self.seq += 1;
            let line = LogLine {
                seq: self.seq,
                at_ms,
                text,
            };
            self.unwritten.push_str(&stored_line(&line));
            batch.push(line);
        }
        self.live.append(batch.iter().cloned());
        // Live viewers elsewhere follow the bus; losing a message there only delays them
        // until the stored log catches up.
        for line in batch {
            let _ = self
                .bus
                .publish(&BusEvent::LogLine {
                    stream: self.stream.clone(),
                    seq: line.seq,
                    line: line.text,
                })
                .await;
        }
        if self.unwritten.len() >= FLUSH_BYTES {
            self.flush().await;
        }
    }

    /// Stores what has not been stored yet, as the next part.
    pub async fn flush(&mut self) {
        self.last_flush = Instant::now();
        if self.unwritten.is_empty() {
            return;
        }
        let Ok(key) = ObjectKey::new(&format!(
            "{}{:06}",
            step_log_parts_prefix(self.id, &self.step),
            self.parts.len() + 1
        )) else {
            return;
        };
        let content = Bytes::from(std::mem::take(&mut self.unwritten));
        match self.objects.put(&key, content.clone()).await {
            Ok(()) => self.parts.push(key),
            Err(error) => {
                // Keep the text for the next attempt; the final write retries too.
                tracing::warn!(pipeline.id = %self.id, step = %self.step, error = %error, "cannot store a log part yet");
                self.unwritten = String::from_utf8_lossy(&content).into_owned() + &self.unwritten;
            }
        }
    }

    /// Whether a periodic flush is due.
    pub fn flush_due(&self) -> bool {
        self.last_flush.elapsed() >= FLUSH_EVERY
    }

    /// Removes the parts an earlier follower of this step stored: the step's output is read
    /// again from its start, and replaces them.
    pub async fn forget_stored_parts(&self) {
        let stored = match self
            .objects
            .list(&step_log_parts_prefix(self.id, &self.step))
            .await
        {
            Ok(stored) => stored,
            Err(error) => {
                tracing::warn!(pipeline.id = %self.id, step = %self.step, error = %error, "cannot list a log's earlier parts");
                return;
            }
        };
        for part in stored {
            if let Ok(key) = ObjectKey::new(&part.key) {
                let _ = self.objects.delete(&key).await;
            }
        }
    }

    /// Stores what is unwritten and ends the live log, leaving the parts for whoever follows
    /// the step next (Slipway stopping while the step runs on).
    pub async fn detach(mut self) {
        self.flush().await;
        self.hub.close(&self.stream);
    }

    /// Joins the parts into the step's log object and ends the live log; returns its key.
    pub async fn finish(mut self) -> Result<String, ObjectsError> {
        if self.cut_off {
            let note = format!("slipway: {} lines of output were not kept", self.dropped);
            self.publish(vec![note]).await;
        }
        let key = ObjectKey::new(&step_log_key(self.id, &self.step))?;
        let stored = self.store_whole(&key).await;
        self.hub.close(&self.stream);
        stored?;
        for part in &self.parts {
            let _ = self.objects.delete(part).await;
        }
        Ok(key.as_str().to_owned())
    }

    /// Joins the stored parts and the unwritten rest into `key`, trying again with growing
    /// pauses while object storage is unavailable, for up to [`STORE_PATIENCE`]: the step's
    /// output exists only here until then, and the step's pod is kept until it is stored.
    async fn store_whole(&self, key: &ObjectKey) -> Result<(), ObjectsError> {
        let attempt = || async {
            let mut whole = Vec::new();
            for part in &self.parts {
                whole.extend_from_slice(&self.objects.get(part).await?);
            }
            whole.extend_from_slice(self.unwritten.as_bytes());
            self.objects.put(key, Bytes::from(whole)).await
        };
        attempt
            .retry(store_backoff())
            .when(|error| matches!(error, ObjectsError::Unavailable(_)))
            .notify(|error, pause| {
                tracing::warn!(pipeline.id = %self.id, step = %self.step, error = %error, retry_in = ?pause, "cannot store a step log yet");
            })
            .await
    }

    pub fn lines(&self) -> u64 {
        self.seq
    }
}

/// `at_ms` as RFC 3339 (`2026-11-25T14:03:05.123Z`), as stored logs and `timestamps=true` show it.
pub fn rfc3339(at_ms: i64) -> String {
    jiff::Timestamp::from_millisecond(at_ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// A line as stored: RFC 3339 time, a space, the text.
fn stored_line(line: &LogLine) -> String {
    format!("{} {}\n", rfc3339(line.at_ms), line.text)
}

/// The stored log, or while the step runs elsewhere the parts stored so far.
pub async fn stored_lines(
    objects: &dyn Objects,
    id: PipelineId,
    step: &domain::pipeline::StepRun,
) -> Result<Vec<LogLine>, ObjectsError> {
    // A step kept from a retried run points at that run's log.
    let key = step
        .log_key
        .clone()
        .unwrap_or_else(|| step_log_key(id, &step.name));
    let whole = ObjectKey::new(&key)?;
    match objects.get(&whole).await {
        Ok(bytes) => return Ok(parse_stored(&String::from_utf8_lossy(&bytes))),
        Err(ObjectsError::NotFound(_)) => {}
        Err(error) => return Err(error),
    }
    let mut text = Vec::new();
    for part in objects.list(&step_log_parts_prefix(id, &step.name)).await? {
        if let Ok(key) = ObjectKey::new(&part.key)
            && let Ok(bytes) = objects.get(&key).await
        {
            text.extend_from_slice(&bytes);
        }
    }
    Ok(parse_stored(&String::from_utf8_lossy(&text)))
}

/// Lines of a stored log, numbered from 1 (the reverse of [`stored_line`]).
pub fn parse_stored(text: &str) -> Vec<LogLine> {
    text.lines()
        .enumerate()
        .map(|(index, raw)| {
            let (at_ms, text) = raw
                .split_once(' ')
                .and_then(|(at, rest)| {
                    at.parse::<jiff::Timestamp>()
                        .ok()
                        .map(|t| (t.as_millisecond(), rest))
                })
                .unwrap_or((0, raw));
            LogLine {
                seq: index as u64 + 1,
                at_ms,
                text: text.to_owned(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_after_redaction_at_a_character_boundary() {
        let token = format!("ghp_{}", "a".repeat(36));
        // The token starts 20 bytes before the cut: cut first, the 16 bytes of it that remain
        // would be too short for the token pattern, and would be shown.
        let raw = format!(
            "{} {token} {}",
            "é".repeat(MAX_LINE_BYTES / 2 - 11),
            "tail".repeat(50)
        );
        let mut redactor = Redactor::new(Vec::new());
        let shown = cut(redactor.line(&raw));
        assert!(
            !shown.contains("ghp_a"),
            "a token across the cut is masked whole"
        );
        let end: String = shown.chars().rev().take(30).collect();
        assert!(shown.ends_with(CUT_MARK), "ends (reversed) {end}");
        assert!(shown.len() <= MAX_LINE_BYTES + CUT_MARK.len());
        assert_eq!(cut("short".to_owned()), "short");
    }

    #[test]
    fn stored_lines_read_back_with_their_time_and_number() {
        let line = LogLine {
            seq: 1,
            at_ms: 1_764_000_000_123,
            text: "+ make test".into(),
        };
        let text = stored_line(&line)
            + &stored_line(&LogLine {
                seq: 2,
                ..line.clone()
            });
        assert!(
            text.starts_with("2025-11-24T16:00:00.123Z + make test\n"),
            "{text}"
        );
        let back = parse_stored(&text);
        assert_eq!(back[0], line);
        assert_eq!(back[1].seq, 2);
    }
}
