//! `slipway healthcheck [--ready]`: asks the Slipway listening on `SLIPWAY_LISTEN` (an
//! unspecified address is asked on loopback) for `/healthz`, or `/readyz`, and exits 0 when
//! it answers 200 within a few seconds — for container `HEALTHCHECK`s and service managers,
//! so an image needs no curl. What is wrong is said in one line.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// How long the server has to answer.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Why the check failed, in words.
#[derive(Debug, thiserror::Error)]
pub enum HealthcheckError {
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
    #[error("Slipway does not answer at {url}: {reason}")]
    NoAnswer { url: String, reason: String },
    #[error("{url} answered {status}: {body}")]
    Unhealthy {
        url: String,
        status: u16,
        body: String,
    },
}

/// Where a server listening on `listen` is reached from this host.
fn reachable(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// Asks the server; what it said when it is healthy (or ready, with `ready`).
pub async fn check(listen: SocketAddr, ready: bool) -> Result<String, HealthcheckError> {
    let path = if ready { "/readyz" } else { "/healthz" };
    let url = format!("http://{}{path}", reachable(listen));
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(HealthcheckError::Client)?;
    let answer = client
        .get(&url)
        .send()
        .await
        .map_err(|e| HealthcheckError::NoAnswer {
            url: url.clone(),
            reason: domain::error_chain(&e),
        })?;
    let status = answer.status().as_u16();
    let body: String = answer
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(500)
        .collect();
    if status == 200 {
        Ok(format!("{url}: {}", body.trim()))
    } else {
        Err(HealthcheckError::Unhealthy {
            url,
            status,
            body: body.trim().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_listen_address_is_asked_on_loopback() {
        let any: SocketAddr = "0.0.0.0:3000".parse().expect("address");
        assert_eq!(reachable(any).to_string(), "127.0.0.1:3000");
        let any6: SocketAddr = "[::]:3000".parse().expect("address");
        assert_eq!(reachable(any6).to_string(), "[::1]:3000");
        let set: SocketAddr = "10.1.2.3:8080".parse().expect("address");
        assert_eq!(reachable(set), set);
    }
}
