//! Code that exists only in the Android and iOS builds, one module per concern.
//!
//! Compiled for the phones, and on the Linux host under `nokkel_mobile_check` (`android`
//! or `ios`; scripts/mobile-check.sh runs `cargo check` and `clippy -D warnings` for both):
//! against the real crates where they build on Linux, and against `plugin_shim` for what
//! exists only in a phone build (the biometric plugin's `biometric_cipher`, tauri's
//! `plugin::mobile` errors, the barcode scanner's `init`, the notifications plugin's push
//! registration). The key handling itself lives in
//! `nokkel_client::mobile` behind the same `KeyVault` and `UserVerifier` traits as the
//! desktop code; these modules only connect it to Tauri.

#[cfg(any(target_os = "android", nokkel_mobile_check = "android"))]
pub mod biometric_cipher;
#[cfg(not(mobile))]
mod plugin_shim;
#[cfg(any(target_os = "ios", nokkel_mobile_check = "ios"))]
pub mod protected_keychain;
pub mod push_token;
pub mod qr_scan;
#[cfg(any(target_os = "android", nokkel_mobile_check = "android"))]
pub mod strong_biometrics;

#[cfg(any(
    target_os = "android",
    target_os = "ios",
    nokkel_mobile_check = "android",
    nokkel_mobile_check = "ios"
))]
pub use platform::vault_and_verifiers;

/// The phone's key vault and the verifiers that go with it.
pub struct PhoneKeys {
    /// Where the (protected) device key lives.
    pub vault: std::sync::Arc<dyn nokkel_client::KeyVault>,
    /// The platform's user verifiers.
    pub verifiers: std::sync::Arc<dyn crate::device::Verifiers>,
}

#[cfg(any(target_os = "android", nokkel_mobile_check = "android"))]
mod platform {
    use std::sync::Arc;

    use tauri::{AppHandle, Runtime};

    use super::{biometric_cipher, PhoneKeys};
    use crate::error::AppError;

    /// The phone's key vault and verifiers.
    pub fn vault_and_verifiers<R: Runtime>(app: AppHandle<R>) -> Result<PhoneKeys, AppError> {
        let vault = nokkel_client::mobile::android::vault()
            .map_err(|e| AppError::new(e.code(), e.to_string()))?;
        Ok(PhoneKeys {
            vault: Arc::new(vault),
            verifiers: Arc::new(biometric_cipher::AndroidVerifiers::new(app)),
        })
    }
}

#[cfg(all(
    any(target_os = "ios", nokkel_mobile_check = "ios"),
    not(any(target_os = "android", nokkel_mobile_check = "android"))
))]
mod platform {
    use std::sync::Arc;

    use nokkel_client::mobile::ios::IosKeychain;
    use tauri::{AppHandle, Runtime};

    use super::{protected_keychain, PhoneKeys};
    use crate::error::AppError;

    /// The phone's key vault and verifiers.
    pub fn vault_and_verifiers<R: Runtime>(app: AppHandle<R>) -> Result<PhoneKeys, AppError> {
        Ok(PhoneKeys {
            vault: Arc::new(IosKeychain::new()),
            verifiers: Arc::new(protected_keychain::IosVerifiers::new(&app)),
        })
    }
}
