//! Keyed hash tokens: `[CARD:k1:gfhacbdpmkaoijel]`.
//!
//! The token is an HMAC-SHA256 of the value under a secret key, truncated,
//! so the same card or customer can be correlated across lines and across
//! instances sharing the key without being revealed. An unkeyed hash of a
//! card number can be brute-forced in seconds, so there is none. The key id
//! in the token makes rotation visible. Card numbers are normalised to their
//! digits first, so `4111 1111 1111 1111` and `4111111111111111` give the
//! same token.
//!
//! The MAC is written with the letters `a`–`p` (one per 4 bits) rather than
//! hex digits, so a token can never contain a run of digits that looks like
//! a card number or any other secret.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The default number of MAC characters in a token (4 bits each): 64 bits,
/// so collisions are negligible for correlation.
pub const DEFAULT_TOKEN_CHARS: usize = 16;

/// A secret HMAC key and its public id.
#[derive(Clone)]
pub struct HashKey {
    id: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for HashKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("HashKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl HashKey {
    /// A key; fails when the secret is shorter than 16 bytes or the id is
    /// not made of letters, digits, `-` and `_`.
    pub fn new(id: &str, secret: &[u8]) -> Result<HashKey, super::PolicyError> {
        if secret.len() < 16 {
            return Err(super::PolicyError::ShortHashKey { len: secret.len() });
        }
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(super::PolicyError::HashKeyId { id: id.to_string() });
        }
        Ok(HashKey {
            id: id.to_string(),
            secret: secret.to_vec(),
        })
    }

    /// The key's public id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Writes hash tokens.
#[derive(Clone, Debug)]
pub struct Hasher {
    key: HashKey,
    chars: usize,
}

impl Hasher {
    /// A hasher writing `chars` MAC characters (clamped to 12..=64).
    pub fn new(key: HashKey, chars: usize) -> Hasher {
        Hasher {
            key,
            chars: chars.clamp(12, 64),
        }
    }

    /// Writes `[NAME:keyid:mac]` for `value` into `out`; `digits_only`
    /// normalises card numbers.
    pub fn write_token(&self, name: &str, digits_only: bool, value: &[u8], out: &mut Vec<u8>) {
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.key.secret) {
            Ok(m) => m,
            // HMAC accepts keys of any length.
            Err(_) => unreachable!("HMAC takes any key length"),
        };
        // The rule name is part of the input, so equal values of different
        // kinds do not correlate.
        mac.update(name.as_bytes());
        mac.update(b"\0");
        if digits_only {
            for &b in value {
                if b.is_ascii_digit() {
                    mac.update(&[b]);
                }
            }
        } else {
            mac.update(value);
        }
        let digest = mac.finalize().into_bytes();
        out.push(b'[');
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(self.key.id.as_bytes());
        out.push(b':');
        for i in 0..self.chars {
            let byte = digest[i / 2];
            let nibble = if i % 2 == 0 { byte >> 4 } else { byte & 0x0f };
            out.push(b'a' + nibble);
        }
        out.push(b']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(h: &Hasher, name: &str, digits: bool, v: &str) -> String {
        let mut out = Vec::new();
        h.write_token(name, digits, v.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn tokens_are_stable_keyed_and_normalised() {
        let h = Hasher::new(HashKey::new("k1", b"0123456789abcdef0123").unwrap(), 16);
        let a = token(&h, "CARD", true, "4111 1111 1111 1111");
        assert_eq!(a, token(&h, "CARD", true, "4111111111111111"));
        assert!(
            a.starts_with("[CARD:k1:") && a.len() == "[CARD:k1:]".len() + 16,
            "{a}"
        );
        assert!(!a[9..].bytes().any(|b| b.is_ascii_digit()));
        let other = Hasher::new(HashKey::new("k2", b"another key of 16+ bytes").unwrap(), 16);
        assert_ne!(a[9..], token(&other, "CARD", true, "4111111111111111")[9..]);
        assert_ne!(
            token(&h, "EMAIL", false, "a@b.co"),
            token(&h, "EMAIL", false, "a@b.com")
        );
    }

    #[test]
    fn weak_keys_are_refused() {
        assert!(HashKey::new("k1", b"short").is_err());
        assert!(HashKey::new("bad id", b"0123456789abcdef").is_err());
        assert!(
            !format!("{:?}", HashKey::new("k1", b"0123456789abcdef").unwrap()).contains("0123")
        );
    }
}
