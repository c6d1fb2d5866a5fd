//! Signing in and out in the browser: the sign-in page (plain HTML: it works before the
//! dashboard's script loads, and says where a new instance's first password is), the password
//! form's `POST /auth/login` (rate limited per address and per account), and
//! `POST /auth/logout` (`?everywhere=true` ends every session of the user).

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Form;
use axum::extract::{FromRequest, Query, Request, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use domain::identity::Outcome;
use domain::time::now_ms;
use serde::Deserialize;
use services::accounts::{SESSION_LIFETIME_MS, SignIn};
use services::audit::{Record, append};

use super::AppState;
use super::caller::Calling;
use super::identity::{SESSION_COOKIE, cookie, request_meta, same_origin, session_cookie};

/// Failed attempts allowed per address, and per account, within [`WINDOW_MS`].
const PER_ADDRESS: usize = 20;
const PER_ACCOUNT: usize = 10;
const WINDOW_MS: i64 = 5 * 60 * 1000;

/// Recent failed sign-ins, by `address:…` and `login:…` (this process's memory: each replica
/// limits on its own).
#[derive(Debug, Clone, Default)]
pub struct SignInLimits(Arc<Mutex<HashMap<String, VecDeque<i64>>>>);

impl SignInLimits {
    fn recent(&self, key: &str, now: i64) -> usize {
        let Ok(mut map) = self.0.lock() else { return 0 };
        let Some(times) = map.get_mut(key) else {
            return 0;
        };
        while times.front().is_some_and(|t| now - t > WINDOW_MS) {
            times.pop_front();
        }
        times.len()
    }

    fn failed(&self, keys: &[&str], now: i64) {
        if let Ok(mut map) = self.0.lock() {
            for key in keys {
                map.entry((*key).to_owned()).or_default().push_back(now);
            }
            map.retain(|_, times| times.back().is_some_and(|t| now - t <= WINDOW_MS));
        }
    }

    fn forget(&self, key: &str) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(key);
        }
    }
}

/// What the sign-in page says.
#[derive(Debug, Clone)]
pub struct SignInPage {
    /// Where a new instance's first password is written.
    pub first_password_file: PathBuf,
    /// Whether "Sign in with GitHub" is offered.
    pub github: bool,
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    next: Option<String>,
    error: Option<String>,
}

