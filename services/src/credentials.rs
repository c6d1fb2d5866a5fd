//! Secrets people hold: passwords (argon2id PHC hashes; a sign-in for an unknown user costs
//! what a wrong password costs) and random bearer secrets for sessions and API tokens (the
//! Store keeps only their SHA-256).

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// What every personal API token starts with (so secret scanners and people recognise one).
pub const TOKEN_PREFIX: &str = "slw_";
/// What every session secret starts with.
pub const SESSION_PREFIX: &str = "sls_";
/// Passwords shorter than this are refused.
pub const MIN_PASSWORD: usize = 12;

/// A new random secret: `prefix` and 32 random bytes in hex.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// A generated password: 24 characters a person can type.
pub fn new_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

/// How the Store keys a session or token secret.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// An argon2id hash of `password` (OWASP's default parameters), in PHC format.
pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Internal(e.to_string().into()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| Error::Internal(e.to_string().into()))
}

/// Whether `password` matches `hash`; without a hash (an unknown user, or one who signs in
/// with GitHub only) the same work is done against a fixed hash, and the answer is no.
pub fn verify_password(password: &str, hash: Option<&str>) -> bool {
    static UNKNOWN_USER: OnceLock<String> = OnceLock::new();
    let fallback =
        UNKNOWN_USER.get_or_init(|| hash_password("no user has this password").unwrap_or_default());
    let (hash, known) = match hash {
        Some(hash) => (hash, true),
        None => (fallback.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let matches = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    matches && known
}

/// A password a person chose: long enough, not blank.
pub fn check_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(Error::invalid(
            "password",
            format!("a password needs at least {MIN_PASSWORD} characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_hash_only() {
        let hash = hash_password("correct horse battery").expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse battery", Some(&hash)));
        assert!(!verify_password("wrong horse battery", Some(&hash)));
        assert!(!verify_password("correct horse battery", None));
    }

    #[test]
    fn secrets_are_prefixed_random_and_stored_as_hashes() {
        let one = new_secret(TOKEN_PREFIX);
        let two = new_secret(TOKEN_PREFIX);
        assert!(one.starts_with("slw_") && one.len() == 68, "{one}");
        assert_ne!(one, two);
        assert_eq!(secret_hash(&one).len(), 64);
        assert_ne!(secret_hash(&one), one);
        assert_eq!(new_password().len(), 24);
    }
}
