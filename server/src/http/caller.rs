//! The caller of a JSON request, as the application layer takes it. The request's identity is
//! resolved once, before the handler, into a `Caller` in the request's extensions; a request
//! that carries none is anonymous.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use services::Caller;

/// Extracts the request's caller.
#[derive(Debug, Clone)]
pub struct Calling(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for Calling {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let caller = parts.extensions.get::<Caller>().cloned();
        Ok(Self(caller.unwrap_or(Caller::Anonymous)))
    }
}
