//! Who is calling an application function, and the one place that decides what they may do.
//!
//! Every application function takes the caller first and calls [`authorize`] before it reads or
//! changes anything, so a permission rule is written once and holds for every edge (JSON API,
//! dashboard, command line, MCP). Until sign-in exists every person is [`Caller::Anonymous`] and
//! may do everything, as before; the identity work fills in the rules here and nowhere else.

use domain::Repository;

/// Who asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A request that carries no identity.
    Anonymous,
    /// Slipway itself: background workers (schedules, reconciliation).
    System,
}

/// How much an action needs on its repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// See previews, pipelines, logs, artifacts, deliveries.
    Read,
    /// Trigger, cancel and retry pipelines; retry and delete previews.
    Write,
    /// Settings, rules, cluster, secrets, removal.
    Admin,
}

/// Everything a caller can ask for, by name (as an audit log will record it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    PreviewRead,
    PreviewRetry,
    PreviewDelete,
    OperatorUsage,
    RepositoryRead,
    RepositoryAdd,
    RepositoryRules,
    RepositoryRemove,
    SecretRead,
    SecretSet,
    SecretRemove,
    PipelineRead,
    PipelineTrigger,
    PipelineCancel,
    PipelineRetry,
    DeliveryRead,
    DeliveryRedeliver,
    InstanceRead,
}

impl Action {
    /// The action's name, `entity.verb`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PreviewRead => "preview.read",
            Self::PreviewRetry => "preview.retry",
            Self::PreviewDelete => "preview.delete",
            Self::OperatorUsage => "operator.usage",
            Self::RepositoryRead => "repository.read",
            Self::RepositoryAdd => "repository.add",
            Self::RepositoryRules => "repository.rules",
            Self::RepositoryRemove => "repository.remove",
            Self::SecretRead => "secret.read",
            Self::SecretSet => "secret.set",
            Self::SecretRemove => "secret.remove",
            Self::PipelineRead => "pipeline.read",
            Self::PipelineTrigger => "pipeline.trigger",
            Self::PipelineCancel => "pipeline.cancel",
            Self::PipelineRetry => "pipeline.retry",
            Self::DeliveryRead => "delivery.read",
            Self::DeliveryRedeliver => "delivery.redeliver",
            Self::InstanceRead => "instance.read",
        }
    }

    /// The level the action needs on its repository.
    pub fn level(self) -> Level {
        match self {
            Self::PreviewRead
            | Self::OperatorUsage
            | Self::RepositoryRead
            | Self::SecretRead
            | Self::PipelineRead
            | Self::DeliveryRead
            | Self::InstanceRead => Level::Read,
            Self::PreviewRetry
            | Self::PreviewDelete
            | Self::PipelineTrigger
            | Self::PipelineCancel
            | Self::PipelineRetry
            | Self::DeliveryRedeliver => Level::Write,
            Self::RepositoryAdd
            | Self::RepositoryRules
            | Self::RepositoryRemove
            | Self::SecretSet
            | Self::SecretRemove => Level::Admin,
        }
    }
}

/// Whether `caller` may do `action`, on `repository` when the action concerns one.
///
/// Slipway has no sign-in yet, so every caller holds every level (what it did before this
/// layer existed); the answer is already the typed error an edge maps, `Forbidden`.
pub fn authorize(
    caller: &Caller,
    action: Action,
    repository: Option<&Repository>,
) -> crate::Result<()> {
    match caller {
        Caller::Anonymous | Caller::System => {
            tracing::trace!(
                action = action.as_str(),
                repository = repository.map(|r| r.name.as_str()),
                "allowed"
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changing_settings_needs_more_than_retrying() {
        assert!(Action::SecretSet.level() > Action::PreviewRetry.level());
        assert!(Action::PreviewRetry.level() > Action::PreviewRead.level());
        assert_eq!(Action::PipelineCancel.as_str(), "pipeline.cancel");
    }
}
