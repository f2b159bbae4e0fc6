//! Biometric verification through a platform cipher (tauri-plugin-biometric's
//! `biometric_cipher` on Android): the device key is only usable after the biometric
//! prompt unwraps it, and every rejection the plugin gives maps to its own [`VerifyError`].
//!
//! Compiled on every platform (it needs no phone API): the app implements
//! [`BiometricCipher`] over the plugin, tests implement it with scripted answers.
//!
//! Rejection codes, as tauri-plugin-biometric 2.5.0 gives them
//! (`android/src/main/java/BiometricPlugin.kt`, map `biometryErrorCodeMap` and
//! `authenticateResult`; `BiometricActivity.kt`):
//!
//! | code | when | [`VerifyError`] |
//! |---|---|---|
//! | `userCancel` | cancel button, or back | [`VerifyError::Cancelled`] |
//! | `systemCancel` | timeout, another app took over, vendor error | [`VerifyError::Cancelled`] |
//! | `authenticationFailed` | a face/finger shown but not recognised | [`VerifyError::NotRecognised`] |
//! | `biometryLockout` | `ERROR_LOCKOUT` and `ERROR_LOCKOUT_PERMANENT` | [`VerifyError::BiometryLockout`] |
//! | `biometryNotEnrolled`, `passcodeNotSet` | nothing enrolled, no screen lock | [`VerifyError::BiometryNotEnrolled`] |
//! | `""` (empty) | `BiometricActivity` could not set up or finish the cipher (`finishActivity(ERROR, 0, ..)` maps code 0 to `""`); when decrypting this is a Keystore key invalidated by a new fingerprint or a removed screen lock (`KeyPermanentlyInvalidatedException`), or a ciphertext from an older key | decrypt: [`VerifyError::KeyInvalidated`]; encrypt: [`VerifyError::Unavailable`] |
//! | `biometryNotAvailable`, `invalidContext`, none, anything else | | [`VerifyError::Unavailable`] |
//!
//! When encrypting, the plugin replaces an invalidated key itself (`getCipher`), so
//! enrolling again after [`VerifyError::KeyInvalidated`] works without clearing app data.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use nokkel_core::keys::DeviceKey;
use nokkel_core::statements::UserVerification;
use zeroize::Zeroizing;

use crate::vault::{KeyVault, ProtectedKey};
use crate::verify::{
    load, protection_name, UnlockedKey, UserVerifier, VerifyError, TAG_ANDROID_BIOMETRIC,
};

/// Which way the cipher was asked to go (the same rejection means different things).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CipherOp {
    /// Wrapping a new device key (enrolment).
    Encrypt,
    /// Unwrapping the stored device key (unlock, approval).
    Decrypt,
}

/// The plugin's rejection as it came: `code` and `message` of tauri's `ErrorResponse`.
/// Neither ever contains key material (the plugin's messages name exceptions only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginRejection {
    /// The plugin's error code (`userCancel`, `biometryLockout`, `""`, ...), if any.
    pub code: Option<String>,
    /// The plugin's message, for logs.
    pub message: Option<String>,
}

impl PluginRejection {
    /// A rejection with this code and no message.
    pub fn with_code(code: &str) -> Self {
        Self {
            code: Some(code.to_owned()),
            message: None,
        }
    }

    /// What the rejection means for the person, per the table in the module docs.
    pub fn to_verify_error(&self, op: CipherOp) -> VerifyError {
        match (self.code.as_deref(), op) {
            (Some("userCancel" | "systemCancel" | "appCancel"), _) => VerifyError::Cancelled,
            (Some("authenticationFailed"), _) => VerifyError::NotRecognised,
            (Some("biometryLockout"), _) => VerifyError::BiometryLockout,
            (Some("biometryNotEnrolled" | "passcodeNotSet"), _) => VerifyError::BiometryNotEnrolled,
            (Some(""), CipherOp::Decrypt) => VerifyError::KeyInvalidated,
            (code, _) => VerifyError::Unavailable(format!(
                "biometric plugin refused ({}): {}",
                code.unwrap_or("no code"),
                self.message.as_deref().unwrap_or("no message")
            )),
        }
    }
}

