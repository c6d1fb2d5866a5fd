//! The one error every application function returns. Its kind tells each edge how to answer
//! (HTTP status, page state, MCP error code); its message is short and safe to show. Causes of
//! unavailable and internal failures stay in the `source` and are logged once, by the edge that
//! answers ([`Error::log`]), never sent.

use domain::{ErrorKind, StoreError, error_chain};

pub type Result<T, E = Error> = std::result::Result<T, E>;

type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why an action could not be done.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nobody is signed in (or the credentials were refused; the message says why).
    #[error("{0}")]
    Unauthenticated(String),
    /// What was asked for does not exist (the message names it).
    #[error("{0}")]
    NotFound(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The input is wrong: `field` names the input field when one is to blame.
    #[error("{message}")]
    InvalidInput {
        field: Option<&'static str>,
        message: String,
    },
    /// The thing is not in a state that allows this now.
    #[error("{0}")]
    Conflict(String),
    /// A dependency did not answer: `dependency` says which, in words a user reads.
    #[error("{dependency} is unavailable; try again shortly")]
    Unavailable {
        dependency: &'static str,
        #[source]
        source: Cause,
    },
    /// Anything else: a bug or an unexpected failure.
    #[error("something went wrong on the server; it has been logged")]
    Internal(#[source] Cause),
}

impl Error {
    /// Invalid input in `field`.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: Some(field),
            message: message.into(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Unauthenticated(_) => ErrorKind::Unauthenticated,
            Self::NotFound(_) => ErrorKind::NotFound,
            Self::Forbidden(_) => ErrorKind::Forbidden,
            Self::InvalidInput { .. } => ErrorKind::InvalidInput,
            Self::Conflict(_) => ErrorKind::Conflict,
            Self::Unavailable { .. } => ErrorKind::Unavailable,
            Self::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The input field to blame, when there is one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::InvalidInput { field, .. } => *field,
            _ => None,
        }
    }

    /// Logs what the caller is not told (the causes of unavailable and internal failures);
    /// the edge that answers calls it once.
    pub fn log(&self) {
        match self {
            Self::Unavailable { .. } => {
                tracing::warn!(error = %error_chain(self), "dependency unavailable")
            }
            Self::Internal(_) => tracing::error!(error = %error_chain(self), "internal error"),
            _ => {}
        }
    }
}

impl From<crate::caller::Refusal> for Error {
    /// A refusal as the caller is told it; a hidden repository reads as a missing one.
    fn from(refusal: crate::caller::Refusal) -> Self {
        match refusal {
            crate::caller::Refusal::Unauthenticated => Self::Unauthenticated(
                "sign in, or send a token (Authorization: Bearer slw_…)".into(),
            ),
            crate::caller::Refusal::Hidden => Self::NotFound("not found".into()),
            crate::caller::Refusal::Forbidden(message) => Self::Forbidden(message),
        }
    }
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { .. } => Self::NotFound(error.to_string()),
            StoreError::Conflict { .. } | StoreError::InvalidState { .. } => {
                Self::Conflict(error.to_string())
            }
            StoreError::Unavailable(_) => Self::Unavailable {
                dependency: "the database",
                source: Box::new(error),
            },
            StoreError::Internal(_) => Self::Internal(Box::new(error)),
        }
    }
}

impl From<domain::RepositoryError> for Error {
    fn from(error: domain::RepositoryError) -> Self {
        use domain::RepositoryError::*;
        let field = match &error {
            NameMissing | NameInvalid(_) => "name",
            CloneUrlMissing | CloneUrlInvalid(_) => "clone_url",
            BranchInvalid(_) => "default_branch",
        };
        Self::invalid(field, error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_failures_keep_their_kind_and_hide_their_cause() {
        let missing = Error::from(StoreError::NotFound {
            entity: "pipeline",
            key: "7".into(),
        });
        assert_eq!(missing.kind(), ErrorKind::NotFound);
        assert_eq!(missing.to_string(), "pipeline `7` not found");
        let down = Error::from(StoreError::Unavailable(
            "connection refused to 10.1.2.3".into(),
        ));
        assert_eq!(down.kind(), ErrorKind::Unavailable);
        assert!(!down.to_string().contains("10.1.2.3"), "{down}");
        assert!(error_chain(&down).contains("connection refused"));
    }

    #[test]
    fn a_repository_error_names_its_field() {
        let error = Error::from(domain::RepositoryError::CloneUrlMissing);
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert_eq!(error.field(), Some("clone_url"));
    }
}
