//! Android: `nokkel_client::mobile::biometric::BiometricCipher` over tauri-plugin-biometric's
//! `biometric_cipher`, so the device key is wrapped by a Keystore key that needs the
//! person's fingerprint or face.
//!
//! Plugin API relied on (tauri-plugin-biometric 2.5.0: `src/mobile.rs`, `src/models.rs`,
//! `src/error.rs`, `android/src/main/java/BiometricActivity.kt`), called from Rust only —
//! never from the page, so no `biometric:*` permission is granted to the webview (a
//! capability is only needed for calls from the page):
//!
//! - `app.biometric().biometric_cipher(reason: String, options: AuthOptions)
//!   -> tauri_plugin_biometric::Result<CipherResult>`, `CipherResult { data: String }`.
//!   It blocks until the person answers the prompt (the client calls verifiers from
//!   blocking threads).
//! - Encrypt: `AuthOptions { data_to_encrypt: Some(text), .. }`: the UTF-8 text is
//!   encrypted with AES-256-GCM under the Keystore alias `tauri-plugin-biometric-key`
//!   (`setUserAuthenticationRequired(true)`, prompt restricted to `BIOMETRIC_STRONG`);
//!   `data` = `base64(ciphertext) + ";" + base64(iv)`.
//! - Decrypt: `AuthOptions { data_to_decrypt: Some(that), .. }`: `data` = the text.
//! - `allow_device_credential: false` keeps it biometric-only, so the approval may state
//!   `biometric`; `title` and `cancel_title` are the prompt's title and button (Android),
//!   `reason` its description; all in the person's language (`crate::prompts`).
//! - A rejection is `Error::PluginInvoke(PluginInvokeError::InvokeRejected(ErrorResponse {
//!   code, message, .. }))` (tauri 2.12.5 `src/plugin/mobile.rs`); the code is handed to
//!   `PluginRejection::to_verify_error`, which maps each code the plugin gives.
//!
//! In the host check (`nokkel_mobile_check = "android"`) `BiometricExt`, `Error` and the
//! tauri error types come from `super::plugin_shim`; `AuthOptions` and `CipherResult` are
//! the real ones (the plugin defines them on every platform).

use std::sync::Arc;

use nokkel_client::mobile::biometric::{
    AndroidBiometricVerifier, BiometricCipher, PluginRejection, PromptText,
};
use nokkel_client::UserVerifier;
use tauri::{AppHandle, Runtime};
use tauri_plugin_biometric::AuthOptions;
use zeroize::Zeroizing;

#[cfg(not(mobile))]
use super::plugin_shim::{
    biometric::{BiometricExt, Error as PluginError},
    plugin_mobile::{ErrorResponse, PluginInvokeError},
};
#[cfg(mobile)]
use tauri::plugin::mobile::{ErrorResponse, PluginInvokeError};
#[cfg(mobile)]
use tauri_plugin_biometric::{BiometricExt, Error as PluginError};

use crate::authenticator::Passcode;
use crate::device::{DesktopVerifiers, Verifiers};
use crate::error::AppError;

/// The plugin's cipher for one app.
pub struct PluginCipher<R: Runtime> {
    app: AppHandle<R>,
}

fn options(prompt: &PromptText) -> AuthOptions {
    AuthOptions {
        allow_device_credential: false,
        title: Some(prompt.title.clone()),
        cancel_title: Some(prompt.cancel.clone()),
        ..AuthOptions::default()
    }
}

/// The rejection as the plugin gave it; anything that is not a rejection has no code.
fn rejection(error: PluginError) -> PluginRejection {
    match error {
        PluginError::PluginInvoke(PluginInvokeError::InvokeRejected(ErrorResponse {
            code,
            message,
            ..
        })) => PluginRejection { code, message },
        other => PluginRejection {
            code: None,
            message: Some(other.to_string()),
        },
    }
}

impl<R: Runtime> BiometricCipher for PluginCipher<R> {
    fn encrypt(&self, prompt: &PromptText, text: &str) -> Result<String, PluginRejection> {
        let mut opts = options(prompt);
        opts.data_to_encrypt = Some(text.to_owned());
        self.app
            .biometric()
            .biometric_cipher(prompt.reason.clone(), opts)
            .map(|result| result.data)
            .map_err(rejection)
    }

    fn decrypt(
        &self,
        prompt: &PromptText,
        ciphertext: &str,
    ) -> Result<Zeroizing<String>, PluginRejection> {
        let mut opts = options(prompt);
        opts.data_to_decrypt = Some(ciphertext.to_owned());
        self.app
            .biometric()
            .biometric_cipher(prompt.reason.clone(), opts)
            .map(|result| Zeroizing::new(result.data))
            .map_err(rejection)
    }
}

/// Android's verifiers: the biometric cipher; the passcode as on desktop (for phones
/// without strong biometrics).
pub struct AndroidVerifiers<R: Runtime> {
    app: AppHandle<R>,
    passcode: Arc<DesktopVerifiers>,
}

impl<R: Runtime> AndroidVerifiers<R> {
    /// Verifiers for this app.
    pub fn new(app: AppHandle<R>) -> Self {
        let passcode = Arc::new(DesktopVerifiers::in_data_dir(&app));
        Self { app, passcode }
    }
}

impl<R: Runtime> Verifiers for AndroidVerifiers<R> {
    fn passcode(&self, passcode: &Passcode) -> Box<dyn UserVerifier> {
        self.passcode.passcode(passcode)
    }

    fn biometric(&self, prompt: PromptText) -> Result<Box<dyn UserVerifier>, AppError> {
        let cipher = PluginCipher {
            app: self.app.clone(),
        };
        Ok(Box::new(
            AndroidBiometricVerifier::new(cipher).with_prompt(prompt),
        ))
    }
}
