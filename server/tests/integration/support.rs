//! Fixtures: a fresh PostgreSQL database, private redis-server and s3s-fs processes on loopback
//! (awaited through their own "ready" log lines), and an in-process Slipway bound to port 0.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use server::config::{Config, Sources};
use server::serve::Running;
use sqlx::Connection;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

/// Where the tests find PostgreSQL (any database; a fresh one is created per test).
pub fn postgres_admin_url() -> String {
    std::env::var("SLIPWAY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A free loopback port (the OS picks it; it is released for a child to take).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local addr").port()
}

/// Spawns `command` and reads its stdout until `ready` recognises a line (returning what it
/// extracted); keeps draining the output afterwards so the child never blocks on a full pipe.
pub async fn spawn_until_ready<T>(
    command: Command,
    what: &str,
    ready: impl Fn(&str) -> Option<T>,
) -> (Child, T) {
    try_spawn_until_ready(command, what, ready)
        .await
        .unwrap_or_else(|said| panic!("{said}"))
}

/// [`spawn_until_ready`], answering what the child printed when it did not become ready.
pub async fn try_spawn_until_ready<T>(
    mut command: Command,
    what: &str,
    ready: impl Fn(&str) -> Option<T>,
) -> Result<(Child, T), String> {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what} (scripts/setup test installs it): {e}"));
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(found) = ready(&line) {
                return Some(found);
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        None
    })
    .await;
    let Ok(Some(found)) = found else {
        return Err(format!("{what} did not become ready; it printed:\n{seen}"));
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, found))
}

/// A database of its own on the shared PostgreSQL server, dropped by [`TestPostgres::drop_database`].
pub struct TestPostgres {
    pub url: String,
    name: String,
    /// The role made to own it, if one was.
    role: Option<String>,
}

impl TestPostgres {
    pub async fn create() -> Self {
        let admin = postgres_admin_url();
        let name = format!("slipway_test_{}_{}", std::process::id(), unique_suffix());
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .expect("PostgreSQL reachable at SLIPWAY_TEST_POSTGRES_URL");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create database");
        let mut url = url::Url::parse(&admin).expect("admin url");
        url.set_path(&name);
        Self {
            url: url.to_string(),
            name,
            role: None,
        }
    }

    /// A fresh database owned by a fresh role that signs in with `password`; the URL is the
    /// role's.
    pub async fn create_owned(password: &str) -> Self {
        let admin = postgres_admin_url();
        let suffix = unique_suffix();
        let name = format!("slipway_test_{}_{suffix}", std::process::id());
        let role = format!("slipway_role_{}_{suffix}", std::process::id());
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .expect("PostgreSQL reachable at SLIPWAY_TEST_POSTGRES_URL");
        for statement in [
            format!("CREATE ROLE {role} LOGIN PASSWORD '{password}'"),
            format!("CREATE DATABASE {name} OWNER {role}"),
        ] {
            sqlx::query(&statement)
                .execute(&mut conn)
                .await
                .expect("create role and database");
        }
        let mut url = url::Url::parse(&admin).expect("admin url");
        url.set_path(&name);
        url.set_username(&role).expect("user");
        url.set_password(Some(password)).expect("password");
        Self {
            url: url.to_string(),
            name,
            role: Some(role),
        }
    }

    /// The database's contents as `pg_dump --data-only` prints them (read as the administrator).
    pub fn dump(&self) -> Vec<u8> {
        let mut url = url::Url::parse(&postgres_admin_url()).expect("admin url");
        url.set_path(&self.name);
        let out = std::process::Command::new("pg_dump")
            .args(["--data-only", "--dbname", url.as_str()])
            .output()
            .expect("pg_dump runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Drops the database, and the role made to own it.
    pub async fn drop_database(self) {
        let mut conn = sqlx::PgConnection::connect(&postgres_admin_url())
            .await
            .expect("reconnect");
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn)
        .await
        .expect("drop database");
        if let Some(role) = &self.role {
            sqlx::query(&format!("DROP ROLE IF EXISTS {role}"))
                .execute(&mut conn)
                .await
                .expect("drop role");
        }
    }
}

fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{nanos}_{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// `future`, which must finish within 30 s: otherwise the test fails, naming what it waited
/// for, instead of hanging the suite.
pub async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), future)
        .await
        .unwrap_or_else(|_| panic!("waited 30 s for {what}"))
}

/// The status delivery `id` is next announced with on the bus (30 s at most).
pub async fn until_delivery_changed(
    events: &mut futures::stream::BoxStream<'static, domain::BusEvent>,
    id: &str,
) -> String {
    use futures::StreamExt;
    let changed = async {
        loop {
            if let domain::BusEvent::Changed {
                entity: domain::EntityKind::Delivery,
                id: changed,
                status,
            } = events.next().await.expect("the bus is open")
                && changed == id
            {
                return status;
            }
        }
    };
    within("the delivery to be processed", changed).await
}

/// A private redis-server that can be stopped and started again on the same port.
pub struct TestRedis {
    pub port: u16,
    /// What clients must sign in with (`requirepass`), if anything.
    password: Option<String>,
    child: Option<Child>,
}

