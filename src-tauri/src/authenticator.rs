//! What the app's commands need from the device side: one trait, so the commands stay thin
//! and testable, with the real implementation over `nokkel-client` and a scripted one for
//! UI tests (`NOKKEL_TEST_MOCK=1`).

use std::fmt;

use async_trait::async_trait;
use nokkel_core::push::PushRegistration;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::prompts::Lang;

/// Whether the app is activated, and with what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceStatus {
    /// A device key is enrolled and usable.
    pub enrolled: bool,
    /// The name the device was enrolled under (shown to the person in their device list).
    pub device_name: Option<String>,
    /// How logins are confirmed once set up: `biometric` or `passcode`.
    pub verification: Option<Verification>,
    /// Contact details have been given (or skipped) after activation.
    pub contact_done: bool,
    /// The device key has been unlocked in this session (needed to sign the request
    /// proofs every server call carries; approvals verify the person again).
    pub unlocked: bool,
}

/// How the person confirms an approval on this device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verification {
    /// Face or fingerprint through the platform prompt (mobile, macOS).
    Biometric,
    /// The app's own passcode (desktop; fallback where biometrics are unavailable).
    Passcode,
}

/// An app passcode as typed. A secret: redacted in `Debug`, never serialised.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Passcode(String);

impl Passcode {
    /// Wraps typed digits; [`crate::passcode::check_new`] judges a new one.
    pub fn new(digits: impl Into<String>) -> Self {
        Self(digits.into())
    }

    /// The digits, to derive the key-wrapping key from.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Passcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passcode(***)")
    }
}

/// Evidence that the person was verified just now, handed to the signer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UserProof {
    /// The platform's biometric prompt succeeded (the key itself may be gated too).
    Biometric,
    /// The person typed this passcode; the vault proves it by unwrapping the key.
    Passcode(Passcode),
}

/// Activation input: the identity number and the code from the letter, already checked by
/// `check_pid` / `check_code`.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Activation {
    /// National identity number or D-number, 11 digits.
    pub pid: String,
    /// The activation code as typed. A secret.
    pub code: String,
    /// The device name to register.
    pub device_name: String,
}

impl fmt::Debug for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Activation")
            .field("pid", &"***")
            .field("code", &"***")
            .field("device_name", &self.device_name)
            .finish()
    }
}

/// Contact details for the contact register; both optional.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContactDetails {
    /// Mobile number as typed (the server parses it).
    pub mobile: Option<String>,
    /// E-mail address as typed.
    pub email: Option<String>,
}

/// A login waiting for the person's answer, from a verified, server-signed challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    /// The challenge id to answer.
    pub challenge_id: String,
    /// The relying party's display name.
    pub service: String,
    /// When the login started (Unix seconds).
    pub started_at: i64,
    /// When the challenge expires (Unix seconds).
    pub expires_at: i64,
    /// Browser name from the login's User-Agent.
    pub browser: String,
    /// Operating system from the User-Agent.
    pub os: String,
    /// Approximate place, when known.
    pub place: Option<String>,
    /// Three numbers in display order; one of them is shown in the browser.
    pub choices: [u8; 3],
}

/// The server's answer to an approval or denial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The login went through.
    Approved,
    /// The login was refused.
    Denied,
    /// Refused and reported as "this wasn't me".
    Reported,
}

/// One line of the login history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryItem {
    /// When the login was requested (Unix seconds).
    pub at: i64,
    /// Relying party display name.
    pub service: String,
    /// Browser name.
    pub browser: String,
    /// Operating system.
    pub os: String,
    /// Approximate place.
    pub place: Option<String>,
    /// `approved`, `denied`, `reported`, `wrong_number`, `expired` or `cancelled`.
    pub outcome: String,
}

/// New phone: the transfer code to show the old phone, and until when it works.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferShown {
    /// The code in three groups of three (`7KQ-M3X-A9D`); also the QR payload. Whoever
    /// holds it can look the transfer up while it lasts, so `Debug` leaves it out.
    pub code: String,
    /// Until when the old phone can approve (Unix seconds).
    pub expires_at: i64,
}

impl fmt::Debug for TransferShown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransferShown")
            .field("code", &"***")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// New phone: where the transfer it started stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TransferProgress {
    /// The old phone has not decided yet.
    Waiting,
    /// The old phone approved: this phone is enrolled (and still to be opened).
    Enrolled {
        /// This phone's status now.
        device: DeviceStatus,
    },
    /// The old phone refused; the new key is deleted.
    Refused,
    /// Nobody decided in time; the new key is deleted.
    Expired,
}

/// Old phone: the new phone behind a typed or scanned code, as the server describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferOffer {
    /// The transfer to approve or refuse (the verified offer stays in Rust).
    pub transfer_id: String,
    /// The name the new phone gave itself.
    pub device_name: String,
    /// Its platform: `android`, `ios`, `macos`, `linux`, `windows` or `software`.
    pub platform: String,
    /// When the new phone started the transfer (Unix seconds).
    pub started_at: i64,
    /// Until when it can be approved (Unix seconds).
    pub expires_at: i64,
}

