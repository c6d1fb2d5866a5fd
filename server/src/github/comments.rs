//! The sticky comment: one per pull request, edited on every status change. Found by the id
//! Slipway stored, else by its HTML marker (a comment from before the id was stored, or
//! another replica's), else created — also when someone deleted it.

use axum::http::{Method, StatusCode};
use domain::git_host::{GitHostError, Result};
use serde_json::{Value, json};

use super::{GitHub, refused};

/// Pages of comments searched for the marker (100 comments each).
const PAGES: u32 = 10;

fn id_of(text: &str) -> Result<u64> {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v["id"].as_u64())
        .ok_or_else(|| GitHostError::Invalid("GitHub's answer has no comment id".into()))
}

/// Edits comment `id`; `None` when it no longer exists.
async fn edit(github: &GitHub, repository: &str, id: u64, body: &Value) -> Result<Option<u64>> {
    let path = format!("/repos/{repository}/issues/comments/{id}");
    let (status, text) = github.send(Method::PATCH, &path, Some(body)).await?;
    match status {
        s if s.is_success() => Ok(Some(id)),
        StatusCode::NOT_FOUND => Ok(None),
        s => Err(refused(&format!("comment {id}"), s, &text)),
    }
}

/// The id of the pull request's comment carrying `marker`.
async fn find(github: &GitHub, repository: &str, number: i64, marker: &str) -> Result<Option<u64>> {
    for page in 1..=PAGES {
        let path = format!("/repos/{repository}/issues/{number}/comments?per_page=100&page={page}");
        let (status, text) = github.send(Method::GET, &path, None).await?;
        if !status.is_success() {
            return Err(refused(&format!("pull request #{number}"), status, &text));
        }
        let comments: Vec<Value> = serde_json::from_str(&text).unwrap_or_default();
        if let Some(id) = comments
            .iter()
            .find(|c| c["body"].as_str().is_some_and(|b| b.contains(marker)))
            .and_then(|c| c["id"].as_u64())
        {
            return Ok(Some(id));
        }
        if comments.len() < 100 {
            break;
        }
    }
    Ok(None)
}

pub async fn upsert(
    github: &GitHub,
    repository: &str,
    number: i64,
    known: Option<u64>,
    marker: &str,
    body: &str,
) -> Result<u64> {
    let content = json!({ "body": body });
    if let Some(id) = known
        && let Some(id) = edit(github, repository, id, &content).await?
    {
        return Ok(id);
    }
    if let Some(id) = find(github, repository, number, marker).await?
        && let Some(id) = edit(github, repository, id, &content).await?
    {
        return Ok(id);
    }
    let path = format!("/repos/{repository}/issues/{number}/comments");
    let (status, text) = github.send(Method::POST, &path, Some(&content)).await?;
    if status.is_success() {
        id_of(&text)
    } else {
        Err(refused(&format!("pull request #{number}"), status, &text))
    }
}
