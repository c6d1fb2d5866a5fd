//! Repository secrets encrypted at rest. Values are sealed with
//! XChaCha20-Poly1305 under a key from `SLIPWAY_SECRETS_KEY` (or one generated once into the
//! data dir), each with its own random nonce; the database holds only ciphertext.

use std::sync::Arc;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use domain::secrets::SealedSecret;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Why a secret could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SecretBoxError {
    #[error("secret `{0}` cannot be decrypted with this key (was SLIPWAY_SECRETS_KEY changed?)")]
    Undecryptable(String),
    #[error("secret `{0}` could not be encrypted")]
    Sealing(String),
}

/// Seals and opens secret values.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Arc<XChaCha20Poly1305>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(***)")
    }
}

impl SecretBox {
    /// A box keyed by `key` (any text; it is hashed to a 256-bit key).
    pub fn new(key: &str) -> Self {
        let digest = Sha256::digest(key.as_bytes());
        Self {
            cipher: Arc::new(XChaCha20Poly1305::new(&digest)),
        }
    }

    /// Encrypts `value`; the secret's name is bound in, so a value cannot be moved to another name.
    pub fn seal(
        &self,
        name: &str,
        value: &str,
        at_ms: i64,
    ) -> Result<SealedSecret, SecretBoxError> {
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: value.as_bytes(),
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| SecretBoxError::Sealing(name.to_owned()))?;
        Ok(SealedSecret {
            name: name.to_owned(),
            nonce: nonce.to_vec(),
            ciphertext,
            updated_at_ms: at_ms,
        })
    }

    /// Decrypts a sealed secret.
    pub fn open(&self, sealed: &SealedSecret) -> Result<String, SecretBoxError> {
        let undecryptable = || SecretBoxError::Undecryptable(sealed.name.clone());
        if sealed.nonce.len() != 24 {
            return Err(undecryptable());
        }
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(&sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: sealed.name.as_bytes(),
                },
            )
            .map_err(|_| undecryptable())?;
        String::from_utf8(plain).map_err(|_| undecryptable())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_are_bound_to_key_and_name() {
        let vault = SecretBox::new("a key of some length");
        let sealed = vault.seal("API_TOKEN", "hunter2", 1).expect("seal");
        assert!(
            !sealed.ciphertext.windows(7).any(|w| w == b"hunter2"),
            "encrypted"
        );
        assert_eq!(vault.open(&sealed).expect("open"), "hunter2");
        assert!(SecretBox::new("another key").open(&sealed).is_err());
        let moved = SealedSecret {
            name: "OTHER".into(),
            ..sealed.clone()
        };
        assert!(
            vault.open(&moved).is_err(),
            "a value cannot be moved to another name"
        );
        let again = vault.seal("API_TOKEN", "hunter2", 2).expect("seal");
        assert_ne!(again.nonce, sealed.nonce, "a fresh nonce each time");
    }
}
