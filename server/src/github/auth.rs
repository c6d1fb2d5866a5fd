//! How Slipway authenticates to GitHub: with a token (personal or installation), or as a
//! GitHub App (app id + private key), where a JWT finds each repository's installation and
//! octocrab mints that installation's token, caches it and renews it before it expires.

use std::collections::HashMap;
use std::sync::Arc;

use domain::git_host::{GitHostError, Result};
use octocrab::Octocrab;
use octocrab::models::InstallationId;
use secrecy::{ExposeSecret, SecretString};

pub enum Auth {
    Token {
        client: Arc<Octocrab>,
        /// Also what git clones with.
        token: SecretString,
    },
    App {
        /// Authenticated as the App itself (JWT).
        app: Arc<Octocrab>,
        /// Installation clients by repository (`owner/name`). Shared, not cloned: a cloned
        /// octocrab client copies its token cache, and each copy would mint its own token.
        installations: tokio::sync::Mutex<HashMap<String, Arc<Octocrab>>>,
    },
}

/// `owner/name` of a `/repos/{owner}/{name}/...` path.
pub fn repository_of(path: &str) -> Option<String> {
    let mut parts = path.strip_prefix("/repos/")?.split(['/', '?']);
    let owner = parts.next().filter(|s| !s.is_empty())?;
    let name = parts.next().filter(|s| !s.is_empty())?;
    Some(format!("{owner}/{name}"))
}

impl Auth {
    /// The client to call `path` with.
    pub async fn client_for(&self, path: &str) -> Result<Arc<Octocrab>> {
        let (app, installations) = match self {
            Self::Token { client, .. } => return Ok(client.clone()),
            Self::App { app, installations } => (app, installations),
        };
        let Some(repository) = repository_of(path) else {
            return Ok(app.clone());
        };
        let mut known = installations.lock().await;
        if let Some(client) = known.get(&repository) {
            return Ok(client.clone());
        }
        let (owner, name) = repository.split_once('/').unwrap_or_default();
        let installation = app
            .apps()
            .get_repository_installation(owner, name)
            .await
            .map_err(|e| match &e {
                octocrab::Error::GitHub { source, .. } if source.status_code.as_u16() == 404 => {
                    GitHostError::NotFound(format!(
                        "an installation of the GitHub App on {repository}"
                    ))
                }
                _ => GitHostError::Unavailable(Box::new(e)),
            })?;
        let client = Arc::new(
            app.installation(InstallationId(installation.id.0))
                .map_err(|e| GitHostError::Unavailable(Box::new(e)))?,
        );
        known.insert(repository, client.clone());
        Ok(client)
    }

    /// A token git can fetch `repository` (`owner/name`) with over HTTPS: the configured
    /// token, or an installation token valid for at least `valid_for` more.
    pub async fn git_token(&self, repository: &str, valid_for: chrono::Duration) -> Result<String> {
        match self {
            Self::Token { token, .. } => Ok(token.expose_secret().to_owned()),
            Self::App { .. } => {
                let client = self.client_for(&format!("/repos/{repository}")).await?;
                let token = client
                    .installation_token_with_buffer(valid_for)
                    .await
                    .map_err(|e| GitHostError::Unavailable(Box::new(e)))?;
                Ok(token.expose_secret().to_owned())
            }
        }
    }

    /// The path that proves the credentials work.
    pub fn check_path(&self) -> &'static str {
        match self {
            Self::Token { .. } => "/rate_limit",
            Self::App { .. } => "/app",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_paths_name_their_repository() {
        assert_eq!(
            repository_of("/repos/acme/shop/issues/7/comments?page=2").as_deref(),
            Some("acme/shop")
        );
        assert_eq!(
            repository_of("/repos/acme/shop?x").as_deref(),
            Some("acme/shop")
        );
        assert_eq!(repository_of("/rate_limit"), None);
        assert_eq!(repository_of("/repos/acme"), None);
    }
}
