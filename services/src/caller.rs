//! Who is calling an application function, and the one rule that decides what they may do.
//!
//! Every application function takes the caller first and asks [`crate::Services::authorize`]
//! (which applies [`decide`] and records refusals in the audit log) before it reads or changes
//! anything, so a permission rule is written once and holds for every edge (JSON API,
//! dashboard, command line, MCP).
//!
//! | level / role | what it allows |
//! | --- | --- |
//! | read on a repository | see its previews, pipelines, logs, artifacts, deliveries |
//! | write | also trigger, cancel and retry pipelines; retry and delete its previews; redeliver |
//! | admin | also preview rules, secrets, removing it |
//! | instance operator | read on every repository, the Operator page, delete any preview |
//! | instance admin | everything: repositories (adding one), users, teams, others' tokens, audit |
//!
//! A token holds at most its scope, on at most its repositories, and never more than its user
//! holds now.

use std::collections::BTreeMap;
use std::sync::Arc;

use domain::identity::{InstanceRole, User};
use domain::{Repository, RepositoryId};

pub use domain::identity::Level;

/// Who asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A request that carries no identity (or one that was refused).
    Anonymous,
    /// Slipway itself: background workers, and the command line run on Slipway's host.
    System,
    /// A signed-in person, through a session or one of their tokens.
    Person(Arc<Identity>),
}

/// A person as a request presents them: the user, what their teams and GitHub grant, and the
/// token they came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: User,
    /// Repositories their teams grant, at the highest level granted.
    pub grants: BTreeMap<RepositoryId, Level>,
    /// Repositories GitHub says they may use (a GitHub user's collaborator permission), as
    /// last asked (see `GitHubLevels`).
    pub github: BTreeMap<RepositoryId, Level>,
    /// Set when the request came with a personal API token rather than a session.
    pub token: Option<TokenReach>,
    /// The session the request came with, if any.
    pub session_id: Option<i64>,
    pub request: RequestMeta,
}

/// What a token narrows its user to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenReach {
    pub id: i64,
    pub scope: Level,
    /// Empty: every repository the user can reach.
    pub repositories: Vec<RepositoryId>,
}

/// Where a request came from, for the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMeta {
    pub source: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl Caller {
    /// The person, when a person calls.
    pub fn identity(&self) -> Option<&Identity> {
        match self {
            Self::Person(identity) => Some(identity),
            _ => None,
        }
    }

    /// Whether the caller has the instance admin role (the system counts as one).
    pub fn is_instance_admin(&self) -> bool {
        match self {
            Self::System => true,
            Self::Person(identity) => identity.role_allows(InstanceRole::Admin),
            Self::Anonymous => false,
        }
    }

    /// The repositories a list may show this caller: `None` for every repository.
    pub fn visible(&self) -> Option<Vec<RepositoryId>> {
        match self {
            Self::System => None,
            Self::Anonymous => Some(Vec::new()),
            Self::Person(identity) => identity.visible(),
        }
    }

    /// The level the caller holds on `repository`; `None` when they cannot even see it.
    pub fn level_on(&self, repository: RepositoryId) -> Option<Level> {
        match self {
            Self::System => Some(Level::Admin),
            Self::Anonymous => None,
            Self::Person(identity) => identity.level_on(repository),
        }
    }
}

impl Identity {
    /// The user's instance role is `role` or above, and the token (if any) carries admin scope
    /// for the admin role (a read token of an admin reads).
    fn role_allows(&self, role: InstanceRole) -> bool {
        let held = self.user.role;
        let enough = match role {
            InstanceRole::Member => true,
            InstanceRole::Operator => matches!(held, InstanceRole::Operator | InstanceRole::Admin),
            InstanceRole::Admin => held == InstanceRole::Admin,
        };
        enough
            && (role != InstanceRole::Admin
                || self.token.as_ref().is_none_or(|t| t.scope == Level::Admin))
    }

    fn token_reaches(&self, repository: RepositoryId) -> bool {
        self.token
            .as_ref()
            .is_none_or(|t| t.repositories.is_empty() || t.repositories.contains(&repository))
    }

    /// What the user holds on `repository` (role and teams), narrowed by the token.
    pub fn level_on(&self, repository: RepositoryId) -> Option<Level> {
        if !self.token_reaches(repository) {
            return None;
        }
        let granted = self
            .grants
            .get(&repository)
            .copied()
            .max(self.github.get(&repository).copied());
        let held = match self.user.role {
            InstanceRole::Admin => Some(Level::Admin),
            InstanceRole::Operator => Some(granted.unwrap_or(Level::Read).max(Level::Read)),
            InstanceRole::Member => granted,
        }?;
        Some(match &self.token {
            Some(token) => held.min(token.scope),
            None => held,
        })
    }

