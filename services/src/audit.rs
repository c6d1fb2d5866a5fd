//! The audit log: who did what to which repository, and how it ended. Every change an
//! application function makes and every refusal of a signed-in caller is appended here; the
//! log is read by instance admins (everything) and repository admins (their repositories).

use domain::Repository;
use domain::Store;
use domain::identity::{ActorKind, AuditEntry, AuditFilter, NewAuditEntry, Outcome};
use domain::time::now_ms;
use serde::{Deserialize, Serialize};

use crate::caller::{Action, Caller, Level, RequestMeta};
use crate::parse::non_empty;
use crate::{Result, Services};

/// Rows a page holds unless `limit` says otherwise.
const DEFAULT_PAGE: u32 = 100;

/// What one audit row says, besides who and when.
#[derive(Debug, Clone, Default)]
pub struct Record<'a> {
    pub action: &'a str,
    pub target: Option<String>,
    pub repository: Option<&'a Repository>,
    pub details: Option<String>,
}

impl<'a> Record<'a> {
    pub fn of(action: Action) -> Self {
        Self {
            action: action.as_str(),
            ..Self::default()
        }
    }

    pub fn named(action: &'a str) -> Self {
        Self {
            action,
            ..Self::default()
        }
    }

    pub fn on(mut self, repository: Option<&'a Repository>) -> Self {
        self.repository = repository;
        self
    }

    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    pub fn details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }
}

/// Appends one row; a failure to write it is logged (the change itself has happened).
pub async fn append(
    store: &dyn Store,
    caller: &Caller,
    meta: Option<&RequestMeta>,
    record: Record<'_>,
    outcome: Outcome,
) {
    let mut entry = NewAuditEntry {
        at_ms: now_ms(),
        action: record.action.to_owned(),
        target: record.target,
        repository_id: record.repository.map(|r| r.id),
        repository: record.repository.map(|r| r.name.clone()),
        outcome: Some(outcome),
        details: record.details,
        ..NewAuditEntry::default()
    };
    entry.actor_kind = Some(match caller {
        Caller::Anonymous => ActorKind::Anonymous,
        Caller::System => ActorKind::System,
        Caller::Person(identity) => {
            entry.actor_id = Some(identity.user.id);
            entry.actor_login = Some(identity.user.login.clone());
            entry.token_id = identity.token.as_ref().map(|t| t.id);
            if identity.token.is_some() {
                ActorKind::Token
            } else {
                ActorKind::User
            }
        }
    });
    let meta = meta.or_else(|| caller.identity().map(|i| &i.request));
    if let Some(meta) = meta {
        entry.source = meta.source.clone();
        entry.user_agent = meta.user_agent.clone();
        entry.request_id = meta.request_id.clone();
    }
    if let Err(error) = store.append_audit(&entry).await {
        tracing::error!(action = %entry.action, error = %domain::error_chain(&error), "audit row not written");
    }
}

/// Which audit rows to list, newest first.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListAudit {
    /// A login.
    pub actor: Option<String>,
    /// An action name such as `pipeline.cancel`.
    pub action: Option<String>,
    /// A repository id.
    pub repository: Option<i64>,
    /// Milliseconds since the Unix epoch: rows at or after.
    pub since_ms: Option<i64>,
    /// Rows before this time.
    pub until_ms: Option<i64>,
    /// The `next_before` of the previous page.
    pub before: Option<i64>,
    /// 1 to 500, default 100.
    #[param(minimum = 0, maximum = 4294967295_u64)]
    pub limit: Option<u32>,
}

/// A page of audit rows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    /// Pass as `before` for the next page; absent on the last.
    pub next_before: Option<i64>,
}

impl Services {
    /// Appends an audit row for `caller`.
    pub async fn audit(&self, caller: &Caller, record: Record<'_>, outcome: Outcome) {
        append(self.store.as_ref(), caller, None, record, outcome).await;
    }

    /// Records how a change ended (success, or error with its message) and passes it on.
    pub async fn audited<T>(
        &self,
        caller: &Caller,
        record: Record<'_>,
        result: Result<T>,
    ) -> Result<T> {
        self.accounts().audited(caller, record, result).await
    }

    /// A page of the audit log: instance admins see every row, repository admins the rows of
    /// the repositories they administer.
    pub async fn list_audit(&self, caller: &Caller, query: ListAudit) -> Result<AuditPage> {
        self.authorize(caller, Action::AuditRead, None).await?;
        let visible = if caller.is_instance_admin() {
            None
        } else {
            let repositories = self.store.list_repositories().await?;
            Some(
                repositories
                    .into_iter()
                    .filter(|r| caller.level_on(r.id) == Some(Level::Admin))
                    .map(|r| r.id)
                    .collect(),
            )
        };
        let filter = AuditFilter {
            actor: non_empty(query.actor),
            action: non_empty(query.action),
            repository_id: query.repository.map(domain::RepositoryId),
            visible,
            since_ms: query.since_ms,
            until_ms: query.until_ms,
            before: query.before,
            limit: query.limit.unwrap_or(DEFAULT_PAGE).clamp(1, 500),
        };
        let items = self.store.list_audit(&filter).await?;
        let full_page = items.len() >= filter.limit as usize;
        let next_before = items.last().filter(|_| full_page).map(|row| row.id);
        Ok(AuditPage { items, next_before })
    }
}
