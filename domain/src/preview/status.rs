//! The states of a preview environment and of each deployment attempt, and which changes
//! between them are allowed: the one place that says how a preview moves.

use serde::{Deserialize, Serialize};

/// Where a pull request's environment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PreviewStatus {
    /// Wanted; no attempt has started yet.
    Pending,
    /// Waiting for the pipeline to publish the commit's image.
    Building,
    /// Applying and waiting for the rollout.
    Deploying,
    Running,
    Failed,
    /// `.platform.yaml` at the commit has no `preview:` section: nothing to deploy.
    Skipped,
    /// The namespace is being removed.
    Deleting,
    Deleted,
    /// Removal did not finish; retried by the sweep, shown to operators.
    CleanupFailed,
}

impl PreviewStatus {
    pub const ALL: [Self; 9] = [
        Self::Pending,
        Self::Building,
        Self::Deploying,
        Self::Running,
        Self::Failed,
        Self::Skipped,
        Self::Deleting,
        Self::Deleted,
        Self::CleanupFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Building => "building",
            Self::Deploying => "deploying",
            Self::Running => "running",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::Deleting => "deleting",
            Self::Deleted => "deleted",
            Self::CleanupFailed => "cleanup_failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The words a page shows.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Building => "Building",
            Self::Deploying => "Deploying",
            Self::Running => "Running",
            Self::Failed => "Failed",
            Self::Skipped => "Not configured",
            Self::Deleting => "Deleting",
            Self::Deleted => "Deleted",
            Self::CleanupFailed => "Cleanup failed",
        }
    }

    /// A deployment may be under way: pages follow it live.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            Self::Pending | Self::Building | Self::Deploying | Self::Deleting
        )
    }

    /// Whether the environment may still hold a namespace.
    pub fn may_have_namespace(self) -> bool {
        !matches!(self, Self::Deleted | Self::Skipped)
    }

    /// Whether a preview may move from `self` to `next`. Deployment states follow one another
    /// in order or fail; any state may start a removal; a removed preview comes back only
    /// through a new attempt (`pending`).
    pub fn can_become(self, next: Self) -> bool {
        use PreviewStatus::*;
        match (self, next) {
            (_, Deleting) => self != Deleted,
            (Deleting, Deleted | CleanupFailed) => true,
            (Deleting, _) => false,
            (_, Pending) => true,
            (Pending | Building | Deploying | Running | Failed | Skipped, Building | Deploying) => {
                true
            }
            (Pending | Building | Deploying, Running | Failed | Skipped) => true,
            (Running | Failed, Failed) => true,
            _ => false,
        }
    }
}

/// How one deployment attempt of a (pull request, commit) went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AttemptStatus {
    Pending,
    Deploying,
    Succeeded,
    Failed,
    /// A newer push (or a removal) made it moot.
    Cancelled,
    /// Nothing to deploy at this commit.
    Skipped,
}

impl AttemptStatus {
    pub const ALL: [Self; 6] = [
        Self::Pending,
        Self::Deploying,
        Self::Succeeded,
        Self::Failed,
        Self::Cancelled,
        Self::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Deploying => "deploying",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Skipped => "skipped",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn is_final(self) -> bool {
        !matches!(self, Self::Pending | Self::Deploying)
    }
}

impl crate::state::StateMachine for PreviewStatus {
    const ENTITY: &'static str = "preview";
    const ALL: &'static [Self] = &Self::ALL;

    fn name(self) -> &'static str {
        self.as_str()
    }

    fn can_become(self, next: Self) -> bool {
        PreviewStatus::can_become(self, next)
    }
}

impl crate::state::StateMachine for AttemptStatus {
    const ENTITY: &'static str = "deploy attempt";
    const ALL: &'static [Self] = &Self::ALL;

    fn name(self) -> &'static str {
        self.as_str()
    }

    /// A pending attempt is claimed (deploying) or made moot; a deploying attempt ends, or is
    /// claimed again when its deployer's heartbeat stopped. An ended attempt is final.
    fn can_become(self, next: Self) -> bool {
        use AttemptStatus::*;
        matches!(
            (self, next),
            (Pending, Deploying | Cancelled | Skipped)
                | (
                    Deploying,
                    Deploying | Succeeded | Failed | Cancelled | Skipped
                )
        )
    }
}

#[cfg(test)]
mod tests {
    use super::PreviewStatus::*;

    #[test]
    fn a_deployment_moves_forward_or_fails() {
        assert!(Pending.can_become(Deploying));
        assert!(Building.can_become(Deploying));
        assert!(Deploying.can_become(Running));
        assert!(Deploying.can_become(Failed));
        assert!(Running.can_become(Deploying));
        assert!(!Deleted.can_become(Running));
        assert!(!Running.can_become(Skipped));
    }

    #[test]
    fn removal_is_final_until_a_new_attempt() {
        assert!(Running.can_become(Deleting));
        assert!(Deleting.can_become(Deleted));
        assert!(Deleting.can_become(CleanupFailed));
        assert!(CleanupFailed.can_become(Deleting));
        assert!(!Deleting.can_become(Running));
        assert!(!Deleted.can_become(Deleting));
        assert!(Deleted.can_become(Pending));
    }

    #[test]
    fn every_status_reads_back_from_its_name() {
        for status in super::PreviewStatus::ALL {
            assert_eq!(super::PreviewStatus::parse(status.as_str()), Some(status));
        }
    }
}