    fn visible(&self) -> Option<Vec<RepositoryId>> {
        let limited = self
            .token
            .as_ref()
            .filter(|t| !t.repositories.is_empty())
            .map(|t| t.repositories.clone());
        match self.user.role {
            InstanceRole::Admin | InstanceRole::Operator => limited,
            InstanceRole::Member => {
                let mut seen: Vec<RepositoryId> = self
                    .grants
                    .keys()
                    .chain(self.github.keys())
                    .copied()
                    .filter(|id| self.token_reaches(*id))
                    .collect();
                seen.sort_unstable();
                seen.dedup();
                Some(seen)
            }
        }
    }

    /// The most a token (or a session: no limit) lets this request do anywhere.
    fn scope(&self) -> Level {
        self.token.as_ref().map_or(Level::Admin, |t| t.scope)
    }
}

/// Everything a caller can ask for, by name (as the audit log records it).
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
    /// The caller's own account: their profile, sessions and tokens.
    AccountRead,
    TokenCreate,
    TokenRevoke,
    SessionRevoke,
    UserRead,
    UserCreate,
    UserUpdate,
    UserDelete,
    TeamRead,
    TeamChange,
    AuditRead,
    /// A repository's notification subscriptions and their deliveries.
    NotificationRead,
    NotificationChange,
    NotificationRedeliver,
    /// Transform runs: reading one, starting one (on every repository it selects), cancelling
    /// it, retrying executions.
    TransformRead,
    TransformStart,
    TransformCancel,
    TransformRetry,
    /// Pausing and resuming the transform queue (the whole instance's).
    TransformPause,
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
            Self::AccountRead => "account.read",
            Self::TokenCreate => "token.create",
            Self::TokenRevoke => "token.revoke",
            Self::SessionRevoke => "session.revoke",
            Self::UserRead => "user.read",
            Self::UserCreate => "user.create",
            Self::UserUpdate => "user.update",
            Self::UserDelete => "user.delete",
            Self::TeamRead => "team.read",
            Self::TeamChange => "team.change",
            Self::AuditRead => "audit.read",
            Self::NotificationRead => "notification.read",
            Self::NotificationChange => "notification.change",
            Self::NotificationRedeliver => "notification.redeliver",
            Self::TransformRead => "transform.read",
            Self::TransformStart => "transform.start",
            Self::TransformCancel => "transform.cancel",
            Self::TransformRetry => "transform.retry",
            Self::TransformPause => "transform.pause",
        }
    }

    /// The level the action needs on its repository (or, without one, the token scope it needs).
    pub fn level(self) -> Level {
        match self {
            Self::PreviewRead
            | Self::OperatorUsage
            | Self::RepositoryRead
            | Self::PipelineRead
            | Self::DeliveryRead
            | Self::InstanceRead
            | Self::AccountRead
            | Self::UserRead
            | Self::TeamRead
            | Self::AuditRead
            | Self::TransformRead => Level::Read,
            Self::PreviewRetry
            | Self::PreviewDelete
            | Self::PipelineTrigger
            | Self::PipelineCancel
            | Self::PipelineRetry
            | Self::DeliveryRedeliver
            | Self::SessionRevoke
            | Self::TransformStart
            | Self::TransformCancel
            | Self::TransformRetry
            | Self::TransformPause => Level::Write,
            Self::RepositoryAdd
            | Self::RepositoryRules
            | Self::RepositoryRemove
            | Self::SecretRead
            | Self::SecretSet
            | Self::SecretRemove
            | Self::TokenCreate
            | Self::TokenRevoke
            | Self::UserCreate
            | Self::UserUpdate
            | Self::UserDelete
            | Self::TeamChange
            | Self::NotificationRead
            | Self::NotificationChange
            | Self::NotificationRedeliver => Level::Admin,
        }
    }

    /// Whether the action removes or overwrites something: a level GitHub grants is asked of
    /// GitHub again, live, before it is allowed.
    pub fn destructive(self) -> bool {
        matches!(
            self,
            Self::PreviewDelete
                | Self::PipelineCancel
                | Self::RepositoryRemove
                | Self::SecretSet
                | Self::SecretRemove
        )
    }

    /// Whether the action changes something (and so is recorded in the audit log).
    pub fn changes(self) -> bool {
        self.level() > Level::Read
    }

    /// The instance role the action needs when it concerns no one repository.
    fn instance_role(self) -> InstanceRole {
        match self {
            Self::OperatorUsage => InstanceRole::Operator,
            Self::RepositoryAdd
            | Self::UserRead
            | Self::UserCreate
            | Self::UserUpdate
            | Self::UserDelete
            | Self::TeamChange
            | Self::DeliveryRedeliver
            | Self::TransformPause => InstanceRole::Admin,
            _ => InstanceRole::Member,
        }
    }
}

/// Why [`decide`] refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Nobody signed in.
    Unauthenticated,
    /// The caller cannot see the repository: answered exactly as if it did not exist.
    Hidden,
    /// The caller sees it but may not do this; the message says what is needed.
    Forbidden(String),
}

