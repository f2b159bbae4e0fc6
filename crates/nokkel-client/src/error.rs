//! The one error type the app sees, with stable codes to branch on.

use nokkel_core::statements::StatementError;
use thiserror::Error;

use crate::vault::VaultError;
use crate::verify::VerifyError;

/// Why a client operation failed. The app branches on [`ClientError::code`], never on the
/// message. Messages never contain keys, activation codes or passcodes.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No network: the server's name did not resolve or no route to it.
    #[error("offline: cannot reach {server} ({detail})")]
    Offline {
        /// The server URL.
        server: String,
        /// What the network stack said.
        detail: String,
    },
    /// The server is not answering: connection refused or reset, timed out, or a gateway
    /// said it is unavailable (502/503/504).
    #[error("the server at {server} is unavailable ({detail})")]
    ServerUnavailable {
        /// The server URL.
        server: String,
        /// What happened.
        detail: String,
    },
    /// The server failed with a 5xx answer.
    #[error("the server failed (HTTP {status}): {message}")]
    ServerError {
        /// HTTP status.
        status: u16,
        /// The server's message (generic by design).
        message: String,
    },
    /// The server speaks another protocol version: update the app (or the server).
    #[error("protocol version mismatch: {detail}; update the app")]
    VersionMismatch {
        /// What was seen.
        detail: String,
    },
    /// The server refused the request with an API error. `code` is the server's stable
    /// code (`letter_locked`, `wrong_code`, `no_pending_challenge`, ...).
    #[error("{message} ({code})")]
    Api {
        /// HTTP status.
        status: u16,
        /// The server's stable error code.
        code: String,
        /// The server's explanation.
        message: String,
    },
    /// The server answered something that is not the protocol.
    #[error("unexpected answer from the server (HTTP {status}): {detail}")]
    BadResponse {
        /// HTTP status.
        status: u16,
        /// What was wrong.
        detail: String,
    },
    /// A login challenge failed verification against the pinned server key (or its
    /// contents were invalid): the device refuses to answer it.
    #[error("login request refused: {0}")]
    ChallengeRefused(StatementError),
    /// The server's enrolment answer was inconsistent (e.g. `challenge_key_id` is not the
    /// thumbprint of `challenge_key`, or the device id it returned is not ours).
    #[error("the server's enrolment answer is inconsistent: {0}")]
    EnrolmentMismatch(&'static str),
    /// The picked number is not one of the three offered.
    #[error("{0} is not one of the numbers offered")]
    NumberNotOffered(u8),
    /// Signing a statement failed.
    #[error("cannot sign: {0}")]
    Statement(StatementError),
    /// This state directory holds no enrolled device.
    #[error("no device is enrolled here")]
    NotEnrolled,
    /// This state directory already holds an enrolled device.
    #[error("a device is already enrolled here; deactivate it first")]
    AlreadyEnrolled,
    /// The key vault failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// User verification failed or was refused.
    #[error(transparent)]
    Verification(#[from] VerifyError),
    /// The device's local state could not be read or written.
    #[error("device state: {0}")]
    State(String),
    /// Invalid input from the caller (URL, name, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

impl ClientError {
    /// A stable `snake_case` code. For [`ClientError::Api`] it is the server's code, so the
    /// app can branch on `letter_locked`, `wrong_code`, `device_revoked` and so on.
    pub fn code(&self) -> &str {
        match self {
            Self::Offline { .. } => "offline",
            Self::ServerUnavailable { .. } => "server_unavailable",
            Self::ServerError { .. } => "server_error",
            Self::VersionMismatch { .. } => "version_mismatch",
            Self::Api { code, .. } => code,
            Self::BadResponse { .. } => "bad_response",
            Self::ChallengeRefused(_) => "challenge_refused",
            Self::EnrolmentMismatch(_) => "enrolment_mismatch",
            Self::NumberNotOffered(_) => "number_not_offered",
            Self::Statement(_) => "statement",
            Self::NotEnrolled => "not_enrolled",
            Self::AlreadyEnrolled => "already_enrolled",
            Self::Vault(e) => e.code(),
            Self::Verification(e) => e.code(),
            Self::State(_) => "state",
            Self::InvalidInput(_) => "invalid_input",
        }
    }

    /// True when the failure is about reaching the server (offline, unavailable, 5xx):
    /// trying again later may help.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Offline { .. } | Self::ServerUnavailable { .. } | Self::ServerError { .. }
        )
    }
}
