//! Scanning the activation letter's QR code (Android and iOS).
//!
//! Relies on tauri-plugin-barcode-scanner 2.5.3, whose Rust side is only
//! `tauri_plugin_barcode_scanner::init::<R>() -> TauriPlugin<R>` (the crate is
//! `#![cfg(mobile)]`; `plugin_shim::barcode_scanner` stands in for it in the host check).
//! The scan itself is the plugin's JavaScript API, npm `@tauri-apps/plugin-barcode-scanner`
//! 2.5.3 (same version as the crate, or `tauri build` refuses), used in
//! `ui/src/lib/scan.ts`: `scan({ formats: [Format.QRCode], windowed: true })` shows the
//! camera behind the transparent page, which keeps a Cancel button on top that calls
//! `cancel()`. The page may call them because `capabilities/mobile.json` grants
//! `barcode-scanner:allow-scan`, `allow-cancel`, `allow-check-permissions` and
//! `allow-request-permissions` on `android`/`iOS` only. The camera permission string is
//! `NSCameraUsageDescription` in `src-tauri/Info.ios.plist`; Android declares
//! `android.permission.CAMERA` through the plugin's own manifest.
//!
//! The QR code carries only the activation code; the app still runs it through
//! `check_code` (core's `ActivationCode::parse`) before using it.

#[cfg(not(mobile))]
use super::plugin_shim::barcode_scanner as tauri_plugin_barcode_scanner;
use tauri::{Builder, Runtime};

/// Registers the barcode-scanner plugin.
pub fn register<R: Runtime>(builder: Builder<R>) -> Builder<R> {
    builder.plugin(tauri_plugin_barcode_scanner::init())
}
