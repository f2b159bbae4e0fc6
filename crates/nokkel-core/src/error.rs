//! The crate's error type: one enum that wraps each rule's own, precise error.

use thiserror::Error;

pub use crate::activation_code::ActivationCodeError;
pub use crate::id_number::IdNumberError;
pub use crate::keys::KeyError;
pub use crate::statements::StatementError;

/// Any error a rule in nokkel-core can report. Messages never contain secrets.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// An identity number was rejected.
    #[error(transparent)]
    IdNumber(#[from] IdNumberError),
    /// An activation code was rejected.
    #[error(transparent)]
    ActivationCode(#[from] ActivationCodeError),
    /// A key could not be read or used.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A signed statement was rejected.
    #[error(transparent)]
    Statement(#[from] StatementError),
}
