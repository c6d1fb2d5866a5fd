//! Personal API tokens: made for yourself (or, by instance admins and the command line, for
//! anyone), shown once, listed with their last use, revoked.

use domain::RepositoryId;
use domain::identity::{ApiToken, NewApiToken};
use domain::time::now_ms;
use serde::{Deserialize, Serialize};

use crate::accounts::Accounts;
use crate::audit::Record;
use crate::caller::{Action, Caller, Level};
use crate::credentials::{TOKEN_PREFIX, new_secret, secret_hash};
use crate::parse::parse_choice;
use crate::{Error, Result};

/// How long a token lasts unless asked otherwise, and at most.
pub const DEFAULT_TOKEN_DAYS: u32 = 90;
pub const MAX_TOKEN_DAYS: u32 = 366;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// A token to make.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct CreateToken {
    /// Whose token, by login: yourself when absent (only admins name someone else).
    pub user: Option<String>,
    /// What it is for, e.g. `ci` or `my agent`.
    pub name: String,
    /// `read` (default), `write` or `admin`: the most it may do.
    #[schema(value_type = Option<Level>)]
    pub scope: Option<String>,
    /// Repositories (`owner/name`) it may reach; all the user can reach when empty.
    #[serde(default)]
    pub repositories: Vec<String>,
    /// Days until it expires: 1 to 366, default 90.
    #[schema(minimum = 1, maximum = 366)]
    pub expires_in_days: Option<u32>,
}

/// A new token: `secret` is shown this once and never again.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    pub token: ApiToken,
    pub secret: String,
}

impl Accounts {
    /// Makes a token; its secret is answered once.
    pub async fn create_token(&self, caller: &Caller, input: CreateToken) -> Result<CreatedToken> {
        let store = self.store.as_ref();
        crate::access::authorize(store, caller, Action::TokenCreate, None).await?;
        let name = input.name.trim().to_owned();
        if name.is_empty() || name.len() > 100 {
            return Err(Error::invalid(
                "name",
                "a token needs a name of 1 to 100 characters",
            ));
        }
        let scope = parse_choice(
            "scope",
            input.scope.as_deref(),
            Level::parse,
            &Level::ALL.map(|l| l.as_str()),
        )?
        .unwrap_or(Level::Read);
        let days = input.expires_in_days.unwrap_or(DEFAULT_TOKEN_DAYS);
        if !(1..=MAX_TOKEN_DAYS).contains(&days) {
            return Err(Error::invalid(
                "expires_in_days",
                format!("a token lasts 1 to {MAX_TOKEN_DAYS} days, not {days}"),
            ));
        }
        let user = match input
            .user
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            Some(login) if caller.identity().is_none_or(|i| i.user.login != login) => {
                if !caller.is_instance_admin() {
                    return Err(Error::Forbidden(
                        "only instance admins make tokens for someone else".into(),
                    ));
                }
                store
                    .get_user_by_login(login)
                    .await?
                    .ok_or_else(|| Error::invalid("user", format!("user `{login}` not found")))?
            }
            _ => self.me_user(caller, Action::TokenCreate).await?,
        };
        let mut repositories: Vec<RepositoryId> = Vec::new();
        for name in &input.repositories {
            let name = name.trim();
            let found = store.get_repository_named(name).await?.ok_or_else(|| {
                Error::invalid(
                    "repositories",
                    format!("repository `{name}` is not known to Slipway"),
                )
            })?;
            repositories.push(found.id);
        }
        let secret = new_secret(TOKEN_PREFIX);
        let now = now_ms();
        let new = NewApiToken {
            token_hash: secret_hash(&secret),
            user_id: user.id,
            name,
            scope,
            repositories,
            expires_at_ms: now + i64::from(days) * DAY_MS,
        };
        let record = Record::of(Action::TokenCreate)
            .target(format!("token {} of {}", new.name, user.login))
            .details(format!("scope {}, {days} days", scope.as_str()));
        let created = store.create_token(&new, now).await.map_err(Error::from);
        let token = self.audited(caller, record, created).await?;
        Ok(CreatedToken { token, secret })
    }

    /// The caller's tokens; with `all`, every user's (instance admins).
    pub async fn list_tokens(&self, caller: &Caller, all: bool) -> Result<Vec<ApiToken>> {
        if all {
            crate::access::authorize(self.store.as_ref(), caller, Action::UserRead, None).await?;
            return Ok(self.store.list_tokens(None).await?);
        }
        let user = self.me_user(caller, Action::AccountRead).await?;
        Ok(self.store.list_tokens(Some(user.id)).await?)
    }

    /// Revokes a token: one's own, or anyone's for instance admins. A token someone else
    /// owns answers `NotFound` to others, as if it did not exist.
    pub async fn revoke_token(&self, caller: &Caller, id: i64) -> Result<ApiToken> {
        let store = self.store.as_ref();
        crate::access::authorize(store, caller, Action::TokenRevoke, None).await?;
        let missing = || Error::NotFound(format!("api token `{id}` not found"));
        let token = store.get_token(id).await.map_err(|_| missing())?;
        let owns = caller
            .identity()
            .is_some_and(|i| i.user.id == token.user_id);
        if !owns && !caller.is_instance_admin() {
            return Err(missing());
        }
        let record = Record::of(Action::TokenRevoke).target(format!("token {id} ({})", token.name));
        let revoked = store.revoke_token(id, now_ms()).await.map_err(Error::from);
        self.audited(caller, record, revoked).await
    }
}
