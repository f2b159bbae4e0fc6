//! iOS: the device key in a keychain item that never leaves this iPhone and, for the
//! biometric design, opens only for Face ID / Touch ID of the currently enrolled set.
//! Reading that item is what shows the system prompt, with a reason text per use.
//!
//! Compiled for iOS, and on the Linux host under `nokkel_mobile_check = "ios"` against
//! `apple_shim` (security-framework does not build on Linux; scripts/mobile-check.sh).
//!
//! Calls, as security-framework 3.7.0 defines them:
//!
//! - `passwords::PasswordOptions::new_generic_password(service, account)` +
//!   `use_protected_keychain()` (the data-protection keychain, passwords_options.rs).
//! - `access_control::SecAccessControl::create_with_protection(Some(ProtectionMode::
//!   AccessibleWhenPasscodeSetThisDeviceOnly), AccessControlOptions::BIOMETRY_CURRENT_SET
//!   .bits())` (access_control.rs): a `...ThisDeviceOnly` item is never in an iCloud or
//!   encrypted-iTunes backup restored to another device, and is deleted when the phone's
//!   passcode is removed; `kSecAccessControlBiometryCurrentSet` refuses the passcode as a
//!   fallback and is invalidated when a finger or face is added or removed.
//! - `passwords::set_generic_password_options`, `generic_password`,
//!   `delete_generic_password_options` (passwords.rs).
//! - The reason text: `kSecUseOperationPrompt`, whose value is the string `"u_OpPrompt"`
//!   (Apple's Security framework, SecItem.h / SecItemConstants.c). security-framework has no
//!   setter for it, so it goes into `PasswordOptions::query` (public, deprecated). Apple
//!   deprecated the key in iOS 14 in favour of an `LAContext`, but still honours it.
//!
//! apple-native-keyring-store 1.0.2 is not used: its protected store hard-codes
//! `kSecAttrAccessibleWhenUnlocked` with `USER_PRESENCE` (passcode accepted, item in
//! backups), and cannot express either property above.
//!
//! The app's `NSFaceIDUsageDescription` (src-tauri/Info.ios.plist) must exist, or iOS
//! refuses Face ID.

use nokkel_core::keys::DeviceKey;
use nokkel_core::statements::UserVerification;

#[cfg(not(target_os = "ios"))]
use super::apple_shim::{core_foundation, security_framework};
use core_foundation::base::TCFType;
use core_foundation::string::CFString;
use security_framework::access_control::{ProtectionMode, SecAccessControl};
use security_framework::base::Error as SecError;
use security_framework::passwords::{
    delete_generic_password_options, generic_password, set_generic_password_options,
    AccessControlOptions, PasswordOptions,
};

use crate::mobile::biometric::PromptText;
use crate::vault::{KeyVault, ProtectedKey, VaultError};
use crate::verify::{from_plain, plain, UnlockedKey, UserVerifier, VerifyError, TAG_PLAIN};

/// Keychain service of the device key.
pub const SERVICE: &str = "no.nokkel.app";
/// Keychain account of the device key.
pub const USER: &str = "device-key";

/// `kSecUseOperationPrompt`.
const USE_OPERATION_PROMPT: &str = "u_OpPrompt";
/// OSStatus codes (Security framework SecBase.h).
const ERR_SEC_ITEM_NOT_FOUND: i32 = -25300;
const ERR_SEC_USER_CANCELED: i32 = -128;
const ERR_SEC_AUTH_FAILED: i32 = -25293;
const ERR_SEC_INTERACTION_NOT_ALLOWED: i32 = -25308;

/// The device key's keychain item. A key the passcode verifier wrapped is stored
/// this-device-only without a biometric constraint (the passcode protects it); an
/// unwrapped key (the biometric design) always with `BIOMETRY_CURRENT_SET`.
#[derive(Debug, Default, Clone)]
pub struct IosKeychain {
    _private: (),
}

impl IosKeychain {
    /// The app's device-key item.
    pub fn new() -> Self {
        Self::default()
    }

    fn options() -> PasswordOptions {
        let mut options = PasswordOptions::new_generic_password(SERVICE, USER);
        options.use_protected_keychain();
        options
    }