/// Whether `caller` may do `action`, on `repository` when the action concerns one.
pub fn decide(
    caller: &Caller,
    action: Action,
    repository: Option<&Repository>,
) -> Result<(), Refusal> {
    let identity = match caller {
        Caller::System => return Ok(()),
        Caller::Anonymous => return Err(Refusal::Unauthenticated),
        Caller::Person(identity) => identity,
    };
    let needed = action.level();
    let Some(repository) = repository else {
        let role = action.instance_role();
        if !identity.role_allows(role) {
            return Err(Refusal::Forbidden(format!(
                "{} needs the instance {} role",
                action.as_str(),
                role.as_str()
            )));
        }
        if identity.scope() < needed {
            return Err(Refusal::Forbidden(format!(
                "{} needs a token with {} scope",
                action.as_str(),
                needed.as_str()
            )));
        }
        return Ok(());
    };
    let Some(held) = identity.level_on(repository.id) else {
        return Err(Refusal::Hidden);
    };
    // Operators clean up any preview, whatever the repository grants them.
    let operator_cleanup = action == Action::PreviewDelete
        && identity.role_allows(InstanceRole::Operator)
        && identity.scope() >= Level::Write;
    if held >= needed || operator_cleanup {
        return Ok(());
    }
    Err(Refusal::Forbidden(format!(
        "{} needs {} access to {} (you have {})",
        action.as_str(),
        needed.as_str(),
        repository.name,
        held.as_str()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::identity::UserId;

    fn person(role: InstanceRole, grants: &[(i64, Level)], token: Option<TokenReach>) -> Caller {
        Caller::Person(Arc::new(Identity {
            user: User {
                id: UserId(1),
                login: "ada".into(),
                github_id: None,
                role,
                has_password: true,
                created_at_ms: 0,
                last_login_at_ms: None,
            },
            grants: grants
                .iter()
                .map(|(id, level)| (RepositoryId(*id), *level))
                .collect(),
            github: BTreeMap::new(),
            token,
            session_id: None,
            request: RequestMeta::default(),
        }))
    }

    fn repository(id: i64) -> Repository {
        Repository {
            id: RepositoryId(id),
            name: format!("acme/r{id}"),
            clone_url: "https://example.com/r.git".into(),
            default_branch: "main".into(),
            cluster: None,
            preview_rules: Default::default(),
            reporting: Default::default(),
            created_at_ms: 0,
        }
    }

    #[test]
    fn changing_settings_needs_more_than_retrying() {
        assert!(Action::SecretSet.level() > Action::PreviewRetry.level());
        assert!(Action::PreviewRetry.level() > Action::PreviewRead.level());
        assert_eq!(Action::PipelineCancel.as_str(), "pipeline.cancel");
    }

    #[test]
    fn a_reader_reads_but_may_not_retry_and_others_do_not_see_it() {
        let reader = person(InstanceRole::Member, &[(1, Level::Read)], None);
        assert_eq!(
            decide(&reader, Action::PipelineRead, Some(&repository(1))),
            Ok(())
        );
        let refused = decide(&reader, Action::PipelineRetry, Some(&repository(1)));
        assert!(
            matches!(refused, Err(Refusal::Forbidden(m)) if m.contains("needs write access to acme/r1"))
        );
        assert_eq!(
            decide(&reader, Action::PipelineRead, Some(&repository(2))),
            Err(Refusal::Hidden)
        );
        assert_eq!(reader.visible(), Some(vec![RepositoryId(1)]));
    }

    #[test]
    fn a_token_never_does_more_than_its_scope_or_reaches_other_repositories() {
        let token = TokenReach {
            id: 9,
            scope: Level::Read,
            repositories: vec![RepositoryId(1)],
        };
        let admin_with_read_token = person(InstanceRole::Admin, &[], Some(token));
        assert_eq!(
            decide(
                &admin_with_read_token,
                Action::PipelineRead,
                Some(&repository(1))
            ),
            Ok(())
        );
        assert!(
            decide(
                &admin_with_read_token,
                Action::PipelineCancel,
                Some(&repository(1))
            )
            .is_err()
        );
        assert_eq!(
            decide(
                &admin_with_read_token,
                Action::PipelineRead,
                Some(&repository(2))
            ),
            Err(Refusal::Hidden)
        );
        assert!(decide(&admin_with_read_token, Action::UserCreate, None).is_err());
        assert_eq!(admin_with_read_token.visible(), Some(vec![RepositoryId(1)]));
    }

    #[test]
    fn operators_read_everything_and_clean_up_previews_but_change_nothing_else() {
        let operator = person(InstanceRole::Operator, &[], None);
        assert_eq!(
            decide(&operator, Action::PreviewDelete, Some(&repository(5))),
            Ok(())
        );
        assert_eq!(decide(&operator, Action::OperatorUsage, None), Ok(()));
        assert!(decide(&operator, Action::PipelineCancel, Some(&repository(5))).is_err());
        assert!(decide(&operator, Action::RepositoryAdd, None).is_err());
        assert_eq!(operator.visible(), None);
    }

    #[test]
    fn nobody_signed_in_may_do_nothing() {
        assert_eq!(
            decide(&Caller::Anonymous, Action::PreviewRead, None),
            Err(Refusal::Unauthenticated)
        );
        assert_eq!(decide(&Caller::System, Action::UserDelete, None), Ok(()));
    }
}