/// The texts of one biometric prompt, in the person's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptText {
    /// The prompt's title (Android).
    pub title: String,
    /// Why the prompt is shown, e.g. "Confirm the login to Skatteetaten".
    pub reason: String,
    /// The cancel button's label.
    pub cancel: String,
}

impl PromptText {
    /// English texts, for callers that have no translation at hand.
    pub fn english(reason: &str) -> Self {
        Self {
            title: "Nøkkel".to_owned(),
            reason: reason.to_owned(),
            cancel: "Cancel".to_owned(),
        }
    }
}

/// The biometric plugin's cipher, implemented by the app over
/// `app.biometric().biometric_cipher(..)` (src-tauri/src/mobile/biometric_cipher.rs).
pub trait BiometricCipher: Send + Sync {
    /// Prompts, then encrypts `text` under the biometric-bound Keystore key.
    fn encrypt(&self, prompt: &PromptText, text: &str) -> Result<String, PluginRejection>;
    /// Prompts, then decrypts what [`BiometricCipher::encrypt`] returned.
    fn decrypt(
        &self,
        prompt: &PromptText,
        ciphertext: &str,
    ) -> Result<Zeroizing<String>, PluginRejection>;
}

/// Biometric verification over a [`BiometricCipher`]: the key is only usable after the
/// biometric prompt unwraps it.
pub struct AndroidBiometricVerifier<C: BiometricCipher> {
    cipher: C,
    prompt: Option<PromptText>,
}

impl<C: BiometricCipher> AndroidBiometricVerifier<C> {
    /// A verifier over the app's plugin adapter.
    pub fn new(cipher: C) -> Self {
        Self {
            cipher,
            prompt: None,
        }
    }

    /// Shows `prompt` instead of the English texts (the app passes the person's language).
    pub fn with_prompt(mut self, prompt: PromptText) -> Self {
        self.prompt = Some(prompt);
        self
    }

    fn prompt(&self, english_reason: &str) -> PromptText {
        self.prompt
            .clone()
            .unwrap_or_else(|| PromptText::english(english_reason))
    }
}

impl<C: BiometricCipher> UserVerifier for AndroidBiometricVerifier<C> {
    fn method(&self) -> UserVerification {
        UserVerification::Biometric
    }

