//! Data keys and the envelope of a value encrypted at rest.
//!
//! A sensitive value is stored as the text
//! `enc:v1:<key id>:<base64url(nonce | ciphertext and tag)>`: XChaCha20-Poly1305 with a
//! random 24-byte nonce, under the data key the key id names. The associated data is
//! `v1|<table>|<column>|<row id>`, so a value copied to another row or column fails to
//! decrypt. The column type that uses this is
//! [`Encrypted`](crate::entities::encrypted::Encrypted).
//!
//! The keys come from `RFT_DATA_KEYS` (`kid:base64key,...`, the first one active) or, on
//! the embedded SQLite default, from a key file generated beside the database (see
//! [`crate::config::DbArgs::data_keys`]). A value is written under the active key and read
//! under whichever key its envelope names, so a rotation (`rft-users rotate-keys`) can
//! run while the service serves, with the old and new keys both present.
//!
//! The key ring is process-wide: SeaORM decodes a column without any context to carry it
//! in, so every command installs its keys once at start ([`install`]).

use std::sync::{Arc, RwLock};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use uuid::Uuid;

/// The envelope's prefix and version.
pub const PREFIX: &str = "enc:v1:";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Bytes in a data key.
pub const KEY_LEN: usize = 32;

/// What went wrong with a key or an envelope. It never holds a value or a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("no data keys are loaded (RFT_DATA_KEYS)")]
    NoKeys,
    #[error("RFT_DATA_KEYS: {0}")]
    BadKeys(String),
    #[error("the value in {table}.{column} of row {row} is not an encrypted value")]
    NotAnEnvelope {
        table: &'static str,
        column: &'static str,
        row: Uuid,
    },
    #[error("the value in {table}.{column} of row {row} is under key `{kid}`, which is not loaded")]
    UnknownKey {
        table: &'static str,
        column: &'static str,
        row: Uuid,
        kid: String,
    },
    #[error(
        "the value in {table}.{column} of row {row} does not decrypt: it was altered, or belongs to another row or column"
    )]
    Tampered {
        table: &'static str,
        column: &'static str,
        row: Uuid,
    },
}

/// One data key: its id and its cipher.
struct DataKey {
    kid: String,
    cipher: XChaCha20Poly1305,
}

/// The data keys: the active one (which every new value is written under) first.
pub struct Keyring {
    keys: Vec<DataKey>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("kids", &self.kids())
            .finish()
    }
}

impl Keyring {
    /// Parses `kid:base64key,kid:base64key,...` (standard base64 of 32 bytes; a key id is
    /// 1 to 32 letters, digits, `-` or `_`). The first key is the active one.
    pub fn parse(spec: &str) -> Result<Self, CryptoError> {
        let bad = |m: String| CryptoError::BadKeys(m);
        let mut keys: Vec<DataKey> = Vec::new();
        for (i, part) in spec.split(',').map(str::trim).enumerate() {
            if part.is_empty() {
                continue;
            }
            let Some((kid, key)) = part.split_once(':') else {
                return Err(bad(format!("entry {} is not `kid:base64key`", i + 1)));
            };
            let kid = kid.trim();
            if kid.is_empty()
                || kid.len() > 32
                || !kid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(bad(format!(
                    "entry {}: a key id is 1 to 32 letters, digits, `-` or `_`",
                    i + 1
                )));
            }
            if keys.iter().any(|k| k.kid == kid) {
                return Err(bad(format!("key id `{kid}` is given twice")));
            }
            let bytes = STANDARD
                .decode(key.trim())
                .map_err(|_| bad(format!("key `{kid}` is not base64")))?;
            if bytes.len() != KEY_LEN {
                return Err(bad(format!(
                    "key `{kid}` is {} bytes; a data key is {KEY_LEN} random bytes (`openssl rand -base64 32`)",
                    bytes.len()
                )));
            }
            keys.push(DataKey {
                kid: kid.to_string(),
                cipher: XChaCha20Poly1305::new_from_slice(&bytes)
                    .map_err(|_| bad(format!("key `{kid}` is not a valid key")))?,
            });
        }
        if keys.is_empty() {
            return Err(bad("no keys are given".into()));
        }
        Ok(Self { keys })
    }

    /// A new random key with id `kid`, as the text [`Keyring::parse`] reads.
    pub fn generate_spec(kid: &str) -> String {
        let mut key = [0u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut key);
        format!("{kid}:{}", STANDARD.encode(key))
    }

    /// The key ids, the active one first.
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.kid.as_str()).collect()
    }

    /// The id of the key new values are written under.
    pub fn active_kid(&self) -> &str {
        &self.keys[0].kid
    }

    /// Encrypts `plain` for `table.column` of row `row` under the active key.
    pub fn seal(&self, table: &str, column: &str, row: Uuid, plain: &[u8]) -> String {
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = associated_data(table, column, row);
        let sealed = key
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .expect("XChaCha20-Poly1305 encrypts any value of a column's size");
        let mut body = Vec::with_capacity(NONCE_LEN + sealed.len());
        body.extend_from_slice(&nonce);
        body.extend_from_slice(&sealed);
        format!("{PREFIX}{}:{}", key.kid, URL_SAFE_NO_PAD.encode(body))
    }

    /// Decrypts an envelope read from `table.column` of row `row`.
    pub fn open(
        &self,
        table: &'static str,
        column: &'static str,
        row: Uuid,
        envelope: &str,
    ) -> Result<Vec<u8>, CryptoError> {
        let not = || CryptoError::NotAnEnvelope { table, column, row };
        let (kid, body) = split(envelope).ok_or_else(not)?;
        let key =
            self.keys
                .iter()
                .find(|k| k.kid == kid)
                .ok_or_else(|| CryptoError::UnknownKey {
                    table,
                    column,
                    row,
                    kid: kid.to_string(),
                })?;
        let body = URL_SAFE_NO_PAD.decode(body).map_err(|_| not())?;
        if body.len() < NONCE_LEN + TAG_LEN {
            return Err(not());
        }
        let (nonce, sealed) = body.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| not())?;
        let aad = associated_data(table, column, row);
        key.cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::Tampered { table, column, row })
    }
}

