//! JSON answers shared by the API handlers: `{"error": "..."}` with the status a client can act
//! on. Internal details are logged once here and never sent.

use axum::Json;
use axum::http::StatusCode;
use domain::StoreError;
use serde_json::{Value, json};

pub type Answer = (StatusCode, Json<Value>);

/// 404 for what does not exist, 409 for conflicts, 503 when the database is down, else 500.
pub fn store_failure(error: &StoreError, api: &str) -> Answer {
    let status = match error {
        StoreError::NotFound { .. } => StatusCode::NOT_FOUND,
        StoreError::Conflict { .. } => StatusCode::CONFLICT,
        StoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        StoreError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status.is_server_error() {
        tracing::error!(error = %app::error::error_chain(error), "{api} API failed");
    }
    let message = if status.is_client_error() {
        error.to_string()
    } else {
        "the database cannot answer now".to_owned()
    };
    (status, Json(json!({ "error": message })))
}

pub fn bad_request(message: impl Into<String>) -> Answer {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": message.into() })),
    )
}

/// `Some(parsed)` for a non-empty value, `None` for absent or empty, or a 400 naming the
/// accepted values.
pub fn parse_choice<T: Copy>(
    name: &str,
    value: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
    known: &[&str],
) -> Result<Option<T>, Answer> {
    match value.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(text) => parse(text).map(Some).ok_or_else(|| {
            bad_request(format!(
                "{name} `{text}` is not one of: {}",
                known.join(", ")
            ))
        }),
    }
}

/// A shared action's error with the status its kind calls for.
pub fn app_failure(error: &app::error::AppError) -> Answer {
    use app::error::ErrorKind;
    let status = match error.kind {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, Json(json!({ "error": error.message })))
}
