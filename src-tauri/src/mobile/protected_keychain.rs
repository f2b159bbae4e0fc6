//! iOS: the device key in a this-device-only keychain item that opens only for Face ID /
//! Touch ID of the current biometry set (`nokkel_client::mobile::ios`); reading it makes
//! iOS show its prompt with the reason text in the person's language (`crate::prompts`).
//!
//! Where the phone has no Face ID / Touch ID, the app passcode wraps the key as on the
//! desktop and the item is still this-device-only, so a passcode typed on iOS is used,
//! never ignored. Approvals say `biometric` or `passcode` truthfully.

use nokkel_client::mobile::biometric::PromptText;
use nokkel_client::mobile::ios::KeychainBiometryVerifier;
use nokkel_client::UserVerifier;
use tauri::{AppHandle, Runtime};

use crate::authenticator::Passcode;
use crate::device::{DesktopVerifiers, Verifiers};
use crate::error::AppError;

/// iOS's verifiers: the keychain's biometry prompt, or the app passcode.
pub struct IosVerifiers {
    passcode: DesktopVerifiers,
}

impl IosVerifiers {
    /// Verifiers for this app (passcode attempts counted in its data folder).
    pub fn new<R: Runtime>(app: &AppHandle<R>) -> Self {
        Self {
            passcode: DesktopVerifiers::in_data_dir(app),
        }
    }
}

impl Verifiers for IosVerifiers {
    fn passcode(&self, passcode: &Passcode) -> Box<dyn UserVerifier> {
        self.passcode.passcode(passcode)
    }

    fn biometric(&self, prompt: PromptText) -> Result<Box<dyn UserVerifier>, AppError> {
        Ok(Box::new(
            KeychainBiometryVerifier::new().with_prompt(prompt),
        ))
    }
}
