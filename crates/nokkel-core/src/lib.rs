//! Nøkkel's protocol rules, shared by the authenticator app and the identity server.
//!
//! Everything here is pure: no I/O, no async, no ambient time or randomness. Callers pass
//! a [`clock::Clock`] (or a timestamp) and an RNG, so tests control both.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod activation_code;
pub mod admission;
pub mod calendar;
pub mod clock;
pub mod contact;
pub mod error;
pub mod id_number;
pub mod jws;
pub mod keys;
pub mod number_match;
pub mod ordering;
pub mod phone;
pub mod push;
pub mod random;
pub mod sms;
pub mod statements;
pub mod transfer_code;
pub mod wire;

pub use error::Error;
