//! Fixtures: a fresh PostgreSQL database, private redis-server and s3s-fs processes on free
//! loopback ports, and an in-process Slipway server bound to port 0.

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use server::config::{Config, Sources};
use server::serve::Running;
use sqlx::Connection;
use tokio_util::sync::CancellationToken;

/// Where the tests find PostgreSQL (any database; a fresh one is created per test).
pub fn postgres_admin_url() -> String {
    std::env::var("SLIPWAY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A free loopback port (the OS picks it; it is released for the child to take).
pub fn free_port() -> u16 {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local addr").port()
}

/// Waits until a child process accepts TCP connections on `address`.
pub async fn wait_until_accepting(address: SocketAddr, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while tokio::net::TcpStream::connect(address).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start listening on {address}"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A database of its own on the shared PostgreSQL server, dropped by [`TestPostgres::drop_database`].
pub struct TestPostgres {
    pub url: String,
    name: String,
}

impl TestPostgres {
    pub async fn create() -> Self {
        let admin = postgres_admin_url();
        let name = format!("slipway_test_{}_{}", std::process::id(), rand_suffix());
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
        }
    }

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
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{nanos}_{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A child process killed when dropped.
pub struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A private redis-server that can be stopped and started again on the same port.
pub struct TestRedis {
    pub port: u16,
    child: Option<ChildGuard>,
}

impl TestRedis {
    pub async fn start() -> Self {
        let mut redis = Self {
            port: free_port(),
            child: None,
        };
        redis.restart().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        self.child = None;
    }

    pub async fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &self.port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH (scripts/setup installs it)");
        self.child = Some(ChildGuard(child));
        wait_until_accepting(([127, 0, 0, 1], self.port).into(), "redis-server").await;
    }
}

/// A private S3-protocol server (s3s-fs) with one bucket.
pub struct TestS3 {
    pub endpoint: String,
    pub bucket: String,
    _dir: tempfile::TempDir,
    _child: ChildGuard,
}

pub const S3_ACCESS_KEY: &str = "slipway-test";
pub const S3_SECRET_KEY: &str = "slipway-test-secret";

impl TestS3 {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let bucket = "slipway-test".to_owned();
        std::fs::create_dir(dir.path().join(&bucket)).expect("bucket folder");
        let port = free_port();
        let child = Command::new(s3s_fs_binary())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", S3_ACCESS_KEY, "--secret-key", S3_SECRET_KEY])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("s3s-fs installed (scripts/setup installs it)");
        let child = ChildGuard(child);
        wait_until_accepting(([127, 0, 0, 1], port).into(), "s3s-fs").await;
        Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            bucket,
            _dir: dir,
            _child: child,
        }
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
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .map(|home| home.join("bin").join("s3s-fs"));
    match cargo_bin {
        Some(path) if path.exists() => path,
        _ => PathBuf::from("s3s-fs"),
    }
}

/// A configuration on a fresh data dir, with `settings` on top; no startup retries.
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

/// A Slipway server on a port of its own, with its data dir.
pub struct TestServer {
    pub base: String,
    pub running: Running,
    pub http: reqwest::Client,
    _data: tempfile::TempDir,
}

impl TestServer {
    pub async fn start(settings: &[(&str, String)]) -> Self {
        let data = tempfile::tempdir().expect("tempdir");
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
        Self {
            base: format!("http://{address}"),
            running,
            http: reqwest::Client::new(),
            _data: data,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn stop(self) {
        self.running.stop().await.expect("clean stop");
    }
}
