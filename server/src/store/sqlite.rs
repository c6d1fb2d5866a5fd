//! The embedded default Store: one SQLite file in the data dir (WAL mode). Writes go through
//! one connection: SQLite lets one writer in at a time, and with several connections writers
//! wait for each other in SQLite's busy handler, which sleeps (1, 2, 5, 10… ms) instead of
//! queueing (with 200 pull requests opened at once, `scripts/bench previews` measured webhook →
//! first Kubernetes write p99 ≈ 450 ms on one connection against ≈ 550 ms on eight). Reads go
//! through read-only connections of their own: in WAL mode readers never wait for the writer,
//! and a read sees every write that returned before it.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::OpenError;
use super::delivery_sql::impl_delivery_store;
use super::identity_store::impl_identity_store;
use super::migrations::{self, SQLITE};
use super::notification_sql::impl_notification_store;
use super::pipeline_output_sql::impl_pipeline_output_store;
use super::pipeline_sql::impl_pipeline_store;
use super::preview_store::impl_preview_store;
use super::pull_request_sql::impl_pull_request_store;
use super::report_sql::impl_report_store;
use super::schedule_sql::impl_schedule_store;
use super::secret_sql::impl_secret_store;
use super::sql_store::impl_store;
use super::sqlite_writer::SqliteWriter;
use super::transform_store::impl_transform_store;

/// Read-only connections (reads wait neither for the writer nor, mostly, for each other).
const READERS: u32 = 4;

/// The Store on a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Named like the PostgreSQL Store's pool: the shared SQL runs `&self.pool` and
    /// `self.pool.begin()` on either.
    pool: SqliteWriter,
    readers: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and migrates it.
    pub async fn open(path: &Path) -> Result<Self, OpenError> {
        let fail = |source| OpenError::Sqlite {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| fail(sqlx::Error::Io(e)))?;
        }
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(fail)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let mut writer = options.connect().await.map_err(fail)?;
        migrations::apply(SQLITE, &mut writer).await?;
        let writer = SqliteWriter::new(writer);
        let readers = SqlitePoolOptions::new()
            .max_connections(READERS)
            // A file needs no proof of life before each read.
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.read_only(true))
            .await
            .map_err(fail)?;
        Ok(Self {
            pool: writer,
            readers,
        })
    }
}

impl_store!(SqliteStore, "sqlite");
impl_delivery_store!(SqliteStore);
impl_pull_request_store!(SqliteStore);
impl_pipeline_store!(SqliteStore);
impl_schedule_store!(SqliteStore);
impl_pipeline_output_store!(SqliteStore);
impl_secret_store!(SqliteStore);
impl_preview_store!(SqliteStore);
impl_identity_store!(SqliteStore);
impl_report_store!(SqliteStore);
impl_notification_store!(SqliteStore);
impl_transform_store!(SqliteStore, "");
