//! The world the campaign runs in, every part on loopback and owned by it: a private
//! PostgreSQL cluster (its own data folder, crashed with `pg_ctl stop -m immediate`),
//! redis-server (no persistence: a restart loses the task stream and the bus), s3s-fs (its
//! objects in a folder, so a restart keeps them), kube-sim, and the Slipway replicas, each
//! killed with SIGKILL and started again on the same port.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

/// How long a process may take to say it is ready.
const READY_WITHIN: Duration = Duration::from_secs(90);

/// A loopback port nobody listens on now (taken by the child right after).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Reads `stream` until a line makes `ready` answer; what it answered. Later lines go to
/// `keep` (a file), so the child never blocks on a full pipe and its log can be read after.
async fn until_ready<T>(
    stream: impl AsyncRead + Unpin + Send + 'static,
    what: &str,
    keep: Option<PathBuf>,
    ready: impl Fn(&str) -> Option<T>,
) -> anyhow::Result<T> {
    let mut lines = BufReader::new(stream).lines();
    let mut file = match &keep {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        ),
        None => None,
    };
    let mut seen = Vec::new();
    let found = tokio::time::timeout(READY_WITHIN, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(file) = file.as_mut() {
                use std::io::Write;
                let _ = writeln!(file, "{line}");
            }
            if let Some(found) = ready(&line) {
                return Some(found);
            }
            seen.push(line);
            if seen.len() > 40 {
                seen.remove(0);
            }
        }
        None
    })
    .await;
    let Ok(Some(found)) = found else {
        bail!(
            "{what} did not become ready; its last lines:\n{}",
            seen.join("\n")
        )
    };
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(file) = file.as_mut() {
                use std::io::Write;
                let _ = writeln!(file, "{line}");
            }
        }
    });
    Ok(found)
}

/// A command run as the `postgres` account when this runs as root (PostgreSQL refuses root).
/// (A blocking command, so that `Drop` can run it too; `Command::from` makes it async.)
fn as_postgres(program: &Path) -> std::process::Command {
    if rustix::process::getuid().is_root() {
        let mut command = std::process::Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        std::process::Command::new(program)
    }
}

/// A PostgreSQL cluster of the campaign's own, so that it can be crashed and restarted.
pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    options: String,
    log: PathBuf,
}

impl Postgres {
    /// `initdb` and start, in `dir`, with PostgreSQL's programs from `CHAOS_PG_BIN` or the
    /// newest `/usr/lib/postgresql/*/bin`.
    pub async fn start(dir: &Path) -> anyhow::Result<Self> {
        let bin = match std::env::var_os("CHAOS_PG_BIN") {
            Some(bin) => PathBuf::from(bin),
            None => {
                let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
                    .context("PostgreSQL's programs (scripts/setup test installs them; or set CHAOS_PG_BIN)")?
                    .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
                    .filter(|bin| bin.join("initdb").exists())
                    .collect();
                found.sort();
                found.pop().context("no initdb under /usr/lib/postgresql")?
            }
        };
        std::fs::create_dir_all(dir)?;
        if rustix::process::getuid().is_root() {
            // The postgres account must reach its folder inside the campaign's (made 0700).
            if let Some(parent) = dir.parent() {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o711))?;
            }
            let owned = std::process::Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir)
                .status()?;
            anyhow::ensure!(owned.success(), "cannot give {} to postgres", dir.display());
        }
        let data = dir.join("data");
        let made = Command::from(as_postgres(&bin.join("initdb")))
            .args([
                "--username",
                "postgres",
                "--auth",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
                "-D",
            ])
            .arg(&data)
            .stdout(Stdio::null())
            .output()
            .await?;
        anyhow::ensure!(
            made.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        let port = free_port()?;
        let postgres = Self {
            options: format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300",
                dir.display()
            ),
            log: dir.join("postgres.log"),
            bin,
            data,
            port,
        };
        postgres.pg_ctl(&["start", "-w", "-t", "60"]).await?;
        Ok(postgres)
    }

    async fn pg_ctl(&self, args: &[&str]) -> anyhow::Result<()> {
        let out = Command::from(as_postgres(&self.bin.join("pg_ctl")))
            .arg("-D")
            .arg(&self.data)
            .arg("-o")
            .arg(&self.options)
            .arg("-l")
            .arg(&self.log)
            .args(args)
            .stdout(Stdio::null())
            .output()
            .await?;
        anyhow::ensure!(
            out.status.success(),
            "pg_ctl {args:?} failed: {} (see {})",
            String::from_utf8_lossy(&out.stderr),
            self.log.display()
        );
        Ok(())
    }

    /// The URL of `database`, as the administrator.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Stops it as a crash would (`-m immediate`: no checkpoint, every connection cut), then
    /// starts it again after `down`; the time it was unreachable.
    pub async fn crash_and_restart(&self, down: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        self.pg_ctl(&["stop", "-m", "immediate"]).await?;
        tokio::time::sleep(down).await;
        self.pg_ctl(&["start", "-w", "-t", "60"]).await?;
        Ok(started.elapsed())
    }
}