impl TestRedis {
    pub async fn start() -> Self {
        Self::start_as(None).await
    }

    /// One that only answers clients signed in with `password`.
    pub async fn start_with_password(password: &str) -> Self {
        Self::start_as(Some(password.to_owned())).await
    }

    /// redis-server cannot pick a port itself (`--port 0` turns TCP off): a free one is picked,
    /// and another when some other process took it first.
    async fn start_as(password: Option<String>) -> Self {
        let mut redis = Self {
            port: free_port(),
            password,
            child: None,
        };
        let mut tries = 1;
        while let Err(said) = redis.try_restart().await {
            assert!(
                tries < 5 && said.contains("Address already in use"),
                "{said}"
            );
            tries += 1;
            redis.port = free_port();
        }
        redis
    }

    pub fn url(&self) -> String {
        match &self.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// Kills the server and waits until it is gone.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("kill redis-server");
        }
    }

    /// Starts it again on the port it had.
    pub async fn restart(&mut self) {
        self.try_restart()
            .await
            .unwrap_or_else(|said| panic!("{said}"));
    }

    async fn try_restart(&mut self) -> Result<(), String> {
        let mut command = Command::new("redis-server");
        command.args([
            "--bind",
            "127.0.0.1",
            "--port",
            &self.port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ]);
        if let Some(password) = &self.password {
            command.args(["--requirepass", password]);
        }
        let ready = |line: &str| line.contains("Ready to accept connections").then_some(());
        let (child, ()) = try_spawn_until_ready(command, "redis-server", ready).await?;
        self.child = Some(child);
        Ok(())
    }
}

/// A private S3-protocol server (s3s-fs) with one bucket.
pub struct TestS3 {
    pub endpoint: String,
    pub bucket: String,
    _dir: tempfile::TempDir,
    _child: Child,
}

pub const S3_ACCESS_KEY: &str = "slipway-test";
pub const S3_SECRET_KEY: &str = "slipway-test-secret";

impl TestS3 {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let bucket = "slipway-test".to_owned();
        std::fs::create_dir(dir.path().join(&bucket)).expect("bucket folder");
        let mut command = Command::new(s3s_fs_binary());
        command
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(["--access-key", S3_ACCESS_KEY, "--secret-key", S3_SECRET_KEY])
            .arg(dir.path())
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1");
        // Port 0: s3s-fs reports the port it was given, so there is no race for a free port.
        let ready = |line: &str| {
            line.split("server is running at ")
                .nth(1)
                .map(|url| url.trim().to_owned())
        };
        let (child, endpoint) = spawn_until_ready(command, "s3s-fs", ready).await;
        Self {
            endpoint,
            bucket,
            _dir: dir,
            _child: child,
        }
    }

    /// The folder the server keeps its objects in.
    pub fn folder(&self) -> &Path {
        self._dir.path()
    }

    /// The settings that point Slipway at this server.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SLIPWAY_S3_BUCKET", self.bucket.clone()),
            ("SLIPWAY_S3_ENDPOINT", self.endpoint.clone()),
            ("SLIPWAY_S3_ACCESS_KEY_ID", S3_ACCESS_KEY.into()),
            ("SLIPWAY_S3_SECRET_ACCESS_KEY", S3_SECRET_KEY.into()),
        ]
    }
}

fn s3s_fs_binary() -> PathBuf {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")));
    match cargo_home.map(|home| home.join("bin").join("s3s-fs")) {
        Some(path) if path.exists() => path,
        _ => PathBuf::from("s3s-fs"),
    }
}

/// The readiness check called `name`.
pub fn check_named<'a>(readiness: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    readiness["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == name)
        .expect("dependency listed")
}

/// A configuration on `data_dir`, with `settings` on top; no startup retries.
pub fn config(data_dir: &Path, settings: &[(&str, String)]) -> Config {
    let data_dir = data_dir.display().to_string();
    let mut pairs: Vec<(&str, &str)> = vec![
        ("SLIPWAY_DATA_DIR", data_dir.as_str()),
        ("SLIPWAY_STARTUP_RETRY_SECONDS", "0"),
        ("SLIPWAY_SHUTDOWN_GRACE_SECONDS", "5"),
    ];
    pairs.extend(settings.iter().map(|(k, v)| (*k, v.as_str())));
    Config::from_sources(&Sources::from_pairs(pairs)).expect("valid test configuration")
}

/// `slipway ARGS` — the binary this crate builds — on `data_dir` with `settings`, as an
/// operator runs it beside a server: its standard output, or a panic with its error.
pub async fn slipway(
    data_dir: &Path,
    settings: &[(&str, String)],
    args: &[&str],
    stdin: Option<&str>,
) -> String {
    use tokio::io::AsyncWriteExt;
    let mut command = Command::new(env!("CARGO_BIN_EXE_slipway"));
    command
        .args(args)
        .env("SLIPWAY_DATA_DIR", data_dir)
        .env("SLIPWAY_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in settings {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("run slipway");
    if let Some(mut input) = child.stdin.take() {
        input
            .write_all(stdin.unwrap_or_default().as_bytes())
            .await
            .expect("stdin");
    }
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("slipway finishes within a minute")
        .expect("slipway output");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "slipway {args:?} failed: {stderr}{stdout}"
    );
    stdout
}

