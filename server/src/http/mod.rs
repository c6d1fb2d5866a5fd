//! The HTTP surface: health endpoints and metrics, GitHub webhooks, the JSON API (thin handlers
//! on the application layer, `services`, described by the OpenAPI document they generate),
//! signed downloads, signing in, and the Leptos dashboard with its server functions. One
//! middleware ([`identity::resolve`]) decides who calls, for every route.

mod accounts;
mod answer;
mod artifacts;
mod audit;
mod caller;
mod deliveries;
mod downloads;
mod events;
mod extract;
mod github_sign_in;
mod health;
pub mod identity;
mod members;
mod metrics;
mod notifications;
mod openapi;
mod pipelines;
mod previews;
mod secrets;
pub mod sign_in;
mod step_logs;
mod transform_logs;
mod transform_uploads;
mod transforms;

pub use step_logs::step_log_lines;

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
pub(crate) const DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;

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
    /// Which origin is Slipway's own, how cookies are set, which proxies are believed.
    pub identity: identity::IdentityPolicy,
    /// Recent failed sign-ins, for the rate limit.
    pub sign_in_limits: sign_in::SignInLimits,
    /// What the sign-in page says.
    pub sign_in: sign_in::SignInPage,
    /// The bearer token `/metrics` asks for, if one is set.
    pub metrics_token: Option<std::sync::Arc<secrecy::SecretString>>,
    /// What `/mcp` offers (`SLIPWAY_MCP`).
    pub mcp: crate::mcp::McpMode,
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
    let transform_upload = axum::routing::put(transform_uploads::upload).layer(
        DefaultBodyLimit::max(crate::transforms::upload::MAX_TRANSFORM_UPLOAD),
    );
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
        .routes(routes!(notifications::list, notifications::subscribe))
        .routes(routes!(notifications::unsubscribe))
        .routes(routes!(notifications::deliveries))
        .routes(routes!(notifications::delivery))
        .routes(routes!(notifications::redeliver))
        .routes(routes!(transforms::list, transforms::start))
        .routes(routes!(transforms::show))
        .routes(routes!(transforms::executions))
        .routes(routes!(transforms::artifact))
        .routes(routes!(transform_logs::follow))
        .routes(routes!(transforms::cancel))
        .routes(routes!(transforms::retry_failed))
        .routes(routes!(transforms::retry))
        .routes(routes!(transforms::queue))
        .routes(routes!(transforms::pause))
        .routes(routes!(transforms::resume))
        .route(
            "/api/transform-uploads/{execution}/{job}/{file}",
            transform_upload,
        )
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
        .routes(routes!(accounts::me))
        .routes(routes!(accounts::list_tokens, accounts::create_token))
        .routes(routes!(accounts::revoke_token))
        .routes(routes!(accounts::list_sessions, accounts::end_sessions))
        .routes(routes!(members::list_users, members::create_user))
        .routes(routes!(members::update_user, members::delete_user))
        .routes(routes!(members::list_teams, members::create_team))
        .routes(routes!(members::delete_team))
        .routes(routes!(members::add_member, members::remove_member))
        .routes(routes!(members::grant, members::revoke))
        .routes(routes!(audit::list))
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
    let mcp = axum::Router::new()
        .nest_service(crate::mcp::PATH, crate::mcp::service(state.clone()))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::mcp::guard,
        ));
    Router::new()
        .merge(api)
        .merge(mcp)
        .route(crate::mcp::METADATA_PATH, get(crate::mcp::metadata))
        .route(
            "/api/openapi.json",
            get(openapi::openapi_json).with_state(document),
        )
        .route("/metrics", get(metrics::metrics))
        .route("/login", get(sign_in::page))
        .route("/auth/login", post(sign_in::login))
        .route("/auth/logout", post(sign_in::logout))
        .route("/auth/github", get(github_sign_in::start))
        .route("/auth/github/callback", get(github_sign_in::callback))
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
        .layer(axum::middleware::from_fn_with_state(
            (state.services.clone(), state.identity.clone()),
            identity::resolve,
        ))
        .layer(DefaultBodyLimit::max(DEFAULT_BODY_LIMIT))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