/// pg_ctl runs the server apart from the campaign: it is stopped however the campaign ends
/// (an error, its time limit, Ctrl-C).
impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["stop", "-m", "immediate"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A private redis-server that keeps nothing on disk.
pub struct Redis {
    pub port: u16,
    child: Option<Child>,
}

impl Redis {
    pub async fn start() -> anyhow::Result<Self> {
        let mut redis = Self {
            port: free_port()?,
            child: None,
        };
        redis.restart().await?;
        Ok(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it (SIGKILL), then starts it again on the same port, empty.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        let mut child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("redis-server (scripts/setup test installs it)")?;
        let stdout = child.stdout.take().context("piped")?;
        until_ready(stdout, "redis-server", None, |line| {
            line.contains("Ready to accept connections").then_some(())
        })
        .await?;
        self.child = Some(child);
        Ok(())
    }
}

/// s3s-fs with one bucket; its objects are kept across restarts.
pub struct S3 {
    pub endpoint: String,
    port: u16,
    folder: PathBuf,
    child: Option<Child>,
}

pub const S3_BUCKET: &str = "slipway-chaos";
pub const S3_ACCESS_KEY: &str = "slipway-chaos";
pub const S3_SECRET_KEY: &str = "slipway-chaos-secret";

fn s3s_fs() -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")));
    match home.map(|home| home.join("bin").join("s3s-fs")) {
        Some(path) if path.exists() => path,
        _ => PathBuf::from("s3s-fs"),
    }
}

impl S3 {
    pub async fn start(folder: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(folder.join(S3_BUCKET))?;
        let mut s3 = Self {
            endpoint: String::new(),
            port: 0,
            folder: folder.to_owned(),
            child: None,
        };
        s3.restart().await?;
        Ok(s3)
    }

    /// Kills it (SIGKILL), then starts it again on the port it had.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        let mut child = Command::new(s3s_fs())
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", S3_ACCESS_KEY, "--secret-key", S3_SECRET_KEY])
            .arg(&self.folder)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("s3s-fs (scripts/setup test installs it)")?;
        let stdout = child.stdout.take().context("piped")?;
        let endpoint = until_ready(stdout, "s3s-fs", None, |line| {
            line.split("server is running at ")
                .nth(1)
                .map(|url| url.trim().to_owned())
        })
        .await?;
        self.port = url::Url::parse(&endpoint)?
            .port()
            .context("s3s-fs's address has a port")?;
        self.endpoint = endpoint;
        self.child = Some(child);
        Ok(())
    }
}

/// kube-sim, the standalone binary (`KUBE_SIM_BIN`); faults are asked of it over HTTP.
pub struct KubeSim {
    pub url: String,
    pub kubeconfig: PathBuf,
    _child: Child,
}

