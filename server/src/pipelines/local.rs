//! The local runner (embedded default): each step is a `sh -c` process in a fresh checkout of
//! the commit, in its own process group so that a timeout or cancel kills everything it
//! started. The step's image is ignored. It runs repository code on this host, with a clean
//! environment (Slipway's own settings and secrets are not inherited), at a lower priority than
//! Slipway and with small output pipes, so that live logs stay live under load.

use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use futures::SinkExt;
use futures::channel::mpsc;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

use domain::pipeline::{ArtifactSink, Runner, RunnerError, StepExit, StepSpec, StopSignal};

use super::collect::collect_artifacts;
use super::source::checkout_workspace;

/// A line's bytes kept in memory while it is read: more than a stored line keeps, so that the
/// step log redacts beyond the cut before it cuts.
const RAW_LINE_BYTES: usize = 4 * super::logs::MAX_LINE_BYTES;
/// The step's output pipes hold at most this much: a step printing faster than Slipway reads
/// waits for it (instead of its lines reaching viewers seconds late).
const PIPE_BYTES: usize = 4096;
/// Steps run at this lower priority (`nice`), so a busy build cannot starve Slipway itself:
/// its logs, pages and API stay responsive.
const STEP_NICENESS: i32 = 10;
/// After the step ends, output still in the pipes is read for at most this long.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs steps as local processes; workspaces live under `work_root`.
#[derive(Debug, Clone)]
pub struct LocalRunner {
    work_root: PathBuf,
}

impl LocalRunner {
    pub fn new(work_root: PathBuf) -> Self {
        Self { work_root }
    }
}

#[async_trait]
impl Runner for LocalRunner {
    fn kind(&self) -> &'static str {
        "local"
    }

    fn clones_from_local_source(&self) -> bool {
        true
    }

    async fn run_step(
        &self,
        spec: StepSpec,
        mut output: mpsc::Sender<String>,
        stop: StopSignal,
        artifacts: std::sync::Arc<dyn ArtifactSink>,
    ) -> Result<StepExit, RunnerError> {
        tokio::fs::create_dir_all(&self.work_root)
            .await
            .map_err(|e| RunnerError::with_source("cannot create the workspace folder", e))?;
        let workspace = tempfile::Builder::new()
            .prefix(&format!("{}-{}-", spec.pipeline_id, spec.step.name))
            .tempdir_in(&self.work_root)
            .map_err(|e| RunnerError::with_source("cannot create a workspace", e))?;
        let checkout = workspace.path().join("workspace");
        let home = workspace.path().join("home");
        tokio::fs::create_dir_all(&home)
            .await
            .map_err(|e| RunnerError::with_source("cannot create the step's HOME", e))?;
        checkout_workspace(
            std::path::Path::new(&spec.clone_url),
            &spec.commit_sha,
            &checkout,
        )
        .await
        .map_err(|e| RunnerError::new(domain::error_chain(&e)))?;

        let _ = output
            .send(format!(
                "slipway: local runner: image `{}` is ignored; the commands run on this host in a fresh checkout of {}",
                spec.step.image,
                short(&spec.commit_sha)
            ))
            .await;

        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(script(&spec.step.commands))
            .current_dir(&checkout)
            .env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
            )
            .env("HOME", &home)
            .env("LANG", "C.UTF-8")
            .env("CI", "true")
            .envs(&spec.environment)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|e| RunnerError::with_source("cannot start `sh`", e))?;
        let group = ProcessGroup(child.id());
        if let Some(pid) = group.pid() {
            // Best effort; what the step starts inherits it.
            let _ = rustix::process::setpriority_process(Some(pid), STEP_NICENESS);
        }
        for pipe in [
            child.stdout.as_ref().map(|p| p.as_fd()),
            child.stderr.as_ref().map(|p| p.as_fd()),
        ]
        .into_iter()
        .flatten()
        {
            // Best effort: the default (64 KiB) only makes live logs lag more.
            let _ = rustix::pipe::fcntl_setpipe_size(pipe, PIPE_BYTES);
        }
        let pumps = [
            child
                .stdout
                .take()
                .map(|out| tokio::spawn(pump(out, output.clone()))),
            child
                .stderr
                .take()
                .map(|err| tokio::spawn(pump(err, output.clone()))),
        ];

        let exit = tokio::select! {
            status = child.wait() => match status {
                Ok(status) => StepExit::Exited(exit_code(status)),
                Err(error) => return Err(RunnerError::with_source("lost track of the step's process", error)),
            },
            reason = stop => {
                group.kill();
                let _ = child.wait().await;
                StepExit::Stopped(reason)
            }
        };
        // Processes the step left in the background would keep the pipes open: end them too.
        group.kill();
        for pump in pumps.into_iter().flatten() {
            let _ = tokio::time::timeout(DRAIN_TIMEOUT, pump).await;
        }
        if exit == StepExit::Exited(0) && !spec.artifacts.is_empty() {
            collect_artifacts(&checkout, &spec.artifacts, &artifacts, &mut output).await?;
        }
        Ok(exit)
    }
}

/// The commands as one script: each is echoed (`+ command`) and the first failure ends it.
pub fn script(commands: &[String]) -> String {
    let mut script = String::from("set -e\n");
    for command in commands {
        let quoted = shell_quote(command);
        script.push_str(&format!("printf '+ %s\\n' {quoted}\n{command}\n"));
    }
    script
}

