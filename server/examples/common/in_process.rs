//! What the in-process benchmarks share: a Slipway on SQLite in this process (over loopback),
//! and previews recorded straight into its Store, as the webhook intake would record them.

use domain::Store;
use server::config::{Config, Sources};
use server::serve::Running;
use tokio_util::sync::CancellationToken;

/// Starts Slipway on `data_dir` with `settings` besides the data dir, public URL and a quiet
/// log; it and its base URL.
pub async fn start(
    data_dir: &std::path::Path,
    settings: &[(&str, &str)],
) -> anyhow::Result<(Running, String)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let data_dir = data_dir.display().to_string();
    let mut pairs = vec![
        ("SLIPWAY_DATA_DIR", data_dir.as_str()),
        ("SLIPWAY_PUBLIC_URL", base.as_str()),
        ("SLIPWAY_LOG", "warn"),
    ];
    pairs.extend_from_slice(settings);
    let config =
        Config::from_sources(&Sources::from_pairs(pairs)).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let running = server::serve::start_on(config, listener, CancellationToken::new()).await?;
    Ok((running, base))
}
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
