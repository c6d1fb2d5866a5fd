//! The HTTP surface: health endpoints and metrics, GitHub webhooks, the JSON API (thin handlers
//! on the application layer, `services`, described by the OpenAPI document they generate),
//! signed downloads, and the Leptos dashboard with its server functions.

mod answer;
mod artifacts;
mod caller;
mod deliveries;
mod downloads;
mod events;
mod extract;
mod health;
mod metrics;
mod openapi;
mod pipelines;
mod previews;
mod secrets;
mod step_logs;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::routing::{get, post};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::trace::TraceLayer;

use app::{App, shell};
use services::Services;

use crate::objects::DOWNLOAD_ROUTE_PREFIX;
use crate::signing::UrlSigner;
use crate::webhooks::{self, WebhookSecrets, WebhookState};

/// Request bodies above this are refused with 413 (webhooks get their own, larger limit).
const DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub signer: UrlSigner,
    pub webhook_secrets: WebhookSecrets,
    pub leptos_options: LeptosOptions,
    /// Cancelled when the server begins to stop: long-lived responses (event streams) end.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// Logs of the pipeline steps running in this process, for live viewers.
    pub log_hub: crate::pipelines::logs::LogHub,
    /// Deliveries received and not processed yet, which deploys give way to.
    pub backlog: crate::webhooks::DeliveryBacklog,
    /// Where the intake hands recorded deliveries to the delivery worker.
    pub arrivals: crate::webhooks::worker::Arrivals,
}

impl FromRef<AppState> for WebhookState {
    fn from_ref(state: &AppState) -> Self {
        Self {
            secrets: state.webhook_secrets.clone(),
            store: state.services.store.clone(),
            bus: state.services.bus.clone(),
            backlog: state.backlog.clone(),
            arrivals: state.arrivals.clone(),
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The JSON API's routes (each declared with `#[utoipa::path]`) and the document they make.
fn api_routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    use utoipa::OpenApi;
    use utoipa_axum::router::OpenApiRouter;
    use utoipa_axum::routes;
    let upload =
        axum::routing::put(artifacts::upload).layer(DefaultBodyLimit::max(artifacts::MAX_UPLOAD));
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(events::events))
        .routes(routes!(deliveries::list))
        .routes(routes!(deliveries::show))
        .routes(routes!(deliveries::redeliver))
        .routes(routes!(pipelines::list_projects, pipelines::add_project))
        .routes(routes!(pipelines::list_for_project, pipelines::trigger))
        .routes(routes!(pipelines::published_image))
        .routes(routes!(secrets::list))
        .routes(routes!(secrets::put, secrets::delete))
        .routes(routes!(previews::list))
        .routes(routes!(previews::show, previews::delete))
        .routes(routes!(previews::retry))
        .routes(routes!(previews::logs))
        .routes(routes!(previews::usage))
        .routes(routes!(pipelines::show_in_project))
        .routes(routes!(pipelines::cancel_in_project))
        .routes(routes!(step_logs::step_log_in_project))
        .routes(routes!(artifacts::list_in_project))
        .routes(routes!(artifacts::download_in_project))
        .routes(routes!(pipelines::list))
        .routes(routes!(pipelines::show))
        .routes(routes!(artifacts::list))
        .routes(routes!(pipelines::cancel))
        .routes(routes!(pipelines::retry))
        .routes(routes!(step_logs::step_log))
        // In the document (`ApiDoc`) the upload's last parameter is `{path}`; axum matches the
        // rest of the path with `{*path}`.
        .route("/api/artifacts/{pipeline}/{artifact}/{*path}", upload)
        .split_for_parts()
}

/// All routes, with request tracing.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let services = state.services.clone();
    let provide_services = move || provide_context(services.clone());
    let options = state.leptos_options.clone();
    let (api, document) = api_routes();
    let document = openapi::with_invalid_input_answers(document);
    let document = openapi::Document(std::sync::Arc::new(document));
    Router::new()
        .merge(api)
        .route(
            "/api/openapi.json",
            get(openapi::openapi_json).with_state(document),
        )
        .route("/metrics", get(metrics::metrics))
        .route(
            "/webhooks/github",
            post(webhooks::receive_github).layer(DefaultBodyLimit::max(webhooks::MAX_BODY)),
        )
        .route(
            &format!("{DOWNLOAD_ROUTE_PREFIX}{{*key}}"),
            get(downloads::download),
        )
        .leptos_routes_with_context(&state, routes, provide_services.clone(), move || {
            shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(provide_services, shell))
        .layer(DefaultBodyLimit::max(DEFAULT_BODY_LIMIT))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
