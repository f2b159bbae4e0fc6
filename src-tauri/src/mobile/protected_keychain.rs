//! iOS: the device key in a protected keychain item whose access control demands user
//! presence; reading it makes iOS show Face ID / Touch ID.
//!
//! Relies on `nokkel_client::mobile::ios::{vault, KeychainPresenceVerifier}`, which use
//! apple-native-keyring-store 1.0.2 (feature `protected`):
//! `apple_native_keyring_store::protected::Store::new()` and the entry modifier
//! `access-policy` = `require-user-presence` (`kSecAttrAccessibleWhenUnlocked` +
//! `SecAccessControl` flag `USER_PRESENCE`). The prompt's text is
//! `NSFaceIDUsageDescription` in `src-tauri/Info.ios.plist`.
//!
//! `USER_PRESENCE` also accepts the phone's passcode and does not say which was used, so
//! approvals state `device_credential` (docs/SECURITY.md). The app passcode is not offered
//! on iOS: the keychain prompt is the verification.

use nokkel_client::mobile::ios::KeychainPresenceVerifier;
use nokkel_client::UserVerifier;

use crate::authenticator::Passcode;
use crate::device::Verifiers;
use crate::error::AppError;

/// iOS's verifier: the keychain's own prompt.
pub struct IosVerifiers;

impl Verifiers for IosVerifiers {
    fn passcode(&self, _passcode: &Passcode) -> Box<dyn UserVerifier> {
        // The keychain item's access control is the protection on iOS; a typed passcode is
        // never asked for, and the keychain prompt still runs on every read.
        Box::new(KeychainPresenceVerifier::new())
    }

    fn biometric(&self) -> Result<Box<dyn UserVerifier>, AppError> {
        Ok(Box::new(KeychainPresenceVerifier::new()))
    }
}
