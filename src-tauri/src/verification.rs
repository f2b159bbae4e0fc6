//! The platform's face/finger prompt, through tauri-plugin-biometric called from Rust.
//!
//! The plugin compiles everywhere since 2.5; on Linux and Windows `status()` reports
//! `is_available: false` (`biometryNotAvailable`) and the app falls back to its passcode.
//! Its calls block until the person answers the prompt, so they run on a blocking thread.

use tauri::{AppHandle, Runtime};
use tauri_plugin_biometric::{AuthOptions, BiometricExt, BiometryType};

use crate::error::AppError;

/// What [`biometric_status`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Availability {
    /// The prompt can be used now.
    pub available: bool,
    /// `face`, `fingerprint` or `none`.
    pub kind: &'static str,
}

/// Asks the plugin whether face/finger verification is available. Any plugin error counts as
/// "not available": the passcode is always offered instead.
pub async fn biometric_status<R: Runtime>(app: AppHandle<R>) -> Availability {
    let answer = tauri::async_runtime::spawn_blocking(move || app.biometric().status()).await;
    match answer {
        Ok(Ok(status)) if status.is_available => Availability {
            available: true,
            kind: match status.biometry_type {
                BiometryType::FaceID => "face",
                BiometryType::TouchID => "fingerprint",
                BiometryType::None => "none",
            },
        },
        _ => Availability {
            available: false,
            kind: "none",
        },
    }
}

/// Shows the platform prompt with `reason`; `Ok` only when the person passed it.
///
/// Errors: `verification_unavailable` (no biometrics here: use the passcode) or
/// `verification_failed` (cancelled or not recognised; the person may try again).
pub async fn prompt<R: Runtime>(app: AppHandle<R>, reason: &str) -> Result<(), AppError> {
    if !biometric_status(app.clone()).await.available {
        return Err(AppError::new(
            "verification_unavailable",
            "face or fingerprint verification is not available on this device",
        ));
    }
    let reason = reason.to_owned();
    let options = AuthOptions {
        // The signed approval states `biometric`; the phone's PIN is a different method.
        allow_device_credential: false,
        ..AuthOptions::default()
    };
    let answer =
        tauri::async_runtime::spawn_blocking(move || app.biometric().authenticate(reason, options))
            .await;
    match answer {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) | Err(_) => Err(AppError::new(
            "verification_failed",
            "the face or fingerprint check did not succeed",
        )),
    }
}
