//! The JSON API described as an OpenAPI 3.1 document, `GET /api/openapi.json`, generated from
//! the handlers' own `#[utoipa::path]` declarations and types as the router registers them.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use utoipa::OpenApi;

/// What the document says of Slipway, plus the routes the router registers apart (a wildcard
/// path, and this document itself).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Slipway",
        description = "Preview environments and pipelines for pull requests. Errors are \
            `{\"error\": \"...\", \"field\": \"...\"}` with the status their kind calls for.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    paths(super::artifacts::upload, super::transform_uploads::upload, openapi_json),
    tags(
        (name = "previews", description = "Preview environments of pull requests"),
        (name = "projects", description = "Repositories"),
        (name = "pipelines", description = "Pipeline runs and their logs"),
        (name = "artifacts", description = "Files pipeline steps left behind"),
        (name = "secrets", description = "Repository secrets (values go in, never out)"),
        (name = "notifications", description = "Signed webhooks Slipway sends about runs and previews, with their deliveries"),
        (name = "transforms", description = "Transform runs: one change tried across many repositories, each patch, log and summary kept, nothing written to GitHub"),
        (name = "deliveries", description = "GitHub webhook deliveries"),
        (name = "events", description = "Live change notifications"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
pub struct ApiDoc;

/// Adds to every operation the answer any of them gives to a malformed path, query or body
/// (`400` with the error body), where its declaration does not already say it.
pub fn with_invalid_input_answers(
    mut document: utoipa::openapi::OpenApi,
) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let answer = ResponseBuilder::new()
        .description(
            "Invalid input: a path, query or body that does not parse, or a value out of range",
        )
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build();
    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            operation
                .responses
                .responses
                .entry("400".to_owned())
                .or_insert_with(|| RefOr::T(answer.clone()));
        }
    }
    document
}

/// The document, built once when the router is.
#[derive(Clone)]
pub struct Document(pub Arc<utoipa::openapi::OpenApi>);

#[utoipa::path(
    get,
    path = "/api/openapi.json",
    operation_id = "get_openapi_document",
    tag = "health",
    summary = "This document",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json"))
)]
pub async fn openapi_json(State(document): State<Document>) -> Json<Arc<utoipa::openapi::OpenApi>> {
    Json(document.0)
}
