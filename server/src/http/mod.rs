//! The HTTP surface: health endpoints and metrics, GitHub webhooks, the deliveries JSON API, signed
//! downloads, and the Leptos dashboard with its server functions.

mod answer;
mod artifacts;
mod caller;
mod deliveries;
mod downloads;
mod events;
mod health;
mod metrics;
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

/// All routes, with request tracing.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let services = state.services.clone();
    let provide_services = move || provide_context(services.clone());
    let options = state.leptos_options.clone();
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .route(
            "/webhooks/github",
            post(webhooks::receive_github).layer(DefaultBodyLimit::max(webhooks::MAX_BODY)),
        )
        .route("/api/events", get(events::events))
        .route("/api/deliveries", get(deliveries::list))
        .route("/api/deliveries/{id}", get(deliveries::show))
        .route(
            "/api/deliveries/{id}/redeliver",
            post(deliveries::redeliver),
        )
        .route(
            "/api/projects",
            get(pipelines::list_projects).post(pipelines::add_project),
        )
        .route(
            "/api/projects/{id}/pipelines",
            get(pipelines::list_for_project).post(pipelines::trigger),
        )
        .route(
            "/api/projects/{id}/images/{sha}",
            get(pipelines::published_image),
        )
        .route("/api/projects/{id}/secrets", get(secrets::list))
        .route(
            "/api/projects/{id}/secrets/{name}",
            axum::routing::put(secrets::put).delete(secrets::delete),
        )
        .route("/api/previews", get(previews::list))
        .route(
            "/api/previews/{key}",
            get(previews::show).delete(previews::delete),
        )
        .route("/api/previews/{key}/retry", post(previews::retry))
        .route("/api/previews/{key}/logs", get(previews::logs))
        .route("/api/operator/usage", get(previews::usage))
        .route(
            "/api/projects/{id}/pipelines/{pipeline_id}",
            get(pipelines::show_in_project),
        )
        .route(
            "/api/projects/{id}/pipelines/{pipeline_id}/cancel",
            post(pipelines::cancel_in_project),
        )
        .route(
            "/api/projects/{id}/pipelines/{pipeline_id}/steps/{step_id}/logs",
            get(step_logs::step_log_in_project),
        )
        .route(
            "/api/projects/{id}/pipelines/{pipeline_id}/artifacts",
            get(artifacts::list_in_project),
        )
        .route(
            "/api/projects/{id}/pipelines/{pipeline_id}/artifacts/{artifact_id}/download",
            get(artifacts::download_in_project),
        )
        .route("/api/pipelines", get(pipelines::list))
        .route("/api/pipelines/{id}", get(pipelines::show))
        .route("/api/pipelines/{id}/artifacts", get(artifacts::list))
        .route(
            "/api/artifacts/{pipeline}/{artifact}/{*path}",
            axum::routing::put(artifacts::upload)
                .layer(DefaultBodyLimit::max(artifacts::MAX_UPLOAD)),
        )
        .route("/api/pipelines/{id}/cancel", post(pipelines::cancel))
        .route("/api/pipelines/{id}/retry", post(pipelines::retry))
        .route(
            "/api/pipelines/{id}/steps/{step}/logs",
            get(step_logs::step_log),
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