/// `text` as one single-quoted shell word.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Exit code, or 128 + signal number as shells report a killed process.
fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|signal| 128 + signal))
        .unwrap_or(-1)
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Sends each line of `stream` (lossy UTF-8) until it ends. A line keeps at most
/// [`RAW_LINE_BYTES`] in memory however long it is; the step log cuts it (after redaction) to
/// what it keeps.
async fn pump(stream: impl AsyncRead + Unpin, mut output: mpsc::Sender<String>) {
    let mut reader = BufReader::new(stream);
    let mut buffer = Vec::new();
    while let Ok(true) = next_line(&mut reader, &mut buffer).await {
        while matches!(buffer.last(), Some(b'\n' | b'\r')) {
            buffer.pop();
        }
        let line = String::from_utf8_lossy(&buffer).into_owned();
        if output.send(line).await.is_err() {
            break;
        }
    }
}

/// Reads the next line into `line`, keeping its first [`RAW_LINE_BYTES`] and passing over
/// the rest; `false` at the end of the stream.
async fn next_line(
    reader: &mut (impl AsyncBufRead + Unpin),
    line: &mut Vec<u8>,
) -> std::io::Result<bool> {
    line.clear();
    let mut read_any = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(read_any);
        }
        read_any = true;
        let newline = available.iter().position(|&b| b == b'\n');
        let chunk = newline.map_or(available, |at| &available[..=at]);
        let room = RAW_LINE_BYTES.saturating_sub(line.len());
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = chunk.len();
        reader.consume(used);
        if newline.is_some() {
            return Ok(true);
        }
    }
}

/// The step's process group, killed as a whole.
struct ProcessGroup(Option<u32>);

impl ProcessGroup {
    fn pid(&self) -> Option<rustix::process::Pid> {
        self.0
            .and_then(|id| i32::try_from(id).ok())
            .and_then(rustix::process::Pid::from_raw)
    }

    fn kill(&self) {
        if let Some(pid) = self.pid() {
            // ESRCH (already gone) is the usual, harmless outcome.
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    /// A pipe that hands its bytes over in the given pieces, as a busy process's output arrives.
    struct Pieces(std::collections::VecDeque<Vec<u8>>);

    impl AsyncRead for Pieces {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            if let Some(mut piece) = self.0.pop_front() {
                let room = buf.remaining();
                if piece.len() > room {
                    self.0.push_front(piece.split_off(room));
                }
                buf.put_slice(&piece);
            }
            std::task::Poll::Ready(Ok(()))
        }
    }

    proptest! {
        /// However the output is cut into pieces, each line reaches the redactor whole, so a
        /// secret it prints is never seen.
        #[test]
        fn a_secret_is_hidden_however_the_output_is_split(
            secret in "[A-Za-z0-9+/=_-]{4,40}",
            before in "[ -~]{0,60}",
            after in "[ -~]{0,60}",
            lines_before in 0usize..5,
            cuts in prop::collection::vec(1usize..64, 0..20),
        ) {
            let mut text = "noise\n".repeat(lines_before);
            text.push_str(&format!("{before}{secret}{after}\r\nlast line {secret}"));
            let bytes = text.into_bytes();
            let mut pieces = std::collections::VecDeque::new();
            let mut start: usize = 0;
            for cut in cuts.iter().chain(std::iter::once(&usize::MAX)) {
                let end = start.saturating_add(*cut).min(bytes.len());
                pieces.push_back(bytes[start..end].to_vec());
                start = end;
                if start == bytes.len() {
                    break;
                }
            }
            let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
            let lines: Vec<String> = runtime.block_on(async {
                use futures::StreamExt;
                let (sender, receiver) = mpsc::channel(64);
                let pumped = pump(Pieces(pieces), sender);
                let (_, lines) = futures::join!(pumped, receiver.collect::<Vec<String>>());
                lines
            });
            let mut redactor = crate::pipelines::redact::Redactor::new([secret.clone()]);
            prop_assert_eq!(lines.len(), lines_before + 2, "{:?}", lines);
            for line in &lines {
                let shown = redactor.line(line);
                prop_assert!(!shown.contains(&secret), "{} shows {}", shown, secret);
            }
        }
    }

    #[tokio::test]
    async fn a_line_of_any_length_keeps_a_bounded_prefix_and_the_next_line_follows() {
        use futures::StreamExt;
        let long = vec![b'x'; 1024 * 1024];
        let pieces = Pieces([long, b"\nnext\n".to_vec()].into_iter().collect());
        let (sender, receiver) = mpsc::channel(8);
        let (_, lines) = futures::join!(pump(pieces, sender), receiver.collect::<Vec<String>>());
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0].len(),
            RAW_LINE_BYTES,
            "a megabyte line is not held whole"
        );
        assert_eq!(lines[1], "next");
    }

    #[test]
    fn the_script_echoes_each_command_and_stops_at_the_first_failure() {
        let script = script(&["echo 'hi'".to_owned(), "false".to_owned()]);
        assert!(script.starts_with("set -e\n"));
        assert!(
            script.contains(r"printf '+ %s\n' 'echo '\''hi'\'''"),
            "{script}"
        );
    }
}
