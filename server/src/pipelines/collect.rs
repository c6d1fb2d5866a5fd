//! Collecting artifacts from a local workspace after a step succeeded: each artifact's `path`
//! (a file or a folder, relative to the checkout, never outside it) is walked and every regular
//! file handed to the sink. A missing path is said in the log, not an error (as CI tools do).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::SinkExt;
use futures::channel::mpsc;

use domain::pipeline::{ArtifactDefinition, ArtifactSink, RunnerError};

/// One artifact may hold at most this much.
const MAX_ARTIFACT_BYTES: u64 = 512 * 1024 * 1024;

/// Collects every artifact of the step from `checkout`, saying in the log what was kept.
pub async fn collect_artifacts(
    checkout: &Path,
    artifacts: &[ArtifactDefinition],
    sink: &Arc<dyn ArtifactSink>,
    output: &mut mpsc::Sender<String>,
) -> Result<(), RunnerError> {
    let root = tokio::fs::canonicalize(checkout)
        .await
        .map_err(|e| RunnerError::with_source("cannot read the workspace", e))?;
    for artifact in artifacts {
        let message = collect_one(&root, artifact, sink).await?;
        let _ = output
            .send(format!("slipway: artifact `{}`: {message}", artifact.name))
            .await;
    }
    Ok(())
}

async fn collect_one(
    root: &Path,
    artifact: &ArtifactDefinition,
    sink: &Arc<dyn ArtifactSink>,
) -> Result<String, RunnerError> {
    let Ok(start) = tokio::fs::canonicalize(root.join(&artifact.path)).await else {
        return Ok(format!("`{}` does not exist; nothing kept", artifact.path));
    };
    if !start.starts_with(root) {
        return Ok(format!(
            "`{}` leads outside the workspace; nothing kept",
            artifact.path
        ));
    }
    let files = files_under(&start)?;
    let (mut count, mut bytes) = (0usize, 0u64);
    for file in files {
        let content = tokio::fs::read(&file)
            .await
            .map_err(|e| RunnerError::with_source(format!("cannot read {}", file.display()), e))?;
        bytes += content.len() as u64;
        if bytes > MAX_ARTIFACT_BYTES {
            return Ok(format!(
                "larger than {} MiB; kept the first {count} files",
                MAX_ARTIFACT_BYTES / 1024 / 1024
            ));
        }
        let relative = if file == start {
            file.file_name().map(|n| n.to_string_lossy().into_owned())
        } else {
            file.strip_prefix(&start)
                .ok()
                .map(|p| p.to_string_lossy().into_owned())
        }
        .unwrap_or_default();
        sink.store(artifact, &relative, content.into()).await?;
        count += 1;
    }
    Ok(format!(
        "{count} file{} ({}) kept for {}",
        if count == 1 { "" } else { "s" },
        human_bytes(bytes),
        domain::pipeline::runner::human_secs(artifact.expires_secs)
    ))
}

/// Regular files at or under `start` (symbolic links are not followed), sorted.
fn files_under(start: &Path) -> Result<Vec<PathBuf>, RunnerError> {
    let mut files = Vec::new();
    let mut pending = vec![start.to_owned()];
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path)
            .map_err(|e| RunnerError::with_source(format!("cannot read {}", path.display()), e))?;
        if meta.is_file() {
            files.push(path);
        } else if meta.is_dir() {
            let entries = std::fs::read_dir(&path).map_err(|e| {
                RunnerError::with_source(format!("cannot list {}", path.display()), e)
            })?;
            pending.extend(entries.flatten().map(|entry| entry.path()));
        }
    }
    files.sort();
    Ok(files)
}

fn human_bytes(bytes: u64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{:.1} MiB", b as f64 / 1024.0 / 1024.0),
    }
}
