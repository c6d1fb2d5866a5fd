//! Transform runs for the dashboard: the list, one run with its executions, one execution's
//! log and patch (shown file by file), and starting, cancelling and retrying — each one call
//! into the application layer (`services::transforms`), as the JSON API makes.

use domain::transform::{Execution, ExecutionOutput, QueueState, TransformRun, TransformRunDetail};
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::error::AppError;

/// Rows per page on the Transforms page.
pub const PAGE: u32 = 50;

#[server(prefix = "/rpc", endpoint = "list_transform_runs", input = GetUrl)]
pub async fn list_transform_runs(before: Option<i64>) -> Result<Vec<TransformRun>, AppError> {
    let (services, caller) = crate::context::request()?;
    let query = services::transforms::ListTransformRuns {
        before,
        limit: Some(PAGE),
    };
    Ok(services.list_transform_runs(&caller, query).await?.items)
}

#[server(prefix = "/rpc", endpoint = "get_transform_run", input = GetUrl)]
pub async fn get_transform_run(id: i64) -> Result<TransformRunDetail, AppError> {
    let (services, caller) = crate::context::request()?;
    Ok(services.get_transform_run_detail(&caller, id).await?)
}

#[server(prefix = "/rpc", endpoint = "get_transform_output", input = GetUrl)]
pub async fn get_transform_output(run: i64, execution: i64) -> Result<ExecutionOutput, AppError> {
    let (services, caller) = crate::context::request()?;
    Ok(services.transform_output(&caller, run, execution).await?)
}

#[server(prefix = "/rpc", endpoint = "start_transform")]
pub async fn start_transform(spec: String) -> Result<TransformRun, AppError> {
    let (services, caller) = crate::context::request()?;
    let input = services::transforms::StartTransform { spec };
    Ok(services.start_transform(&caller, input).await?)
}

#[server(prefix = "/rpc", endpoint = "cancel_transform_run")]
pub async fn cancel_transform_run(id: i64) -> Result<TransformRun, AppError> {
    let (services, caller) = crate::context::request()?;
    Ok(services.cancel_transform_run(&caller, id).await?)
}

/// How many executions were queued again.
#[server(prefix = "/rpc", endpoint = "retry_failed_transforms")]
pub async fn retry_failed_transforms(id: i64) -> Result<usize, AppError> {
    let (services, caller) = crate::context::request()?;
    Ok(services.retry_failed_transforms(&caller, id).await?.len())
}

#[server(prefix = "/rpc", endpoint = "retry_transform_execution")]
pub async fn retry_transform_execution(run: i64, execution: i64) -> Result<Execution, AppError> {
    let (services, caller) = crate::context::request()?;
    Ok(services
        .retry_transform_execution(&caller, run, execution)
        .await?
        .execution)
}

#[server(prefix = "/rpc", endpoint = "get_transform_queue", input = GetUrl)]
pub async fn get_transform_queue() -> Result<QueueState, AppError> {
    let (services, caller) = crate::context::request()?;
    Ok(services.transform_queue(&caller).await?)
}

/// `paused`: "true" to pause, anything else to resume (a form's hidden field).
#[server(prefix = "/rpc", endpoint = "set_transform_queue")]
pub async fn set_transform_queue(paused: String) -> Result<QueueState, AppError> {
    let (services, caller) = crate::context::request()?;
    Ok(services
        .set_transform_queue_paused(&caller, paused == "true")
        .await?)
}
