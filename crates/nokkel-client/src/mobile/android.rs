//! Android: the device key, wrapped by [`crate::mobile::biometric`], kept in keyring-core's
//! Android store.
//!
//! Compiled for Android, and on the Linux host under `nokkel_mobile_check = "android"`
//! against the real crate (it builds on Linux; scripts/mobile-check.sh).
//!
//! - **Store**: `android-native-keyring-store` 1.0.0, `android_native_keyring_store::Store`
//!   (= `by_store::Store`, src/by_store/store.rs), `Store::new() ->
//!   keyring_core::Result<Arc<Store>>`: the named store `default`, backed by a
//!   SharedPreferences file encrypted with its own Keystore key. It takes the application
//!   context from `ndk-context`, which tao initialises in `onCreate` before the app's `run`
//!   (tao 0.37.2). Never call the crate's JNI hook `initializeNdkContext` as well:
//!   initialising `ndk-context` twice asserts, inside an `extern "system"` function, which
//!   aborts the app.
//! - A restored backup would bring back the SharedPreferences without the Keystore key
//!   (Keystore keys are never backed up); src-tauri's build script excludes the app's data
//!   from Android backups (docs/SECURITY.md).

use crate::vault::{KeyringVault, VaultError};

/// Keyring service name of the device key.
pub const SERVICE: &str = "no.nokkel.app";
/// Keyring user name of the device key.
pub const USER: &str = "device-key";

/// The device key's vault on Android: keyring-core's Android store.
pub fn vault() -> Result<KeyringVault, VaultError> {
    let store = android_native_keyring_store::Store::new()
        .map_err(|e| VaultError::Unavailable(format!("Android keyring store: {e}")))?;
    Ok(KeyringVault::new(store, SERVICE, USER))
}