/// A local path to go back to after sign-in (never another site).
pub fn local_next(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /login`.
pub async fn page(State(state): State<AppState>, Query(query): Query<PageQuery>) -> Html<String> {
    let next = local_next(query.next.as_deref());
    Html(render(&state, query.error.as_deref(), &next))
}

/// The sign-in page, saying `error` when there is one, returning to `next` afterwards.
pub fn render(state: &AppState, error: Option<&str>, next: &str) -> String {
    let github = if state.sign_in.github {
        let next = url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>();
        format!(
            r#"<a href="/auth/github?next={next}" class="flex w-full items-center justify-center gap-2 rounded-lg border border-slate-300 px-3 py-2 text-sm font-semibold hover:bg-slate-50 dark:border-slate-700 dark:hover:bg-slate-800">Sign in with GitHub</a>
<p class="text-center text-xs text-slate-400">or with a Slipway password</p>"#
        )
    } else {
        String::new()
    };
    let next = escape(next);
    let error = error
        .map(|e| {
            format!(
                r#"<p role="alert" class="rounded-lg bg-rose-50 px-3 py-2 text-sm text-rose-700 dark:bg-rose-950 dark:text-rose-300">{}</p>"#,
                escape(e)
            )
        })
        .unwrap_or_default();
    let file = &state.sign_in.first_password_file;
    let hint = if file.exists() {
        format!(
            r#"<p class="text-sm text-slate-500 dark:text-slate-400">First time here? Sign in as <code>admin</code> with the password in <code>{}</code> on the Slipway host.</p>"#,
            escape(&file.display().to_string())
        )
    } else {
        String::new()
    };
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark"><title>Sign in · Slipway</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/pkg/slipway.css"></head>
<body class="grid min-h-screen place-items-center bg-slate-50 text-slate-900 antialiased dark:bg-slate-950 dark:text-slate-100">
<main class="w-full max-w-sm space-y-5 rounded-xl border border-slate-200 bg-white p-8 shadow-sm dark:border-slate-800 dark:bg-slate-900">
<h1 class="text-xl font-semibold tracking-tight">Sign in to Slipway</h1>
{error}
{github}
<form method="post" action="/auth/login" class="space-y-4">
<input type="hidden" name="next" value="{next}">
<label class="block text-sm font-medium">Login
<input name="login" autocomplete="username" required autofocus class="mt-1 block w-full rounded-lg border border-slate-300 bg-white px-3 py-2 dark:border-slate-700 dark:bg-slate-950"></label>
<label class="block text-sm font-medium">Password
<input name="password" type="password" autocomplete="current-password" required class="mt-1 block w-full rounded-lg border border-slate-300 bg-white px-3 py-2 dark:border-slate-700 dark:bg-slate-950"></label>
<button type="submit" class="w-full rounded-lg bg-indigo-600 px-3 py-2 text-sm font-semibold text-white hover:bg-indigo-500">Sign in</button>
</form>
{hint}
</main></body></html>"#
    )
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    login: String,
    password: String,
    next: Option<String>,
}

fn back_to_page(error: &str, next: &str) -> Response {
    let error = url::form_urlencoded::byte_serialize(error.as_bytes()).collect::<String>();
    let next = url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>();
    Redirect::to(&format!("/login?error={error}&next={next}")).into_response()
}

/// `POST /auth/login`: a session cookie and back to `next`, or back to the page saying why.
pub async fn login(State(state): State<AppState>, request: Request) -> Response {
    let meta = request_meta(&request, &state.identity);
    let foreign = request.headers().contains_key("origin")
        && !same_origin(request.headers(), &state.identity);
    let Ok(Form(form)) = Form::<LoginForm>::from_request(request, &()).await else {
        return back_to_page("enter a login and a password", "/");
    };
    let next = local_next(form.next.as_deref());
    if foreign {
        return back_to_page("sign in from Slipway's own page", &next);
    }
    let now = now_ms();
    let address_key = format!("address:{}", meta.source.as_deref().unwrap_or("unknown"));
    let account_key = format!("login:{}", form.login.trim());
    let limits = &state.sign_in_limits;
    if limits.recent(&address_key, now) >= PER_ADDRESS
        || limits.recent(&account_key, now) >= PER_ACCOUNT
    {
        let record = Record::named("auth.login_throttled").target(form.login.trim().to_owned());
        append(
            state.services.store.as_ref(),
            &services::Caller::Anonymous,
            Some(&meta),
            record,
            Outcome::Denied,
        )
        .await;
        return back_to_page(
            "too many failed sign-ins; wait a few minutes and try again",
            &next,
        );
    }
    let input = SignIn {
        login: form.login,
        password: form.password,
    };
    match state.services.accounts().sign_in(input, meta).await {
        Ok(signed_in) => {
            limits.forget(&account_key);
            let cookie = session_cookie(
                Some(&signed_in.secret),
                SESSION_LIFETIME_MS / 1000,
                &state.identity,
            );
            ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response()
        }
        Err(error) => {
            if error.kind() == domain::ErrorKind::Unauthenticated {
                limits.failed(&[&address_key, &account_key], now);
            }
            error.log();
            back_to_page(&error.to_string(), &next)
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct LogoutQuery {
    /// End every session of the user, not only this browser's.
    #[serde(default)]
    everywhere: bool,
}

/// `POST /auth/logout`: ends this browser's session (`?everywhere=true`: all of the user's).
pub async fn logout(
    State(state): State<AppState>,
    Calling(caller): Calling,
    Query(query): Query<LogoutQuery>,
    headers: HeaderMap,
) -> Response {
    let accounts = state.services.accounts();
    let ended = match cookie(&headers, SESSION_COOKIE) {
        _ if query.everywhere => accounts.sign_out_everywhere(&caller).await.map(|_| ()),
        Some(secret) => accounts.sign_out(&caller, secret).await,
        None => Ok(()),
    };
    if let Err(error) = ended {
        error.log();
    }
    let cleared = session_cookie(None, 0, &state.identity);
    ([(header::SET_COOKIE, cleared)], Redirect::to("/login")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_only_returns_to_local_pages() {
        assert_eq!(
            local_next(Some("/pipelines?status=failed")),
            "/pipelines?status=failed"
        );
        assert_eq!(local_next(Some("//evil.example/")), "/");
        assert_eq!(local_next(Some("https://evil.example/")), "/");
        assert_eq!(local_next(None), "/");
    }

    #[test]
    fn failed_sign_ins_are_counted_per_key_within_the_window() {
        let limits = SignInLimits::default();
        limits.failed(&["login:ada"], 0);
        limits.failed(&["login:ada"], 1000);
        assert_eq!(limits.recent("login:ada", 2000), 2);
        assert_eq!(limits.recent("login:ada", WINDOW_MS + 1500), 0);
        assert_eq!(limits.recent("login:bob", 2000), 0);
    }
}
