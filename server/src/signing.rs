//! Slipway's own signed URLs (HMAC-SHA256 over path and expiry), for downloads from backends
//! that cannot presign, such as the filesystem. The key comes from `SLIPWAY_SIGNING_KEY` or is
//! generated once into the data dir.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const KEY_FILE: &str = "signing.key";

/// Signs and verifies `(path, expires)` pairs.
#[derive(Clone)]
pub struct UrlSigner {
    keyed: Arc<HmacSha256>,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigner(***)")
    }
}

/// Why a signed URL is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the link has expired")]
    Expired,
    #[error("the link's signature is not valid")]
    Invalid,
}

impl UrlSigner {
    /// A signer with `key`; HMAC takes keys of any length, so this fails only on an empty key.
    pub fn new(key: &SecretString) -> std::io::Result<Self> {
        let secret = key.expose_secret().as_bytes();
        if secret.is_empty() {
            return Err(std::io::Error::other("the signing key is empty"));
        }
        let keyed = HmacSha256::new_from_slice(secret).map_err(std::io::Error::other)?;
        Ok(Self {
            keyed: Arc::new(keyed),
        })
    }

    /// The configured key, or the one kept in `data_dir` (created on first start, mode 0600).
    pub fn from_config_or_data_dir(
        key: Option<&SecretString>,
        data_dir: &Path,
    ) -> std::io::Result<Self> {
        Self::new(&key_or_generated(key, data_dir, KEY_FILE)?)
    }

    fn mac(&self, path: &str, expires: u64) -> HmacSha256 {
        let mut mac = HmacSha256::clone(&self.keyed);
        mac.update(path.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// `(expires, signature)` for `path`, valid for `ttl` from now.
    pub fn sign(&self, path: &str, ttl: Duration) -> (u64, String) {
        let expires = unix_now().saturating_add(ttl.as_secs().max(1));
        (expires, self.sign_until(path, expires))
    }

    /// The signature of `path` valid until `expires` (seconds since the epoch).
    pub fn sign_until(&self, path: &str, expires: u64) -> String {
        hex::encode(self.mac(path, expires).finalize().into_bytes())
    }

    /// Checks a signature in constant time, then the expiry.
    pub fn verify(&self, path: &str, expires: u64, signature: &str) -> Result<(), SignatureError> {
        let bytes = hex::decode(signature).map_err(|_| SignatureError::Invalid)?;
        self.mac(path, expires)
            .verify_slice(&bytes)
            .map_err(|_| SignatureError::Invalid)?;
        if unix_now() > expires {
            Err(SignatureError::Expired)
        } else {
            Ok(())
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// `key` when configured, else the key kept in `data_dir/file`, generated (256 random bits,
/// hex, mode 0600) on first use and read back on every start after.
pub fn key_or_generated(
    key: Option<&SecretString>,
    data_dir: &Path,
    file: &str,
) -> std::io::Result<SecretString> {
    if let Some(key) = key {
        return Ok(key.clone());
    }
    let path = data_dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(existing) if existing.trim().len() >= 32 => {
            return Ok(existing.trim().to_owned().into());
        }
        Ok(_) | Err(_) => {}
    }
    std::fs::create_dir_all(data_dir)?;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let key = hex::encode(bytes);
    write_private(&path, &key)?;
    Ok(key.into())
}

#[cfg(unix)]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(content.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    std::fs::write(path, content)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> UrlSigner {
        UrlSigner::new(&"k".repeat(32).into()).expect("signer")
    }

    #[test]
    fn a_signature_works_for_its_path_only() {
        let (expires, sig) = signer().sign("/objects/a.log", Duration::from_secs(60));
        assert_eq!(signer().verify("/objects/a.log", expires, &sig), Ok(()));
        assert_eq!(
            signer().verify("/objects/b.log", expires, &sig),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            signer().verify("/objects/a.log", expires + 1, &sig),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            signer().verify("/objects/a.log", expires, "zz"),
            Err(SignatureError::Invalid)
        );
        let other = UrlSigner::new(&"x".repeat(32).into()).expect("signer");
        assert_eq!(
            other.verify("/objects/a.log", expires, &sig),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn an_expired_signature_is_refused() {
        let expires = unix_now() - 5;
        let sig = hex::encode(signer().mac("/p", expires).finalize().into_bytes());
        assert_eq!(
            signer().verify("/p", expires, &sig),
            Err(SignatureError::Expired)
        );
    }

    #[test]
    fn the_generated_key_is_kept_across_restarts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = UrlSigner::from_config_or_data_dir(None, dir.path()).expect("generate");
        let second = UrlSigner::from_config_or_data_dir(None, dir.path()).expect("reuse");
        let (expires, sig) = first.sign("/p", Duration::from_secs(60));
        assert_eq!(second.verify("/p", expires, &sig), Ok(()));
    }
}
