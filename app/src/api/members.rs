//! Members, teams and the audit log for the dashboard's admin pages: the people who can sign
//! in with their instance roles, teams with their members and repositories, and a page of the
//! audit log.

use domain::identity::{AuditEntry, Team, User};
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Rows of the audit page.
pub const AUDIT_PAGE: u32 = 50;

/// Everything the Members page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Members {
    pub users: Vec<User>,
    pub teams: Vec<Team>,
    /// Every repository, `(id, name)`, for granting.
    pub repositories: Vec<(i64, String)>,
}

#[server(prefix = "/rpc", endpoint = "list_members", input = GetUrl)]
pub async fn list_members() -> Result<Members, AppError> {
    let (services, caller) = crate::context::request()?;
    let accounts = services.accounts();
    let users = accounts.list_users(&caller).await?;
    let teams = accounts.list_teams(&caller).await?;
    let repositories = services
        .list_repositories(&caller)
        .await?
        .into_iter()
        .map(|r| (r.id.0, r.name))
        .collect();
    Ok(Members {
        users,
        teams,
        repositories,
    })
}

#[server(prefix = "/rpc", endpoint = "set_member_role")]
pub async fn set_member_role(user: i64, role: String) -> Result<User, AppError> {
    let (services, caller) = crate::context::request()?;
    let change = services::users::UpdateUser {
        role: Some(role),
        password: None,
    };
    let id = domain::identity::UserId(user);
    Ok(services.accounts().update_user(&caller, id, change).await?)
}

#[server(prefix = "/rpc", endpoint = "create_team")]
pub async fn create_team(name: String) -> Result<Team, AppError> {
    let (services, caller) = crate::context::request()?;
    let input = services::teams::CreateTeam { name };
    Ok(services.accounts().create_team(&caller, input).await?)
}

#[server(prefix = "/rpc", endpoint = "delete_team")]
pub async fn delete_team(id: i64) -> Result<(), AppError> {
    let (services, caller) = crate::context::request()?;
    Ok(services.accounts().delete_team(&caller, id).await?)
}

/// Adds the user called `login` to `team` (`add`), or removes them.
#[server(prefix = "/rpc", endpoint = "set_team_member")]
pub async fn set_team_member(team: i64, login: String, add: bool) -> Result<Team, AppError> {
    let (services, caller) = crate::context::request()?;
    let accounts = services.accounts();
    let user = accounts.user_named(&caller, login.trim()).await?;
    Ok(accounts.set_member(&caller, team, user.id, add).await?)
}

/// Grants `repository` to `team` at `level` (`read`, `write`, `admin`), or `none` to take it back.
#[server(prefix = "/rpc", endpoint = "set_team_grant")]
pub async fn set_team_grant(team: i64, repository: i64, level: String) -> Result<Team, AppError> {
    let (services, caller) = crate::context::request()?;
    let level = (level != "none").then_some(services::teams::GrantLevel { level });
    let repository = domain::RepositoryId(repository);
    Ok(services
        .accounts()
        .set_grant(&caller, team, repository, level)
        .await?)
}

/// The audit page's filters (the query string).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub repository: Option<i64>,
    #[serde(default)]
    pub before: Option<i64>,
}

/// A page of the audit log, and the `before` of the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRows {
    pub items: Vec<AuditEntry>,
    pub next_before: Option<i64>,
}

#[server(prefix = "/rpc", endpoint = "list_audit", input = GetUrl)]
pub async fn list_audit(query: AuditQuery) -> Result<AuditRows, AppError> {
    let (services, caller) = crate::context::request()?;
    let blank = |text: String| Some(text.trim().to_owned()).filter(|t| !t.is_empty());
    let filter = services::audit::ListAudit {
        actor: blank(query.actor),
        action: blank(query.action),
        repository: query.repository,
        before: query.before,
        limit: Some(AUDIT_PAGE),
        ..Default::default()
    };
    let page = services.list_audit(&caller, filter).await?;
    Ok(AuditRows {
        items: page.items,
        next_before: page.next_before,
    })
}
