//! Stand-ins for the plugin and tauri APIs that exist only in a phone build (`cfg(mobile)`),
//! so the Android and iOS modules type-check on the Linux host under `nokkel_mobile_check`
//! (scripts/mobile-check.sh). Each item's signature is copied from the pinned version and
//! names its source file; the modules mirror the crates' paths, so the callers import the
//! same names from the real crates in a phone build. Never registered or run: a mobile
//! check build is never started.

#![allow(dead_code)]

/// tauri 2.12.5, `src/plugin/mobile.rs` (the module is `#[cfg(mobile)]` in `src/plugin.rs`).
pub mod plugin_mobile {
    /// `pub struct ErrorResponse<T = ()>`: `#[derive(Debug, thiserror::Error, Clone,
    /// serde::Deserialize)]` with the same fields; its `Display` prints `[code] - message`.
    #[derive(Debug, Clone, thiserror::Error)]
    #[error("[{code:?}] - {message:?}")]
    pub struct ErrorResponse<T = ()> {
        /// Error code.
        pub code: Option<String>,
        /// Error message.
        pub message: Option<String>,
        /// Optional error data (`#[serde(flatten)]`).
        pub data: T,
    }

    /// `pub enum PluginInvokeError`, all variants.
    #[derive(Debug, thiserror::Error)]
    pub enum PluginInvokeError {
        /// Failed to reach platform webview handle.
        #[error("the webview is unreachable")]
        UnreachableWebview,
        /// JNI error (`#[cfg(target_os = "android")]` in tauri).
        #[cfg(nokkel_mobile_check = "android")]
        #[error("jni error: {0}")]
        Jni(#[from] jni::errors::Error),
        /// Error returned from direct mobile plugin invoke.
        #[error(transparent)]
        InvokeRejected(#[from] ErrorResponse),
        /// Failed to deserialize response.
        #[error("failed to deserialize response: {0}")]
        CannotDeserializeResponse(serde_json::Error),
        /// Failed to serialize request payload.
        #[error("failed to serialize payload: {0}")]
        CannotSerializePayload(serde_json::Error),
    }
}

/// tauri-plugin-biometric 2.5.0 as compiled for a phone.
pub mod biometric {
    use std::marker::PhantomData;

    use tauri::{Manager, Runtime};
    use tauri_plugin_biometric::{AuthOptions, CipherResult};

    use super::plugin_mobile::PluginInvokeError;

    /// `src/error.rs`: `pub enum Error` with its mobile variants.
    #[derive(Debug, thiserror::Error)]
    pub enum Error {
        /// An I/O error occurred.
        #[error(transparent)]
        Io(#[from] std::io::Error),
        /// `#[cfg(mobile)]`: the invocation of the Android or iOS plugin failed.
        #[error(transparent)]
        PluginInvoke(#[from] PluginInvokeError),
    }

    /// `src/error.rs`: `pub type Result<T> = std::result::Result<T, Error>;`
    pub type Result<T> = std::result::Result<T, Error>;

    /// `src/mobile.rs`: `pub struct Biometric<R: Runtime>(PluginHandle<R>);`
    pub struct Biometric<R: Runtime>(PhantomData<fn() -> R>);

    impl<R: Runtime> Biometric<R> {
        /// `src/mobile.rs`: `pub fn biometric_cipher(&self, reason: String, options:
        /// AuthOptions) -> crate::Result<CipherResult>` (runs `biometricCipher` through
        /// `PluginHandle::run_mobile_plugin`).
        pub fn biometric_cipher(
            &self,
            _reason: String,
            _options: AuthOptions,
        ) -> Result<CipherResult> {
            Err(Error::PluginInvoke(PluginInvokeError::UnreachableWebview))
        }
    }

    /// `src/lib.rs`: `pub trait BiometricExt<R: Runtime>` and its blanket impl, which
    /// returns the mobile `Biometric` in a phone build.
    pub trait BiometricExt<R: Runtime> {
        /// Returns the [`Biometric`] instance managed by the app.
        fn biometric(&self) -> &Biometric<R>;
    }

    impl<R: Runtime, T: Manager<R>> BiometricExt<R> for T {
        fn biometric(&self) -> &Biometric<R> {
            self.state::<Biometric<R>>().inner()
        }
    }
}

/// tauri-plugin-barcode-scanner 2.5.3, `src/lib.rs` (the whole crate is `#![cfg(mobile)]`).
pub mod barcode_scanner {
    use tauri::plugin::{Builder, TauriPlugin};
    use tauri::Runtime;

