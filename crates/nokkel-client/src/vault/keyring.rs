//! A vault in an OS keyring through keyring-core: the Secret Service on Linux desktops,
//! and the same type over the Android store on Android (see [`crate::mobile`]; iOS uses
//! its own keychain item, `mobile::ios`).

use std::collections::HashMap;
use std::sync::Arc;

use keyring_core::api::CredentialStore;
use keyring_core::{Entry, Error as KeyringError};

use super::{KeyVault, ProtectedKey, VaultError};

/// Keeps the protected key as the secret of one keyring entry (`service`, `user`).
///
/// The store is passed in (never keyring-core's global default store), so tests and apps
/// choose it explicitly: `zbus_secret_service_keyring_store::Store::new()` on Linux,
/// `android_native_keyring_store::Store::new()` on Android.
pub struct KeyringVault {
    store: Arc<CredentialStore>,
    service: String,
    user: String,
    modifiers: Vec<(String, String)>,
}

impl std::fmt::Debug for KeyringVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyringVault")
            .field("store", &self.store.vendor())
            .field("service", &self.service)
            .field("user", &self.user)
            .finish()
    }
}

impl KeyringVault {
    /// A vault for the entry (`service`, `user`) in `store`.
    pub fn new(store: Arc<CredentialStore>, service: &str, user: &str) -> Self {
        Self {
            store,
            service: service.to_owned(),
            user: user.to_owned(),
            modifiers: Vec::new(),
        }
    }

    /// The Linux desktop vault: the Secret Service on the session bus (GNOME Keyring,
    /// KWallet). Fails with [`VaultError::Unavailable`] when there is no session bus or
    /// no Secret Service provider.
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    pub fn secret_service(service: &str, user: &str) -> Result<Self, VaultError> {
        let store = zbus_secret_service_keyring_store::Store::new().map_err(unavailable)?;
        Ok(Self::new(store, service, user))
    }

    /// Adds a store-specific entry modifier (keyring-core's `build` modifiers).
    pub fn with_modifier(mut self, key: &str, value: &str) -> Self {
        self.modifiers.push((key.to_owned(), value.to_owned()));
        self
    }

    fn entry(&self) -> Result<Entry, VaultError> {
        let modifiers: HashMap<&str, &str> = self
            .modifiers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let modifiers = (!modifiers.is_empty()).then_some(&modifiers);
        self.store
            .build(&self.service, &self.user, modifiers)
            .map_err(failure)
    }
}

/// Describes a keyring error without ever including the secret bytes some variants carry
/// (`BadEncoding`, `BadDataFormat`).
fn describe(err: &KeyringError) -> String {
    match err {
        KeyringError::PlatformFailure(e) => format!("platform failure: {e}"),
        KeyringError::NoStorageAccess(e) => format!("no storage access: {e}"),
        KeyringError::NoEntry => "no entry".to_owned(),
        KeyringError::BadEncoding(_) => "bad encoding".to_owned(),
        KeyringError::BadDataFormat(_, e) => format!("bad data format: {e}"),
        KeyringError::BadStoreFormat(s) => format!("bad store format: {s}"),
        KeyringError::TooLong(what, max) => format!("{what} longer than {max}"),
        KeyringError::Invalid(what, why) => format!("invalid {what}: {why}"),
        KeyringError::Ambiguous(_) => "ambiguous entry".to_owned(),
        KeyringError::NoDefaultStore => "no default store".to_owned(),
        KeyringError::NotSupportedByStore(s) => format!("not supported by the store: {s}"),
        _ => "keyring error".to_owned(),
    }
}

fn unavailable(err: KeyringError) -> VaultError {
    VaultError::Unavailable(describe(&err))
}

fn failure(err: KeyringError) -> VaultError {
    match err {
        KeyringError::NoStorageAccess(_) | KeyringError::PlatformFailure(_) => {
            VaultError::Unavailable(describe(&err))
        }
        other => VaultError::Io(describe(&other)),
    }
}

impl KeyVault for KeyringVault {
    fn store(&self, key: &ProtectedKey) -> Result<(), VaultError> {
        self.entry()?.set_secret(key.as_bytes()).map_err(failure)
    }

    fn load(&self) -> Result<Option<ProtectedKey>, VaultError> {
        match self.entry()?.get_secret() {
            Ok(bytes) if bytes.is_empty() => Err(VaultError::Corrupt("empty keyring secret")),
            Ok(bytes) => Ok(Some(ProtectedKey::from_bytes(bytes))),
            Err(KeyringError::NoEntry) => Ok(None),
            Err(e) => Err(failure(e)),
        }
    }

    fn delete(&self) -> Result<(), VaultError> {
        match self.entry()?.delete_credential() {
            Ok(()) | Err(KeyringError::NoEntry) => Ok(()),
            Err(e) => Err(failure(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_keyring_cores_mock_store() {
        let store: Arc<CredentialStore> = keyring_core::mock::Store::new().unwrap();
        let vault = KeyringVault::new(store, "nokkel-test", "device");
        assert_eq!(vault.load().unwrap(), None);
        vault
            .store(&ProtectedKey::from_bytes(vec![0, 9, 9]))
            .unwrap();
        assert_eq!(vault.load().unwrap().unwrap().as_bytes(), &[0, 9, 9]);
        vault.delete().unwrap();
        assert_eq!(vault.load().unwrap(), None);
        vault.delete().unwrap();
    }
}