/// Old phone: what approving a transfer did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferApproved {
    /// This phone was retired: it is no longer registered and its key is deleted.
    pub retired: bool,
    /// This phone's status now.
    pub device: DeviceStatus,
}

/// The person's account at the server, as the app shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountStatus {
    /// Logging in with the app is paused: after "this wasn't me", or after the server saw
    /// signs of a copied device key (resuming lifts both), or Nøkkel is blocked (lost phone,
    /// support: resuming answers `account_blocked`).
    pub app_logins_paused: bool,
}

/// The device side as the commands see it. Every method may fail with an [`AppError`]
/// whose code the UI understands (`offline`, `timeout`, `server_error`, `expired`, ...).
#[async_trait]
pub trait Authenticator: Send + Sync {
    /// Whether the app is activated.
    async fn status(&self) -> Result<DeviceStatus, AppError>;
    /// Activates the app: creates the device key, protects it with the chosen verification
    /// (`proof` carries the new passcode, or says the platform prompt just succeeded) and
    /// enrols it at `server` with the letter's code.
    async fn enrol(
        &self,
        activation: Activation,
        proof: UserProof,
        server: &str,
    ) -> Result<DeviceStatus, AppError>;
    /// Opens the enrolled device for this session; the verifier proves presence.
    async fn unlock(&self, proof: UserProof) -> Result<DeviceStatus, AppError>;
    /// Registers contact details (or records that the person skipped them). Changing the
    /// contact register needs the person verified afresh (`proof`).
    async fn save_contact(
        &self,
        contact: ContactDetails,
        proof: UserProof,
    ) -> Result<DeviceStatus, AppError>;
    /// The pending login for this device, waiting up to `wait_secs` for one.
    async fn pending_request(&self, wait_secs: u32) -> Result<Option<LoginRequest>, AppError>;
    /// Signs an approval with the picked number after user verification.
    async fn approve(
        &self,
        challenge_id: &str,
        number: u8,
        proof: UserProof,
    ) -> Result<Outcome, AppError>;
    /// Signs a denial; `report` says "this wasn't me".
    async fn deny(&self, challenge_id: &str, report: bool) -> Result<Outcome, AppError>;
    /// Recent logins, newest first.
    async fn history(&self) -> Result<Vec<HistoryItem>, AppError>;
    /// Revokes this device at the server, after the person is verified afresh (`proof`),
    /// and deletes its key.
    async fn deactivate(&self, proof: UserProof) -> Result<DeviceStatus, AppError>;
    /// Whether logging in with the app is paused, as the server says now.
    async fn account(&self) -> Result<AccountStatus, AppError>;
    /// Resumes app logins paused after a report or a suspected copy, after the person is
    /// verified afresh (`proof`). A block (lost phone, support) stays: `account_blocked`.
    async fn resume_logins(&self, proof: UserProof) -> Result<AccountStatus, AppError>;
    /// New phone: starts a move from the old phone. Creates the device key, protects it
    /// with the chosen verification as [`Authenticator::enrol`] does, proves it to `server`
    /// and returns the code to show. A transfer started earlier and not finished is dropped.
    async fn start_transfer(
        &self,
        device_name: String,
        proof: UserProof,
        server: &str,
    ) -> Result<TransferShown, AppError>;
    /// New phone: waits up to `wait_secs` for the old phone's answer. On approval this
    /// device is enrolled with the key made by `start_transfer`.
    async fn wait_transfer(&self, wait_secs: u32) -> Result<TransferProgress, AppError>;
    /// Old phone: the new phone behind `code` (a typo is `typo`, any code the server does
    /// not know or no longer knows is `unknown_transfer`).
    async fn lookup_transfer(&self, code: &str) -> Result<TransferOffer, AppError>;
    /// Old phone: vouches for the new phone of a looked-up transfer after the person is
    /// verified afresh (`proof`); `retire` revokes this phone at the same time.
    async fn approve_transfer(
        &self,
        transfer_id: &str,
        retire: bool,
        proof: UserProof,
    ) -> Result<TransferApproved, AppError>;
    /// Old phone: refuses a looked-up transfer (the person does not know the new phone).
    async fn refuse_transfer(&self, transfer_id: &str) -> Result<(), AppError>;
    /// Sets or replaces where the server wakes this device when a login waits
    /// (`PUT /api/v1/push`). Needs the device opened.
    async fn set_push(&self, registration: PushRegistration) -> Result<(), AppError>;
    /// Stops push wake-ups for this device (`DELETE /api/v1/push`). Needs the device opened.
    async fn clear_push(&self) -> Result<(), AppError>;
    /// The page's language, for the texts of the platform's face/finger prompt.
    fn set_language(&self, _lang: Lang) {}
    /// Starts over on this device when its key can no longer be opened (`key_invalidated`
    /// after a biometric change): deletes the local state and key without asking the
    /// server, which cannot be asked without the key. The person activates again with a
    /// new letter.
    async fn reset_here(&self) -> Result<DeviceStatus, AppError>;
}
