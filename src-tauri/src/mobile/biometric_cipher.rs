//! Android: the device key wrapped by a Keystore key that needs the person's fingerprint or
//! face, through tauri-plugin-biometric's `biometric_cipher` (Android only).
//!
//! Plugin API relied on (tauri-plugin-biometric 2.5.0, `src/mobile.rs`, `src/models.rs`,
//! `android/src/main/java/BiometricActivity.kt`):
//!
//! - `app.biometric().biometric_cipher(reason: String, options: AuthOptions)
//!   -> tauri_plugin_biometric::Result<CipherResult>` with `CipherResult { data: String }`.
//!   It blocks until the person answers the prompt: call it from a blocking thread.
//! - Encrypt: `AuthOptions { data_to_encrypt: Some(text), .. }`. The text is encrypted as
//!   UTF-8 with AES-256-GCM under the Keystore key alias `tauri-plugin-biometric-key`
//!   (`setUserAuthenticationRequired(true)`); `data` is `base64(ciphertext) + ";" +
//!   base64(iv)` (standard alphabet, no wrapping).
//! - Decrypt: `AuthOptions { data_to_decrypt: Some(that string), .. }`; `data` is the
//!   decrypted UTF-8 text.
//! - If the person changes their enrolled fingerprints/faces or removes the screen lock,
//!   Android invalidates the key; the plugin then creates a new one on the next *encrypt*,
//!   and decrypting the old blob fails. The app treats that as "the device key is lost":
//!   the person must activate the app again (a new letter), which is the point.
//!
//! The wrapped blob is not secret on its own; it is kept with keyring-core's Android store
//! (`android_native_keyring_store::Store::new()`, which needs the ndk-context initialised:
//! docs/TESTING.md, "Android emulator").

use tauri::{AppHandle, Runtime};
use tauri_plugin_biometric::{AuthOptions, BiometricExt};

use crate::error::AppError;

/// The wrapped device key as the plugin returns it (`base64(ct);base64(iv)`).
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey(String);

impl WrappedKey {
    /// A blob read back from storage.
    pub fn from_stored(blob: String) -> Self {
        Self(blob)
    }

    /// The blob to store.
    pub fn as_stored(&self) -> &str {
        &self.0
    }
}

fn options(reason_title: &str) -> AuthOptions {
    AuthOptions {
        // Strong biometrics only: the Keystore key is bound to them, and the approval
        // states `biometric`.
        allow_device_credential: false,
        title: Some(reason_title.to_owned()),
        ..AuthOptions::default()
    }
}

/// Wraps the device key's private scalar, given as base64url text (the plugin encrypts
/// UTF-8 strings, not bytes). Shows the biometric prompt.
pub async fn wrap<R: Runtime>(
    app: AppHandle<R>,
    reason: String,
    scalar_b64url: String,
) -> Result<WrappedKey, AppError> {
    let mut opts = options(&reason);
    opts.data_to_encrypt = Some(scalar_b64url);
    let answer = tauri::async_runtime::spawn_blocking(move || {
        app.biometric().biometric_cipher(reason, opts)
    })
    .await;
    match answer {
        Ok(Ok(result)) if result.data.contains(';') => Ok(WrappedKey(result.data)),
        _ => Err(AppError::new(
            "verification_failed",
            "the device key could not be protected with biometrics",
        )),
    }
}

/// Unwraps the device key (base64url text of the scalar). Shows the biometric prompt; fails
/// with `verification_failed` if the person cancels or the Keystore key was invalidated.
pub async fn unwrap<R: Runtime>(
    app: AppHandle<R>,
    reason: String,
    wrapped: &WrappedKey,
) -> Result<String, AppError> {
    let mut opts = options(&reason);
    opts.data_to_decrypt = Some(wrapped.0.clone());
    let answer = tauri::async_runtime::spawn_blocking(move || {
        app.biometric().biometric_cipher(reason, opts)
    })
    .await;
    match answer {
        Ok(Ok(result)) => Ok(result.data),
        _ => Err(AppError::new(
            "verification_failed",
            "the device key could not be unlocked",
        )),
    }
}
