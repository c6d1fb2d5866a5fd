//! `slipway backup DIR`: a consistent copy of an embedded (SQLite) installation while Slipway
//! runs, restorable by pointing `SLIPWAY_DATA_DIR` at `DIR`. The database is copied with
//! SQLite's `VACUUM INTO` (one read transaction: a snapshot that writers do not disturb), the
//! generated keys next to it (without `secrets.key` the secrets in the copy could not be
//! opened), and filesystem objects (logs, artifacts) when they live in the data dir. Mirrors
//! and workspaces are caches and are not copied. PostgreSQL and S3 have their own tools
//! (README, "Backups").

use std::path::{Path, PathBuf};

use sqlx::ConnectOptions;

use crate::config::{Config, DatabaseConfig, ObjectsConfig};

/// Key files Slipway generates into the data dir when none is configured.
const KEY_FILES: [&str; 2] = ["secrets.key", "signing.key"];

/// Why a backup was not made.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("SLIPWAY_DATABASE_URL names PostgreSQL: back it up with pg_dump (see README, Backups)")]
    NotEmbedded,
    #[error("{0} exists and is not an empty folder; name a new one")]
    TargetInUse(String),
    #[error("cannot {what} {path}")]
    Io {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot copy the database {path}")]
    Database {
        path: String,
        #[source]
        source: sqlx::Error,
    },
}

/// What a backup copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub database_bytes: u64,
    pub keys: Vec<&'static str>,
    pub objects: u64,
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BackupError {
    let path = path.display().to_string();
    move |source| BackupError::Io { what, path, source }
}

/// Copies the installation `config` describes into `target` (new, or an empty folder).
pub async fn backup(config: &Config, target: &Path) -> Result<Report, BackupError> {
    let DatabaseConfig::Sqlite { path: database } = &config.database else {
        return Err(BackupError::NotEmbedded);
    };
    prepare(target)?;
    let copy = target.join("slipway.db");
    vacuum_into(database, &copy).await?;
    let database_bytes = std::fs::metadata(&copy).map_err(io("read", &copy))?.len();
    let mut keys = Vec::new();
    for name in KEY_FILES {
        let from = config.data_dir.join(name);
        if from.exists() {
            copy_private(&from, &target.join(name))?;
            keys.push(name);
        }
    }
    let objects = match &config.objects {
        ObjectsConfig::Fs { root } if root.starts_with(&config.data_dir) && root.exists() => {
            let relative = root
                .strip_prefix(&config.data_dir)
                .unwrap_or(Path::new("objects"));
            copy_tree(root, &target.join(relative))?
        }
        _ => 0,
    };
    Ok(Report {
        database_bytes,
        keys,
        objects,
    })
}

fn prepare(target: &Path) -> Result<(), BackupError> {
    match std::fs::read_dir(target) {
        Ok(mut entries) => match entries.next() {
            None => Ok(()),
            Some(_) => Err(BackupError::TargetInUse(target.display().to_string())),
        },
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(target).map_err(io("create", target))
        }
        Err(error) => Err(io("read", target)(error)),
    }
}

/// A snapshot of the live database at `database`, written to `copy`.
async fn vacuum_into(database: &Path, copy: &Path) -> Result<(), BackupError> {
    let fail = |source| BackupError::Database {
        path: database.display().to_string(),
        source,
    };
    let mut connection = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(database)
        .read_only(true)
        .connect()
        .await
        .map_err(fail)?;
    let quoted = copy.display().to_string().replace('\'', "''");
    sqlx::query(&format!("VACUUM INTO '{quoted}'"))
        .execute(&mut connection)
        .await
        .map_err(fail)?;
    Ok(())
}

/// Copies a key file, readable by its owner only.
fn copy_private(from: &Path, to: &Path) -> Result<(), BackupError> {
    std::fs::copy(from, to).map_err(io("copy", from))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600))
            .map_err(io("protect", to))?;
    }
    Ok(())
}

/// Copies the files under `from` to `to` (symbolic links are not followed); how many.
fn copy_tree(from: &Path, to: &Path) -> Result<u64, BackupError> {
    let mut copied = 0;
    let mut pending: Vec<(PathBuf, PathBuf)> = vec![(from.to_owned(), to.to_owned())];
    while let Some((dir, out)) = pending.pop() {
        std::fs::create_dir_all(&out).map_err(io("create", &out))?;
        for entry in std::fs::read_dir(&dir).map_err(io("read", &dir))? {
            let entry = entry.map_err(io("read", &dir))?;
            let kind = entry.file_type().map_err(io("read", &entry.path()))?;
            let target = out.join(entry.file_name());
            if kind.is_dir() {
                pending.push((entry.path(), target));
            } else if kind.is_file() {
                std::fs::copy(entry.path(), &target).map_err(io("copy", &entry.path()))?;
                copied += 1;
            }
        }
    }
    Ok(copied)
}
