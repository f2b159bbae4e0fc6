//! iOS: the device key in a protected keychain item whose access control demands user
//! presence, through keyring-core's Apple store. The keychain's own prompt is the user
//! verification: reading the item shows Face ID / Touch ID.
//!
//! NOT COMPILED ON THE BUILD MACHINES (no Xcode there). Every external call below is
//! checked against the published API it names:
//!
//! - `apple-native-keyring-store` 1.0.2 with feature `protected` (mandatory on iOS),
//!   built on keyring-core 1: `apple_native_keyring_store::protected::Store::new() ->
//!   keyring_core::Result<Arc<Store>>` (local, not iCloud-synchronised: a synchronised
//!   store refuses access policies). `CredentialStoreApi::build(service, user,
//!   Some(&{"access-policy": "require-user-presence"}))` creates an entry whose
//!   `set_secret` stores a generic-password item in the protected keychain
//!   (`use_protected_keychain`) with `SecAccessControl::create_with_protection(
//!   kSecAttrAccessibleWhenUnlocked, AccessControlOptions::USER_PRESENCE)`; `get_secret`
//!   then makes iOS show its authentication prompt.
//! - The app needs `NSFaceIDUsageDescription` in `src-tauri/Info.ios.plist` and a
//!   keychain-access-groups entitlement (the default group is the app's own).
//!
//! What this does not guarantee (docs/SECURITY.md): `USER_PRESENCE` accepts Face ID,
//! Touch ID **or the device passcode**, and the keychain does not say which one the user
//! used. The approval therefore claims the weaker method, `device_credential`. Making it
//! biometric-only needs `BIOMETRY_CURRENT_SET`, which the store (1.0.2) does not expose;
//! it hard-codes `USER_PRESENCE` for `require-user-presence`.

use nokkel_core::keys::DeviceKey;
use nokkel_core::statements::UserVerification;

use crate::vault::{KeyVault, KeyringVault, ProtectedKey, VaultError};
use crate::verify::{from_plain, load, plain, UnlockedKey, UserVerifier, VerifyError};

/// Keyring service name of the device key.
pub const SERVICE: &str = "no.nokkel.app";
/// Keyring user name of the device key.
pub const USER: &str = "device-key";

/// The device key's vault on iOS: a protected keychain item requiring user presence.
pub fn vault() -> Result<KeyringVault, VaultError> {
    let store = apple_native_keyring_store::protected::Store::new()
        .map_err(|e| VaultError::Unavailable(format!("Apple protected store: {e}")))?;
    Ok(KeyringVault::new(store, SERVICE, USER)
        .with_modifier("access-policy", "require-user-presence"))
}

/// User verification by the keychain's own prompt. Use only with [`vault`]: with any
/// other vault it would verify nothing.
#[derive(Debug, Default)]
pub struct KeychainPresenceVerifier {
    _private: (),
}

impl KeychainPresenceVerifier {
    /// The verifier for [`vault`].
    pub fn new() -> Self {
        Self::default()
    }
}

impl UserVerifier for KeychainPresenceVerifier {
    fn method(&self) -> UserVerification {
        UserVerification::DeviceCredential
    }

    fn protect(&self, key: &DeviceKey) -> Result<ProtectedKey, VerifyError> {
        // The keychain item's access control is the protection.
        Ok(plain(key))
    }

    fn unlock(&self, vault: &dyn KeyVault, _reason: &str) -> Result<UnlockedKey, VerifyError> {
        // Reading the item is what shows the prompt; a cancelled prompt surfaces as a
        // keychain error (errSecUserCanceled) from the store.
        let key = from_plain(&load(vault)?)?;
        Ok(UnlockedKey::new(key, UserVerification::DeviceCredential))
    }
}
