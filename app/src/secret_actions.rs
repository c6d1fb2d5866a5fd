//! Server-side only: setting and removing repository secrets, shared by the Settings page and
//! the JSON API. Values are sealed before they reach the Store and are never read back out.

use domain::RepositoryId;
use domain::secrets::{SecretInfo, validate_secret_name};

use crate::error::{AppError, ErrorKind};
use crate::pipeline_actions::now_ms;
use crate::services::Services;

/// Secret values above this size are refused (they are environment variables).
pub const MAX_SECRET_BYTES: usize = 64 * 1024;

impl Services {
    /// Adds or replaces a repository's secret.
    pub async fn set_secret(
        &self,
        repository: RepositoryId,
        name: &str,
        value: &str,
    ) -> Result<SecretInfo, AppError> {
        let name = name.trim();
        validate_secret_name(name)
            .map_err(|e| AppError::new(ErrorKind::InvalidInput, e.to_string()))?;
        if value.is_empty() {
            return Err(AppError::new(
                ErrorKind::InvalidInput,
                "a secret needs a value",
            ));
        }
        if value.len() > MAX_SECRET_BYTES {
            return Err(AppError::new(
                ErrorKind::InvalidInput,
                format!("the value is longer than {MAX_SECRET_BYTES} bytes"),
            ));
        }
        self.store.get_repository(repository).await?;
        let now = now_ms();
        let sealed = self.secret_box.seal(name, value, now).map_err(|error| {
            tracing::error!(error = %error, "cannot encrypt a secret");
            AppError::new(ErrorKind::Internal, "the secret could not be encrypted")
        })?;
        self.store.put_secret(repository, &sealed).await?;
        tracing::info!(repository.id = %repository, secret = %name, "secret set");
        Ok(SecretInfo {
            name: name.to_owned(),
            updated_at_ms: now,
        })
    }

    /// Removes a repository's secret; `NotFound` when it has none by that name.
    pub async fn remove_secret(
        &self,
        repository: RepositoryId,
        name: &str,
    ) -> Result<(), AppError> {
        if self.store.delete_secret(repository, name).await? {
            tracing::info!(repository.id = %repository, secret = %name, "secret removed");
            Ok(())
        } else {
            Err(AppError::new(
                ErrorKind::NotFound,
                format!("repository {repository} has no secret `{name}`"),
            ))
        }
    }
}
