//! The one error type server functions return: it keeps the kind (so pages can react) and a
//! short message that is safe to show. Internal details are logged on the server, never sent.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// What went wrong, as far as the page needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    NotFound,
    Forbidden,
    InvalidInput,
    Conflict,
    Unavailable,
    Internal,
}

/// A server function's error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub kind: ErrorKind,
    pub message: String,
}

impl AppError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
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

impl From<domain::RepositoryError> for AppError {
    fn from(error: domain::RepositoryError) -> Self {
        Self::new(ErrorKind::InvalidInput, error.to_string())
    }
}

#[cfg(feature = "ssr")]
impl From<domain::StoreError> for AppError {
    fn from(error: domain::StoreError) -> Self {
        use domain::StoreError;
        match &error {
            StoreError::NotFound { .. } => Self::new(ErrorKind::NotFound, error.to_string()),
            StoreError::Conflict { .. } => Self::new(ErrorKind::Conflict, error.to_string()),
            StoreError::Unavailable(_) => {
                tracing::warn!(error = %error_chain(&error), "store unavailable");
                Self::new(
                    ErrorKind::Unavailable,
                    "The database is unavailable; try again shortly.",
                )
            }
            StoreError::Internal(_) => {
                tracing::error!(error = %error_chain(&error), "store error");
                Self::new(
                    ErrorKind::Internal,
                    "Something went wrong on the server; it has been logged.",
                )
            }
        }
    }
}

/// `error: cause: cause`, for logs.
#[cfg(feature = "ssr")]
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
