//! Kubernetes `Status` errors, as the real API server sends them, so clients (kube-rs,
//! kubectl) see the reasons they act on.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A failed API request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// `details` of the Status (name, kind, causes), when there is something to say.
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    pub fn not_found(kind: &str, plural: &str, name: &str) -> Self {
        let mut error = Self::new(404, "NotFound", format!("{plural} \"{name}\" not found"));
        error.details = Some(json!({ "name": name, "kind": plural }));
        let _ = kind;
        error
    }

    pub fn already_exists(plural: &str, name: &str) -> Self {
        let mut error = Self::new(
            409,
            "AlreadyExists",
            format!("{plural} \"{name}\" already exists"),
        );
        error.details = Some(json!({ "name": name, "kind": plural }));
        error
    }

    pub fn conflict(plural: &str, name: &str, why: &str) -> Self {
        let mut error = Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {plural} \"{name}\": {why}"),
        );
        error.details = Some(json!({ "name": name, "kind": plural }));
        error
    }

    /// Server-side apply found fields owned by other managers.
    pub fn apply_conflict(plural: &str, name: &str, conflicts: &[(String, String)]) -> Self {
        let listing: Vec<String> = conflicts
            .iter()
            .map(|(manager, field)| format!("conflict with \"{manager}\": {field}"))
            .collect();
        let causes: Vec<Value> = conflicts
            .iter()
            .map(|(manager, field)| json!({ "reason": "FieldManagerConflict", "message": format!("conflict with \"{manager}\""), "field": field }))
            .collect();
        let mut error = Self::new(
            409,
            "Conflict",
            format!(
                "Apply failed with {} conflict(s): {}",
                conflicts.len(),
                listing.join(", ")
            ),
        );
        error.details = Some(json!({ "name": name, "kind": plural, "causes": causes }));
        error
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// Semantic validation failed (`422 Unprocessable Entity`).
    pub fn invalid(kind: &str, name: &str, problems: &[String]) -> Self {
        let causes: Vec<Value> = problems
            .iter()
            .map(|p| json!({ "reason": "FieldValueInvalid", "message": p }))
            .collect();
        let mut error = Self::new(
            422,
            "Invalid",
            format!("{kind} \"{name}\" is invalid: {}", problems.join(", ")),
        );
        error.details = Some(json!({ "name": name, "kind": kind, "causes": causes }));
        error
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn not_acceptable(accept: &str) -> Self {
        Self::new(
            406,
            "NotAcceptable",
            format!("only application/json is served here, not {accept}"),
        )
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format: {content_type}"),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// Injected failures (see `Knobs`).
    pub fn injected(code: u16) -> Self {
        match code {
            429 => Self::new(
                429,
                "TooManyRequests",
                "injected: too many requests, please try again later",
            ),
            _ => Self::new(
                code,
                "InternalError",
                "injected: an error on the server has prevented the request from succeeding",
            ),
        }
    }

    pub fn not_served(path: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (code, Json(self.to_status())).into_response();
        if self.code == 429 {
            response
                .headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("1"));
        }
        response
    }
}
