//! Repositories: list, add (by any git clone URL or a local path, on a configured cluster),
//! change their preview rules, remove.

use domain::repository::PreviewRulesConfig;
use domain::{EntityKind, NewRepository, Repository, RepositoryId};
use serde::Deserialize;

use crate::caller::{Action, Caller, authorize};
use crate::{Error, Result, Services};

/// A repository to add.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct AddRepository {
    /// `owner/name` for GitHub repositories.
    #[serde(default)]
    #[schema(
        required = true,
        pattern = "^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)?$",
        max_length = 100
    )]
    pub name: String,
    /// Any git remote, or an absolute path on this host.
    #[serde(default)]
    #[schema(
        required = true,
        pattern = "^(https?://|ssh://|git://|file://|git@|/)[^\\s]+$"
    )]
    pub clone_url: String,
    /// Blank: `main`.
    #[serde(default)]
    pub default_branch: String,
    /// A configured cluster's name; blank for the default cluster.
    #[serde(default)]
    pub cluster: String,
}

impl Services {
    /// Every repository, by name.
    pub async fn list_repositories(&self, caller: &Caller) -> Result<Vec<Repository>> {
        authorize(caller, Action::RepositoryRead, None)?;
        Ok(self.store.list_repositories().await?)
    }

    /// Adds a repository; `Conflict` when the name is taken, invalid input naming the field
    /// (an unknown cluster included).
    pub async fn add_repository(
        &self,
        caller: &Caller,
        input: AddRepository,
    ) -> Result<Repository> {
        authorize(caller, Action::RepositoryAdd, None)?;
        let new = NewRepository::new(&input.name, &input.clone_url, &input.default_branch)?
            .on_cluster(&input.cluster);
        if let Some(name) = new.cluster() {
            self.cluster_named(name)?;
        }
        let repository = self.store.add_repository(&new).await?;
        tracing::info!(repository.id = %repository.id, repository.name = %repository.name, "repository added");
        self.announce(EntityKind::Repository, repository.id.to_string(), "added")
            .await;
        Ok(repository)
    }

    /// Replaces a repository's preview rules; each target branch must be a valid glob.
    pub async fn set_preview_rules(
        &self,
        caller: &Caller,
        id: RepositoryId,
        rules: PreviewRulesConfig,
    ) -> Result<Repository> {
        self.repository(caller, Action::RepositoryRules, id).await?;
        for branch in &rules.target_branches {
            globset::Glob::new(branch).map_err(|e| {
                Error::invalid(
                    "target_branches",
                    format!("target branch `{branch}` is not a valid glob: {e}"),
                )
            })?;
        }
        let repository = self.store.set_preview_rules(id, &rules).await?;
        tracing::info!(repository.id = %id, "preview rules changed");
        self.announce(EntityKind::Repository, id.to_string(), "changed")
            .await;
        Ok(repository)
    }

    /// Removes a repository.
    pub async fn remove_repository(&self, caller: &Caller, id: RepositoryId) -> Result<()> {
        self.repository(caller, Action::RepositoryRemove, id)
            .await?;
        self.store.remove_repository(id).await?;
        tracing::info!(repository.id = %id, "repository removed");
        self.announce(EntityKind::Repository, id.to_string(), "removed")
            .await;
        Ok(())
    }
}
