//! Accounts: turning a request's session cookie or bearer token into a caller, signing in and
//! out, and the caller's own view of themselves. Reaches only the Store, so the command line
//! uses it too, beside a running Slipway.

use std::collections::BTreeMap;
use std::sync::Arc;

pub use domain::identity::{Me, MeToken, RepositoryLevel};
use domain::identity::{NewSession, Outcome, Session, User};
use domain::time::now_ms;
use domain::{RepositoryId, Store};
use serde::Deserialize;

use crate::audit::{Record, append};
use crate::caller::{Action, Caller, Identity, Level, RequestMeta, TokenReach};
use crate::credentials::{SESSION_PREFIX, new_secret, secret_hash, verify_password};
use crate::github_levels::GitHubLevels;
use crate::{Error, Result, Services};

/// How long a session lasts after sign-in.
pub const SESSION_LIFETIME_MS: i64 = 14 * 24 * 60 * 60 * 1000;
/// Last-use times are written at most this often per session or token.
const TOUCH_EVERY_MS: i64 = 60 * 1000;

/// The identity functions, on the Store (and, for GitHub users, what GitHub grants them).
#[derive(Clone)]
pub struct Accounts {
    pub(crate) store: Arc<dyn Store>,
    github: Option<Arc<GitHubLevels>>,
}

/// A password sign-in.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct SignIn {
    pub login: String,
    pub password: String,
}

/// A new session: the secret goes into the cookie, once.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub secret: String,
    pub expires_at_ms: i64,
    pub user: User,
}

impl Services {
    /// The identity functions, on this bundle's Store.
    pub fn accounts(&self) -> Accounts {
        Accounts {
            store: self.store.clone(),
            github: self.github_levels.clone(),
        }
    }
}