    /// Reads the item; for a biometry-bound item iOS first shows its prompt with `reason`.
    /// `None`: there is no item (never enrolled, or the biometry set changed).
    fn read(&self, reason: &str) -> Result<Option<ProtectedKey>, VerifyError> {
        let mut options = Self::options();
        #[allow(deprecated)]
        options.query.push((
            CFString::new(USE_OPERATION_PROMPT),
            CFString::new(reason).into_CFType(),
        ));
        match generic_password(options) {
            Ok(bytes) => Ok(Some(ProtectedKey::from_bytes(bytes))),
            Err(e) if e.code() == ERR_SEC_ITEM_NOT_FOUND => Ok(None),
            Err(e) => Err(read_error(e)),
        }
    }
}

fn read_error(error: SecError) -> VerifyError {
    match error.code() {
        ERR_SEC_USER_CANCELED => VerifyError::Cancelled,
        ERR_SEC_AUTH_FAILED => VerifyError::NotRecognised,
        ERR_SEC_INTERACTION_NOT_ALLOWED => {
            VerifyError::Unavailable("the keychain cannot ask now (phone locked?)".into())
        }
        code => VaultError::Io(format!("keychain error {code}")).into(),
    }
}

fn vault_error(what: &str, error: SecError) -> VaultError {
    VaultError::Io(format!("keychain {what}: error {}", error.code()))
}

impl KeyVault for IosKeychain {
    fn store(&self, key: &ProtectedKey) -> Result<(), VaultError> {
        // Access control cannot be changed in place: replace the item.
        self.delete()?;
        let flags = if key.as_bytes().first() == Some(&TAG_PLAIN) {
            AccessControlOptions::BIOMETRY_CURRENT_SET
        } else {
            AccessControlOptions::empty()
        };
        let access = SecAccessControl::create_with_protection(
            Some(ProtectionMode::AccessibleWhenPasscodeSetThisDeviceOnly),
            flags.bits(),
        )
        .map_err(|e| vault_error("access control", e))?;
        let mut options = Self::options();
        options.set_access_control(access);
        set_generic_password_options(key.as_bytes(), options).map_err(|e| vault_error("add", e))
    }

    fn load(&self) -> Result<Option<ProtectedKey>, VaultError> {
        match self.read("Nøkkel") {
            Ok(found) => Ok(found),
            Err(VerifyError::Vault(e)) => Err(e),
            Err(other) => Err(VaultError::Unavailable(other.to_string())),
        }
    }

    fn delete(&self) -> Result<(), VaultError> {
        match delete_generic_password_options(Self::options()) {
            Ok(()) => Ok(()),
            Err(e) if e.code() == ERR_SEC_ITEM_NOT_FOUND => Ok(()),
            Err(e) => Err(vault_error("delete", e)),
        }
    }
}

/// Face ID / Touch ID through the keychain item's own prompt. Use only with
/// [`IosKeychain`]: it reads that item itself, so the reason text reaches the prompt.
#[derive(Debug, Default)]
pub struct KeychainBiometryVerifier {
    keychain: IosKeychain,
    prompt: Option<PromptText>,
}

impl KeychainBiometryVerifier {
    /// The verifier for [`IosKeychain`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Shows `prompt.reason` instead of the English reason (the person's language).
    pub fn with_prompt(mut self, prompt: PromptText) -> Self {
        self.prompt = Some(prompt);
        self
    }
}

impl UserVerifier for KeychainBiometryVerifier {
    fn method(&self) -> UserVerification {
        // BIOMETRY_CURRENT_SET: the passcode cannot open the item, so this is honest.
        UserVerification::Biometric
    }

    fn protect(&self, key: &DeviceKey) -> Result<ProtectedKey, VerifyError> {
        // The keychain item's access control is the protection ([`IosKeychain::store`]).
        Ok(plain(key))
    }

    fn unlock(&self, _vault: &dyn KeyVault, reason: &str) -> Result<UnlockedKey, VerifyError> {
        let reason = self.prompt.as_ref().map_or(reason, |p| p.reason.as_str());
        // The client only unlocks an enrolled device: a missing item means iOS dropped it
        // because the biometry set changed (or the passcode was removed).
        let protected = self
            .keychain
            .read(reason)?
            .ok_or(VerifyError::KeyInvalidated)?;
        let key = from_plain(&protected)?;
        Ok(UnlockedKey::new(key, UserVerification::Biometric))
    }
}
