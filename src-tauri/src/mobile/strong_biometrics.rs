//! Android: whether the phone has **class 3 ("strong")** biometrics ready — the class the
//! biometric cipher needs. tauri-plugin-biometric 2.5.0's `status()` asks for
//! `BIOMETRIC_WEAK` (`BiometricPlugin.kt`, `status`), while its cipher prompt allows only
//! `BIOMETRIC_STRONG` (`BiometricActivity.kt`, `createPromptInfo`): on a phone with only
//! class 2 face unlock the app would offer a fingerprint/face setup that can never work.
//!
//! So the app asks Android itself, through the webview's JNI handle (tauri 2.12.5
//! `webview::PlatformWebview::jni_handle`, wry 0.57.1 `JniHandle::exec`, which runs the
//! closure on the activity's thread with its `JNIEnv` and activity), with jni 0.21's safe
//! calls:
//!
//! ```text
//! activity.getSystemService(android.hardware.biometrics.BiometricManager.class)
//!         .canAuthenticate(BiometricManager.Authenticators.BIOMETRIC_STRONG /* 0x0F */)
//! ```
//!
//! `canAuthenticate(int)` exists from API 30. Below that, BiometricPrompt offers only
//! biometrics that meet the strong bar, so the plugin's answer stands (`None` here).
//! In the host check `jni_handle` comes from `super::plugin_shim::webview`.

use std::sync::mpsc;
use std::time::Duration;

use jni::objects::{JObject, JValue};
use jni::JNIEnv;
use tauri::{AppHandle, Manager, Runtime};

#[cfg(not(mobile))]
use super::plugin_shim::webview::JniHandleExt as _;

/// `Build.VERSION_CODES.R`: the first API level with `canAuthenticate(int)`.
const API_30: i32 = 30;
/// `BiometricManager.Authenticators.BIOMETRIC_STRONG`.
const BIOMETRIC_STRONG: i32 = 0x0F;
/// `BiometricManager.BIOMETRIC_SUCCESS`.
const BIOMETRIC_SUCCESS: i32 = 0;
/// `BiometricManager.BIOMETRIC_ERROR_NONE_ENROLLED`.
const BIOMETRIC_ERROR_NONE_ENROLLED: i32 = 11;

/// What Android says about class 3 biometrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strong {
    /// Ready: the cipher can be used.
    Ready,
    /// Hardware present, nothing enrolled.
    NotEnrolled,
    /// No class 3 biometrics on this phone (or not usable now).
    Unavailable,
}

fn can_authenticate_strong(
    env: &mut JNIEnv,
    activity: &JObject,
) -> jni::errors::Result<Option<i32>> {
    let sdk = env
        .get_static_field("android/os/Build$VERSION", "SDK_INT", "I")?
        .i()?;
    if sdk < API_30 {
        return Ok(None);
    }
    let class = env.find_class("android/hardware/biometrics/BiometricManager")?;
    let manager = env
        .call_method(
            activity,
            "getSystemService",
            "(Ljava/lang/Class;)Ljava/lang/Object;",
            &[JValue::Object(&class)],
        )?
        .l()?;
    let answer = env
        .call_method(
            &manager,
            "canAuthenticate",
            "(I)I",
            &[JValue::Int(BIOMETRIC_STRONG)],
        )?
        .i()?;
    Ok(Some(answer))
}

/// Asks Android; `None` when it cannot say (old Android, no window, a JNI failure), in
/// which case the plugin's own `status()` decides.
pub fn strong_biometrics<R: Runtime>(app: &AppHandle<R>) -> Option<Strong> {
    let webview = app.webview_windows().into_values().next()?;
    let (tx, rx) = mpsc::channel();
    webview
        .with_webview(move |platform| {
            platform.jni_handle().exec(move |env, activity, _webview| {
                let answer = can_authenticate_strong(env, activity);
                if answer.is_err() {
                    // A Java exception stays pending until cleared.
                    let _ = env.exception_clear();
                }
                let _ = tx.send(answer.ok().flatten());
            });
        })
        .ok()?;
    let code = rx.recv_timeout(Duration::from_secs(5)).ok()??;
    Some(match code {
        BIOMETRIC_SUCCESS => Strong::Ready,
        BIOMETRIC_ERROR_NONE_ENROLLED => Strong::NotEnrolled,
        _ => Strong::Unavailable,
    })
}
