//! The sign-in provider port: GitHub's OAuth web flow, as Slipway's sign-in needs it — where
//! to send the browser (with a fresh `state` and PKCE challenge), and the GitHub account a
//! returned code stands for. Implemented with the `oauth2` crate in `server::github::oauth`;
//! tested against the fake GitHub server.

use async_trait::async_trait;

/// The start of one sign-in: where to send the browser, and what the browser must bring back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthStart {
    /// GitHub's authorize page, with the client id, redirect URI, `state` and code challenge.
    pub url: String,
    /// The random `state` GitHub hands back unchanged.
    pub state: String,
    /// The PKCE verifier whose challenge the URL carries; the token exchange must present it.
    pub verifier: String,
}

/// A GitHub account, as `GET /user` describes it with the user's own token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalAccount {
    /// GitHub's numeric id: what Slipway keys users on (logins can be renamed).
    pub github_id: i64,
    pub login: String,
}

/// Why a sign-in could not be completed at GitHub.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// GitHub refused the code (expired, used, or the verifier does not match).
    #[error("GitHub refused the sign-in: {0}")]
    Refused(String),
    /// GitHub could not be reached or answered something unexpected.
    #[error("GitHub could not be reached to finish the sign-in: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait SignInProvider: Send + Sync + 'static {
    /// A new sign-in: a fresh state and verifier, and the URL to send the browser to.
    fn start(&self) -> OAuthStart;

    /// Exchanges the code GitHub returned (with the verifier of its start) for the user's
    /// token, and asks GitHub who that is.
    async fn finish(&self, code: &str, verifier: &str) -> Result<ExternalAccount, OAuthError>;
}
