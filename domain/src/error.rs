//! What every edge needs to know about a failure, whichever layer it came from: its kind (so a
//! page, an API answer or a tool result can react) and how to write a chain of causes out once.

use serde::{Deserialize, Serialize};

/// What went wrong, as far as the caller needs to know. The JSON API maps it to an HTTP status,
/// the dashboard to how a page reacts, MCP to an error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Nobody is signed in: sign in, or send a token.
    Unauthenticated,
    /// The thing asked for does not exist (or the caller may not see it).
    NotFound,
    /// The caller may see it but not do this.
    Forbidden,
    /// The input is wrong; the message names the field and what it accepts.
    InvalidInput,
    /// The thing is not in a state that allows this now.
    Conflict,
    /// A dependency (database, cluster, object storage) does not answer.
    Unavailable,
    /// A bug or an unexpected failure; logged on the server, never detailed to the caller.
    Internal,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::NotFound => "not_found",
            Self::Forbidden => "forbidden",
            Self::InvalidInput => "invalid_input",
            Self::Conflict => "conflict",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }
}

/// `error: cause: cause`, for logs and stored failure reasons.
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

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner")]
    struct Inner;

    #[test]
    fn a_chain_names_every_cause_in_order() {
        assert_eq!(super::error_chain(&Outer(Inner)), "outer: inner");
    }
}
