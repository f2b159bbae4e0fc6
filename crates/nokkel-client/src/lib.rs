//! The device side of Nøkkel: everything the authenticator app (and the `nokkel device`
//! software authenticator) does that is not drawing screens.
//!
//! - [`Authenticator`] holds the device's local state (a directory), its [`KeyVault`] and
//!   the injected clock and randomness. [`Authenticator::enrol`] registers a new device
//!   with an activation letter; [`Authenticator::unlock`] opens an enrolled one.
//! - [`Device`] is an unlocked, enrolled device: [`Device::pending`] fetches the login
//!   request (checked against the server key pinned at enrolment), [`Device::approve`]
//!   asks the [`UserVerifier`] first and then signs, [`Device::deny`],
//!   [`Device::history`], [`Device::devices`], [`Device::revoke`] and
//!   [`Device::deactivate`].
//! - Moving to a new phone: the new phone calls [`Authenticator::start_transfer`] and
//!   [`Authenticator::wait_for_transfer`]; the old one [`Device::lookup_transfer`] and
//!   [`Device::approve_transfer`] (or [`Device::refuse_transfer`]).
//! - Every failure is a [`ClientError`]; the app branches on [`ClientError::code`].
//!
//! Every protocol rule (statements, signatures, challenge checks) lives in `nokkel-core`;
//! this crate only moves bytes, keeps state and asks the user.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod api;
mod authenticator;
mod error;
mod fsutil;
pub mod mobile;
mod state;
pub mod vault;
pub mod verify;

pub use api::HttpOptions;
pub use authenticator::{
    Authenticator, Device, DeviceStatus, Enrolled, EnrolmentForm, PendingRequest, RequestDetails,
    TransferOutcome, TransferRequest, TransferStarted,
};
pub use error::ClientError;
pub use fsutil::write_atomically;
pub use vault::{FileVault, KeyVault, KeyringVault, ProtectedKey, VaultError};
pub use verify::{
    PasscodeAttempts, PasscodeVerifier, TestVerifier, UnlockedKey, UserVerifier, VerifyError,
};

/// Re-exported protocol types the app needs to call this crate.
pub use nokkel_core::statements::{Platform, UserVerification};
/// Re-exported wire types returned by this crate.
pub use nokkel_core::wire::{
    ChallengeOutcome, DeviceSummary, HistoryEntry, HistoryOutcome, TransferStatus,
    TransferStatusResponse,
};