impl KubeSim {
    pub async fn start(dir: &Path) -> anyhow::Result<Self> {
        let bin =
            std::env::var("KUBE_SIM_BIN").unwrap_or_else(|_| "target/release/kube-sim".into());
        let kubeconfig = dir.join("kubeconfig");
        let mut child = Command::new(&bin)
            .args(["--listen", "127.0.0.1:0", "--kubeconfig-out"])
            .arg(&kubeconfig)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("kube-sim ({bin})"))?;
        let stdout = child.stdout.take().context("piped")?;
        let url = until_ready(stdout, "kube-sim", None, |line| {
            line.split("serving the Kubernetes API at ")
                .nth(1)
                .map(|url| url.trim().to_owned())
        })
        .await?;
        Ok(Self {
            url,
            kubeconfig,
            _child: child,
        })
    }

    /// The next API requests fail with `codes`, one each.
    pub async fn fail_next(&self, http: &reqwest::Client, codes: &[u16]) -> anyhow::Result<()> {
        let request = http.post(format!("{}/kube-sim/fail-next", self.url));
        Self::ask(request.json(&serde_json::json!({ "codes": codes }))).await
    }

    /// Sets the knobs (`{}`: back to normal).
    pub async fn knobs(
        &self,
        http: &reqwest::Client,
        knobs: serde_json::Value,
    ) -> anyhow::Result<()> {
        Self::ask(
            http.put(format!("{}/kube-sim/knobs", self.url))
                .json(&knobs),
        )
        .await
    }

    async fn ask(request: reqwest::RequestBuilder) -> anyhow::Result<()> {
        let answer = request.send().await?;
        anyhow::ensure!(
            answer.status().is_success(),
            "kube-sim answered {}",
            answer.status()
        );
        Ok(())
    }
}

/// One Slipway replica (`SLIPWAY_BIN`): its own port and data folder, the shared settings.
pub struct Replica {
    pub name: String,
    pub port: u16,
    data: PathBuf,
    settings: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

fn slipway_bin() -> String {
    std::env::var("SLIPWAY_BIN").unwrap_or_else(|_| "target/release/slipway".into())
}

impl Replica {
    pub fn new(name: &str, dir: &Path, settings: &[(String, String)]) -> anyhow::Result<Self> {
        let data = dir.join(name);
        std::fs::create_dir_all(&data)?;
        Ok(Self {
            name: name.to_owned(),
            port: free_port()?,
            log: dir.join(format!("{name}.log")),
            data,
            settings: settings.to_vec(),
            child: None,
        })
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Starts it; returns once it serves (its log goes to `<name>.log`).
    pub async fn start(&mut self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let mut child = self
            .slipway(&["serve"])
            .env("SLIPWAY_LISTEN", format!("127.0.0.1:{}", self.port))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stderr = child.stderr.take().context("piped")?;
        let what = format!("Slipway {}", self.name);
        until_ready(stderr, &what, Some(self.log.clone()), |line| {
            line.contains("serving the dashboard").then_some(())
        })
        .await?;
        self.child = Some(child);
        Ok(started.elapsed())
    }

    /// `slipway ARGS` with this replica's data folder and the shared settings.
    fn slipway(&self, args: &[&str]) -> Command {
        let mut command = Command::new(slipway_bin());
        command
            .args(args)
            .env("SLIPWAY_DATA_DIR", &self.data)
            .envs(self.settings.iter().map(|(k, v)| (k, v)));
        command
    }

    /// SIGKILL: no shutdown, no hand-back; what it held is left to the leases.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        Ok(())
    }

    /// `slipway tokens create` for the administrator, as an operator makes one.
    pub async fn admin_token(&self) -> anyhow::Result<String> {
        let made = self
            .slipway(&[
                "tokens", "create", "--user", "admin", "--scope", "admin", "--name", "chaos",
            ])
            .env("SLIPWAY_LOG", "warn")
            .output()
            .await?;
        anyhow::ensure!(
            made.status.success(),
            "slipway tokens create failed: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        Ok(String::from_utf8_lossy(&made.stdout).trim().to_owned())
    }
}
