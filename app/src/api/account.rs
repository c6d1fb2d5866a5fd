//! The signed-in person, for the user menu and for offering only the buttons they may use.

use domain::identity::Me;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::error::AppError;

#[server(prefix = "/rpc", endpoint = "get_me", input = GetUrl)]
pub async fn get_me() -> Result<Me, AppError> {
    let (services, caller) = crate::context::request()?;
    Ok(services.accounts().me(&caller).await?)
}
