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

/// A `text/event-stream` answer of `body`: never cached, and not held back by proxies such as
/// nginx.
pub fn event_stream(body: axum::body::Body) -> Response {
    use axum::http::{HeaderValue, header};
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// The events a task sends into `events` as they come, until it ends or Slipway stops.
pub fn event_stream_of(
    events: futures::channel::mpsc::Receiver<bytes::Bytes>,
    shutdown: tokio_util::sync::CancellationToken,
) -> Response {
    use futures::StreamExt;
    let body = events
        .map(Ok::<_, std::convert::Infallible>)
        .take_until(shutdown.cancelled_owned());
    event_stream(axum::body::Body::from_stream(body))
}
