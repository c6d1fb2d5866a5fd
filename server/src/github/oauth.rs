//! Sign in with GitHub: the OAuth web flow of the GitHub App (or an OAuth App) with `state`
//! and a PKCE challenge, through the `oauth2` crate; then `GET /user` with the user's token to
//! learn who signed in. The user's token is used for that one call and not kept.

use async_trait::async_trait;
use domain::oauth::{ExternalAccount, OAuthError, OAuthStart, SignInProvider};
use oauth2::basic::{BasicClient, BasicErrorResponse};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError,
    TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// The path GitHub sends the browser back to.
pub const CALLBACK_PATH: &str = "/auth/github/callback";

/// GitHub as the sign-in provider.
pub struct GitHubOAuth {
    client: Client,
    http: reqwest::Client,
    api_url: String,
}

impl std::fmt::Debug for GitHubOAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubOAuth")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// Why the sign-in provider cannot be built, naming the setting.
#[derive(Debug, thiserror::Error)]
pub enum OAuthConfigError {
    #[error("SLIPWAY_GITHUB_WEB_URL `{0}` does not give valid OAuth URLs")]
    WebUrl(String),
    #[error("SLIPWAY_PUBLIC_URL `{0}` does not give a valid callback URL")]
    PublicUrl(String),
    #[error("the HTTP client for GitHub sign-in cannot be built")]
    Client(#[source] reqwest::Error),
}

/// The settings of the OAuth client.
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    pub client_id: String,
    pub client_secret: SecretString,
    /// GitHub's web address (`https://github.com`, a GitHub Enterprise Server's, a fake's).
    pub web_url: String,
    pub api_url: String,
    /// Slipway's public URL; the callback is under it.
    pub public_url: String,
}

impl GitHubOAuth {
    pub fn new(settings: &OAuthSettings) -> Result<Self, OAuthConfigError> {
        let web = settings.web_url.trim_end_matches('/');
        let web_error = || OAuthConfigError::WebUrl(web.to_owned());
        let public = settings.public_url.trim_end_matches('/');
        let client = BasicClient::new(ClientId::new(settings.client_id.clone()))
            .set_client_secret(ClientSecret::new(
                settings.client_secret.expose_secret().to_owned(),
            ))
            .set_auth_type(AuthType::RequestBody)
            .set_auth_uri(
                AuthUrl::new(format!("{web}/login/oauth/authorize")).map_err(|_| web_error())?,
            )
            .set_token_uri(
                TokenUrl::new(format!("{web}/login/oauth/access_token"))
                    .map_err(|_| web_error())?,
            )
            .set_redirect_uri(
                RedirectUrl::new(format!("{public}{CALLBACK_PATH}"))
                    .map_err(|_| OAuthConfigError::PublicUrl(public.to_owned()))?,
            );
        // No redirects: a token endpoint that redirects is not followed with the code.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("slipway")
            .timeout(std::time::Duration::from_secs(15))
            .build()
            .map_err(OAuthConfigError::Client)?;
        Ok(Self {
            client,
            http,
            api_url: settings.api_url.trim_end_matches('/').to_owned(),
        })
    }
}

/// GitHub's answer to a refused exchange: it says `200 OK` with an error body.
#[derive(Deserialize)]
struct RefusalBody {
    error: String,
    error_description: Option<String>,
}

fn exchange_error(
    error: RequestTokenError<oauth2::HttpClientError<reqwest::Error>, BasicErrorResponse>,
) -> OAuthError {
    match error {
        RequestTokenError::ServerResponse(answer) => OAuthError::Refused(answer.to_string()),
        RequestTokenError::Parse(_, body) => match serde_json::from_slice::<RefusalBody>(&body) {
            Ok(refusal) => OAuthError::Refused(refusal.error_description.unwrap_or(refusal.error)),
            Err(_) => OAuthError::Unavailable("its token answer was not readable".into()),
        },
        RequestTokenError::Request(error) => OAuthError::Unavailable(error.to_string()),
        RequestTokenError::Other(message) => OAuthError::Unavailable(message),
    }
}

#[derive(Deserialize)]
struct GitHubUser {
    id: i64,
    login: String,
}

#[async_trait]
impl SignInProvider for GitHubOAuth {
    fn start(&self) -> OAuthStart {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            .set_pkce_challenge(challenge)
            .url();
        OAuthStart {
            url: url.to_string(),
            state: state.secret().clone(),
            verifier: verifier.secret().clone(),
        }
    }

    async fn finish(&self, code: &str, verifier: &str) -> Result<ExternalAccount, OAuthError> {
        let token = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(exchange_error)?;
        let answer = self
            .http
            .get(format!("{}/user", self.api_url))
            .bearer_auth(token.access_token().secret())
            .header("accept", "application/vnd.github+json")
            .send()
            .await
            .map_err(|e| OAuthError::Unavailable(e.without_url().to_string()))?;
        let status = answer.status();
        if !status.is_success() {
            return Err(OAuthError::Refused(format!(
                "GET /user answered {status} with the new token"
            )));
        }
        let user: GitHubUser = answer.json().await.map_err(|e| {
            OAuthError::Unavailable(format!("its /user answer: {}", e.without_url()))
        })?;
        Ok(ExternalAccount {
            github_id: user.id,
            login: user.login,
        })
    }
}
