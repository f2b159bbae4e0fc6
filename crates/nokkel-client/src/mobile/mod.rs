//! The phone designs (DESIGN.md "Keys and user verification"). They cannot be compiled on
//! the Linux build machines, so each lives in one small module behind `cfg` and uses only
//! the same traits as the desktop code: a [`crate::KeyringVault`] over the platform's
//! keyring-core store and a [`crate::UserVerifier`].

#[cfg(target_os = "android")]
pub mod android;
#[cfg(target_os = "ios")]
pub mod ios;
