//! The JSON API's extractors: axum's `Path`, `Query` and `Json`, whose rejections (a path id
//! that is not a number, a query or body that does not parse) answer like every other invalid
//! input, `400` with `{"error": "..."}`, instead of axum's plain-text answers; a body over the
//! limit is `413` with the same shape.

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::answer::{ApiError, ErrorBody};

fn invalid(message: String) -> ApiError {
    ApiError(services::Error::InvalidInput {
        field: None,
        message,
    })
}

/// Path parameters.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(invalid(rejection.body_text())),
        }
    }
}

/// Query parameters.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(invalid(rejection.body_text())),
        }
    }
}

/// A JSON body.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = BodyRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, BodyRejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(BodyRejection::of(rejection.status(), rejection.body_text())),
        }
    }
}

/// Why a request body was not read: larger than the route takes (`413`), or not what it takes
/// (`400`); both answered with the JSON error body every answer has.
#[derive(Debug)]
pub enum BodyRejection {
    TooLarge,
    Invalid(ApiError),
}

impl BodyRejection {
    /// From an axum rejection's status and text.
    pub fn of(status: StatusCode, text: String) -> Self {
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            Self::TooLarge
        } else {
            Self::Invalid(invalid(text))
        }
    }
}

impl From<ApiError> for BodyRejection {
    fn from(error: ApiError) -> Self {
        Self::Invalid(error)
    }
}

impl IntoResponse for BodyRejection {
    fn into_response(self) -> Response {
        match self {
            Self::Invalid(error) => error.into_response(),
            Self::TooLarge => {
                let body = ErrorBody {
                    error: format!(
                        "the request body is larger than the {} MiB this route takes",
                        super::DEFAULT_BODY_LIMIT / (1024 * 1024)
                    ),
                    field: None,
                };
                (StatusCode::PAYLOAD_TOO_LARGE, Json(body)).into_response()
            }
        }
    }
}
