//! Repositories Slipway builds and previews: their identity and the rules for adding one.

use serde::{Deserialize, Serialize};

/// Database identity of a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RepositoryId(pub i64);

impl std::fmt::Display for RepositoryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A repository Slipway knows about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Repository {
    pub id: RepositoryId,
    /// Display name, `owner/name` for GitHub repositories.
    pub name: String,
    /// Where Slipway clones from: any git remote, including a local path.
    pub clone_url: String,
    pub default_branch: String,
    /// The cluster its previews and pipelines run on, by name; `None` for the default cluster.
    pub cluster: Option<String>,
    /// Which of its pull requests get previews.
    pub preview_rules: PreviewRulesConfig,
    /// What Slipway tells GitHub and notification subscribers about it.
    pub reporting: ReportingConfig,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: i64,
}

/// What Slipway says about a repository's runs and previews, and where: each is on unless
/// turned off on the Settings page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportingConfig {
    /// A check run (as a GitHub App) or commit status per pipeline run.
    pub checks: bool,
    /// A GitHub Deployment per preview deploy, with the preview's URL.
    pub deployments: bool,
    /// The sticky pull-request comment about the preview (and its commit status).
    pub comment: bool,
    /// Deliveries to the repository's notification subscriptions.
    pub notifications: bool,
}

impl Default for ReportingConfig {
    fn default() -> Self {
        Self {
            checks: true,
            deployments: true,
            comment: true,
            notifications: true,
        }
    }
}

impl ReportingConfig {
    /// `checks on, deployments off, …`, for the audit log.
    pub fn describe(&self) -> String {
        let word = |on: bool| if on { "on" } else { "off" };
        format!(
            "checks {}, deployments {}, comment {}, notifications {}",
            word(self.checks),
            word(self.deployments),
            word(self.comment),
            word(self.notifications)
        )
    }
}

/// Which pull requests of a repository get previews, and whether forks are trusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreviewRulesConfig {
    /// Base branches (globs such as `release/*`); empty means every branch.
    pub target_branches: Vec<String>,
    pub ignore_drafts: bool,
    /// Labels a pull request needs, all of them.
    pub labels_required: Vec<String>,
    /// Labels that rule a preview out, any of them.
    pub labels_excluded: Vec<String>,
    /// Pull requests from forks run this repository's pipeline (their code, on your runners).
    /// Off by default: a fork's pull request is untrusted code.
    pub trust_forks: bool,
}

impl Default for PreviewRulesConfig {
    fn default() -> Self {
        Self {
            target_branches: Vec::new(),
            ignore_drafts: true,
            labels_required: Vec::new(),
            labels_excluded: Vec::new(),
            trust_forks: false,
        }
    }
}

impl PreviewRulesConfig {
    /// Rules from comma-separated lists, as a form gives them.
    pub fn from_lists(branches: &str, required: &str, excluded: &str, ignore_drafts: bool) -> Self {
        let list = |text: &str| -> Vec<String> {
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        Self {
            target_branches: list(branches),
            ignore_drafts,
            labels_required: list(required),
            labels_excluded: list(excluded),
            trust_forks: false,
        }
    }
}

/// A repository to add, validated by [`NewRepository::new`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRepository {
    name: String,
    clone_url: String,
    default_branch: String,
    cluster: Option<String>,
}

/// Why a repository cannot be added; each message says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum RepositoryError {
    #[error("name is required")]
    NameMissing,
    #[error(
        "name `{0}` is not valid: use letters, digits, `.`, `_`, `-` and at most one `/` (owner/name), up to 100 characters"
    )]
    NameInvalid(String),
    #[error("clone URL is required")]
    CloneUrlMissing,
    #[error(
        "clone URL `{0}` is not valid: use https://, http://, ssh://, git@host:path, file:// or an absolute path"
    )]
    CloneUrlInvalid(String),
    #[error("default branch `{0}` is not a valid git branch name")]
    BranchInvalid(String),
}

const NAME_MAX: usize = 100;
const URL_SCHEMES: [&str; 5] = ["https://", "http://", "ssh://", "git://", "file://"];

impl NewRepository {
    /// Validates and normalises (trims) the fields; an empty branch means `main`.
    pub fn new(name: &str, clone_url: &str, default_branch: &str) -> Result<Self, RepositoryError> {
        let name = name.trim();
        let clone_url = clone_url.trim();
        let branch = match default_branch.trim() {
            "" => "main",
            other => other,
        };
        validate_name(name)?;
        validate_clone_url(clone_url)?;
        validate_branch(branch)?;
        Ok(Self {
            name: name.to_owned(),
            clone_url: clone_url.to_owned(),
            default_branch: branch.to_owned(),
            cluster: None,
        })
    }

