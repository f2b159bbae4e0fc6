//! Android: `nokkel_client::mobile::android::BiometricCipher` over tauri-plugin-biometric's
//! `biometric_cipher`, so the device key is wrapped by a Keystore key that needs the
//! person's fingerprint or face.
//!
//! Plugin API relied on (tauri-plugin-biometric 2.5.0: `src/mobile.rs`, `src/models.rs`,
//! `android/src/main/java/BiometricActivity.kt`), called from Rust only — never from the
//! page, so no `biometric:*` permission is granted to the webview:
//!
//! - `app.biometric().biometric_cipher(reason: String, options: AuthOptions)
//!   -> tauri_plugin_biometric::Result<CipherResult>`, `CipherResult { data: String }`.
//!   It blocks until the person answers the prompt (the client calls verifiers from
//!   blocking threads).
//! - Encrypt: `AuthOptions { data_to_encrypt: Some(text), .. }`: the UTF-8 text is
//!   encrypted with AES-256-GCM under the Keystore alias `tauri-plugin-biometric-key`
//!   (`setUserAuthenticationRequired(true)`); `data` = `base64(ciphertext) + ";" +
//!   base64(iv)`.
//! - Decrypt: `AuthOptions { data_to_decrypt: Some(that), .. }`: `data` = the text.
//! - `allow_device_credential: false` keeps it biometric-only, so the approval may state
//!   `biometric`; `title` is the prompt's title (Android only).
//! - Enrolling new fingerprints or removing the screen lock invalidates the Keystore key;
//!   decrypting then fails and the person must activate the app again (new letter).
//!
//! The plugin's errors do not tell "cancelled" from "failed" in a typed way; both become
//! `VerifyError::Cancelled` (the person may simply try again).

use std::sync::Arc;

use nokkel_client::mobile::android::{AndroidBiometricVerifier, BiometricCipher};
use nokkel_client::{UserVerifier, VerifyError};
use tauri::{AppHandle, Runtime};
use tauri_plugin_biometric::{AuthOptions, BiometricExt};
use zeroize::Zeroizing;

use crate::authenticator::Passcode;
use crate::device::{DesktopVerifiers, Verifiers};
use crate::error::AppError;

/// The plugin's cipher for one app.
pub struct PluginCipher<R: Runtime> {
    app: AppHandle<R>,
}

fn options(reason: &str) -> AuthOptions {
    AuthOptions {
        allow_device_credential: false,
        title: Some(reason.to_owned()),
        ..AuthOptions::default()
    }
}

impl<R: Runtime> BiometricCipher for PluginCipher<R> {
    fn encrypt(&self, reason: &str, text: &str) -> Result<String, VerifyError> {
        let mut opts = options(reason);
        opts.data_to_encrypt = Some(text.to_owned());
        self.app
            .biometric()
            .biometric_cipher(reason.to_owned(), opts)
            .map(|result| result.data)
            .map_err(|_| VerifyError::Cancelled)
    }

    fn decrypt(&self, reason: &str, ciphertext: &str) -> Result<Zeroizing<String>, VerifyError> {
        let mut opts = options(reason);
        opts.data_to_decrypt = Some(ciphertext.to_owned());
        self.app
            .biometric()
            .biometric_cipher(reason.to_owned(), opts)
            .map(|result| Zeroizing::new(result.data))
            .map_err(|_| VerifyError::Cancelled)
    }
}

/// Android's verifiers: the biometric cipher; the passcode as on desktop (for phones
/// without enrolled biometrics).
pub struct AndroidVerifiers<R: Runtime> {
    app: AppHandle<R>,
    passcode: Arc<DesktopVerifiers>,
}

impl<R: Runtime> AndroidVerifiers<R> {
    /// Verifiers for this app.
    pub fn new(app: AppHandle<R>) -> Self {
        use tauri::Manager;
        let attempts = app
            .path()
            .app_data_dir()
            .map(|d| d.join("passcode-attempts.json"))
            .unwrap_or_else(|_| "passcode-attempts.json".into());
        Self {
            app,
            passcode: Arc::new(DesktopVerifiers::new(attempts)),
        }
    }
}

impl<R: Runtime> Verifiers for AndroidVerifiers<R> {
    fn passcode(&self, passcode: &Passcode) -> Box<dyn UserVerifier> {
        self.passcode.passcode(passcode)
    }

    fn biometric(&self) -> Result<Box<dyn UserVerifier>, AppError> {
        Ok(Box::new(AndroidBiometricVerifier::new(PluginCipher {
            app: self.app.clone(),
        })))
    }
}
