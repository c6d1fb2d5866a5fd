//! Entry points for `cargo fuzz` (`fuzz/`, built with `--cfg fuzzing`): what a sender or an
//! operator hands Slipway before anything is checked. Errors are fine; a panic is a bug.

use axum::http::{HeaderMap, HeaderValue, header};
use secrecy::SecretString;

use crate::config::Config;
use crate::config::Sources;
use crate::webhooks::signature::{WebhookSecrets, sign};

const SECRET: &str = "fuzz-webhook-secret";

/// A webhook delivery's body (JSON, or form-encoded when `form`) and `X-Hub-Signature-256`
/// value, as the intake reads them: the signature check, then the payload's decoding and the
/// pull request it describes. The body's own signature always verifies.
pub fn webhook_delivery(body: &[u8], signature: &str, form: bool) {
    let secrets = WebhookSecrets::new(vec![SecretString::from(SECRET)]);
    let _ = secrets.verify(body, Some(signature));
    assert!(
        secrets.verify(body, Some(&sign(SECRET, body))).is_ok(),
        "a body's own signature verifies"
    );
    let mut headers = HeaderMap::new();
    let content_type = if form {
        "application/x-www-form-urlencoded"
    } else {
        "application/json"
    };
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let delivery = crate::webhooks::intake::describe("fuzz-1", "pull_request", &headers, body);
    if let Ok(payload) = serde_json::from_str::<serde_json::Value>(&delivery.payload) {
        let _ = crate::webhooks::events::snapshot(&payload);
    }
}

/// A configuration file (TOML) as `slipway --config FILE` reads it, then checked as at start.
pub fn config_file(text: &str) {
    let Ok(sources) = Sources::from_toml_str(text) else {
        return;
    };
    if let Ok(config) = Config::from_sources(&sources) {
        let _ = config.describe(&sources);
    }
}
