//! Following a container's log from its first line to its end, without losing or repeating a
//! line when the stream drops mid-way. Lines are read with the kubelet's timestamps; a reopened
//! stream starts at the second of the last line seen (`sinceTime` has second precision) and
//! skips what was already delivered. When a stream ends and the container has finished, one
//! last read without `follow` collects anything a cleanly cut stream missed. A log read for
//! people (a preview's) has credential-shaped words masked.

use std::time::Duration;

use domain::cluster::{ClusterError, Result};
use futures::AsyncBufReadExt;
use futures::stream::{self, BoxStream, StreamExt};
use jiff::{RoundMode, Timestamp, TimestampRound, Unit};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};

use super::errors::retrying_for;

/// Reopens in a row (without a new line in between) before the stream gives up.
const MAX_REOPENS: u32 = 8;
const REOPEN_PAUSE: Duration = Duration::from_millis(100);

/// What has been delivered so far, so that a reopened stream repeats nothing.
#[derive(Debug, Default)]
struct Cursor {
    /// Timestamp of the last line delivered.
    last: Option<Timestamp>,
    /// Lines delivered with exactly that timestamp.
    delivered_at_last: usize,
    /// Lines with that timestamp the reopened stream will repeat, still to be skipped.
    skip_at_last: usize,
}

impl Cursor {
    /// Where a reopened stream starts (the last line's second), preparing to skip repeats.
    fn resume(&mut self) -> Option<Timestamp> {
        self.skip_at_last = self.delivered_at_last;
        let last = self.last?;
        let second = TimestampRound::new()
            .smallest(Unit::Second)
            .mode(RoundMode::Trunc);
        Some(last.round(second).unwrap_or(last))
    }

    /// Whether a line written at `at` is new; records it if so.
    fn admit(&mut self, at: Timestamp) -> bool {
        match self.last {
            Some(last) if at < last => false,
            Some(last) if at == last => {
                if self.skip_at_last > 0 {
                    self.skip_at_last -= 1;
                    false
                } else {
                    self.delivered_at_last += 1;
                    true
                }
            }
            _ => {
                self.last = Some(at);
                self.delivered_at_last = 1;
                self.skip_at_last = 0;
                true
            }
        }
    }
}

/// Splits `2026-11-24T10:00:00.123456789Z text` into its timestamp and text.
fn split(line: &str) -> Option<(Timestamp, &str)> {
    let (at, text) = line.split_once(' ').unwrap_or((line, ""));
    Some((at.parse().ok()?, text))
}

/// Whether `container` has terminated (or its pod is gone).
async fn container_finished(api: &Api<Pod>, pod: &str, container: &str) -> Result<bool> {
    let found = retrying_for("read a pod", "pod", pod, || api.get_opt(pod)).await?;
    Ok(found.is_none_or(|found| {
        let status = found.status.unwrap_or_default();
        status
            .init_container_statuses
            .into_iter()
            .flatten()
            .chain(status.container_statuses.into_iter().flatten())
            .filter(|s| s.name == container)
            .any(|s| s.state.is_some_and(|st| st.terminated.is_some()))
    }))
}

struct Follow {
    api: Api<Pod>,
    pod: String,
    container: String,
    cursor: Cursor,
    lines: Option<BoxStream<'static, std::io::Result<String>>>,
    /// The container has finished: the current read is the last one.
    draining: bool,
    reopens: u32,
    done: bool,
}

