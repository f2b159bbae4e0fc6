//! The phone designs (DESIGN.md "Keys and user verification"), each behind the same
//! traits as the desktop code: a [`crate::KeyVault`] and a [`crate::UserVerifier`].
//!
//! - [`biometric`]: the Android biometric-cipher verifier and the plugin's error codes;
//!   plain Rust, compiled and tested everywhere.
//! - `android`: the Android keyring store. `ios`: the iOS keychain item and its verifier.
//!   Compiled for their phone, and on the Linux host when `nokkel_mobile_check` names them
//!   (scripts/mobile-check.sh runs `cargo check` and `clippy` for both): `android` against
//!   the real store crate, `ios` against `apple_shim`, signatures copied from
//!   security-framework 3.7.0 for what exists only on Apple platforms.

pub mod biometric;

#[cfg(all(nokkel_mobile_check = "android", not(feature = "mobile-check")))]
compile_error!("NOKKEL_MOBILE_CHECK=android needs the feature `mobile-check` (the Android store)");

#[cfg(any(target_os = "android", nokkel_mobile_check = "android"))]
pub mod android;
#[cfg(all(nokkel_mobile_check = "ios", not(target_os = "ios")))]
mod apple_shim;
#[cfg(any(target_os = "ios", nokkel_mobile_check = "ios"))]
pub mod ios;
