//! The one error shape the UI sees: `{ code, message }`; the UI branches on `code` only.

use serde::Serialize;

/// An error as the UI receives it from a command.
///
/// `code` is stable `snake_case` (listed in `ui/src/lib/errors.ts`); `message` is English
/// for developers and logs and never contains a secret (code, passcode, key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AppError {
    /// Stable machine-readable code.
    pub code: String,
    /// English explanation for developers.
    pub message: String,
}

impl AppError {
    /// An error with the given code and message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }

    /// The device cannot reach the server.
    pub fn offline() -> Self {
        Self::new("offline", "the server cannot be reached")
    }

    /// The app has no enrolled device key yet.
    pub fn not_enrolled() -> Self {
        Self::new("not_enrolled", "this app is not activated")
    }
}