/// `v1|table|column|row id`: what binds a value to its place.
fn associated_data(table: &str, column: &str, row: Uuid) -> Vec<u8> {
    format!("v1|{table}|{column}|{row}").into_bytes()
}

/// An envelope's key id and body; `None` when the text is not an envelope.
fn split(envelope: &str) -> Option<(&str, &str)> {
    envelope.strip_prefix(PREFIX)?.split_once(':')
}

/// The id of the key an envelope is under; `None` when the text is not an envelope (a
/// value written before encryption, still plaintext).
pub fn envelope_kid(text: &str) -> Option<&str> {
    split(text).map(|(kid, _)| kid)
}

static KEYRING: RwLock<Option<Arc<Keyring>>> = RwLock::new(None);

/// Makes `keys` the process's data keys.
pub fn install(keys: Keyring) {
    *KEYRING.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(keys));
}

/// The process's data keys.
pub fn keyring() -> Result<Arc<Keyring>, CryptoError> {
    KEYRING
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .ok_or(CryptoError::NoKeys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(spec: &str) -> Keyring {
        Keyring::parse(spec).unwrap()
    }

    #[test]
    fn a_value_opens_only_in_its_own_place_and_under_a_loaded_key() {
        let a = Keyring::generate_spec("a");
        let b = Keyring::generate_spec("b");
        let keys = ring(&format!("{a},{b}"));
        let row = Uuid::new_v4();
        let sealed = keys.seal("users", "medical_notes", row, b"Asthma");
        assert!(sealed.starts_with("enc:v1:a:"), "{sealed}");
        assert!(!sealed.contains("Asthma"));
        assert_eq!(
            keys.open("users", "medical_notes", row, &sealed).unwrap(),
            b"Asthma"
        );
        // Another row, another column, another table: refused.
        for (t, c, r) in [
            ("users", "medical_notes", Uuid::new_v4()),
            ("users", "dietary_requirements", row),
            ("bookings", "medical_notes", row),
        ] {
            assert!(matches!(
                keys.open(t, c, r, &sealed),
                Err(CryptoError::Tampered { .. })
            ));
        }
        // One flipped byte in the body: refused.
        let mut body: Vec<u8> = sealed.clone().into_bytes();
        let last = body.len() - 2;
        body[last] = if body[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(body).unwrap();
        assert!(keys.open("users", "medical_notes", row, &flipped).is_err());
        // Two nonces: two different texts for one value.
        assert_ne!(sealed, keys.seal("users", "medical_notes", row, b"Asthma"));
        // Under `b` only, a value under `a` names the missing key.
        let only_b = ring(&b);
        assert_eq!(
            only_b.open("users", "medical_notes", row, &sealed),
            Err(CryptoError::UnknownKey {
                table: "users",
                column: "medical_notes",
                row,
                kid: "a".into()
            })
        );
        // Plaintext is not an envelope.
        assert!(matches!(
            keys.open("users", "medical_notes", row, "Asthma"),
            Err(CryptoError::NotAnEnvelope { .. })
        ));
        assert_eq!(envelope_kid(&sealed), Some("a"));
        assert_eq!(envelope_kid("Asthma"), None);
    }

    #[test]
    fn bad_key_lists_are_refused_without_echoing_the_key() {
        for spec in [
            "",
            "nokey",
            "a:notbase64!",
            "a:c2hvcnQ=",
            "bad id:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ] {
            let e = Keyring::parse(spec).unwrap_err().to_string();
            assert!(e.starts_with("RFT_DATA_KEYS"), "{spec}: {e}");
            assert!(!e.contains("c2hvcnQ"), "{e}");
        }
        let a = Keyring::generate_spec("a");
        assert!(Keyring::parse(&format!("{a},{a}")).is_err(), "a kid twice");
        assert_eq!(
            ring(&format!("{a}, {}", Keyring::generate_spec("old"))).kids(),
            ["a", "old"]
        );
    }
}
