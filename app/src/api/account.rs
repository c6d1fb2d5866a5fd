//! The signed-in person: who they are (for the user menu and for offering only the buttons
//! they may use) and their personal API tokens.

use domain::identity::{ApiToken, Me};
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::error::AppError;

#[server(prefix = "/rpc", endpoint = "get_me", input = GetUrl)]
pub async fn get_me() -> Result<Me, AppError> {
    let (services, caller) = crate::context::request()?;
    Ok(services.accounts().me(&caller).await?)
}

/// The "New token" form (repositories comma-separated; blank: all you can reach).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenInput {
    pub name: String,
    pub scope: String,
    #[serde(default)]
    pub repositories: String,
    pub expires_in_days: u32,
}

/// A token just made, with its secret (shown once).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NewToken {
    pub token: ApiToken,
    pub secret: String,
}

#[server(prefix = "/rpc", endpoint = "list_my_tokens", input = GetUrl)]
pub async fn list_my_tokens() -> Result<Vec<ApiToken>, AppError> {
    let (services, caller) = crate::context::request()?;
    Ok(services.accounts().list_tokens(&caller, false).await?)
}

#[server(prefix = "/rpc", endpoint = "create_my_token")]
pub async fn create_my_token(input: TokenInput) -> Result<NewToken, AppError> {
    let (services, caller) = crate::context::request()?;
    let input = services::tokens::CreateToken {
        user: None,
        name: input.name,
        scope: Some(input.scope),
        repositories: input
            .repositories
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect(),
        expires_in_days: Some(input.expires_in_days),
    };
    let created = services.accounts().create_token(&caller, input).await?;
    Ok(NewToken {
        token: created.token,
        secret: created.secret,
    })
}

#[server(prefix = "/rpc", endpoint = "revoke_my_token")]
pub async fn revoke_my_token(id: i64) -> Result<ApiToken, AppError> {
    let (services, caller) = crate::context::request()?;
    Ok(services.accounts().revoke_token(&caller, id).await?)
}
