//! Repository secrets: named values steps read through `${{ secrets.NAME }}`, kept encrypted by
//! the Store (the server seals and opens them; the Store never sees a plain value), never shown
//! back, and masked in every log line.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::repository::RepositoryId;
use crate::store::Result;

/// A secret as stored: its name and its encrypted value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSecret {
    pub name: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
    pub updated_at_ms: i64,
}

/// What pages and the API show of a secret: never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SecretInfo {
    pub name: String,
    pub updated_at_ms: i64,
}

/// Why a secret name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error(
    "secret name `{0}` is not valid: use letters, digits and `_`, not starting with a digit, up to 100 characters"
)]
pub struct SecretNameError(pub String);

/// Checks a secret name (as `${{ secrets.NAME }}` can refer to it).
pub fn validate_secret_name(name: &str) -> Result<(), SecretNameError> {
    let valid = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(SecretNameError(name.to_owned()))
    }
}

#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Adds or replaces a repository's secret.
    async fn put_secret(&self, repository: RepositoryId, secret: &SealedSecret) -> Result<()>;

    /// The repository's secrets by name, without values.
    async fn list_secrets(&self, repository: RepositoryId) -> Result<Vec<SecretInfo>>;

    /// The repository's secrets, sealed, for a run to open.
    async fn sealed_secrets(&self, repository: RepositoryId) -> Result<Vec<SealedSecret>>;

    /// Removes a secret; `false` when there was none by that name.
    async fn delete_secret(&self, repository: RepositoryId, name: &str) -> Result<bool>;
}
