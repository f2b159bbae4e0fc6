//! Whether the platform offers face/finger verification, asked of tauri-plugin-biometric
//! from Rust (the prompt itself is shown by the platform verifiers, see `device`).
//!
//! The plugin compiles everywhere since 2.5; on Linux and Windows `status()` reports
//! `is_available: false` (`biometryNotAvailable`) and the app falls back to its passcode.
//! Its calls block until the person answers the prompt, so they run on a blocking thread.

use tauri::{AppHandle, Runtime};
use tauri_plugin_biometric::{BiometricExt, BiometryType};

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
