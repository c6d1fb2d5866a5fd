//! Where every application function asks whether its caller may go on: [`decide`]'s answer,
//! with each refusal of a signed-in caller written to the audit log.

use std::sync::Arc;

use domain::identity::Outcome;
use domain::{Repository, Store};

use crate::audit::{Record, append};
use crate::caller::{Action, Caller, Refusal, decide};
use crate::{Error, Result, Services};

/// Whether `caller` may do `action` (on `repository` when it concerns one): `Ok`, or the
/// error the edge answers (401, 403, or 404 for a repository the caller cannot see).
pub async fn authorize(
    store: &dyn Store,
    caller: &Caller,
    action: Action,
    repository: Option<&Repository>,
) -> Result<()> {
    let refusal = match decide(caller, action, repository) {
        Ok(()) => return Ok(()),
        Err(refusal) => refusal,
    };
    if caller.identity().is_some() {
        let why = match &refusal {
            Refusal::Forbidden(message) => message.clone(),
            Refusal::Hidden => "cannot see the repository".to_owned(),
            Refusal::Unauthenticated => "not signed in".to_owned(),
        };
        let record = Record::of(action).on(repository).details(why);
        append(store, caller, None, record, Outcome::Denied).await;
    }
    tracing::debug!(
        action = action.as_str(),
        repository = repository.map(|r| r.name.as_str()),
        ?refusal,
        "refused"
    );
    Err(Error::from(refusal))
}

impl Services {
    /// [`authorize`] on this bundle's Store; before a destructive action, a level GitHub
    /// grants is asked of GitHub again, live.
    pub async fn authorize(
        &self,
        caller: &Caller,
        action: Action,
        repository: Option<&Repository>,
    ) -> Result<()> {
        match self
            .with_live_github_level(caller, action, repository)
            .await
        {
            Some(Ok(rechecked)) => {
                authorize(self.store.as_ref(), &rechecked, action, repository).await
            }
            Some(Err(unconfirmed)) => {
                // GitHub cannot answer: what Slipway's own teams grant still holds.
                authorize(self.store.as_ref(), &unconfirmed.0, action, repository)
                    .await
                    .map_err(|_| Error::Unavailable {
                        dependency: "GitHub (asked to confirm your permission)",
                        source: Box::new(unconfirmed.1),
                    })
            }
            None => authorize(self.store.as_ref(), caller, action, repository).await,
        }
    }

    /// For a destructive action of a GitHub user on a repository GitHub serves: the caller
    /// with GitHub's level asked now, or (GitHub cannot answer) without any GitHub level and
    /// why. `None` when nothing needs asking.
    async fn with_live_github_level(
        &self,
        caller: &Caller,
        action: Action,
        repository: Option<&Repository>,
    ) -> Option<Result<Caller, (Caller, domain::git_host::GitHostError)>> {
        let levels = self.github_levels.as_ref()?;
        let repository = repository.filter(|r| action.destructive() && levels.serves(r))?;
        let identity = caller.identity().filter(|i| i.user.github_id.is_some())?;
        let mut rechecked = identity.clone();
        let asked = levels.live(&identity.user, repository).await;
        let level = asked.as_ref().ok().copied().flatten();
        match level {
            Some(level) => rechecked.github.insert(repository.id, level),
            None => rechecked.github.remove(&repository.id),
        };
        let rechecked = Caller::Person(Arc::new(rechecked));
        Some(match asked {
            Ok(_) => Ok(rechecked),
            Err(error) => Err((rechecked, error)),
        })
    }

    /// Like [`Services::authorize`], but a repository the caller cannot see answers with
    /// `missing` (the message a missing thing of that kind gets).
    pub async fn authorize_or_missing(
        &self,
        caller: &Caller,
        action: Action,
        repository: &Repository,
        missing: impl FnOnce() -> Error,
    ) -> Result<()> {
        match self.authorize(caller, action, Some(repository)).await {
            Err(Error::NotFound(_)) => Err(missing()),
            other => other,
        }
    }

    /// For a thing whose repository may have been removed (`None`): only callers who see every
    /// repository may reach it; anyone else is told it is `missing`.
    pub async fn authorize_found(
        &self,
        caller: &Caller,
        action: Action,
        repository: Option<&Repository>,
        missing: impl FnOnce() -> Error,
    ) -> Result<()> {
        match repository {
            Some(repository) => {
                self.authorize_or_missing(caller, action, repository, missing)
                    .await
            }
            None if caller.visible().is_none() => self.authorize(caller, action, None).await,
            None => {
                self.authorize(caller, action, None).await?;
                Err(missing())
            }
        }
    }
}
