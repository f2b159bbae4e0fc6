//! Code that exists only in the Android and iOS builds, one module per concern.
//!
//! None of it can be compiled on the Linux machines that build and test the desktop app
//! (no Android NDK or Xcode there), so each module is small, names the exact plugin or
//! crate API it relies on, and is checked line by line against that API's source.

#[cfg(target_os = "android")]
pub mod biometric_cipher;
#[cfg(target_os = "ios")]
pub mod protected_keychain;
pub mod qr_scan;