impl Accounts {
    /// On the Store alone (the command line): GitHub grants nothing here.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            github: None,
        }
    }

    /// The caller a session cookie stands for; `None` when the session is unknown or expired
    /// (the request is then anonymous).
    pub async fn resolve_session(&self, secret: &str, meta: RequestMeta) -> Result<Option<Caller>> {
        if !secret.starts_with(SESSION_PREFIX) {
            return Ok(None);
        }
        let now = now_ms();
        let Some((session, user)) = self
            .store
            .session_by_hash(&secret_hash(secret), now)
            .await?
        else {
            return Ok(None);
        };
        if now - session.last_seen_at_ms > TOUCH_EVERY_MS {
            self.store.touch_session(session.id, now).await?;
        }
        Ok(Some(self.person(user, None, Some(session.id), meta).await?))
    }

    /// The caller a bearer token stands for, or `Unauthenticated` saying why it is refused
    /// (unknown, revoked, expired), recorded in the audit log.
    pub async fn resolve_token(&self, secret: &str, meta: RequestMeta) -> Result<Caller> {
        let now = now_ms();
        let found = self.store.token_by_hash(&secret_hash(secret)).await?;
        let refusal = match &found {
            None => Some("the token is not known"),
            Some((token, _)) if token.revoked_at_ms.is_some() => Some("the token was revoked"),
            Some((token, _)) if token.expires_at_ms <= now => Some("the token has expired"),
            Some(_) => None,
        };
        let (token, user) = match (found, refusal) {
            (Some(found), None) => found,
            (found, refusal) => {
                let why = refusal.unwrap_or("the token is not known");
                let mut record = Record::named("auth.token_refused").details(why);
                if let Some((token, user)) = &found {
                    record = record.target(format!("token {} of {}", token.id, user.login));
                }
                append(
                    self.store.as_ref(),
                    &Caller::Anonymous,
                    Some(&meta),
                    record,
                    Outcome::Denied,
                )
                .await;
                return Err(Error::Unauthenticated(format!("{why}; create a new one")));
            }
        };
        if token
            .last_used_at_ms
            .is_none_or(|at| now - at > TOUCH_EVERY_MS)
        {
            self.store.touch_token(token.id, now).await?;
        }
        let reach = TokenReach {
            id: token.id,
            scope: token.scope,
            repositories: token.repositories,
        };
        self.person(user, Some(reach), None, meta).await
    }

    /// A person with what their teams grant them now, and what GitHub grants a GitHub user.
    async fn person(
        &self,
        user: User,
        token: Option<TokenReach>,
        session_id: Option<i64>,
        request: RequestMeta,
    ) -> Result<Caller> {
        let grants: BTreeMap<RepositoryId, Level> = self
            .store
            .grants_of(user.id)
            .await?
            .into_iter()
            .map(|grant| (grant.repository_id, grant.level))
            .collect();
        let github = match &self.github {
            Some(levels) if user.github_id.is_some() => {
                let repositories = self.store.list_repositories().await?;
                levels.levels(&user, &repositories).await
            }
            _ => BTreeMap::new(),
        };
        Ok(Caller::Person(Arc::new(Identity {
            user,
            grants,
            github,
            token,
            session_id,
            request,
        })))
    }

    /// Signs in with a password: a new session, or `Unauthenticated` (the same answer for an
    /// unknown user and a wrong password). Both outcomes are in the audit log.
    pub async fn sign_in(&self, input: SignIn, meta: RequestMeta) -> Result<SignedIn> {
        let login = input.login.trim().to_owned();
        let found = self.store.password_of(&login).await?;
        let hash = found.as_ref().and_then(|(_, hash)| hash.clone());
        let password = input.password;
        let matches =
            tokio::task::spawn_blocking(move || verify_password(&password, hash.as_deref()))
                .await
                .map_err(|e| Error::Internal(Box::new(e)))?;
        let user = match found {
            Some((user, _)) if matches => user,
            _ => {
                let record = Record::named("auth.login_failed").target(login);
                append(
                    self.store.as_ref(),
                    &Caller::Anonymous,
                    Some(&meta),
                    record,
                    Outcome::Denied,
                )
                .await;
                return Err(Error::Unauthenticated(
                    "the login or the password is wrong".into(),
                ));
            }
        };
        self.open_session(user, meta, "password").await
    }

    /// A new session for `user`, who proved who they are by `method` (in the audit log).
    pub(crate) async fn open_session(
        &self,
        user: User,
        meta: RequestMeta,
        method: &str,
    ) -> Result<SignedIn> {
        let now = now_ms();
        let secret = new_secret(SESSION_PREFIX);
        let session = NewSession {
            token_hash: secret_hash(&secret),
            user_id: user.id,
            expires_at_ms: now + SESSION_LIFETIME_MS,
            user_agent: meta.user_agent.clone(),
            address: meta.source.clone(),
        };
        let session = self.store.create_session(&session, now).await?;
        self.store.record_login(user.id, now).await?;
        let caller = self
            .person(user.clone(), None, Some(session.id), meta)
            .await?;
        append(
            self.store.as_ref(),
            &caller,
            None,
            Record::named("auth.login").details(format!("with {method}")),
            Outcome::Success,
        )
        .await;
        tracing::info!(user.login = %user.login, method, "signed in");
        Ok(SignedIn {
            secret,
            expires_at_ms: session.expires_at_ms,
            user,
        })
    }

    /// Ends the session whose secret the cookie holds.
    pub async fn sign_out(&self, caller: &Caller, secret: &str) -> Result<()> {
        self.store.delete_session(&secret_hash(secret)).await?;
        if caller.identity().is_some() {
            append(
                self.store.as_ref(),
                caller,
                None,
                Record::named("auth.logout"),
                Outcome::Success,
            )
            .await;
        }
        Ok(())
    }

    /// Ends every session of the caller ("sign out everywhere"); how many ended.
    pub async fn sign_out_everywhere(&self, caller: &Caller) -> Result<u64> {
        let user = self.me_user(caller, Action::SessionRevoke).await?;
        let ended = self.store.delete_sessions_of(user.id).await;
        let record =
            Record::of(Action::SessionRevoke).target(format!("sessions of {}", user.login));
        self.audited(caller, record, ended.map_err(Into::into))
            .await
    }

    /// The caller's sessions that have not expired, newest first.
    pub async fn list_sessions(&self, caller: &Caller) -> Result<Vec<Session>> {
        let user = self.me_user(caller, Action::AccountRead).await?;
        Ok(self.store.list_sessions(user.id, now_ms()).await?)
    }

    /// Who the caller is, and their level on every repository they can see.
    pub async fn me(&self, caller: &Caller) -> Result<Me> {
        let user = self.me_user(caller, Action::AccountRead).await?;
        let Some(identity) = caller.identity() else {
            return Err(Error::Unauthenticated("not signed in".into()));
        };
        let repositories = self
            .store
            .list_repositories()
            .await?
            .into_iter()
            .filter_map(|repository| {
                let level = identity.level_on(repository.id)?;
                Some(RepositoryLevel {
                    id: repository.id,
                    name: repository.name,
                    level,
                })
            })
            .collect();
        Ok(Me {
            user,
            via: if identity.token.is_some() {
                "token"
            } else {
                "session"
            }
            .to_owned(),
            token: identity.token.as_ref().map(|t| MeToken {
                id: t.id,
                scope: t.scope,
                repositories: t.repositories.clone(),
            }),
            repositories,
        })
    }

    /// The calling person's user, after checking they may do `action` to their own account.
    pub(crate) async fn me_user(&self, caller: &Caller, action: Action) -> Result<User> {
        crate::access::authorize(self.store.as_ref(), caller, action, None).await?;
        match caller.identity() {
            Some(identity) => Ok(identity.user.clone()),
            None => Err(Error::invalid(
                "user",
                "Slipway itself has no account; name a user",
            )),
        }
    }

    /// Records how a change ended, as [`Services::audited`] does.
    pub(crate) async fn audited<T>(
        &self,
        caller: &Caller,
        record: Record<'_>,
        result: Result<T>,
    ) -> Result<T> {
        let outcome = match &result {
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Error,
        };
        let record = match &result {
            Err(error) => record.details(error.to_string()),
            Ok(_) => record,
        };
        append(self.store.as_ref(), caller, None, record, outcome).await;
        result
    }
}
