//! Listing a repository's open pull requests, for reconciliation: each item read the way a
//! `pull_request` event is (its base repository stands in for the event's `repository`).

use axum::http::Method;
use domain::git_host::{GitHostError, Result};
use domain::pull_request::PullRequestSnapshot;
use serde_json::{Value, json};

use super::{GitHub, refused};

const PER_PAGE: usize = 100;

pub async fn open(
    github: &GitHub,
    repository: &str,
    limit: usize,
) -> Result<Vec<PullRequestSnapshot>> {
    let mut found = Vec::new();
    let mut page = 1;
    while found.len() < limit {
        let path = format!(
            "/repos/{repository}/pulls?state=open&sort=created&direction=desc&per_page={PER_PAGE}&page={page}"
        );
        let (status, text) = github.send(Method::GET, &path, None).await?;
        if !status.is_success() {
            return Err(refused(
                &format!("pull requests of {repository}"),
                status,
                &text,
            ));
        }
        let items: Vec<Value> = serde_json::from_str(&text).map_err(|e| {
            GitHostError::Invalid(format!("GitHub's pull request list is not JSON: {e}"))
        })?;
        for item in &items {
            let event = json!({ "pull_request": item, "repository": item["base"]["repo"] });
            match crate::webhooks::events::snapshot(&event) {
                Ok(snapshot) => found.push(snapshot),
                Err(error) => {
                    tracing::warn!(repository, %error, "skipping an unreadable pull request")
                }
            }
        }
        if items.len() < PER_PAGE {
            break;
        }
        page += 1;
    }
    found.truncate(limit);
    Ok(found)
}
