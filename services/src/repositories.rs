//! Repositories: list, add (by any git clone URL or a local path, on a configured cluster),
//! change their preview rules, remove.

use domain::repository::{PreviewRulesConfig, ReportingConfig};
use domain::{EntityKind, NewRepository, Repository, RepositoryId};
use serde::Deserialize;

use crate::audit::Record;
use crate::caller::{Action, Caller};
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
        self.authorize(caller, Action::RepositoryRead, None).await?;
        let mut repositories = self.store.list_repositories().await?;
        if caller.visible().is_some() {
            repositories.retain(|r| caller.level_on(r.id).is_some());
        }
        Ok(repositories)
    }

    /// The repository called `name` (`owner/name`), if the caller can see it; otherwise
    /// `NotFound`, as for one that does not exist.
    pub async fn repository_named(&self, caller: &Caller, name: &str) -> Result<Repository> {
        let missing = || Error::NotFound(format!("repository `{name}` not found"));
        let repository = self
            .store
            .get_repository_named(name.trim())
            .await?
            .ok_or_else(missing)?;
        self.authorize_or_missing(caller, Action::RepositoryRead, &repository, missing)
            .await?;
        Ok(repository)
    }

    /// Adds a repository; `Conflict` when the name is taken, invalid input naming the field
    /// (an unknown cluster included).
    pub async fn add_repository(
        &self,
        caller: &Caller,
        input: AddRepository,
    ) -> Result<Repository> {
        self.authorize(caller, Action::RepositoryAdd, None).await?;
        let record = Record::of(Action::RepositoryAdd)
            .target(input.name.trim().to_owned())
            .details(format!("from {}", input.clone_url.trim()));
        let added = self.add_authorized(input).await;
        self.audited(caller, record, added).await
    }

    async fn add_authorized(&self, input: AddRepository) -> Result<Repository> {
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
        let repository = self.repository(caller, Action::RepositoryRules, id).await?;
        for branch in &rules.target_branches {
            globset::Glob::new(branch).map_err(|e| {
                Error::invalid(
                    "target_branches",
                    format!("target branch `{branch}` is not a valid glob: {e}"),
                )
            })?;
        }
        let record = Record::of(Action::RepositoryRules).on(Some(&repository));
        let changed = self.store.set_preview_rules(id, &rules).await;
        if changed.is_ok() {
            tracing::info!(repository.id = %id, "preview rules changed");
            self.announce(EntityKind::Repository, id.to_string(), "changed")
                .await;
        }
        self.audited(caller, record, changed.map_err(Into::into))
            .await
    }

    /// Chooses what is reported about a repository's runs and previews (check runs or
    /// statuses, deployments, the sticky comment, notifications).
    pub async fn set_reporting(
        &self,
        caller: &Caller,
        id: RepositoryId,
        reporting: ReportingConfig,
    ) -> Result<Repository> {
        let repository = self.repository(caller, Action::RepositoryRules, id).await?;
        let record = Record::of(Action::RepositoryRules)
            .on(Some(&repository))
            .details(format!("reporting: {}", reporting.describe()));
        let changed = self.store.set_reporting(id, &reporting).await;
        if changed.is_ok() {
            tracing::info!(repository.id = %id, "reporting changed");
            self.announce(EntityKind::Repository, id.to_string(), "changed")
                .await;
        }
        self.audited(caller, record, changed.map_err(Into::into))
            .await
    }

    /// Removes a repository.
    pub async fn remove_repository(&self, caller: &Caller, id: RepositoryId) -> Result<()> {
        let repository = self
            .repository(caller, Action::RepositoryRemove, id)
            .await?;
        let record = Record::of(Action::RepositoryRemove).target(repository.name.clone());
        let removed = self.store.remove_repository(id).await;
        if removed.is_ok() {
            tracing::info!(repository.id = %id, "repository removed");
            self.announce(EntityKind::Repository, id.to_string(), "removed")
                .await;
        }
        self.audited(caller, record, removed.map_err(Into::into))
            .await
    }
}
