//! What the in-process benchmarks share: previews recorded straight into the Store, as the
//! webhook intake would record their pull requests.

use domain::Store;
use domain::pull_request::{PreviewVerdict, PullRequestSnapshot};

/// Records `count` open pull requests that want previews, spread over `repositories`
/// repositories `acme/service-N` cloned from `{clone_base}/acme/service-N.git`.
pub async fn previews(
    store: &dyn Store,
    count: usize,
    repositories: usize,
    clone_base: &str,
) -> anyhow::Result<()> {
    for n in 0..count {
        let repository = format!("acme/service-{}", n % repositories);
        let snapshot = PullRequestSnapshot {
            clone_url: format!("{clone_base}/{repository}.git"),
            repository,
            default_branch: "main".into(),
            number: i64::try_from(n)? + 1,
            title: format!("Change {n}"),
            author: "octocat".into(),
            head_ref: format!("change-{n}"),
            head_sha: format!("{n:040}"),
            base_ref: "main".into(),
            draft: false,
            labels: Vec::new(),
            open: true,
            merged: false,
            updated_at: "2026-12-01T10:00:00Z".into(),
        };
        store
            .record_pull_request(&snapshot, &PreviewVerdict::Wanted, 1)
            .await?;
    }
    Ok(())
}
