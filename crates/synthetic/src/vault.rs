//! The vault: secrets for checks, sealed with ChaCha20-Poly1305 under a key
//! that comes from the environment and never reaches the database. Values
//! are only ever decrypted to run checks; the API shows names alone.

use crate::secrets::Secrets;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use sightline_store::{Store, StoreError};

/// The environment variable holding the key (32 bytes, base64).
pub const KEY_VARIABLE: &str = "SIGHTLINE_VAULT_KEY";

/// Why the vault cannot do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// No key was configured.
    #[error(
        "the vault has no key: set {KEY_VARIABLE} to 32 random bytes in base64 (e.g. `openssl rand -base64 32`)"
    )]
    NoKey,
    /// The configured key is not 32 bytes of base64.
    #[error("{KEY_VARIABLE} must be 32 bytes in base64: {0}")]
    BadKey(String),
    /// A stored secret does not open with this key.
    #[error("secret `{0}` cannot be decrypted with this key (was the key changed?)")]
    Undecryptable(String),
    /// A secret name that checks could not refer to.
    #[error(
        "`{0}` is not a secret name (letters, digits and _, starting with a letter, at most 64)"
    )]
    BadName(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Seals and opens secrets.
#[derive(Clone)]
pub struct Vault {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault")
    }
}

impl Vault {
    /// A vault with the key given in base64.
    pub fn from_base64(key: &str) -> Result<Self, VaultError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key.trim())
            .map_err(|e| VaultError::BadKey(e.to_string()))?;
        if bytes.len() != 32 {
            return Err(VaultError::BadKey(format!("got {} bytes", bytes.len())));
        }
        Ok(Vault {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&bytes)),
        })
    }

    /// Seals and stores a secret. The name is bound into the seal, so a
    /// ciphertext copied to another name does not open.
    pub async fn put(&self, store: &Store, name: &str, value: &str) -> Result<(), VaultError> {
        validate_name(name)?;
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: value.as_bytes(),
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Undecryptable(name.to_owned()))?;
        store.put_secret(name, nonce.as_slice(), &sealed).await?;
        Ok(())
    }

    /// Every stored secret, opened, for running checks.
    pub async fn secrets(&self, store: &Store) -> Result<Secrets, VaultError> {
        let mut values = Vec::new();
        for sealed in store.sealed_secrets().await? {
            if sealed.nonce.len() != 12 {
                return Err(VaultError::Undecryptable(sealed.name));
            }
            let opened = self
                .cipher
                .decrypt(
                    Nonce::from_slice(&sealed.nonce),
                    Payload {
                        msg: &sealed.ciphertext,
                        aad: sealed.name.as_bytes(),
                    },
                )
                .map_err(|_| VaultError::Undecryptable(sealed.name.clone()))?;
            let value = String::from_utf8(opened)
                .map_err(|_| VaultError::Undecryptable(sealed.name.clone()))?;
            values.push((sealed.name, value));
        }
        Ok(Secrets::new(values))
    }
}

/// Secret names are what `{{secrets.NAME}}` can refer to.
pub fn validate_name(name: &str) -> Result<(), VaultError> {
    let valid = name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(VaultError::BadName(name.to_owned()))
    }
}
