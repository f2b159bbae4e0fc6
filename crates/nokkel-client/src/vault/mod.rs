//! Where the protected device key lives: the [`KeyVault`] trait and its stores.
//!
//! A vault stores a [`ProtectedKey`]: the device key as a [`crate::UserVerifier`] wrapped
//! it (plain for the test verifier, AES-GCM under a passcode-derived key, a Keystore
//! ciphertext on Android). The vault adds the platform's storage protection on top.

use std::fmt;

use thiserror::Error;
use zeroize::Zeroizing;

mod file;
mod keyring;

pub use file::FileVault;
pub use keyring::KeyringVault;

/// Why a vault operation failed. Never contains key material.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The store could not be reached (e.g. no Secret Service on the session bus).
    #[error("key store unavailable: {0}")]
    Unavailable(String),
    /// Reading or writing failed.
    #[error("key store failed: {0}")]
    Io(String),
    /// What the store holds is not a protected device key.
    #[error("stored device key is corrupt: {0}")]
    Corrupt(&'static str),
}

impl VaultError {
    /// A stable code for the app.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unavailable(_) => "vault_unavailable",
            Self::Io(_) => "vault_failed",
            Self::Corrupt(_) => "vault_corrupt",
        }
    }
}

/// The device key as a verifier protected it, ready for a vault. Opaque bytes; the first
/// byte names the protection (see [`crate::verify`]). Never shown in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct ProtectedKey(Zeroizing<Vec<u8>>);

impl ProtectedKey {
    /// Wraps bytes read from a store.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The bytes to store.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for ProtectedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProtectedKey(<{} bytes redacted>)", self.0.len())
    }
}

/// Stores one protected device key. Implementations: [`FileVault`] (tests, CLI),
/// [`KeyringVault`] (any keyring-core store: Secret Service, Android, Apple protected).
///
/// Calls may block (a D-Bus round trip, or an OS prompt for a protected keychain item).
pub trait KeyVault: Send + Sync {
    /// Stores `key`, replacing any previous one.
    fn store(&self, key: &ProtectedKey) -> Result<(), VaultError>;
    /// Loads the key, or None when there is none.
    fn load(&self) -> Result<Option<ProtectedKey>, VaultError>;
    /// Deletes the key; deleting a missing key is not an error.
    fn delete(&self) -> Result<(), VaultError>;
}
