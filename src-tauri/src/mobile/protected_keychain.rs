//! iOS: the device key in the protected keychain, readable only after Face ID / Touch ID
//! (or the phone's passcode — see below).
//!
//! Crate API relied on (apple-native-keyring-store 1.0.2 with feature `protected`, which
//! iOS requires; keyring-core 1.0.1):
//!
//! - `apple_native_keyring_store::protected::Store::new() -> keyring_core::Result<Arc<Store>>`:
//!   the app's default access group, not synchronised with iCloud (a device key must never
//!   leave the phone).
//! - `keyring_core::Entry::new_with_modifiers(service, user, &HashMap<&str, &str>)` with the
//!   modifier `access-policy` = `require-user-presence`: the item is created with
//!   `kSecAttrAccessibleWhenUnlocked` and `SecAccessControl` flag `USER_PRESENCE`, so iOS
//!   shows its Face ID / Touch ID sheet (with the passcode as fallback) on every read.
//!   `NSFaceIDUsageDescription` in `src-tauri/Info.ios.plist` is the sheet's text.
//! - `Entry::set_secret(&[u8])`, `Entry::get_secret() -> Result<Vec<u8>>` (blocks while the
//!   sheet is shown: call it from a blocking thread), `Entry::delete_credential()`.
//!
//! Honest limits (docs/SECURITY.md): `USER_PRESENCE` also accepts the phone's passcode, so
//! the approval states `device_credential` unless the plugin's `authenticate` (biometric
//! only) ran first; the item is `WhenUnlocked`, not `ThisDeviceOnly`, so an encrypted
//! device backup may carry it.

use std::collections::HashMap;
use std::sync::Arc;

use keyring_core::api::CredentialStoreApi;
use keyring_core::{CredentialStore, Entry};

use crate::error::AppError;

/// Keychain service name of the device key.
pub const SERVICE: &str = "no.nokkel.app.device-key";

/// Opens the protected store for the app's default access group.
pub fn store() -> Result<Arc<CredentialStore>, AppError> {
    apple_native_keyring_store::protected::Store::new()
        .map(|store| store as Arc<CredentialStore>)
        .map_err(|_| AppError::new("vault_unavailable", "the keychain cannot be opened"))
}

/// The keychain entry holding the device key for `device_id`, gated by user presence.
pub fn entry(store: &Arc<CredentialStore>, device_id: &str) -> Result<Entry, AppError> {
    let modifiers = HashMap::from([("access-policy", "require-user-presence")]);
    store
        .build(SERVICE, device_id, Some(&modifiers))
        .map_err(|_| AppError::new("vault_unavailable", "the keychain entry cannot be made"))
}

/// Reads the key scalar; iOS shows Face ID first. Blocks: call from a blocking thread.
pub fn read_scalar(entry: &Entry) -> Result<Vec<u8>, AppError> {
    entry.get_secret().map_err(|_| {
        AppError::new(
            "verification_failed",
            "the device key could not be unlocked",
        )
    })
}
