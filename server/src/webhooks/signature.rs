//! `X-Hub-Signature-256` verification: HMAC-SHA256 of the raw body under each configured
//! secret (several while one is being rotated), compared in constant time.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

const PREFIX: &str = "sha256=";

/// Why a delivery's signature is refused; the messages are safe to return to the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the X-Hub-Signature-256 header is missing")]
    Missing,
    #[error("the X-Hub-Signature-256 header is not `sha256=` followed by 64 hex digits")]
    Malformed,
    #[error("the signature does not match the body under any configured webhook secret")]
    Mismatch,
}

/// The configured webhook secrets.
#[derive(Clone, Default)]
pub struct WebhookSecrets(Vec<SecretString>);

impl std::fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookSecrets({} configured)", self.0.len())
    }
}

impl WebhookSecrets {
    pub fn new(secrets: Vec<SecretString>) -> Self {
        Self(secrets)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Checks `header` (the `X-Hub-Signature-256` value) against `body`.
    pub fn verify(&self, body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
        let header = header.ok_or(SignatureError::Missing)?;
        let digest = header
            .trim()
            .strip_prefix(PREFIX)
            .and_then(|hex_digits| hex::decode(hex_digits).ok())
            .filter(|d| d.len() == 32)
            .ok_or(SignatureError::Malformed)?;
        let matches = self.0.iter().any(|secret| {
            Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
                .map(|mut mac| {
                    mac.update(body);
                    mac.verify_slice(&digest).is_ok()
                })
                .unwrap_or(false)
        });
        if matches {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

/// The `X-Hub-Signature-256` value GitHub would send for `body` under `secret`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(body);
    format!("{PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(list: &[&str]) -> WebhookSecrets {
        WebhookSecrets::new(
            list.iter()
                .map(|s| SecretString::from(s.to_string()))
                .collect(),
        )
    }

    // GitHub's documented example: secret "It's a Secret to Everybody", body "Hello, World!".
    #[test]
    fn github_s_published_example_verifies() {
        let expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(
            sign("It's a Secret to Everybody", b"Hello, World!"),
            expected
        );
        assert_eq!(
            secrets(&["It's a Secret to Everybody"]).verify(b"Hello, World!", Some(expected)),
            Ok(())
        );
    }

    #[test]
    fn wrong_missing_malformed_and_tampered_signatures_are_refused() {
        let body = br#"{"zen":"Keep it logically awesome."}"#;
        let good = sign("current", body);
        let configured = secrets(&["current"]);
        assert_eq!(configured.verify(body, None), Err(SignatureError::Missing));
        assert_eq!(
            configured.verify(body, Some("sha1=abc")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            configured.verify(body, Some(&sign("other", body))),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            configured.verify(b"{\"zen\":\"tampered\"}", Some(&good)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn during_a_rotation_either_secret_is_accepted() {
        let body = b"{}";
        let rotating = secrets(&["new", "old"]);
        assert_eq!(rotating.verify(body, Some(&sign("old", body))), Ok(()));
        assert_eq!(rotating.verify(body, Some(&sign("new", body))), Ok(()));
    }
}
