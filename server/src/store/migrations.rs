//! The schema history, embedded in the binary: `migrations/sqlite` and `migrations/postgres`
//! hold one numbered file per change, kept in step (a unit test checks both lists).

use std::borrow::Cow;

use futures::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migrate, MigrateError, Migration, MigrationSource, MigrationType, Migrator};

/// `(version, description, sql)` for each migration, oldest first.
type Embedded = &'static [(i64, &'static str, &'static str)];

pub(super) const SQLITE: Embedded = &[
    (
        1,
        "repositories",
        include_str!("../../../migrations/sqlite/0001_repositories.sql"),
    ),
    (
        2,
        "repository_cluster",
        include_str!("../../../migrations/sqlite/0002_repository_cluster.sql"),
    ),
    (
        3,
        "deliveries",
        include_str!("../../../migrations/sqlite/0003_deliveries.sql"),
    ),
    (
        4,
        "pull_requests",
        include_str!("../../../migrations/sqlite/0004_pull_requests.sql"),
    ),
    (
        5,
        "delivery_claims",
        include_str!("../../../migrations/sqlite/0005_delivery_claims.sql"),
    ),
    (
        6,
        "preview_rules",
        include_str!("../../../migrations/sqlite/0006_preview_rules.sql"),
    ),
    (
        7,
        "pipelines",
        include_str!("../../../migrations/sqlite/0007_pipelines.sql"),
    ),
    (
        8,
        "pipeline_triggers",
        include_str!("../../../migrations/sqlite/0008_pipeline_triggers.sql"),
    ),
    (
        9,
        "repository_secrets",
        include_str!("../../../migrations/sqlite/0009_repository_secrets.sql"),
    ),
    (
        10,
        "published_images",
        include_str!("../../../migrations/sqlite/0010_published_images.sql"),
    ),
    (
        11,
        "artifacts",
        include_str!("../../../migrations/sqlite/0011_artifacts.sql"),
    ),
    (
        12,
        "previews",
        include_str!("../../../migrations/sqlite/0012_previews.sql"),
    ),
    (
        13,
        "identity",
        include_str!("../../../migrations/sqlite/0013_identity.sql"),
    ),
    (
        14,
        "reports",
        include_str!("../../../migrations/sqlite/0014_reports.sql"),
    ),
    (
        15,
        "notifications",
        include_str!("../../../migrations/sqlite/0015_notifications.sql"),
    ),
    (
        16,
        "transforms",
        include_str!("../../../migrations/sqlite/0016_transforms.sql"),
    ),
    (
        17,
        "transform_tasks",
        include_str!("../../../migrations/sqlite/0017_transform_tasks.sql"),
    ),
    (
        18,
        "pipeline_deliveries",
        include_str!("../../../migrations/sqlite/0018_pipeline_deliveries.sql"),
    ),
    (
        19,
        "preview_removal_heartbeats",
        include_str!("../../../migrations/sqlite/0019_preview_removal_heartbeats.sql"),
    ),
];

pub(super) const POSTGRES: Embedded = &[
    (
        1,
        "repositories",
        include_str!("../../../migrations/postgres/0001_repositories.sql"),
    ),
    (
        2,
        "repository_cluster",
        include_str!("../../../migrations/postgres/0002_repository_cluster.sql"),
    ),
    (
        3,
        "deliveries",
        include_str!("../../../migrations/postgres/0003_deliveries.sql"),
    ),
    (
        4,
        "pull_requests",
        include_str!("../../../migrations/postgres/0004_pull_requests.sql"),
    ),
    (
        5,
        "delivery_claims",
        include_str!("../../../migrations/postgres/0005_delivery_claims.sql"),
    ),
    (
        6,
        "preview_rules",
        include_str!("../../../migrations/postgres/0006_preview_rules.sql"),
    ),
    (
        7,
        "pipelines",
        include_str!("../../../migrations/postgres/0007_pipelines.sql"),
    ),
    (
        8,
        "pipeline_triggers",
        include_str!("../../../migrations/postgres/0008_pipeline_triggers.sql"),
    ),
    (
        9,
        "repository_secrets",
        include_str!("../../../migrations/postgres/0009_repository_secrets.sql"),
    ),
    (
        10,
        "published_images",
        include_str!("../../../migrations/postgres/0010_published_images.sql"),
    ),
    (
        11,
        "artifacts",
        include_str!("../../../migrations/postgres/0011_artifacts.sql"),
    ),
    (
        12,
        "previews",
        include_str!("../../../migrations/postgres/0012_previews.sql"),
    ),
    (
        13,
        "identity",
        include_str!("../../../migrations/postgres/0013_identity.sql"),
    ),
    (
        14,
        "reports",
        include_str!("../../../migrations/postgres/0014_reports.sql"),
    ),
    (
        15,
        "notifications",
        include_str!("../../../migrations/postgres/0015_notifications.sql"),
    ),
    (
        16,
        "transforms",
        include_str!("../../../migrations/postgres/0016_transforms.sql"),
    ),
    (
        17,
        "transform_tasks",
        include_str!("../../../migrations/postgres/0017_transform_tasks.sql"),
    ),
    (
        18,
        "pipeline_deliveries",
        include_str!("../../../migrations/postgres/0018_pipeline_deliveries.sql"),
    ),
    (
        19,
        "preview_removal_heartbeats",
        include_str!("../../../migrations/postgres/0019_preview_removal_heartbeats.sql"),
    ),
];

/// Why the schema could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error(
        "the database's migration history does not match this version of Slipway: {0}. \
         Refusing to start; use the Slipway version that last migrated this database, or a fresh database"
    )]
    HistoryMismatch(#[source] MigrateError),
    #[error("applying database migrations failed")]
    Failed(#[source] MigrateError),
}

#[derive(Debug)]
struct Source(Embedded);

impl<'s> MigrationSource<'s> for Source {
    fn resolve(self) -> BoxFuture<'s, Result<Vec<Migration>, BoxDynError>> {
        let migrations = self
            .0
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*description),
                    MigrationType::Simple,
                    Cow::Borrowed(*sql),
                    false,
                )
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

/// Applies every pending migration; refuses a database migrated by a different history.
pub(super) async fn apply<'a, A>(embedded: Embedded, connection: A) -> Result<(), MigrationError>
where
    A: sqlx::Acquire<'a>,
    <A::Connection as std::ops::Deref>::Target: Migrate,
{
    let migrator = Migrator::new(Source(embedded))
        .await
        .map_err(MigrationError::Failed)?;
    migrator.run(connection).await.map_err(|e| match e {
        MigrateError::VersionMissing(_)
        | MigrateError::VersionMismatch(_)
        | MigrateError::VersionTooOld(..) => MigrationError::HistoryMismatch(e),
        other => MigrationError::Failed(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &str) -> Vec<String> {
        let path = format!("{}/../migrations/{dir}", env!("CARGO_MANIFEST_DIR"));
        let mut names: Vec<String> = std::fs::read_dir(path)
            .expect("migrations folder")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn listed(embedded: Embedded) -> Vec<String> {
        embedded
            .iter()
            .map(|(v, d, _)| format!("{v:04}_{d}.sql"))
            .collect()
    }

    #[test]
    fn every_migration_file_is_embedded_and_both_backends_are_in_step() {
        assert_eq!(files("sqlite"), listed(SQLITE));
        assert_eq!(files("postgres"), listed(POSTGRES));
        assert_eq!(listed(SQLITE), listed(POSTGRES));
    }
}
