//! Invite and admin tokens: 160 bits from the operating system's RNG, hex-encoded; only their
//! SHA-256 is stored.

use crate::db::error::DbError;
use sha2::{Digest, Sha256};

/// Bytes of randomness in a token (160 bits).
const TOKEN_BYTES: usize = 20;

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `n` random bytes from the OS, hex-encoded.
pub(crate) fn random_hex(n: usize) -> Result<String, DbError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| DbError::Random(e.to_string()))?;
    Ok(hex(&buf))
}

/// A fresh unguessable token.
pub(crate) fn new_token() -> Result<String, DbError> {
    random_hex(TOKEN_BYTES)
}

/// The stored form of a token: hex SHA-256.
pub(crate) fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_distinct_and_hashed() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_eq!(a.len(), 40);
        assert_ne!(a, b);
        assert_eq!(hash_token("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
