//! The one error type server functions return: it keeps the kind (so pages can react) and a
//! short message that is safe to show. Internal details are logged on the server, never sent.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

pub use domain::ErrorKind;

/// A server function's error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub kind: ErrorKind,
    pub message: String,
    /// The input field to blame, for invalid input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl AppError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            field: None,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        let kind = match value {
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => ErrorKind::InvalidInput,
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        };
        Self::new(kind, value.to_string())
    }
}

/// The application layer's error as a page sees it; what the page is not told is logged here.
/// A server function's answer carries the status the error's kind calls for (401 with
/// `WWW-Authenticate`, 403, 404, …), as the JSON API's does.
#[cfg(feature = "ssr")]
impl From<services::Error> for AppError {
    fn from(error: services::Error) -> Self {
        error.log();
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(status_of(error.kind()));
            if error.kind() == ErrorKind::Unauthenticated {
                response.insert_header(
                    http::header::WWW_AUTHENTICATE,
                    http::HeaderValue::from_static("Bearer"),
                );
            }
        }
        Self {
            kind: error.kind(),
            message: error.to_string(),
            field: error.field().map(str::to_owned),
        }
    }
}

/// The HTTP status for an error of `kind` (the JSON API answers the same).
#[cfg(feature = "ssr")]
pub fn status_of(kind: ErrorKind) -> http::StatusCode {
    use http::StatusCode;
    match kind {
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}