impl Follow {
    async fn open(&mut self) -> Result<BoxStream<'static, std::io::Result<String>>> {
        let params = LogParams {
            container: Some(self.container.clone()),
            follow: !self.draining,
            timestamps: true,
            since_time: self.cursor.resume(),
            ..LogParams::default()
        };
        let api = &self.api;
        let reader = retrying_for("open a log stream", "pod", &self.pod, || {
            api.log_stream(&self.pod, &params)
        })
        .await?;
        Ok(reader.lines().boxed())
    }

    /// Counts a reopen; an error once too many happened without progress.
    async fn pause_before_reopen(&mut self, why: &str) -> Result<()> {
        self.reopens += 1;
        if self.reopens > MAX_REOPENS {
            return Err(ClusterError::Unavailable(
                format!("the log stream of pod `{}` keeps breaking: {why}", self.pod).into(),
            ));
        }
        tracing::debug!(pod = %self.pod, container = %self.container, why, "cluster: reopening a log stream");
        tokio::time::sleep(REOPEN_PAUSE * self.reopens).await;
        Ok(())
    }

    async fn next_line(&mut self) -> Option<Result<String>> {
        loop {
            let Some(lines) = self.lines.as_mut() else {
                match self.open().await {
                    Ok(lines) => self.lines = Some(lines),
                    // The pod is gone: nothing more will be written.
                    Err(ClusterError::NotFound { .. }) => return None,
                    Err(error) => return Some(Err(error)),
                }
                continue;
            };
            match lines.next().await {
                Some(Ok(raw)) => match split(&raw) {
                    Some((at, text)) if self.cursor.admit(at) => {
                        self.reopens = 0;
                        return Some(Ok(text.to_owned()));
                    }
                    Some(_) => {}
                    None => return Some(Ok(raw)),
                },
                Some(Err(error)) => {
                    self.lines = None;
                    if let Err(e) = self.pause_before_reopen(&error.to_string()).await {
                        return Some(Err(e));
                    }
                }
                None => {
                    self.lines = None;
                    if self.draining {
                        return None;
                    }
                    match container_finished(&self.api, &self.pod, &self.container).await {
                        Ok(true) => self.draining = true,
                        Ok(false) => {
                            if let Err(e) = self.pause_before_reopen("the stream ended early").await
                            {
                                return Some(Err(e));
                            }
                        }
                        Err(error) => return Some(Err(error)),
                    }
                }
            }
        }
    }
}

/// The lines of `container` from the first to the last, once each.
pub fn follow(api: Api<Pod>, pod: &str, container: &str) -> BoxStream<'static, Result<String>> {
    let follow = Follow {
        api,
        pod: pod.to_owned(),
        container: container.to_owned(),
        cursor: Cursor::default(),
        lines: None,
        draining: false,
        reopens: 0,
        done: false,
    };
    stream::unfold(follow, |mut follow| async move {
        if follow.done {
            return None;
        }
        let item = follow.next_line().await?;
        follow.done = item.is_err();
        Some((item, follow))
    })
    .boxed()
}

/// A container's log as `options` say, line by line (one read; no reopening).
pub async fn read(
    api: Api<Pod>,
    pod: &str,
    container: Option<&str>,
    options: domain::cluster::LogOptions,
) -> Result<BoxStream<'static, Result<String>>> {
    let params = LogParams {
        container: container.map(str::to_owned),
        follow: options.follow,
        timestamps: options.timestamps,
        tail_lines: options.tail.map(i64::from),
        since_seconds: options.since_seconds.map(i64::from),
        ..LogParams::default()
    };
    let reader = retrying_for("read a log", "pod", pod, || api.log_stream(pod, &params)).await?;
    // People read these (a preview's log): credential-shaped words are masked on the way.
    let mut redactor = crate::pipelines::redact::Redactor::new(Vec::new());
    Ok(reader
        .lines()
        .map(move |line| {
            line.map(|line| redactor.line(&line))
                .map_err(|e| ClusterError::Unavailable(Box::new(e)))
        })
        .boxed())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("timestamp")
    }

    #[test]
    fn a_reopened_stream_repeats_nothing_and_misses_nothing() {
        let mut cursor = Cursor::default();
        let first = [
            "2026-11-24T10:00:00.1Z",
            "2026-11-24T10:00:00.5Z",
            "2026-11-24T10:00:00.5Z",
        ];
        assert!(first.iter().all(|t| cursor.admit(at(t))));
        // The stream drops; the next one starts at the whole second and repeats all three.
        assert_eq!(cursor.resume(), Some(at("2026-11-24T10:00:00Z")));
        let again = [
            ("2026-11-24T10:00:00.1Z", false),
            ("2026-11-24T10:00:00.5Z", false),
            ("2026-11-24T10:00:00.5Z", false),
            // A third line written in the same nanosecond is new.
            ("2026-11-24T10:00:00.5Z", true),
            ("2026-11-24T10:00:01.2Z", true),
        ];
        for (t, new) in again {
            assert_eq!(cursor.admit(at(t)), new, "{t}");
        }
    }

    #[test]
    fn a_fresh_stream_starts_from_the_beginning() {
        assert_eq!(Cursor::default().resume(), None);
    }

    #[test]
    fn lines_split_into_timestamp_and_text() {
        let (when, text) = split("2026-11-24T10:00:00.123456789Z hello world").expect("split");
        assert_eq!(
            (when, text),
            (at("2026-11-24T10:00:00.123456789Z"), "hello world")
        );
        assert_eq!(split("2026-11-24T10:00:00Z").map(|(_, t)| t), Some(""));
        assert!(split("no timestamp").is_none());
    }
}
