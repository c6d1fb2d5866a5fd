//! The one middleware that decides who is calling: a bearer token (`Authorization: Bearer
//! slw_…`), else the session cookie, else nobody. The caller goes into the request's
//! extensions, where the JSON handlers ([`super::caller::Calling`]) and the server functions
//! (through Leptos' request parts) take it for the application layer.
//!
//! It also refuses, before any handler runs: a bad token (401), a cookie-authenticated request
//! that changes something from another origin (403, cross-site request forgery), and sends
//! people who are not signed in from a dashboard page to `/login?next=…`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use domain::identity::Outcome;
use services::audit::{Record, append};
use services::caller::RequestMeta;
use services::{Caller, Services};

use super::answer::ApiError;

/// The cookie that holds a session's secret.
pub const SESSION_COOKIE: &str = "slipway_session";

/// What the middleware needs besides the Store.
#[derive(Debug, Clone)]
pub struct IdentityPolicy {
    /// `scheme://host[:port]` of `SLIPWAY_PUBLIC_URL`: requests from here are same-origin.
    pub public_origin: String,
    /// Cookies get `Secure` when the public URL is https.
    pub secure_cookies: bool,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<Vec<IpAddr>>,
}

impl IdentityPolicy {
    pub fn new(public_url: &url::Url, trusted_proxies: Vec<IpAddr>) -> Self {
        Self {
            public_origin: public_url.origin().ascii_serialization(),
            secure_cookies: public_url.scheme() == "https",
            trusted_proxies: Arc::new(trusted_proxies),
        }
    }
}

/// Paths that answer without sign-in, or check credentials of their own (HMAC, signed links).
fn is_open(path: &str) -> bool {
    const OPEN: [&str; 14] = [
        "/.well-known/oauth-protected-resource",
        "/api/openapi.json",
        "/api/artifacts/",
        "/api/transform-uploads/",
        "/login",
        "/auth/login",
        "/auth/github",
        "/healthz",
        "/readyz",
        "/metrics",
        "/webhooks/",
        "/pkg/",
        "/favicon",
        crate::objects::DOWNLOAD_ROUTE_PREFIX,
    ];
    OPEN.iter().any(|open| path.starts_with(open))
}

/// Where the request came from, for the audit log: the peer, or the client a trusted proxy
/// names.
pub fn request_meta(request: &Request, policy: &IdentityPolicy) -> RequestMeta {
    let headers = request.headers();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let forwarded = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|list| list.split(',').next())
        .map(|client| client.trim().to_owned());
    let source = match (peer, forwarded) {
        (Some(peer), Some(client)) if policy.trusted_proxies.contains(&peer) => Some(client),
        (Some(peer), _) => Some(peer.to_string()),
        (None, _) => None,
    };
    let text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(300).collect::<String>())
    };
    RequestMeta {
        source,
        user_agent: text(header::USER_AGENT),
        request_id: text(header::HeaderName::from_static("x-request-id")),
    }
}

/// The bearer token of `Authorization`, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Whether a browser sent this request from Slipway's own pages: its `Origin` is the public
/// URL's or the host it asked for, or (without `Origin`) `Sec-Fetch-Site` says same-origin.
pub fn same_origin(headers: &HeaderMap, policy: &IdentityPolicy) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(origin) = text("origin") {
        let host = text("host").unwrap_or_default();
        let own = [format!("http://{host}"), format!("https://{host}")];
        return origin == policy.public_origin || own.iter().any(|o| o == origin);
    }
    matches!(text("sec-fetch-site"), Some("same-origin" | "none"))
}

