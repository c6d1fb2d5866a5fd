//! Server-side only: what a server function needs from the request — the application layer's
//! services (provided by the `server` crate through Leptos context) and the caller.

use leptos::prelude::use_context;
use services::{Caller, Services};

use crate::error::{AppError, ErrorKind};

/// The services of this request, or an internal error if the server forgot to provide them.
pub fn services() -> Result<Services, AppError> {
    use_context::<Services>()
        .ok_or_else(|| AppError::new(ErrorKind::Internal, "server services are not configured"))
}

/// Who sent this request: the caller the server's identity middleware put in the request's
/// extensions (Leptos provides the request's parts), anonymous when there is none.
pub fn caller() -> Caller {
    use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Caller>().cloned())
        .unwrap_or(Caller::Anonymous)
}

/// The services and the caller of this request.
pub fn request() -> Result<(Services, Caller), AppError> {
    Ok((services()?, caller()))
}
