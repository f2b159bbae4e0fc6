//! Stand-ins for the Apple-only crates, so `ios` type-checks on the Linux host under
//! `nokkel_mobile_check = "ios"` (security-framework and core-foundation do not build on
//! Linux). Only what `ios` calls, each signature copied from the pinned version and naming
//! its source file; the module tree mirrors the crates', so `ios` imports the same paths
//! from the real crates on iOS. Never linked into an app: every call fails.

#![allow(dead_code, missing_docs)]

/// core-foundation 0.10.1.
pub mod core_foundation {
    /// core-foundation-0.10.1/src/base.rs
    pub mod base {
        /// `pub struct CFType(CFTypeRef)` (declare_TCFType!).
        pub struct CFType(pub(in crate::mobile::apple_shim) ());

        /// `pub trait TCFType`, the one method `ios` uses.
        #[allow(non_snake_case)]
        pub trait TCFType {
            /// `fn into_CFType(self) -> CFType`
            fn into_CFType(self) -> CFType;
        }
    }

    /// core-foundation-0.10.1/src/string.rs
    pub mod string {
        use super::base::{CFType, TCFType};

        /// `pub struct CFString(CFStringRef)` (declare_TCFType!).
        pub struct CFString(());

        impl CFString {
            /// `pub fn new(string: &str) -> CFString`
            pub fn new(_string: &str) -> CFString {
                CFString(())
            }
        }

        impl TCFType for CFString {
            fn into_CFType(self) -> CFType {
                CFType(())
            }
        }
    }
}

/// security-framework 3.7.0.
pub mod security_framework {
    /// security-framework-3.7.0/src/base.rs
    pub mod base {
        use std::num::NonZeroI32;

        /// `pub type Result<T, E = Error> = result::Result<T, E>;`
        pub type Result<T, E = Error> = std::result::Result<T, E>;

        /// `pub struct Error(NonZeroI32)`, `#[derive(Copy, Clone)]`, Debug and Display.
        #[derive(Copy, Clone, Debug)]
        pub struct Error(NonZeroI32);

        impl Error {
            /// `pub fn from_code(code: OSStatus) -> Self`
            pub fn from_code(code: i32) -> Self {
                Self(NonZeroI32::new(code).unwrap_or(NonZeroI32::MIN))
            }
            /// `pub const fn code(self) -> OSStatus` (OSStatus = i32).
            pub const fn code(self) -> i32 {
                self.0.get()
            }
        }

        impl std::fmt::Display for Error {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "error code {}", self.code())
            }
        }

        /// errSecUnimplemented: what every stand-in returns.
        pub(crate) fn unimplemented() -> Error {
            Error::from_code(-4)
        }
    }

    /// security-framework-3.7.0/src/access_control.rs
    pub mod access_control {
        use super::base::{unimplemented, Result};

        /// `pub struct SecAccessControl` (declare_TCFType!).
        pub struct SecAccessControl(());

        /// `pub enum ProtectionMode` (all five variants, named as upstream).
        #[allow(clippy::enum_variant_names)]
        pub enum ProtectionMode {
            AccessibleWhenPasscodeSetThisDeviceOnly,
            AccessibleWhenUnlockedThisDeviceOnly,
            AccessibleWhenUnlocked,
            AccessibleAfterFirstUnlockThisDeviceOnly,
            AccessibleAfterFirstUnlock,
        }

        impl SecAccessControl {
            /// `pub fn create_with_protection(protection: Option<ProtectionMode>, flags:
            /// CFOptionFlags) -> Result<Self>` (CFOptionFlags = usize, core-foundation-sys
            /// 0.8.7 src/base.rs).
            pub fn create_with_protection(
                _protection: Option<ProtectionMode>,
                _flags: usize,
            ) -> Result<Self> {
                Err(unimplemented())
            }
        }
    }

    /// security-framework-3.7.0/src/passwords.rs (re-exports of passwords_options.rs).
    pub mod passwords {
        use super::access_control::SecAccessControl;
        use super::base::{unimplemented, Result};
        use crate::mobile::apple_shim::core_foundation::base::CFType;
        use crate::mobile::apple_shim::core_foundation::string::CFString;

        /// passwords_options.rs: `bitflags! { pub struct AccessControlOptions: CFOptionFlags }`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct AccessControlOptions(usize);

        impl AccessControlOptions {
            /// `const BIOMETRY_CURRENT_SET = kSecAccessControlBiometryCurrentSet;` (1 << 3)
            pub const BIOMETRY_CURRENT_SET: Self = Self(1 << 3);
            /// bitflags' `pub const fn bits(&self) -> CFOptionFlags`
            pub const fn bits(&self) -> usize {
                self.0
            }
            /// bitflags' `pub const fn empty() -> Self`
            pub const fn empty() -> Self {
                Self(0)
            }
        }

        /// passwords_options.rs: `pub struct PasswordOptions { #[deprecated] pub query:
        /// Vec<(CFString, CFType)> }`.
        pub struct PasswordOptions {
            #[deprecated(
                note = "This field should have been private. Please use setters that don't expose CFType"
            )]
            pub query: Vec<(CFString, CFType)>,
        }

        impl PasswordOptions {
            /// `pub fn new_generic_password(service: &str, account: &str) -> Self`
            #[allow(deprecated)]
            pub fn new_generic_password(_service: &str, _account: &str) -> Self {
                Self { query: Vec::new() }
            }
            /// `pub fn set_access_control(&mut self, access_control: SecAccessControl)`
            pub fn set_access_control(&mut self, _access_control: SecAccessControl) {}
            /// `pub fn use_protected_keychain(&mut self)` (iOS, or macOS with OSX_10_15)
            pub fn use_protected_keychain(&mut self) {}
            /// `pub fn set_label(&mut self, label: &str)`
            pub fn set_label(&mut self, _label: &str) {}
        }

        /// `pub fn set_generic_password_options(password: &[u8], mut options:
        /// PasswordOptions) -> Result<()>`
        pub fn set_generic_password_options(
            _password: &[u8],
            _options: PasswordOptions,
        ) -> Result<()> {
            Err(unimplemented())
        }

        /// `pub fn generic_password(mut options: PasswordOptions) -> Result<Vec<u8>>`
        pub fn generic_password(_options: PasswordOptions) -> Result<Vec<u8>> {
            Err(unimplemented())
        }

        /// `pub fn delete_generic_password_options(options: PasswordOptions) -> Result<()>`
        pub fn delete_generic_password_options(_options: PasswordOptions) -> Result<()> {
            Err(unimplemented())
        }
    }
}