    fn protect(&self, key: &DeviceKey) -> Result<ProtectedKey, VerifyError> {
        // The plugin takes text: the scalar travels as base64 inside it.
        let text = Zeroizing::new(STANDARD_NO_PAD.encode(key.to_secret_bytes().as_ref()));
        let sealed = self
            .cipher
            .encrypt(&self.prompt("Protect your Nøkkel key"), &text)
            .map_err(|rejection| rejection.to_verify_error(CipherOp::Encrypt))?;
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
        let text = self
            .cipher
            .decrypt(&self.prompt(reason), sealed)
            .map_err(|rejection| rejection.to_verify_error(CipherOp::Decrypt))?;
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use nokkel_core::random::{RandomRng, SeededRandom};

    use super::*;
    use crate::vault::FileVault;

    /// A cipher that answers as the plugin would: "encrypts" by reversing the text, or
    /// rejects with the scripted code. Records the prompts it was shown.
    #[derive(Default)]
    struct ScriptedCipher {
        reject: Option<PluginRejection>,
        prompts: Mutex<Vec<PromptText>>,
    }

    impl ScriptedCipher {
        fn rejecting(code: Option<&str>) -> Self {
            Self {
                reject: Some(PluginRejection {
                    code: code.map(str::to_owned),
                    message: Some("from the script".into()),
                }),
                prompts: Mutex::default(),
            }
        }

        fn answer(&self, prompt: &PromptText, text: &str) -> Result<String, PluginRejection> {
            self.prompts.lock().unwrap().push(prompt.clone());
            match &self.reject {
                Some(rejection) => Err(rejection.clone()),
                None => Ok(text.chars().rev().collect()),
            }
        }
    }

    impl BiometricCipher for ScriptedCipher {
        fn encrypt(&self, prompt: &PromptText, text: &str) -> Result<String, PluginRejection> {
            self.answer(prompt, text)
        }
        fn decrypt(
            &self,
            prompt: &PromptText,
            ciphertext: &str,
        ) -> Result<Zeroizing<String>, PluginRejection> {
            self.answer(prompt, ciphertext).map(Zeroizing::new)
        }
    }

    fn enrolled_vault() -> (tempfile::TempDir, FileVault, DeviceKey) {
        let key = DeviceKey::generate(&mut RandomRng::new(&SeededRandom::new(7)));
        let protected = AndroidBiometricVerifier::new(ScriptedCipher::default())
            .protect(&key)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let vault = FileVault::new(dir.path().join("device.key"));
        vault.store(&protected).unwrap();
        (dir, vault, key)
    }

    #[test]
    fn wraps_and_unwraps_through_the_cipher_with_the_given_prompt() {
        let (_dir, vault, key) = enrolled_vault();
        let prompt = PromptText {
            title: "Nøkkel".into(),
            reason: "Bekreft innloggingen til NAV".into(),
            cancel: "Avbryt".into(),
        };
        let verifier =
            AndroidBiometricVerifier::new(ScriptedCipher::default()).with_prompt(prompt.clone());
        let unlocked = verifier.unlock(&vault, "Log in to NAV?").unwrap();
        assert_eq!(unlocked.key().device_id(), key.device_id());
        assert_eq!(unlocked.method(), UserVerification::Biometric);
        assert_eq!(*verifier.cipher.prompts.lock().unwrap(), vec![prompt]);
    }

    #[test]
    fn every_plugin_rejection_on_unlock_has_its_own_error() {
        let (_dir, vault, _key) = enrolled_vault();
        let cases: &[(Option<&str>, &str)] = &[
            (Some("userCancel"), "verification_cancelled"),
            (Some("systemCancel"), "verification_cancelled"),
            (Some("authenticationFailed"), "biometry_not_recognised"),
            (Some("biometryLockout"), "biometry_lockout"),
            (Some("biometryNotEnrolled"), "biometry_not_enrolled"),
            (Some("passcodeNotSet"), "biometry_not_enrolled"),
            // A Keystore key invalidated by a new fingerprint or a removed screen lock.
            (Some(""), "key_invalidated"),
            (Some("biometryNotAvailable"), "verification_unavailable"),
            (Some("invalidContext"), "verification_unavailable"),
            (None, "verification_unavailable"),
        ];
        for (code, expected) in cases {
            let verifier = AndroidBiometricVerifier::new(ScriptedCipher::rejecting(*code));
            let err = verifier.unlock(&vault, "Open Nøkkel").unwrap_err();
            assert_eq!(err.code(), *expected, "plugin code {code:?}");
        }
    }

    #[test]
    fn an_empty_code_when_enrolling_is_not_an_invalidated_key() {
        // Encrypting replaces an invalidated key in the plugin; an empty code here means
        // the cipher could not be set up at all (e.g. no strong biometrics).
        let key = DeviceKey::generate(&mut RandomRng::new(&SeededRandom::new(8)));
        let verifier = AndroidBiometricVerifier::new(ScriptedCipher::rejecting(Some("")));
        assert_eq!(
            verifier.protect(&key).unwrap_err().code(),
            "verification_unavailable"
        );
        let verifier =
            AndroidBiometricVerifier::new(ScriptedCipher::rejecting(Some("biometryLockout")));
        assert_eq!(
            verifier.protect(&key).unwrap_err().code(),
            "biometry_lockout"
        );
    }

    #[test]
    fn messages_never_echo_the_key() {
        let (_dir, vault, key) = enrolled_vault();
        let verifier = AndroidBiometricVerifier::new(ScriptedCipher::rejecting(Some("weird")));
        let err = verifier.unlock(&vault, "x").unwrap_err();
        let secret = STANDARD_NO_PAD.encode(key.to_secret_bytes().as_ref());
        assert!(!err.to_string().contains(&secret));
        assert!(err.to_string().contains("weird"), "{err}");
    }
}
