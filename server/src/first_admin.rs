//! A new instance's first admin: on a start with no user, Slipway creates `admin` with a random
//! password and writes the password to `<SLIPWAY_DATA_DIR>/initial-admin-password` (readable
//! by Slipway's user only). The log says where it is, never what it is; so does the sign-in page.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use domain::Store;
use services::Accounts;

/// The file the first admin's password is written to, in the data directory.
pub const PASSWORD_FILE: &str = "initial-admin-password";

/// Why the first admin could not be made.
#[derive(Debug, thiserror::Error)]
pub enum FirstAdminError {
    #[error("cannot create the first admin")]
    Create(#[source] services::Error),
    #[error("cannot write the first admin's password to {path}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Where the password file of `data_dir` is.
pub fn password_file(data_dir: &Path) -> PathBuf {
    data_dir.join(PASSWORD_FILE)
}

/// Creates the first admin when there is no user; answers the password file's path if it did.
pub async fn ensure(
    store: Arc<dyn Store>,
    data_dir: &Path,
) -> Result<Option<PathBuf>, FirstAdminError> {
    let Some(password) = Accounts::new(store)
        .create_first_admin()
        .await
        .map_err(FirstAdminError::Create)?
    else {
        return Ok(None);
    };
    let path = password_file(data_dir);
    write_private(&path, &password).map_err(|source| FirstAdminError::Write {
        path: path.display().to_string(),
        source,
    })?;
    tracing::warn!(
        file = %path.display(),
        "created the first admin `{}`; sign in with the password in {}",
        services::users::FIRST_ADMIN,
        path.display()
    );
    Ok(Some(path))
}

/// Writes `text` to a new file only its owner can read (mode 0600), replacing an old one.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    writeln!(file, "{text}")?;
    file.sync_all()
}