fn changes_something(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Resolves the caller, refuses what must not reach a handler, and passes the rest on.
pub async fn resolve(
    State((services, policy)): State<(Services, IdentityPolicy)>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let meta = request_meta(&request, &policy);
    let accounts = services.accounts();
    let headers = request.headers();
    // Open paths answer without credentials, whatever a client sends along.
    let caller = if is_open(&path) {
        Caller::Anonymous
    } else if let Some(token) = bearer(headers) {
        match accounts.resolve_token(token, meta).await {
            Ok(caller) => caller,
            Err(error) => {
                let mut refused = ApiError(error).into_response();
                if path.starts_with(crate::mcp::PATH) {
                    refused.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        crate::mcp::challenge(&policy.public_origin),
                    );
                }
                return refused;
            }
        }
    } else if let Some(secret) = cookie(headers, SESSION_COOKIE) {
        match accounts.resolve_session(secret, meta).await {
            Ok(Some(caller)) => {
                if changes_something(request.method()) && !same_origin(headers, &policy) {
                    let record = Record::named("auth.cross_site_refused")
                        .target(format!("{} {path}", request.method()));
                    append(
                        services.store.as_ref(),
                        &caller,
                        None,
                        record,
                        Outcome::Denied,
                    )
                    .await;
                    let refused = services::Error::Forbidden(
                        "cross-site request refused: it did not come from Slipway's own pages"
                            .into(),
                    );
                    return ApiError(refused).into_response();
                }
                caller
            }
            Ok(None) => Caller::Anonymous,
            Err(error) => return ApiError(error).into_response(),
        }
    } else {
        Caller::Anonymous
    };
    if caller == Caller::Anonymous && wants_page(&request) && !is_open(&path) {
        let wanted = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let next = url::form_urlencoded::byte_serialize(wanted.as_bytes()).collect::<String>();
        return Redirect::to(&format!("/login?next={next}")).into_response();
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// A browser navigating to a dashboard page (not the API, not an asset).
fn wants_page(request: &Request) -> bool {
    let path = request.uri().path();
    request.method() == Method::GET
        && !path.starts_with("/api/")
        && !path.starts_with("/rpc/")
        && request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
}

/// `Set-Cookie` for a new session (or, with `None`, one that clears it).
pub fn session_cookie(
    secret: Option<&str>,
    max_age_seconds: i64,
    policy: &IdentityPolicy,
) -> String {
    http_only_cookie(SESSION_COOKIE, "/", secret, max_age_seconds, policy)
}

/// `Set-Cookie` for an `HttpOnly`, `SameSite=Lax` cookie `name` under `path` (`Secure` with an
/// https public URL); `None` clears it.
pub fn http_only_cookie(
    name: &str,
    path: &str,
    value: Option<&str>,
    max_age_seconds: i64,
    policy: &IdentityPolicy,
) -> String {
    let secure = if policy.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let (value, max_age) = match value {
        Some(value) => (value, max_age_seconds),
        None => ("", 0),
    };
    format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> IdentityPolicy {
        IdentityPolicy::new(
            &url::Url::parse("https://slipway.example.com").expect("url"),
            vec![],
        )
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().expect("header"));
        }
        map
    }

    #[test]
    fn only_slipway_own_pages_count_as_same_origin() {
        let p = policy();
        assert!(same_origin(
            &headers(&[("origin", "https://slipway.example.com")]),
            &p
        ));
        assert!(same_origin(
            &headers(&[
                ("origin", "http://127.0.0.1:3000"),
                ("host", "127.0.0.1:3000")
            ]),
            &p
        ));
        assert!(!same_origin(
            &headers(&[
                ("origin", "https://evil.example"),
                ("host", "slipway.example.com")
            ]),
            &p
        ));
        assert!(same_origin(
            &headers(&[("sec-fetch-site", "same-origin")]),
            &p
        ));
        assert!(!same_origin(
            &headers(&[("sec-fetch-site", "cross-site")]),
            &p
        ));
        assert!(!same_origin(&headers(&[]), &p));
    }

    #[test]
    fn the_session_cookie_is_http_only_lax_and_secure_on_https() {
        let set = session_cookie(Some("sls_x"), 60, &policy());
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Secure"));
        assert_eq!(
            cookie(
                &headers(&[("cookie", "a=1; slipway_session=sls_x")]),
                SESSION_COOKIE
            ),
            Some("sls_x")
        );
    }
}
