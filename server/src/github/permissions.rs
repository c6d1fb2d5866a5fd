//! What a GitHub user may do on a repository: the collaborator permission endpoint, read with
//! the App's installation token or the configured token.

use axum::http::{Method, StatusCode};
use domain::git_host::{GitHostError, RepositoryRole, Result};
use serde::Deserialize;

use super::{GitHub, refused};

#[derive(Deserialize)]
struct Answer {
    permission: Option<String>,
    role_name: Option<String>,
}

/// `login`'s role on `repository`; `None` when GitHub knows no such collaborator.
pub async fn role_of(github: &GitHub, repository: &str, login: &str) -> Result<RepositoryRole> {
    let login: String = url::form_urlencoded::byte_serialize(login.as_bytes()).collect();
    let path = format!("/repos/{repository}/collaborators/{login}/permission");
    let (status, text) = github.send(Method::GET, &path, None).await?;
    if status == StatusCode::NOT_FOUND {
        return Ok(RepositoryRole::None);
    }
    if !status.is_success() {
        return Err(refused(
            &format!("the permissions of {repository}"),
            status,
            &text,
        ));
    }
    let answer: Answer = serde_json::from_str(&text).map_err(|e| {
        GitHostError::Invalid(format!("GitHub's permission answer is not readable: {e}"))
    })?;
    Ok(RepositoryRole::from_answer(
        answer.role_name.as_deref(),
        answer.permission.as_deref(),
    ))
}
