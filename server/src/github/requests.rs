//! Sending one GitHub API request through octocrab: the answer's status and text, the rate
//! budget it reports, and waiting instead of failing when the budget is spent
//! (`x-ratelimit-remaining: 0` until `x-ratelimit-reset`, or a secondary limit's
//! `retry-after`), as GitHub asks. Transient 5xx answers and dropped connections are retried.

use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode};
use domain::git_host::{GitHostError, RateBudget, Result};
use serde_json::Value;

use super::GitHub;

const ATTEMPTS: u32 = 4;
const SERVER_ERROR_PAUSE: Duration = Duration::from_millis(250);

fn header_i64(headers: &HeaderMap, name: &str) -> Option<i64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The budget an answer reports, if it does.
pub fn budget(headers: &HeaderMap) -> Option<RateBudget> {
    Some(RateBudget {
        remaining: header_i64(headers, "x-ratelimit-remaining")?,
        limit: header_i64(headers, "x-ratelimit-limit").unwrap_or(0),
        reset_at: header_i64(headers, "x-ratelimit-reset").unwrap_or(0),
    })
}

/// How long GitHub asks us to wait before trying again, for a rate-limited answer.
pub fn rate_limit_wait(status: StatusCode, headers: &HeaderMap, now: i64) -> Option<Duration> {
    if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    if let Some(seconds) = header_i64(headers, "retry-after") {
        return Some(Duration::from_secs(seconds.max(0) as u64));
    }
    if header_i64(headers, "x-ratelimit-remaining") == Some(0) {
        let reset = header_i64(headers, "x-ratelimit-reset").unwrap_or(now + 60);
        // One more second: the reset time is whole seconds.
        return Some(Duration::from_secs((reset - now).max(0) as u64 + 1));
    }
    // A secondary limit without a hint: GitHub asks for at least a minute.
    (status == StatusCode::TOO_MANY_REQUESTS).then(|| Duration::from_secs(60))
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn unavailable(error: impl std::error::Error + Send + Sync + 'static) -> GitHostError {
    GitHostError::Unavailable(Box::new(error))
}

/// GitHub's `message` from an error answer's body, or the status.
pub fn message(status: StatusCode, text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| status.to_string())
}

impl GitHub {
    /// Sends `method path` (with a JSON `body`), waiting out rate limits up to the configured
    /// longest wait; the final status and body text.
    pub(super) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, String)> {
        let client = self.auth.client_for(path).await?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = match method {
                Method::POST => client._post(path, body).await,
                Method::PATCH => client._patch(path, body).await,
                Method::DELETE => client._delete(path, body).await,
                _ => client._get(path).await,
            };
            let response = match sent {
                Ok(response) => response,
                Err(error) if attempt < ATTEMPTS => {
                    tracing::warn!(%error, path, "GitHub request failed; retrying");
                    tokio::time::sleep(SERVER_ERROR_PAUSE * attempt).await;
                    continue;
                }
                Err(error) => return Err(unavailable(error)),
            };
            let status = response.status();
            if let Some(seen) = budget(response.headers()) {
                self.note_budget(seen);
            }
            if let Some(wait) = rate_limit_wait(status, response.headers(), now_s()) {
                if wait > self.longest_wait || attempt >= ATTEMPTS {
                    let reset_at = header_i64(response.headers(), "x-ratelimit-reset")
                        .unwrap_or(now_s() + wait.as_secs() as i64);
                    return Err(GitHostError::RateLimited { reset_at });
                }
                tracing::warn!(
                    wait_s = wait.as_secs(),
                    path,
                    "GitHub rate limit reached; waiting"
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            let text = client.body_to_string(response).await.map_err(unavailable)?;
            if status.is_server_error() && attempt < ATTEMPTS {
                tracing::warn!(%status, path, "GitHub answered with a server error; retrying");
                tokio::time::sleep(SERVER_ERROR_PAUSE * attempt).await;
                continue;
            }
            return Ok((status, text));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().expect("header value"));
        }
        map
    }

    #[test]
    fn waits_until_the_reset_or_as_long_as_asked() {
        let spent = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1010"),
        ]);
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &spent, 1000),
            Some(Duration::from_secs(11))
        );
        let secondary = headers(&[("retry-after", "30")]);
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &secondary, 1000),
            Some(Duration::from_secs(30))
        );
        let refused = headers(&[("x-ratelimit-remaining", "4999")]);
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &refused, 1000),
            None,
            "a plain 403"
        );
        assert_eq!(rate_limit_wait(StatusCode::OK, &spent, 1000), None);
    }

    #[test]
    fn the_budget_is_read_from_headers() {
        let seen = headers(&[
            ("x-ratelimit-remaining", "4321"),
            ("x-ratelimit-limit", "5000"),
            ("x-ratelimit-reset", "1800000000"),
        ]);
        assert_eq!(
            budget(&seen),
            Some(RateBudget {
                remaining: 4321,
                limit: 5000,
                reset_at: 1_800_000_000
            })
        );
        assert_eq!(budget(&HeaderMap::new()), None);
    }
}
