//! The repository_secrets table for both SQL backends: values arrive sealed (nonce and
//! ciphertext, stored as base64 text) and leave sealed; `impl_secret_store!` implements
//! `SecretStore`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use domain::secrets::SealedSecret;

pub(super) const PUT: &str = "INSERT INTO repository_secrets \
     (repository_id, name, nonce, ciphertext, updated_at_ms) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (repository_id, name) DO UPDATE SET nonce = excluded.nonce, \
     ciphertext = excluded.ciphertext, updated_at_ms = excluded.updated_at_ms";
pub(super) const LIST: &str = "SELECT name, nonce, ciphertext, updated_at_ms \
     FROM repository_secrets WHERE repository_id = $1 ORDER BY name";
pub(super) const DELETE: &str =
    "DELETE FROM repository_secrets WHERE repository_id = $1 AND name = $2";

#[derive(Debug, sqlx::FromRow)]
pub(super) struct SecretRow {
    name: String,
    nonce: String,
    ciphertext: String,
    updated_at_ms: i64,
}

impl SecretRow {
    /// Undecodable text stays empty: opening it then fails, naming the secret.
    pub(super) fn sealed(self) -> SealedSecret {
        SealedSecret {
            nonce: STANDARD.decode(&self.nonce).unwrap_or_default(),
            ciphertext: STANDARD.decode(&self.ciphertext).unwrap_or_default(),
            name: self.name,
            updated_at_ms: self.updated_at_ms,
        }
    }
}

pub(super) fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Implements `domain::secrets::SecretStore` for a struct with `pool` (writes) and `readers`
/// (reads) fields.
macro_rules! impl_secret_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl domain::secrets::SecretStore for $store {
            async fn put_secret(
                &self,
                repository: domain::RepositoryId,
                secret: &domain::secrets::SealedSecret,
            ) -> domain::store::Result<()> {
                use $crate::store::secret_sql as sql;
                sqlx::query(sql::PUT)
                    .bind(repository.0)
                    .bind(&secret.name)
                    .bind(sql::encode(&secret.nonce))
                    .bind(sql::encode(&secret.ciphertext))
                    .bind(secret.updated_at_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| {
                        $crate::store::sql_store::map_error(e, "repository", repository)
                    })?;
                Ok(())
            }

            async fn list_secrets(
                &self,
                repository: domain::RepositoryId,
            ) -> domain::store::Result<Vec<domain::secrets::SecretInfo>> {
                let sealed = domain::secrets::SecretStore::sealed_secrets(self, repository).await?;
                Ok(sealed
                    .into_iter()
                    .map(|secret| domain::secrets::SecretInfo {
                        name: secret.name,
                        updated_at_ms: secret.updated_at_ms,
                    })
                    .collect())
            }

            async fn sealed_secrets(
                &self,
                repository: domain::RepositoryId,
            ) -> domain::store::Result<Vec<domain::secrets::SealedSecret>> {
                let rows: Vec<$crate::store::secret_sql::SecretRow> =
                    sqlx::query_as($crate::store::secret_sql::LIST)
                        .bind(repository.0)
                        .fetch_all(&self.readers)
                        .await
                        .map_err(|e| {
                            $crate::store::sql_store::map_error(e, "secret", repository)
                        })?;
                Ok(rows.into_iter().map(|row| row.sealed()).collect())
            }

            async fn delete_secret(
                &self,
                repository: domain::RepositoryId,
                name: &str,
            ) -> domain::store::Result<bool> {
                let done = sqlx::query($crate::store::secret_sql::DELETE)
                    .bind(repository.0)
                    .bind(name)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "secret", name))?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

pub(super) use impl_secret_store;