    /// Pins the repository to the cluster named `cluster` (blank: the default cluster). Whether
    /// such a cluster is configured is for the caller, who knows the configuration, to check.
    #[must_use]
    pub fn on_cluster(mut self, cluster: &str) -> Self {
        let cluster = cluster.trim();
        self.cluster = (!cluster.is_empty()).then(|| cluster.to_owned());
        self
    }

    pub fn cluster(&self) -> Option<&str> {
        self.cluster.as_deref()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn clone_url(&self) -> &str {
        &self.clone_url
    }

    pub fn default_branch(&self) -> &str {
        &self.default_branch
    }
}

fn validate_name(name: &str) -> Result<(), RepositoryError> {
    if name.is_empty() {
        return Err(RepositoryError::NameMissing);
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let parts: Vec<&str> = name.split('/').collect();
    let well_formed = name.len() <= NAME_MAX
        && parts.len() <= 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && *p != "." && *p != ".." && p.chars().all(allowed));
    if well_formed {
        Ok(())
    } else {
        Err(RepositoryError::NameInvalid(name.to_owned()))
    }
}

fn validate_clone_url(url: &str) -> Result<(), RepositoryError> {
    if url.is_empty() {
        return Err(RepositoryError::CloneUrlMissing);
    }
    let has_scheme = URL_SCHEMES
        .iter()
        .any(|s| url.len() > s.len() && url.starts_with(s));
    let scp_like = url
        .split_once(':')
        .is_some_and(|(host, path)| host.contains('@') && !host.contains('/') && !path.is_empty());
    let absolute_path = url.starts_with('/');
    if url.chars().any(char::is_whitespace) || !(has_scheme || scp_like || absolute_path) {
        return Err(RepositoryError::CloneUrlInvalid(url.to_owned()));
    }
    Ok(())
}

/// The subset of `git check-ref-format --branch` that matters for names people type.
fn validate_branch(branch: &str) -> Result<(), RepositoryError> {
    let bad = branch.starts_with(['-', '/', '.'])
        || branch.ends_with(['/', '.'])
        || branch.ends_with(".lock")
        || branch.contains("..")
        || branch.contains("//")
        || branch.contains("@{")
        || branch
            .chars()
            .any(|c| c.is_ascii_control() || " ~^:?*[\\".contains(c));
    if bad {
        Err(RepositoryError::BranchInvalid(branch.to_owned()))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_github_style_and_local_repositories() {
        let repo = NewRepository::new(" acme/shop ", "https://github.com/acme/shop.git", "")
            .expect("valid repository");
        assert_eq!(repo.name(), "acme/shop");
        assert_eq!(repo.default_branch(), "main");
        assert!(NewRepository::new("demo", "/srv/git/demo.git", "develop").is_ok());
        assert!(NewRepository::new("demo", "git@github.com:acme/demo.git", "main").is_ok());
        assert!(NewRepository::new("demo", "file:///tmp/demo", "release/1.x").is_ok());
    }

    #[test]
    fn rejects_bad_names_with_the_rule() {
        assert_eq!(
            NewRepository::new(" ", "/x", ""),
            Err(RepositoryError::NameMissing)
        );
        for bad in ["a/b/c", "a b", "../x", "/x", "x/", &"a".repeat(101)] {
            let err = NewRepository::new(bad, "/x", "").expect_err(bad);
            assert!(err.to_string().contains("at most one `/`"), "{err}");
        }
    }

    #[test]
    fn rejects_bad_clone_urls_and_branches() {
        assert_eq!(
            NewRepository::new("x", "", ""),
            Err(RepositoryError::CloneUrlMissing)
        );
        for bad in ["relative/path", "https://", "ftp://host/x", "https://h/a b"] {
            assert!(
                matches!(
                    NewRepository::new("x", bad, ""),
                    Err(RepositoryError::CloneUrlInvalid(_))
                ),
                "{bad}"
            );
        }
        for bad in ["-x", "a..b", "a b", "x.lock", "a:b", "x/"] {
            assert!(
                matches!(
                    NewRepository::new("x", "/x", bad),
                    Err(RepositoryError::BranchInvalid(_))
                ),
                "{bad}"
            );
        }
    }
}
