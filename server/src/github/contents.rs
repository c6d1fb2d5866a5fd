//! Reading a repository file at a commit through the contents API (`.platform.yaml`): a
//! missing file is `None`, not an error.

use axum::http::{Method, StatusCode};
use base64::Engine;
use domain::git_host::{GitHostError, Result};
use serde_json::Value;

use super::{GitHub, refused};

pub async fn file_at(
    github: &GitHub,
    repository: &str,
    sha: &str,
    path: &str,
) -> Result<Option<String>> {
    let url = format!("/repos/{repository}/contents/{path}?ref={sha}");
    let (status, text) = github.send(Method::GET, &url, None).await?;
    if status == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !status.is_success() {
        return Err(refused(&format!("{path} at {sha}"), status, &text));
    }
    let answer: Value = serde_json::from_str(&text)
        .map_err(|e| GitHostError::Invalid(format!("GitHub's contents answer is not JSON: {e}")))?;
    if answer["type"] != "file" {
        return Err(GitHostError::Invalid(format!("{path} is not a file")));
    }
    // GitHub wraps the base64 text at 60 characters.
    let encoded: String = answer["content"]
        .as_str()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| GitHostError::Invalid(format!("{path}: {e}")))?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| GitHostError::Invalid(format!("{path} is not UTF-8 text")))
}
