//! The production Store: PostgreSQL.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::OpenError;
use super::delivery_sql::impl_delivery_store;
use super::identity_store::impl_identity_store;
use super::migrations::{self, POSTGRES};
use super::notification_sql::impl_notification_store;
use super::pipeline_output_sql::impl_pipeline_output_store;
use super::pipeline_sql::impl_pipeline_store;
use super::preview_store::impl_preview_store;
use super::pull_request_sql::impl_pull_request_store;
use super::report_sql::impl_report_store;
use super::schedule_sql::impl_schedule_store;
use super::secret_sql::impl_secret_store;
use super::sql_store::impl_store;
use super::transform_store::impl_transform_store;

/// The Store on a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// The same pool: PostgreSQL serves reads and writes on any connection.
    readers: PgPool,
}

impl PostgresStore {
    /// Connects and migrates. `display` is the URL without its password, for errors.
    pub async fn open(url: &SecretString, display: &str) -> Result<Self, OpenError> {
        let address = display.to_owned();
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(3))
            .connect(url.expose_secret())
            .await
            .map_err(|source| OpenError::Postgres { address, source })?;
        migrations::apply(POSTGRES, &pool).await?;
        Ok(Self {
            readers: pool.clone(),
            pool,
        })
    }
}

impl_store!(PostgresStore, "postgres");
impl_delivery_store!(PostgresStore);
impl_pull_request_store!(PostgresStore);
impl_pipeline_store!(PostgresStore);
impl_schedule_store!(PostgresStore);
impl_pipeline_output_store!(PostgresStore);
impl_secret_store!(PostgresStore);
impl_preview_store!(PostgresStore);
impl_identity_store!(PostgresStore);
impl_report_store!(PostgresStore);
impl_notification_store!(PostgresStore);
impl_transform_store!(PostgresStore, " FOR UPDATE SKIP LOCKED");
