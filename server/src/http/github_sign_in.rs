//! Sign in with GitHub in the browser: `GET /auth/github` starts it (the sealed state goes
//! into a short-lived `HttpOnly` cookie scoped to `/auth/github`, and the browser to GitHub);
//! `GET /auth/github/callback` finishes it (a session cookie and back to the page the person
//! came from), or shows the sign-in page saying what went wrong, with the status that says it.

use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use services::accounts::SESSION_LIFETIME_MS;
use services::github_sign_in::{Callback, PENDING_LIFETIME_MS};

use super::AppState;
use super::identity::{cookie, http_only_cookie, request_meta, session_cookie};
use super::sign_in::{local_next, render};

/// The cookie holding a started sign-in.
const PENDING_COOKIE: &str = "slipway_github_sign_in";
const PENDING_PATH: &str = "/auth/github";

#[derive(Debug, Deserialize)]
pub struct StartQuery {
    next: Option<String>,
}

/// The sign-in page with `error`, answered with `status`.
fn failed(state: &AppState, status: StatusCode, error: &str, next: &str) -> Response {
    let cleared = http_only_cookie(PENDING_COOKIE, PENDING_PATH, None, 0, &state.identity);
    (
        status,
        [(header::SET_COOKIE, cleared)],
        Html(render(state, Some(error), next)),
    )
        .into_response()
}

/// `GET /auth/github?next=…`.
pub async fn start(State(state): State<AppState>, Query(query): Query<StartQuery>) -> Response {
    let next = local_next(query.next.as_deref());
    match state.services.start_github_sign_in(&next) {
        Ok(started) => {
            let pending = http_only_cookie(
                PENDING_COOKIE,
                PENDING_PATH,
                Some(&started.pending),
                PENDING_LIFETIME_MS / 1000,
                &state.identity,
            );
            ([(header::SET_COOKIE, pending)], Redirect::to(&started.url)).into_response()
        }
        Err(error) => {
            error.log();
            failed(
                &state,
                app::error::status_of(error.kind()),
                &error.to_string(),
                &next,
            )
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /auth/github/callback?code=…&state=…`.
pub async fn callback(State(state): State<AppState>, request: Request) -> Response {
    let meta = request_meta(&request, &state.identity);
    let query = Query::<CallbackQuery>::try_from_uri(request.uri())
        .map(|q| q.0)
        .unwrap_or_default();
    let callback = Callback {
        code: query.code,
        state: query.state,
        error: query.error,
        pending: cookie(request.headers(), PENDING_COOKIE).map(str::to_owned),
    };
    match state.services.finish_github_sign_in(callback, meta).await {
        Ok(finished) => {
            let session = session_cookie(
                Some(&finished.signed_in.secret),
                SESSION_LIFETIME_MS / 1000,
                &state.identity,
            );
            let cleared = http_only_cookie(PENDING_COOKIE, PENDING_PATH, None, 0, &state.identity);
            let mut response = Redirect::to(&local_next(Some(&finished.next))).into_response();
            for value in [session, cleared] {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    response.headers_mut().append(header::SET_COOKIE, value);
                }
            }
            response
        }
        Err(error) => {
            error.log();
            failed(
                &state,
                app::error::status_of(error.kind()),
                &error.to_string(),
                "/",
            )
        }
    }
}
