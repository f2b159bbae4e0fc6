//! Whether the platform offers face/finger verification, asked of tauri-plugin-biometric
//! from Rust (the prompt itself is shown by the platform verifiers, see `device`).
//!
//! The plugin compiles everywhere since 2.5; on Linux and Windows `status()` reports
//! `is_available: false` (`biometryNotAvailable`) and the app falls back to its passcode.
//! On Android the plugin asks for weak (class 2) biometrics while the cipher needs strong
//! (class 3) ones, so Android's own answer for class 3 decides there
//! (`mobile::strong_biometrics`). Its calls block, so they run on a blocking thread.

use tauri::{AppHandle, Runtime};
use tauri_plugin_biometric::{BiometricExt, BiometryType, Status};

/// What [`biometric_status`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Availability {
    /// The prompt can be used now.
    pub available: bool,
    /// `face`, `fingerprint` or `none`.
    pub kind: &'static str,
}

const NONE: Availability = Availability {
    available: false,
    kind: "none",
};

/// Combines the plugin's `status()` (None: it failed, e.g. an iris-only Android phone whose
/// type 3 the plugin's `BiometryType` cannot read) with the platform's answer for the class
/// the key protection needs (None: no such answer, the plugin decides).
pub fn availability(status: Option<&Status>, strong_ready: Option<bool>) -> Availability {
    let kind = match status.map(|s| &s.biometry_type) {
        Some(BiometryType::FaceID) => "face",
        Some(BiometryType::TouchID) => "fingerprint",
        Some(BiometryType::None) | None => "none",
    };
    let available = match strong_ready {
        Some(ready) => ready,
        None => status.is_some_and(|s| s.is_available),
    };
    if available {
        Availability { available, kind }
    } else {
        NONE
    }
}

/// Asks whether face/finger verification is available. Any failure counts as "not
/// available": the passcode is always offered instead.
pub async fn biometric_status<R: Runtime>(app: AppHandle<R>) -> Availability {
    tauri::async_runtime::spawn_blocking(move || {
        let status = app.biometric().status().ok();
        #[cfg(any(target_os = "android", nokkel_mobile_check = "android"))]
        let strong = crate::mobile::strong_biometrics::strong_biometrics(&app)
            .map(|s| s == crate::mobile::strong_biometrics::Strong::Ready);
        #[cfg(not(any(target_os = "android", nokkel_mobile_check = "android")))]
        let strong = None;
        availability(status.as_ref(), strong)
    })
    .await
    .unwrap_or(NONE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(is_available: bool, biometry_type: BiometryType) -> Status {
        Status {
            is_available,
            biometry_type,
            error: None,
            error_code: None,
        }
    }

    #[test]
    fn the_class_the_cipher_needs_decides_over_the_plugins_weak_check() {
        // Class 2 face unlock only: the plugin says yes, Android's class 3 answer says no.
        let weak_only = status(true, BiometryType::FaceID);
        assert_eq!(availability(Some(&weak_only), Some(false)), NONE);
        assert_eq!(
            availability(Some(&weak_only), Some(true)),
            Availability {
                available: true,
                kind: "face"
            }
        );
        // No class answer (desktop, old Android): the plugin decides.
        assert!(availability(Some(&status(true, BiometryType::TouchID)), None).available);
        assert_eq!(
            availability(Some(&status(false, BiometryType::TouchID)), None),
            NONE
        );
    }

    #[test]
    fn a_status_the_plugin_cannot_read_does_not_hide_strong_biometrics() {
        // An iris-only phone: the plugin's status fails to deserialize type 3.
        assert_eq!(
            availability(None, Some(true)),
            Availability {
                available: true,
                kind: "none"
            }
        );
        assert_eq!(availability(None, None), NONE);
    }
}