/// A personal API token of `user` made with `slipway tokens create`.
pub async fn cli_token(
    data_dir: &Path,
    settings: &[(&str, String)],
    user: &str,
    scope: &str,
) -> String {
    let args = [
        "tokens", "create", "--user", user, "--scope", scope, "--name", "tests",
    ];
    slipway(data_dir, settings, &args, None)
        .await
        .trim()
        .to_owned()
}

/// An HTTP client that sends `token` as its bearer credentials.
pub fn client_with_token(token: &str) -> reqwest::Client {
    token_client(token).build().expect("client")
}

/// A client builder that sends `token` as its bearer credentials.
pub fn token_client(token: &str) -> reqwest::ClientBuilder {
    let mut headers = reqwest::header::HeaderMap::new();
    let value = format!("Bearer {token}").parse().expect("header value");
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder().default_headers(headers)
}

/// A program of the Python tools `scripts/setup test` installs (the MCP SDK, hadolint,
/// check-jsonschema): in `SLIPWAY_TEST_VENV`, by default `~/.cache/slipway/venv`.
pub fn test_venv_bin(name: &str) -> PathBuf {
    let venv = std::env::var_os("SLIPWAY_TEST_VENV").map_or_else(
        || {
            let home = std::env::var_os("HOME").unwrap_or_default();
            PathBuf::from(home).join(".cache/slipway/venv")
        },
        PathBuf::from,
    );
    venv.join("bin").join(name)
}

/// A Slipway server on a port of its own, with its own data dir. `http` calls it as the first
/// admin, with a token made on the command line; `anonymous` sends no credentials.
pub struct TestServer {
    pub base: String,
    pub running: Running,
    pub http: reqwest::Client,
    pub anonymous: reqwest::Client,
    /// The first admin's token (`http` sends it).
    pub admin_token: String,
    /// The settings the server runs with (for `slipway` commands beside it).
    pub settings: Vec<(&'static str, String)>,
    _data: tempfile::TempDir,
}

impl TestServer {
    pub async fn start(settings: &[(&'static str, String)]) -> Self {
        Self::start_in(tempfile::tempdir().expect("tempdir"), settings).await
    }

    /// Starts on an existing data dir (a restart keeps the database and objects).
    pub async fn start_in(data: tempfile::TempDir, settings: &[(&'static str, String)]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("addr");
        let mut settings = settings.to_vec();
        settings.push(("SLIPWAY_PUBLIC_URL", format!("http://{address}")));
        let config = config(data.path(), &settings);
        let running = server::serve::start_on(config, listener, CancellationToken::new())
            .await
            .expect("server starts");
        let admin_token = cli_token(data.path(), &settings, "admin", "admin").await;
        Self {
            base: format!("http://{address}"),
            running,
            http: client_with_token(&admin_token),
            anonymous: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            admin_token,
            settings,
            _data: data,
        }
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> &Path {
        self._data.path()
    }

    /// `slipway ARGS` beside this server, on its data dir and database.
    pub async fn slipway(&self, args: &[&str], stdin: Option<&str>) -> String {
        slipway(self._data.path(), &self.settings, args, stdin).await
    }

    /// A token made with `slipway tokens create` for `user` (who must exist) with `scope`.
    pub async fn token_for(&self, user: &str, scope: &str) -> String {
        cli_token(self._data.path(), &self.settings, user, scope).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET /readyz`: its status and JSON.
    pub async fn readiness(&self) -> (u16, serde_json::Value) {
        let response = self
            .http
            .get(self.url("/readyz"))
            .send()
            .await
            .expect("readyz");
        let status = response.status().as_u16();
        (status, response.json().await.expect("json"))
    }

    /// The HTML of a dashboard page, as served (rendered on the server).
    pub async fn page(&self, path: &str) -> String {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("page")
            .text()
            .await
            .expect("html")
    }

    /// Waits until the reporter has looked at every pipeline run's latest status (a minute at
    /// most): what it was to tell GitHub and notification subscribers has been told.
    pub async fn until_reported(&self) {
        let store = self.running.adapters.store.clone();
        let wait = async {
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(50));
            loop {
                tick.tick().await;
                let left = store
                    .unreported(domain::report::ReportKind::Pipeline, 0, 10)
                    .await
                    .expect("sweep");
                if left.is_empty() {
                    return;
                }
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(60), wait)
            .await
            .expect("every run reported");
    }

    pub async fn stop(self) {
        self.running.stop().await.expect("clean stop");
    }

    /// Stops the server and hands its data dir back, for a restart.
    pub async fn stop_keeping_data(self) -> tempfile::TempDir {
        self.running.stop().await.expect("clean stop");
        self._data
    }
}
