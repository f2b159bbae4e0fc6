//! Code that exists only in the Android and iOS builds, one module per concern.
//!
//! None of it can be compiled on the Linux machines that build and test the desktop app
//! (no Android NDK or Xcode there), so each module is small, names the exact plugin or
//! crate API it relies on, and was checked line by line against that API's source. The key
//! handling itself lives in `nokkel_client::mobile` behind the same `KeyVault` and
//! `UserVerifier` traits as the desktop code; these modules only connect it to Tauri.

#[cfg(target_os = "android")]
pub mod biometric_cipher;
#[cfg(target_os = "ios")]
pub mod protected_keychain;
pub mod qr_scan;

use std::sync::Arc;

use nokkel_client::KeyVault;
use tauri::{AppHandle, Runtime};

use crate::device::Verifiers;
use crate::error::AppError;

/// The phone's key vault and verifiers.
#[cfg(target_os = "android")]
pub fn vault_and_verifiers<R: Runtime>(
    app: AppHandle<R>,
) -> Result<(Arc<dyn KeyVault>, Arc<dyn Verifiers>), AppError> {
    let vault = nokkel_client::mobile::android::vault()
        .map_err(|e| AppError::new(e.code(), e.to_string()))?;
    Ok((
        Arc::new(vault),
        Arc::new(biometric_cipher::AndroidVerifiers::new(app)),
    ))
}

/// The phone's key vault and verifiers.
#[cfg(target_os = "ios")]
pub fn vault_and_verifiers<R: Runtime>(
    _app: AppHandle<R>,
) -> Result<(Arc<dyn KeyVault>, Arc<dyn Verifiers>), AppError> {
    let vault =
        nokkel_client::mobile::ios::vault().map_err(|e| AppError::new(e.code(), e.to_string()))?;
    Ok((Arc::new(vault), Arc::new(protected_keychain::IosVerifiers)))
}
