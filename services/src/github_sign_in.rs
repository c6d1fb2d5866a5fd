//! Sign in with GitHub, as the application layer runs it: [`Services::start_github_sign_in`]
//! picks a fresh `state` and PKCE verifier and seals them (with where to go afterwards and an
//! expiry) into a value the browser keeps in a short-lived cookie;
//! [`Services::finish_github_sign_in`] opens that value, checks the returned `state` against
//! it (once: a used state is refused), lets GitHub exchange the code with the verifier, and
//! signs in the GitHub account — keyed on its numeric id, created on first sign-in, an
//! instance admin when `SLIPWAY_ADMINS` names its login.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use domain::identity::{InstanceRole, NewUser, Outcome, User};
use domain::oauth::{ExternalAccount, OAuthError, SignInProvider};
use domain::time::now_ms;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::accounts::SignedIn;
use crate::audit::{Record, append};
use crate::caller::{Caller, RequestMeta};
use crate::{Error, Result, Services};

/// How long a started sign-in may take to come back.
pub const PENDING_LIFETIME_MS: i64 = 10 * 60 * 1000;
/// What the sealed value is bound to (it opens as nothing else).
const SEALED_AS: &str = "github-sign-in";

/// GitHub sign-in, when it is configured.
#[derive(Clone)]
pub struct GitHubSignIn {
    pub provider: Arc<dyn SignInProvider>,
    /// GitHub logins made instance admins at sign-in (compared without case).
    pub admins: Vec<String>,
    /// States already brought back, until they would have expired (this process's memory).
    used: Arc<Mutex<HashMap<String, i64>>>,
}

impl GitHubSignIn {
    pub fn new(provider: Arc<dyn SignInProvider>, admins: Vec<String>) -> Self {
        Self {
            provider,
            admins,
            used: Arc::default(),
        }
    }

    fn is_admin(&self, login: &str) -> bool {
        self.admins.iter().any(|a| a.eq_ignore_ascii_case(login))
    }

    /// Marks `state` used; false when it already was.
    fn first_use(&self, state: &str, expires_at_ms: i64, now: i64) -> bool {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        used.retain(|_, until| *until > now);
        used.insert(state.to_owned(), expires_at_ms).is_none()
    }
}

/// What the browser keeps between the two halves.
#[derive(Serialize, Deserialize)]
struct Pending {
    state: String,
    verifier: String,
    next: String,
    expires_at_ms: i64,
}

/// A started sign-in.
#[derive(Debug, Clone)]
pub struct Started {
    /// GitHub's authorize page to send the browser to.
    pub url: String,
    /// The sealed value for the browser's cookie.
    pub pending: String,
}

/// What GitHub's redirect brings back, with the cookie's value.
#[derive(Debug, Clone, Default)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    /// GitHub's `error` parameter, when the person declined.
    pub error: Option<String>,
    pub pending: Option<String>,
}

/// A finished sign-in and the local page to go to.
#[derive(Debug, Clone)]
pub struct Finished {
    pub signed_in: SignedIn,
    pub next: String,
}

fn not_configured() -> Error {
    Error::NotFound(
        "sign-in with GitHub is not configured (SLIPWAY_GITHUB_CLIENT_ID and SLIPWAY_GITHUB_CLIENT_SECRET)"
            .into(),
    )
}

fn bad_state() -> Error {
    Error::invalid(
        "state",
        "this sign-in link is not valid (expired, used already, or started in another browser); sign in again",
    )
}

