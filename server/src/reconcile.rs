//! Reconciliation: every few minutes, each GitHub repository's open pull requests are compared
//! with what Slipway recorded, and the difference is fixed — what a missed `opened` (or
//! `synchronize`) would have recorded is recorded, and a pull request GitHub no longer lists
//! as open is closed, as a missed `closed` would have done. API use per pass is bounded.

use std::sync::Arc;
use std::time::Duration;

use domain::Store;
use domain::git_host::GitHost;
use tokio_util::sync::CancellationToken;

use crate::webhooks::rules::PreviewRules;
use domain::time::now_ms;

/// Repositories looked at in one pass, and open pull requests read per repository.
const REPOSITORIES_PER_PASS: usize = 50;
const PULL_REQUESTS_PER_REPOSITORY: usize = 300;

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    pub repositories: usize,
    /// Pull requests recorded or brought up to date.
    pub recorded: usize,
    /// Pull requests closed because GitHub no longer lists them as open.
    pub closed: usize,
    /// What went wrong, per repository; the pass goes on with the others.
    pub errors: Vec<String>,
}

/// Why one repository could not be reconciled (the pass goes on with the others).
#[derive(Debug, thiserror::Error)]
enum ReconcileError {
    #[error("cannot list its open pull requests")]
    GitHub(#[from] domain::git_host::GitHostError),
    #[error("its preview rules cannot be used")]
    Rules(#[from] crate::webhooks::rules::RulesError),
    #[error(transparent)]
    Store(#[from] domain::StoreError),
}

async fn repository(
    store: &dyn Store,
    github: &dyn GitHost,
    repo: &domain::Repository,
    pass: &mut Pass,
) -> Result<(), ReconcileError> {
    let name = repo.name.as_str();
    let open = github
        .open_pull_requests(name, PULL_REQUESTS_PER_REPOSITORY)
        .await?;
    let rules = PreviewRules::from_config(&repo.preview_rules)?;
    for snapshot in &open {
        let verdict = rules.verdict(snapshot);
        let recorded = store
            .record_pull_request(snapshot, &verdict, now_ms())
            .await?;
        if recorded == domain::pull_request::Recorded::Applied {
            pass.recorded += 1;
        }
    }
    // Only when the whole list was read can a missing pull request mean "closed".
    if open.len() < PULL_REQUESTS_PER_REPOSITORY {
        let known = store.open_pull_request_numbers(name).await?;
        for number in known
            .iter()
            .filter(|n| !open.iter().any(|s| s.number == **n))
        {
            store
                .close_pull_request(
                    name,
                    *number,
                    "closed on GitHub (found by reconciliation)",
                    now_ms(),
                )
                .await?;
            pass.closed += 1;
        }
    }
    Ok(())
}

/// One pass over the GitHub repositories (`owner/name`) Slipway knows.
pub async fn once(store: &dyn Store, github: &dyn GitHost) -> Pass {
    let mut pass = Pass::default();
    let repositories = match store.list_repositories().await {
        Ok(list) => list,
        Err(error) => {
            pass.errors.push(domain::error_chain(&error));
            return pass;
        }
    };
    for repo in repositories
        .iter()
        .filter(|r| r.name.contains('/'))
        .take(REPOSITORIES_PER_PASS)
    {
        pass.repositories += 1;
        if let Err(error) = repository(store, github, repo, &mut pass).await {
            let error = domain::error_chain(&error);
            tracing::warn!(repository = %repo.name, %error, "reconciliation of a repository failed");
            pass.errors.push(format!("{}: {error}", repo.name));
        }
    }
    pass
}

/// Runs a pass every `every` until `stop` is cancelled.
pub async fn run(
    store: Arc<dyn Store>,
    github: Arc<dyn GitHost>,
    every: Duration,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let pass = once(store.as_ref(), github.as_ref()).await;
        tracing::info!(
            repositories = pass.repositories,
            recorded = pass.recorded,
            closed = pass.closed,
            errors = pass.errors.len(),
            "reconciliation pass"
        );
    }
}
