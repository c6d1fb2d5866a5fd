//! How the JSON API answers: the application layer's error as `{"error": "...", "field": ...}`
//! with the status its kind calls for (logged once here when the caller is not told why), and
//! the `{"items": [...]}` shape of unpaged lists.

use axum::Json;
use axum::response::{IntoResponse, Response};
use domain::ErrorKind;
use serde::Serialize;

/// A handler's result: its answer, or the application layer's error.
pub type ApiResult<T> = Result<T, ApiError>;

/// The application layer's error, answered as JSON.
#[derive(Debug)]
pub struct ApiError(pub services::Error);

impl From<services::Error> for ApiError {
    fn from(error: services::Error) -> Self {
        Self(error)
    }
}

/// The body of every error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong, in words a person can act on.
    pub error: String,
    /// The input field to blame, for invalid input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
}

/// The HTTP status for an error of each kind, as server functions answer it too.
pub use app::error::status_of;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.log();
        let body = ErrorBody {
            error: self.0.to_string(),
            field: self.0.field(),
        };
        let mut response = (status_of(self.0.kind()), Json(body)).into_response();
        if self.0.kind() == ErrorKind::Unauthenticated {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// One server-sent event of a stream, as a client reads it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StreamEvent {
    /// `line` or `end` for logs; absent for plain data (the default `message`).
    pub event: Option<String>,
    /// The line number, for `Last-Event-ID`.
    pub id: Option<String>,
    /// A log line, or JSON (a line with its number and time, an outcome, a change).
    pub data: String,
}

/// An unpaged list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

impl<T> Items<T> {
    pub fn json(items: Vec<T>) -> Json<Self> {
        Json(Self { items })
    }
}