fn same(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

impl Services {
    /// Starts a sign-in that returns to `next` (a local path).
    pub fn start_github_sign_in(&self, next: &str) -> Result<Started> {
        let sign_in = self.github_sign_in.as_ref().ok_or_else(not_configured)?;
        let start = sign_in.provider.start();
        let pending = Pending {
            state: start.state,
            verifier: start.verifier,
            next: next.to_owned(),
            expires_at_ms: now_ms() + PENDING_LIFETIME_MS,
        };
        let text = serde_json::to_string(&pending).map_err(|e| Error::Internal(Box::new(e)))?;
        let sealed = self
            .secret_box
            .seal(SEALED_AS, &text, now_ms())
            .map_err(|e| Error::Internal(Box::new(e)))?;
        let mut bytes = sealed.nonce;
        bytes.extend(sealed.ciphertext);
        Ok(Started {
            url: start.url,
            pending: hex::encode(bytes),
        })
    }

    /// Finishes a sign-in GitHub sent back: a wrong, replayed or expired state answers invalid
    /// input (400), a code GitHub refuses `Unauthenticated`, GitHub down `Unavailable`; each
    /// is in the audit log.
    pub async fn finish_github_sign_in(
        &self,
        callback: Callback,
        meta: RequestMeta,
    ) -> Result<Finished> {
        let sign_in = self.github_sign_in.as_ref().ok_or_else(not_configured)?;
        let result = self.exchange(sign_in, callback).await;
        let (account, next) = match result {
            Ok(found) => found,
            Err(error) => {
                let record = Record::named("auth.login_failed")
                    .target("github")
                    .details(error.to_string());
                append(
                    self.store.as_ref(),
                    &Caller::Anonymous,
                    Some(&meta),
                    record,
                    Outcome::Denied,
                )
                .await;
                return Err(error);
            }
        };
        let user = self.github_user(sign_in, &account, &meta).await?;
        let signed_in = self.accounts().open_session(user, meta, "github").await?;
        Ok(Finished { signed_in, next })
    }

    /// The GitHub account the callback proves, and where to go next.
    async fn exchange(
        &self,
        sign_in: &GitHubSignIn,
        callback: Callback,
    ) -> Result<(ExternalAccount, String)> {
        let pending = callback
            .pending
            .as_deref()
            .and_then(|value| self.open_pending(value))
            .ok_or_else(bad_state)?;
        let now = now_ms();
        let state_matches = callback
            .state
            .as_deref()
            .is_some_and(|state| same(state, &pending.state));
        if !state_matches || pending.expires_at_ms <= now {
            return Err(bad_state());
        }
        if !sign_in.first_use(&pending.state, pending.expires_at_ms, now) {
            return Err(bad_state());
        }
        if let Some(error) = callback.error {
            return Err(Error::Unauthenticated(format!(
                "GitHub did not sign you in ({error})"
            )));
        }
        let code = callback
            .code
            .filter(|c| !c.is_empty())
            .ok_or_else(|| Error::invalid("code", "GitHub sent no code back"))?;
        let account = sign_in
            .provider
            .finish(&code, &pending.verifier)
            .await
            .map_err(|error| match error {
                OAuthError::Refused(_) => Error::Unauthenticated(error.to_string()),
                OAuthError::Unavailable(_) => Error::Unavailable {
                    dependency: "GitHub",
                    source: Box::new(error),
                },
            })?;
        Ok((account, pending.next))
    }

    fn open_pending(&self, value: &str) -> Option<Pending> {
        let bytes = hex::decode(value).ok()?;
        if bytes.len() <= 24 {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let sealed = domain::secrets::SealedSecret {
            name: SEALED_AS.to_owned(),
            nonce: nonce.to_vec(),
            ciphertext: ciphertext.to_vec(),
            updated_at_ms: 0,
        };
        let text = self.secret_box.open(&sealed).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// The Slipway user of a GitHub account: found by its id (following a rename), or made
    /// on first sign-in; an instance admin when `SLIPWAY_ADMINS` names it.
    async fn github_user(
        &self,
        sign_in: &GitHubSignIn,
        account: &ExternalAccount,
        meta: &RequestMeta,
    ) -> Result<User> {
        let store = self.store.as_ref();
        let taken = || {
            Error::Conflict(format!(
                "the login `{}` belongs to a local account; an admin can remove that account, \
                 then sign in with GitHub again",
                account.login
            ))
        };
        let mut user = match store.get_user_by_github_id(account.github_id).await? {
            Some(user) if user.login == account.login => user,
            Some(user) => {
                if store.get_user_by_login(&account.login).await?.is_some() {
                    return Err(taken());
                }
                store.set_user_login(user.id, &account.login).await?
            }
            None => {
                if store.get_user_by_login(&account.login).await?.is_some() {
                    let record = Record::named("auth.login_failed")
                        .target(account.login.clone())
                        .details("the login belongs to a local account");
                    append(
                        store,
                        &Caller::Anonymous,
                        Some(meta),
                        record,
                        Outcome::Denied,
                    )
                    .await;
                    return Err(taken());
                }
                let created = store
                    .create_user(&NewUser {
                        login: account.login.clone(),
                        role: InstanceRole::Member,
                        password_hash: None,
                        github_id: Some(account.github_id),
                    })
                    .await?;
                let record = Record::named("user.create")
                    .target(created.login.clone())
                    .details("first sign-in with GitHub");
                append(store, &Caller::System, Some(meta), record, Outcome::Success).await;
                created
            }
        };
        if sign_in.is_admin(&user.login) && user.role != InstanceRole::Admin {
            user = store.set_user_role(user.id, InstanceRole::Admin).await?;
            let record = Record::named("user.update")
                .target(user.login.clone())
                .details("instance admin: listed in SLIPWAY_ADMINS");
            append(store, &Caller::System, Some(meta), record, Outcome::Success).await;
        }
        Ok(user)
    }
}
