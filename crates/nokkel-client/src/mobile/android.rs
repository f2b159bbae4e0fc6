//! Android: the device key wrapped by a Keystore AES key that requires biometric
//! authentication, stored in keyring-core's Android store.
//!
//! NOT COMPILED ON THE BUILD MACHINES (no Android NDK there). Every external call below is
//! checked against the published API it names:
//!
//! - **Store**: `android-native-keyring-store` 1.0.0, `android_native_keyring_store::Store`
//!   (= `by_store::Store`), `Store::new() -> keyring_core::Result<Arc<Store>>`: the named
//!   store `default`, backed by a SharedPreferences file encrypted with its own Keystore
//!   key. It takes the application context from `ndk-context`, which the app must
//!   initialise first: Tauri's Android runtime initialises `ndk-context` for the app's
//!   activity; otherwise call the crate's JNI hook
//!   `io.crates.keyring.Keyring.initializeNdkContext(context)` from `MainActivity.kt`, as
//!   the store's README shows.
//! - **Biometrics**: `tauri-plugin-biometric` 2.5.0, called from Rust by the app (never
//!   its npm package, see REFERENCE.md): `app.biometric().biometric_cipher(reason: String,
//!   options: AuthOptions) -> tauri_plugin_biometric::Result<CipherResult>` with
//!   `CipherResult { data: String }`. With `AuthOptions { data_to_encrypt: Some(text),
//!   ..Default::default() }` the plugin shows the biometric prompt, then encrypts `text`
//!   with its Keystore AES-GCM key that requires user authentication and returns the
//!   ciphertext as text; with `data_to_decrypt: Some(ciphertext)` it prompts and returns
//!   the original text. `allow_device_credential: false` keeps it biometric-only
//!   (`AuthOptions` also has `title`, `subtitle`, `cancel_title`, `fallback_title`,
//!   `confirmation_required`). The capability needs `biometric:allow-biometric-cipher`.
//!
//! This crate does not depend on Tauri: the app implements [`BiometricCipher`] with the
//! two plugin calls above (a few lines in src-tauri), and this module does the rest.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use nokkel_core::keys::DeviceKey;
use nokkel_core::statements::UserVerification;
use zeroize::Zeroizing;

use crate::vault::{KeyVault, KeyringVault, ProtectedKey, VaultError};
use crate::verify::{
    load, protection_name, UnlockedKey, UserVerifier, VerifyError, TAG_ANDROID_BIOMETRIC,
};

/// Keyring service name of the device key.
pub const SERVICE: &str = "no.nokkel.app";
/// Keyring user name of the device key.
pub const USER: &str = "device-key";

/// The biometric plugin's cipher, implemented by the app over
/// `app.biometric().biometric_cipher(..)` (see the module docs).
pub trait BiometricCipher: Send + Sync {
    /// Prompts, then encrypts `text` under the biometric-bound Keystore key.
    /// Maps the plugin's "cancelled" error to [`VerifyError::Cancelled`].
    fn encrypt(&self, reason: &str, text: &str) -> Result<String, VerifyError>;
    /// Prompts, then decrypts what [`BiometricCipher::encrypt`] returned.
    fn decrypt(&self, reason: &str, ciphertext: &str) -> Result<Zeroizing<String>, VerifyError>;
}

/// The device key's vault on Android: keyring-core's Android store.
pub fn vault() -> Result<KeyringVault, VaultError> {
    let store = android_native_keyring_store::Store::new()
        .map_err(|e| VaultError::Unavailable(format!("Android keyring store: {e}")))?;
    Ok(KeyringVault::new(store, SERVICE, USER))
}

/// Biometric verification on Android: the key is only usable after the biometric prompt
/// unwraps it.
pub struct AndroidBiometricVerifier<C: BiometricCipher> {
    cipher: C,
}

impl<C: BiometricCipher> AndroidBiometricVerifier<C> {
    /// A verifier over the app's plugin adapter.
    pub fn new(cipher: C) -> Self {
        Self { cipher }
    }
}

impl<C: BiometricCipher> UserVerifier for AndroidBiometricVerifier<C> {
    fn method(&self) -> UserVerification {
        UserVerification::Biometric
    }

    fn protect(&self, key: &DeviceKey) -> Result<ProtectedKey, VerifyError> {
        // The plugin takes text: the scalar travels as base64 inside it.
        let text = Zeroizing::new(STANDARD_NO_PAD.encode(key.to_secret_bytes().as_ref()));
        let sealed = self.cipher.encrypt("Protect your Nøkkel key", &text)?;
        let mut bytes = Vec::with_capacity(1 + sealed.len());
        bytes.push(TAG_ANDROID_BIOMETRIC);
        bytes.extend_from_slice(sealed.as_bytes());
        Ok(ProtectedKey::from_bytes(bytes))
    }

    fn unlock(&self, vault: &dyn KeyVault, reason: &str) -> Result<UnlockedKey, VerifyError> {
        let protected = load(vault)?;
        let sealed = match protected.as_bytes().split_first() {
            Some((&TAG_ANDROID_BIOMETRIC, rest)) => std::str::from_utf8(rest)
                .map_err(|_| VerifyError::Corrupt("ciphertext is not text"))?,
            other => {
                return Err(VerifyError::WrongProtection(protection_name(
                    other.map(|(tag, _)| tag),
                )))
            }
        };
        let text = self.cipher.decrypt(reason, sealed)?;
        let scalar = Zeroizing::new(
            STANDARD_NO_PAD
                .decode(text.as_bytes())
                .map_err(|_| VerifyError::Corrupt("unwrapped key is not base64"))?,
        );
        let key = DeviceKey::from_secret_bytes(&scalar)
            .map_err(|_| VerifyError::Corrupt("bad scalar"))?;
        Ok(UnlockedKey::new(key, UserVerification::Biometric))
    }
}
