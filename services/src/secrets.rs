//! A repository's secrets: their names (never values), setting one (sealed before it reaches
//! the Store) and removing one.

use domain::RepositoryId;
use domain::secrets::{SecretInfo, validate_secret_name};
use domain::time::now_ms;

use crate::audit::Record;
use crate::caller::{Action, Caller};
use crate::{Error, Result, Services};

/// Secret values above this size are refused (they are environment variables).
pub const MAX_SECRET_BYTES: usize = 64 * 1024;

/// A secret to add or replace.
#[derive(Debug, Clone)]
pub struct SetSecret {
    pub repository: RepositoryId,
    pub name: String,
    pub value: String,
}

impl Services {
    /// The repository's secrets: names and when each was set.
    pub async fn list_secrets(&self, caller: &Caller, id: RepositoryId) -> Result<Vec<SecretInfo>> {
        self.repository(caller, Action::SecretRead, id).await?;
        Ok(self.store.list_secrets(id).await?)
    }

    /// Adds or replaces a repository's secret.
    pub async fn set_secret(&self, caller: &Caller, input: SetSecret) -> Result<SecretInfo> {
        let name = input.name.trim();
        validate_secret_name(name).map_err(|e| Error::invalid("name", e.to_string()))?;
        if input.value.is_empty() {
            return Err(Error::invalid("value", "a secret needs a value"));
        }
        if input.value.len() > MAX_SECRET_BYTES {
            return Err(Error::invalid(
                "value",
                format!("the value is longer than {MAX_SECRET_BYTES} bytes"),
            ));
        }
        let repository = self
            .repository(caller, Action::SecretSet, input.repository)
            .await?;
        // The name is recorded, never the value.
        let record = Record::of(Action::SecretSet)
            .on(Some(&repository))
            .target(format!("secret {name}"));
        let set = self.seal_and_store(&repository, name, &input.value).await;
        self.audited(caller, record, set).await
    }

    async fn seal_and_store(
        &self,
        repository: &domain::Repository,
        name: &str,
        value: &str,
    ) -> Result<SecretInfo> {
        let now = now_ms();
        let sealed = self
            .secret_box
            .seal(name, value, now)
            .map_err(|e| Error::Internal(Box::new(e)))?;
        self.store.put_secret(repository.id, &sealed).await?;
        tracing::info!(repository.id = %repository.id, secret = %name, "secret set");
        Ok(SecretInfo {
            name: name.to_owned(),
            updated_at_ms: now,
        })
    }

    /// Removes a repository's secret; `NotFound` when it has none by that name.
    pub async fn remove_secret(&self, caller: &Caller, id: RepositoryId, name: &str) -> Result<()> {
        let repository = self.repository(caller, Action::SecretRemove, id).await?;
        let record = Record::of(Action::SecretRemove)
            .on(Some(&repository))
            .target(format!("secret {name}"));
        let removed = match self.store.delete_secret(id, name).await {
            Ok(true) => {
                tracing::info!(repository.id = %id, secret = %name, "secret removed");
                Ok(())
            }
            Ok(false) => Err(Error::NotFound(format!(
                "repository {id} has no secret `{name}`"
            ))),
            Err(error) => Err(error.into()),
        };
        self.audited(caller, record, removed).await
    }
}
