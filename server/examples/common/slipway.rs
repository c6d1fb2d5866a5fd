//! What the benchmarks that run the release `slipway` share: a git repository to point it at,
//! the server in its own process (as in production) once it says it is serving, and its peak
//! memory.

use std::path::Path;

use tokio::io::AsyncBufReadExt;

/// Runs git in `dir`; its standard output.
pub fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()?;
    anyhow::ensure!(out.status.success(), "git {args:?} failed");
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A repository at `dir` with one commit holding `.platform.yaml`; the commit.
pub fn repository(dir: &Path, platform: &str) -> anyhow::Result<String> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(".platform.yaml"), platform)?;
    git(dir, &["init", "--quiet", "--initial-branch=main"])?;
    git(dir, &["add", "--all"])?;
    git(
        dir,
        &[
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@example.com",
            "commit",
            "--quiet",
            "-m",
            "bench",
        ],
    )?;
    git(dir, &["rev-parse", "HEAD"])
}

/// The release `slipway` (`SLIPWAY_BIN`) serving on a free port, with an admin token made by
/// `slipway tokens create` (as an operator would) for the API.
pub struct Slipway {
    pub base: String,
    pub token: String,
    pid: u32,
    child: tokio::process::Child,
}

impl Slipway {
    /// Starts it with its data in `data` and `settings`; returns once it serves.
    pub async fn start(data: &Path, settings: &[(&str, String)]) -> anyhow::Result<Self> {
        let bin = std::env::var("SLIPWAY_BIN").unwrap_or_else(|_| "target/release/slipway".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut child = tokio::process::Command::new(&bin)
            .arg("serve")
            .env("SLIPWAY_LISTEN", format!("127.0.0.1:{port}"))
            .env("SLIPWAY_DATA_DIR", data)
            .envs(settings.iter().map(|(k, v)| (k, v)))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let pid = child.id().unwrap_or(0);
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stderr"))?;
        let mut log = tokio::io::BufReader::new(stderr).lines();
        while let Some(line) = log.next_line().await? {
            if line.contains("serving the dashboard") {
                break;
            }
        }
        // Keep draining the server's log so it never blocks on a full pipe; BENCH_SERVER_LOG
        // names a file to keep it in.
        let mut keep = match std::env::var_os("BENCH_SERVER_LOG") {
            Some(path) => Some(std::fs::File::create(path)?),
            None => None,
        };
        tokio::spawn(async move {
            while let Ok(Some(line)) = log.next_line().await {
                if let Some(file) = keep.as_mut() {
                    use std::io::Write;
                    let _ = writeln!(file, "{line}");
                }
            }
        });
        let made = tokio::process::Command::new(&bin)
            .args([
                "tokens", "create", "--user", "admin", "--scope", "admin", "--name", "bench",
            ])
            .env("SLIPWAY_DATA_DIR", data)
            .env("SLIPWAY_LOG", "warn")
            .envs(settings.iter().map(|(k, v)| (k, v)))
            .output()
            .await?;
        anyhow::ensure!(
            made.status.success(),
            "slipway tokens create failed: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        Ok(Self {
            base: format!("http://127.0.0.1:{port}"),
            token: String::from_utf8_lossy(&made.stdout).trim().to_owned(),
            pid,
            child,
        })
    }

    /// An HTTP client that calls the API with the admin token.
    pub fn client(&self) -> anyhow::Result<reqwest::Client> {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {}", self.token).parse()?,
        );
        Ok(reqwest::Client::builder()
            .default_headers(headers)
            .build()?)
    }

    /// The server's peak resident memory (`VmHWM`), as the kernel reports it.
    pub fn peak_rss(&self) -> String {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmHWM"))
            .unwrap_or("VmHWM: ?")
            .trim_start_matches("VmHWM:")
            .trim()
            .to_owned()
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }
}
