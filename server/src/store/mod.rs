//! Store adapters: SQLite (embedded default) and PostgreSQL, both over sqlx, sharing their SQL
//! and one conformance suite (`server/tests/store.rs`).

mod delivery_sql;
mod guards;
mod identity_sql;
mod identity_store;
mod migrations;
mod notification_sql;
mod pipeline_output_sql;
mod pipeline_sql;
mod postgres;
mod preview_sql;
mod preview_store;
mod pull_request_sql;
mod report_sql;
mod schedule_sql;
mod secret_sql;
mod sql_store;
mod sqlite;
mod sqlite_writer;
mod transform_sql;
mod transform_store;

use std::sync::Arc;

use domain::Store;

pub use migrations::MigrationError;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use crate::config::DatabaseConfig;

/// Why the Store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot open the SQLite database at {path}")]
    Sqlite {
        path: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot reach PostgreSQL at {address} (SLIPWAY_DATABASE_URL)")]
    Postgres {
        address: String,
        #[source]
        source: sqlx::Error,
    },
    #[error(transparent)]
    Migration(#[from] MigrationError),
}

impl OpenError {
    /// True when trying again later may succeed (the server is not up yet).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Postgres { source, .. } if matches!(source, sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut))
    }
}

/// Opens the configured database and applies pending migrations.
pub async fn open(config: &DatabaseConfig) -> Result<Arc<dyn Store>, OpenError> {
    Ok(match config {
        DatabaseConfig::Sqlite { path } => Arc::new(SqliteStore::open(path).await?),
        DatabaseConfig::Postgres { url, display } => {
            Arc::new(PostgresStore::open(url, display).await?)
        }
    })
}
