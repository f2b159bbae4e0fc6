//! Norwegian identity numbers: fødselsnummer, D-number, H-number and synthetic test numbers.

use thiserror::Error;

/// Why a string is not a valid identity number.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdNumberError {
    /// Placeholder until the parser lands.
    #[error("identity number is not valid")]
    Invalid,
}
