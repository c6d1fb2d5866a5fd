//! What GitHub lets a GitHub user do on Slipway's repositories: their collaborator permission
//! on each repository this GitHub serves, asked with Slipway's own GitHub credentials and kept
//! for a while (15 minutes by default), so a list page costs no GitHub call once warm. A
//! destructive action asks again, live ([`GitHubLevels::live`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domain::git_host::{GitHost, GitHostError};
use domain::identity::User;
use domain::{Repository, RepositoryId};
use futures::StreamExt;

use crate::caller::Level;

/// How long an answer GitHub could not give is not asked again.
const RETRY_FAILED_AFTER: Duration = Duration::from_secs(60);
/// GitHub asked at once per request, at most.
const CONCURRENT_ASKS: usize = 8;
/// Past this many remembered answers, expired ones are dropped.
const PRUNE_PAST: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Answer {
    level: Option<Level>,
    until: Instant,
}

/// GitHub's answers, by GitHub user id and repository.
pub struct GitHubLevels {
    host: Arc<dyn GitHost>,
    fresh_for: Duration,
    answers: Mutex<HashMap<(i64, RepositoryId), Answer>>,
}

impl std::fmt::Debug for GitHubLevels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubLevels")
            .field("fresh_for", &self.fresh_for)
            .finish_non_exhaustive()
    }
}

impl GitHubLevels {
    /// Levels from `host`, each answer kept for `fresh_for`.
    pub fn new(host: Arc<dyn GitHost>, fresh_for: Duration) -> Self {
        Self {
            host,
            fresh_for,
            answers: Mutex::default(),
        }
    }

    /// Whether GitHub decides anything about `repository` (it is one of its remotes).
    pub fn serves(&self, repository: &Repository) -> bool {
        self.host.serves(&repository.clone_url)
    }

    /// `user`'s levels on those of `repositories` GitHub serves: fresh answers from memory,
    /// the others asked now. An answer GitHub cannot give keeps the last one known (or none)
    /// and is asked again a minute later.
    pub async fn levels(
        &self,
        user: &User,
        repositories: &[Repository],
    ) -> BTreeMap<RepositoryId, Level> {
        let Some(github_id) = user.github_id else {
            return BTreeMap::new();
        };
        let now = Instant::now();
        let mut known = BTreeMap::new();
        let mut stale = Vec::new();
        {
            let answers = self.answers.lock().unwrap_or_else(|p| p.into_inner());
            for repository in repositories.iter().filter(|r| self.serves(r)) {
                match answers.get(&(github_id, repository.id)) {
                    Some(answer) if answer.until > now => {
                        if let Some(level) = answer.level {
                            known.insert(repository.id, level);
                        }
                    }
                    _ => stale.push(repository),
                }
            }
        }
        // Owned inputs: the futures borrow nothing, so the stream stays `Send` for any caller.
        let host = self.host.clone();
        let login = user.login.clone();
        let stale: Vec<(RepositoryId, String)> =
            stale.into_iter().map(|r| (r.id, r.name.clone())).collect();
        let asked: Vec<(RepositoryId, Result<Option<Level>, GitHostError>)> =
            futures::stream::iter(stale)
                .map(move |(id, name)| {
                    let host = host.clone();
                    let login = login.clone();
                    async move { (id, ask(host.as_ref(), &name, &login).await) }
                })
                .buffer_unordered(CONCURRENT_ASKS)
                .collect()
                .await;
        let mut answers = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        for (repository, result) in asked {
            let answer = self.remember(&mut answers, (github_id, repository), result.as_ref().ok());
            if let Some(level) = answer {
                known.insert(repository, level);
            }
        }
        if answers.len() > PRUNE_PAST {
            answers.retain(|_, answer| answer.until > now);
        }
        known
    }

    /// `user`'s level on `repository` asked of GitHub now (and remembered); an error when
    /// GitHub cannot answer.
    pub async fn live(
        &self,
        user: &User,
        repository: &Repository,
    ) -> Result<Option<Level>, GitHostError> {
        let Some(github_id) = user.github_id.filter(|_| self.serves(repository)) else {
            return Ok(None);
        };
        let result = ask(self.host.as_ref(), &repository.name, &user.login).await;
        let mut answers = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        self.remember(
            &mut answers,
            (github_id, repository.id),
            result.as_ref().ok(),
        );
        result
    }

    /// Keeps GitHub's answer for `key` (`None`: it could not answer, so the last known level
    /// stays a minute more); the level to use now.
    fn remember(
        &self,
        answers: &mut HashMap<(i64, RepositoryId), Answer>,
        key: (i64, RepositoryId),
        asked: Option<&Option<Level>>,
    ) -> Option<Level> {
        let now = Instant::now();
        let answer = match asked {
            Some(level) => Answer {
                level: *level,
                until: now + self.fresh_for,
            },
            None => Answer {
                level: answers.get(&key).and_then(|a| a.level),
                until: now + RETRY_FAILED_AFTER.min(self.fresh_for),
            },
        };
        answers.insert(key, answer);
        answer.level
    }
}

/// GitHub's answer now about `login` on `repository`; a failure is logged here.
async fn ask(
    host: &dyn GitHost,
    repository: &str,
    login: &str,
) -> Result<Option<Level>, GitHostError> {
    match host.role_of(repository, login).await {
        Ok(role) => Ok(role.level()),
        Err(error) => {
            tracing::warn!(
                repository,
                error = %domain::error_chain(&error),
                "GitHub could not say what a user may do on a repository"
            );
            Err(error)
        }
    }
}
