//! MCP at `/mcp`: Slipway's previews and pipelines as tools for AI agents, over the official
//! SDK's Streamable HTTP transport, stateless (no session to lose across restarts or
//! replicas). Only personal API tokens reach it: no token (or a bad one) answers `401` with
//! `WWW-Authenticate: Bearer resource_metadata=…` before any MCP processing, and the RFC 9728
//! protected-resource document is at `/.well-known/oauth-protected-resource`. Every tool is one
//! call into the application layer with the token's caller; a `read` token is offered the
//! read-only tools only.

mod answers;
mod calls;
mod inputs;
mod tools;
mod transform_calls;

use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use domain::ErrorKind;
use domain::identity::Level;
use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer};
use serde_json::json;
use services::Caller;
use services::caller::Identity;

use crate::http::AppState;

/// Where MCP is served.
pub const PATH: &str = "/mcp";
/// The protected-resource metadata document (RFC 9728).
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// What `SLIPWAY_MCP` allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum McpMode {
    Off,
    ReadOnly,
    On,
}

impl McpMode {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "off" => Some(Self::Off),
            "read-only" => Some(Self::ReadOnly),
            "on" => Some(Self::On),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::ReadOnly => "read-only",
            Self::On => "on",
        }
    }
}

/// `WWW-Authenticate` for a request MCP refuses, pointing at the metadata document.
pub fn challenge(public_url: &str) -> HeaderValue {
    let value = format!(
        "Bearer resource_metadata=\"{}{METADATA_PATH}\"",
        public_url.trim_end_matches('/')
    );
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("Bearer"))
}

/// `GET /.well-known/oauth-protected-resource`.
pub async fn metadata(State(state): State<AppState>) -> Json<serde_json::Value> {
    let base = state.services.public_url.trim_end_matches('/');
    Json(json!({
        "resource": format!("{base}{PATH}"),
        "authorization_servers": [],
        "bearer_methods_supported": ["header"],
        "resource_name": "Slipway",
        "resource_documentation": format!("{base}/settings"),
    }))
}

/// In front of `/mcp`: only a person's API token passes; anything else is `401` (or `404`
/// when MCP is off).
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if state.mcp == McpMode::Off {
        return (StatusCode::NOT_FOUND, "MCP is turned off (SLIPWAY_MCP=off)").into_response();
    }
    let by_token = request
        .extensions()
        .get::<Caller>()
        .and_then(Caller::identity)
        .is_some_and(|identity| identity.token.is_some());
    if !by_token {
        let body = Json(json!({
            "error": "MCP needs a personal API token: Authorization: Bearer slw_… (Settings → API tokens)"
        }));
        let mut response = (StatusCode::UNAUTHORIZED, body).into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            challenge(&state.services.public_url),
        );
        return response;
    }
    next.run(request).await
}

/// The MCP service mounted at `/mcp`.
pub fn service(state: AppState) -> StreamableHttpService<Tools, NeverSessionManager> {
    let host = url::Url::parse(&state.services.public_url)
        .ok()
        .and_then(|u| {
            let host = u.host_str()?.to_owned();
            Some(match u.port() {
                Some(port) => vec![host.clone(), format!("{host}:{port}")],
                None => vec![host],
            })
        })
        .unwrap_or_default();
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_allowed_hosts(host)
        .with_cancellation_token(state.shutdown.child_token());
    let tools = Tools {
        state: Arc::new(state),
    };
    StreamableHttpService::new(
        move || Ok(tools.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    )
}

/// The tools, on the application layer.
#[derive(Clone)]
pub struct Tools {
    state: Arc<AppState>,
}

/// The person whose token the request carries.
fn identity_of(context: &RequestContext<RoleServer>) -> Option<Arc<Identity>> {
    let parts = context.extensions.get::<axum::http::request::Parts>()?;
    match parts.extensions.get::<Caller>()? {
        Caller::Person(identity) => Some(identity.clone()),
        _ => None,
    }
}

/// Whether `tool` is offered to this caller under this mode.
fn offered(mode: McpMode, identity: &Identity, tool: &tools::ToolSpec) -> bool {
    let scope = identity.token.as_ref().map_or(Level::Admin, |t| t.scope);
    tool.read_only || (mode == McpMode::On && scope >= Level::Write)
}

/// A tool error a model can act on: `isError` with `{error: {code, message}}`.
fn tool_error(code: &str, message: String) -> CallToolResult {
    CallToolResult::structured_error(json!({ "error": { "code": code, "message": message } }))
}

fn code_of(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::NotFound => "NOT_FOUND",
        ErrorKind::InvalidInput | ErrorKind::Conflict => "INVALID_INPUT",
        ErrorKind::Unauthenticated | ErrorKind::Forbidden => "UNAUTHORIZED",
        _ => "SERVER_ERROR",
    }
}

impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("slipway", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Slipway's preview environments and pipeline runs, with the permissions of the token's user. \
                 Find a preview with list_preview_environments, read why it failed with get_preview_environment \
                 and get_preview_logs, then retry_preview_deployment.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let Some(identity) = identity_of(&context) else {
            return Err(ErrorData::invalid_request("no caller", None));
        };
        let listed = tools::TOOLS
            .iter()
            .filter(|tool| offered(self.state.mcp, &identity, tool))
            .map(tools::ToolSpec::describe)
            .collect();
        Ok(ListToolsResult::with_all_items(listed))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(identity) = identity_of(&context) else {
            return Err(ErrorData::invalid_request("no caller", None));
        };
        let Some(tool) = tools::named(&request.name) else {
            return Err(ErrorData::invalid_params(
                format!("there is no tool `{}`", request.name),
                None,
            ));
        };
        // A tool not offered to a read token is still the application's to refuse (and
        // audit); only the operator's read-only mode stops a call here.
        if self.state.mcp == McpMode::ReadOnly && !tool.read_only {
            let why = "MCP is read-only on this Slipway (SLIPWAY_MCP=read-only)".to_owned();
            return Ok(tool_error("UNAUTHORIZED", why).into());
        }
        // The audit log names the tool that made a change.
        let mut named = (*identity).clone();
        named.request.request_id = Some(format!("mcp:{}", tool.name));
        let caller = Caller::Person(Arc::new(named));
        let result = match calls::call(&self.state, &caller, tool.name, request.arguments).await {
            Ok(value) => CallToolResult::structured(value),
            Err(error) => {
                error.log();
                tool_error(code_of(error.kind()), error.to_string())
            }
        };
        Ok(result.into())
    }
}