    /// `pub fn init<R: Runtime>() -> TauriPlugin<R>`
    pub fn init<R: Runtime>() -> TauriPlugin<R> {
        Builder::new("barcode-scanner").build()
    }
}

/// tauri-plugin-notifications 0.4.6 as compiled for a phone with `default-features = false,
/// features = ["push-notifications"]` (without `notify-rust` its Linux build has no
/// `Notifications` at all: `src/lib.rs` defines it only for mobile, macOS or `notify-rust`).
pub mod notifications {
    use std::marker::PhantomData;

    use tauri::plugin::{Builder, PermissionState, TauriPlugin};
    use tauri::{Manager, Runtime};

    use super::plugin_mobile::PluginInvokeError;

    /// `src/error.rs`: `pub enum Error` with its mobile variants.
    #[derive(Debug, thiserror::Error)]
    pub enum Error {
        /// An I/O error (also "Push notifications feature is not enabled").
        #[error(transparent)]
        Io(#[from] std::io::Error),
        /// `#[cfg(mobile)]`: the invocation of the Android or iOS plugin failed.
        #[error(transparent)]
        PluginInvoke(#[from] PluginInvokeError),
    }

    /// `src/error.rs`: `pub type Result<T> = std::result::Result<T, Error>;`
    pub type Result<T> = std::result::Result<T, Error>;

    /// `src/mobile.rs`: `pub struct Notifications<R: Runtime>(PluginHandle<R>);`
    pub struct Notifications<R: Runtime>(PhantomData<fn() -> R>);

    impl<R: Runtime> Notifications<R> {
        /// `src/mobile.rs`: `pub async fn register_for_push_notifications(&self) ->
        /// crate::Result<String>` (native `registerForPushNotifications`, answer
        /// `{"deviceToken": …}`).
        pub async fn register_for_push_notifications(&self) -> Result<String> {
            Err(Error::PluginInvoke(PluginInvokeError::UnreachableWebview))
        }

        /// `src/mobile.rs`: `pub async fn permission_state(&self) ->
        /// crate::Result<PermissionState>` (native `checkPermissions`).
        pub async fn permission_state(&self) -> Result<PermissionState> {
            Err(Error::PluginInvoke(PluginInvokeError::UnreachableWebview))
        }
    }

    /// `src/lib.rs`: `pub trait NotificationsExt<R: Runtime>` and its blanket impl over
    /// `Manager<R>`.
    pub trait NotificationsExt<R: Runtime> {
        /// Returns the [`Notifications`] instance managed by the app.
        fn notifications(&self) -> &Notifications<R>;
    }

    impl<R: Runtime, T: Manager<R>> NotificationsExt<R> for T {
        fn notifications(&self) -> &Notifications<R> {
            self.state::<Notifications<R>>().inner()
        }
    }

    /// `src/lib.rs`: `pub fn init<R: Runtime>() -> TauriPlugin<R>` (plugin name
    /// `notifications`).
    pub fn init<R: Runtime>() -> TauriPlugin<R> {
        Builder::new("notifications").build()
    }
}

/// The Android webview's JNI handle (`#[cfg(target_os = "android")]` in tauri and wry).
#[cfg(nokkel_mobile_check = "android")]
pub mod webview {
    use jni::objects::JObject;
    use jni::JNIEnv;
    use tauri::webview::PlatformWebview;

    /// wry 0.57.1 `src/android/mod.rs`: `pub struct JniHandle` (`Clone, Copy`).
    #[derive(Clone, Copy)]
    pub struct JniHandle(());

    impl JniHandle {
        /// `pub fn exec<F>(&self, func: F) where F: FnOnce(&mut JNIEnv, &JObject, &JObject)
        /// + Send + 'static`
        pub fn exec<F>(&self, _func: F)
        where
            F: FnOnce(&mut JNIEnv, &JObject, &JObject) + Send + 'static,
        {
        }
    }

    /// tauri 2.12.5 `src/webview/mod.rs`: `impl PlatformWebview { pub fn jni_handle(&self)
    /// -> tauri_runtime_wry::wry::JniHandle }` (an inherent method there).
    pub trait JniHandleExt {
        /// The handle to run JNI code on the webview's thread.
        fn jni_handle(&self) -> JniHandle;
    }

    impl JniHandleExt for PlatformWebview {
        fn jni_handle(&self) -> JniHandle {
            JniHandle(())
        }
    }
}
