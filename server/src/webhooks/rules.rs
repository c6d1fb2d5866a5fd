//! Which pull requests get a preview: target branches (globs), drafts, labels required and
//! labels excluded, as each repository's settings say (defaults: any branch, drafts ignored,
//! no label rules).

use domain::pull_request::{PreviewVerdict, PullRequestSnapshot};
use globset::{Glob, GlobSet, GlobSetBuilder};

/// A repository's preview selection rules.
#[derive(Debug, Clone)]
pub struct PreviewRules {
    /// Base branches that get previews; empty means every branch.
    pub target_branches: GlobSet,
    pub ignore_drafts: bool,
    /// Every one of these labels is needed.
    pub labels_required: Vec<String>,
    /// Any one of these labels rules a preview out.
    pub labels_excluded: Vec<String>,
}

impl Default for PreviewRules {
    fn default() -> Self {
        Self {
            target_branches: GlobSet::empty(),
            ignore_drafts: true,
            labels_required: Vec::new(),
            labels_excluded: Vec::new(),
        }
    }
}

/// Why a repository's preview rules cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("target branch `{branch}`")]
    Branch {
        branch: String,
        #[source]
        source: globset::Error,
    },
    #[error("the target branches cannot be combined")]
    Set(#[source] globset::Error),
}

impl PreviewRules {
    /// A repository's configured rules; an invalid branch glob is an error naming it.
    pub fn from_config(
        config: &domain::repository::PreviewRulesConfig,
    ) -> Result<Self, RulesError> {
        let branches: Vec<&str> = config.target_branches.iter().map(String::as_str).collect();
        Self {
            ignore_drafts: config.ignore_drafts,
            labels_required: config.labels_required.clone(),
            labels_excluded: config.labels_excluded.clone(),
            ..Self::default()
        }
        .with_branches(&branches)
    }

    /// Rules with `branches` as globs (`main`, `release/*`); an invalid glob is an error
    /// naming it.
    pub fn with_branches(mut self, branches: &[&str]) -> Result<Self, RulesError> {
        let mut set = GlobSetBuilder::new();
        for branch in branches {
            set.add(Glob::new(branch).map_err(|source| RulesError::Branch {
                branch: (*branch).to_owned(),
                source,
            })?);
        }
        self.target_branches = set.build().map_err(RulesError::Set)?;
        Ok(self)
    }

    pub fn verdict(&self, pr: &PullRequestSnapshot) -> PreviewVerdict {
        let no = |why: String| PreviewVerdict::NotWanted(why);
        if !pr.open {
            return no(if pr.merged {
                "the pull request was merged".into()
            } else {
                "the pull request was closed".into()
            });
        }
        if self.ignore_drafts && pr.draft {
            return no("the pull request is a draft".into());
        }
        if !self.target_branches.is_empty() && !self.target_branches.is_match(&pr.base_ref) {
            return no(format!("branch `{}` does not get previews", pr.base_ref));
        }
        if let Some(missing) = self.labels_required.iter().find(|l| !pr.labels.contains(l)) {
            return no(format!("the label `{missing}` is required"));
        }
        if let Some(excluded) = self.labels_excluded.iter().find(|l| pr.labels.contains(l)) {
            return no(format!("the label `{excluded}` rules previews out"));
        }
        PreviewVerdict::Wanted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pr() -> PullRequestSnapshot {
        PullRequestSnapshot {
            repository: "acme/shop".into(),
            clone_url: "https://github.com/acme/shop.git".into(),
            default_branch: "main".into(),
            number: 7,
            title: "Faster checkout".into(),
            author: "octocat".into(),
            head_ref: "faster".into(),
            head_sha: "a".repeat(40),
            base_ref: "main".into(),
            draft: false,
            labels: vec!["preview".into()],
            open: true,
            merged: false,
            updated_at: "2026-11-24T10:00:00Z".into(),
        }
    }

    #[test]
    fn open_ready_pull_requests_get_previews_by_default() {
        assert_eq!(
            PreviewRules::default().verdict(&pr()),
            PreviewVerdict::Wanted
        );
    }

    #[test]
    fn closed_drafts_branches_and_labels_say_why_not() {
        let rules = PreviewRules {
            labels_required: vec!["preview".into()],
            labels_excluded: vec!["no-preview".into()],
            ..PreviewRules::default()
        }
        .with_branches(&["main", "release/*"])
        .expect("globs");
        let why = |pr: PullRequestSnapshot| match rules.verdict(&pr) {
            PreviewVerdict::NotWanted(why) => why,
            PreviewVerdict::Wanted => "wanted".into(),
        };
        assert_eq!(
            why(PullRequestSnapshot {
                open: false,
                ..pr()
            }),
            "the pull request was closed"
        );
        assert_eq!(
            why(PullRequestSnapshot {
                open: false,
                merged: true,
                ..pr()
            }),
            "the pull request was merged"
        );
        assert_eq!(
            why(PullRequestSnapshot {
                draft: true,
                ..pr()
            }),
            "the pull request is a draft"
        );
        assert_eq!(
            why(PullRequestSnapshot {
                base_ref: "release/1.2".into(),
                ..pr()
            }),
            "wanted"
        );
        assert_eq!(
            why(PullRequestSnapshot {
                base_ref: "develop".into(),
                ..pr()
            }),
            "branch `develop` does not get previews"
        );
        assert_eq!(
            why(PullRequestSnapshot {
                labels: vec![],
                ..pr()
            }),
            "the label `preview` is required"
        );
        assert_eq!(
            why(PullRequestSnapshot {
                labels: vec!["preview".into(), "no-preview".into()],
                ..pr()
            }),
            "the label `no-preview` rules previews out"
        );
        assert!(PreviewRules::default().with_branches(&["[oops"]).is_err());
    }
}
