//! Following logs through broken streams: every line a step writes arrives once, in order,
//! whether the stream drops mid-way or the step is long finished when the reading starts.

use domain::cluster::Cluster;
use futures::TryStreamExt;
use kube_sim::KnobSettings;

use crate::cluster::{LIMIT, spec, start, step};

/// `line 1` .. `line n`.
fn numbered(range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range.map(|i| format!("line {i}")).collect()
}

#[tokio::test]
async fn a_log_stream_that_keeps_dropping_loses_and_repeats_nothing() {
    let (sim, cluster) = start().await;
    cluster
        .ensure_namespace(&spec("pipelines"))
        .await
        .expect("namespace");
    // Three streams in a row break after 7 lines. The lines share a second or two, so resuming
    // from a second-precision `sinceTime` repeats many of them: only the cursor keeps them apart.
    let breaking = KnobSettings {
        drop_logs_after_lines: 7,
        drop_log_streams: 3,
        ..KnobSettings::default()
    };
    sim.sim().knobs.set(&breaking);
    let script = "i=1; while [ $i -le 40 ]; do echo line $i; i=$((i+1)); done; \
                  sleep 0.5; \
                  while [ $i -le 60 ]; do echo line $i; i=$((i+1)); done";
    cluster
        .create_pod(&step("pipelines", "chatty", "alpine", script))
        .await
        .expect("create");
    let lines: Vec<String> = cluster
        .follow_logs("pipelines", "chatty", "step")
        .await
        .expect("logs")
        .try_collect()
        .await
        .expect("lines");
    assert_eq!(lines, numbered(1..=60));

    // Read after the step has finished, through the same broken streams.
    let outcome = cluster
        .wait_pod_finished("pipelines", "chatty", LIMIT)
        .await
        .expect("finished");
    assert!(outcome.succeeded);
    sim.sim().knobs.set(&breaking);
    let again: Vec<String> = cluster
        .follow_logs("pipelines", "chatty", "step")
        .await
        .expect("logs")
        .try_collect()
        .await
        .expect("lines");
    assert_eq!(again, numbered(1..=60));
    sim.stop().await;
}

#[tokio::test]
async fn a_stream_that_cannot_be_kept_open_fails_instead_of_hanging() {
    let (sim, cluster) = start().await;
    cluster
        .ensure_namespace(&spec("pipelines"))
        .await
        .expect("namespace");
    // Every stream breaks after one line, and a reopened stream repeats that line first: no
    // progress is possible.
    sim.sim().knobs.set(&KnobSettings {
        drop_logs_after_lines: 1,
        ..KnobSettings::default()
    });
    cluster
        .create_pod(&step(
            "pipelines",
            "slow",
            "alpine",
            "echo first; echo second; sleep 30",
        ))
        .await
        .expect("create");
    let mut lines = cluster
        .follow_logs("pipelines", "slow", "step")
        .await
        .expect("logs");
    assert_eq!(
        lines.try_next().await.expect("first line").as_deref(),
        Some("first")
    );
    let broken = lines.try_next().await.expect_err("gives up");
    let message = domain::error_chain(&broken);
    assert!(message.contains("keeps breaking"), "{message}");
    sim.stop().await;
}
