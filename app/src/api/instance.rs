//! What this Slipway instance is running on, for the Settings and Operator pages.

use domain::health::InstanceInfo;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::error::AppError;

#[server(prefix = "/rpc", endpoint = "get_instance_info", input = GetUrl)]
pub async fn get_instance_info() -> Result<InstanceInfo, AppError> {
    let (services, caller) = crate::context::request()?;
    Ok(services.instance_info(&caller).await?)
}
