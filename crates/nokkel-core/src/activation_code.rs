//! Activation codes: the 15-character code printed in an activation letter.

use thiserror::Error;

/// Why a string is not a valid activation code.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ActivationCodeError {
    /// Placeholder until the parser lands.
    #[error("activation code is not valid")]
    Invalid,
}
