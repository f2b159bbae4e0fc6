//! JSON messages of the app–server device API (`/api/v1/...`), shared by server and client.
//!
//! Every top-level message carries `"v": 1`; a message with another version fails to
//! deserialize with "unsupported protocol version N; this side speaks 1". Statements travel
//! as compact JWS strings and are checked with [`crate::statements`]. Endpoints, status
//! codes and the request-proof header are specified in docs/PROTOCOL.md.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::keys::{DeviceId, PublicJwk};
use crate::push::{PushKind, PushRegistration};
use crate::statements::{Platform, UserVerification};

/// The API version this code speaks.
pub const PROTOCOL_VERSION: u64 = 1;

/// Path prefix of the device API.
pub const API_PREFIX: &str = "/api/v1";

/// HTTP header carrying the request proof (a `nokkel-proof+jwt` compact JWS).
pub const REQUEST_PROOF_HEADER: &str = "Nokkel-Proof";

/// HTTP header carrying an action statement (a `nokkel-action+jwt` compact JWS): fresh
/// user verification for a sensitive call, next to its request proof.
pub const ACTION_HEADER: &str = "Nokkel-Action";

/// The `v` member: serializes as 1, and refuses every other number when read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProtocolVersion;

impl Serialize for ProtocolVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(PROTOCOL_VERSION)
    }
}

impl<'de> Deserialize<'de> for ProtocolVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v = u64::deserialize(deserializer)?;
        if v == PROTOCOL_VERSION {
            Ok(Self)
        } else {
            Err(serde::de::Error::custom(format_args!(
                "unsupported protocol version {v}; this side speaks {PROTOCOL_VERSION}"
            )))
        }
    }
}

/// A string that never shows in `Debug` output (activation codes).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Redacted(String);

impl Redacted {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for the one place that checks it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `POST /api/v1/enrolments` (no request proof: the device has no key on the server yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartEnrolmentRequest {
    /// Protocol version.
    pub v: ProtocolVersion,
    /// The national identity number or D-number, 11 digits.
    pub pid: String,
    /// The activation code from the letter, as typed.
    pub activation_code: Redacted,
}

/// Answer to [`StartEnrolmentRequest`] when the code was right.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartEnrolmentResponse {
    /// Protocol version.
    pub v: ProtocolVersion,
    /// Handle for the finish call.
    pub enrolment_id: String,
    /// The server's issuer URL: `aud` of every device statement, `iss` of challenges.
    pub issuer: String,
    /// Nonce the enrolment statement must carry.
    pub nonce: String,
    /// Until when (Unix seconds) the nonce is accepted.
    pub expires_at: i64,
    /// The key that signs login challenges: the app pins it.
    pub challenge_key: PublicJwk,
    /// Its `kid` (RFC 7638 thumbprint); the app checks it against `challenge_key`.
    pub challenge_key_id: String,
}

/// `POST /api/v1/enrolments/{enrolment_id}/finish`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinishEnrolmentRequest {
    /// Protocol version.
    pub v: ProtocolVersion,
    /// The `nokkel-enrolment+jwt` statement.
    pub statement: String,
}

/// Answer to [`FinishEnrolmentRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinishEnrolmentResponse {
    /// Protocol version.
    pub v: ProtocolVersion,
    /// The new device's id (the key's thumbprint).
    pub device_id: DeviceId,
}

/// `GET /api/v1/challenges/pending?wait=SECS`: the pending login challenges, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingChallengeResponse {
    /// Protocol version.
    pub v: ProtocolVersion,
    /// The oldest pending `nokkel-challenge+jwt` for this device, or null when nothing is
    /// pending (the first of `challenges`).
    pub challenge: Option<String>,
    /// Every pending challenge for this device, oldest first: logins from different
    /// browsers wait side by side, and the app shows each.
    #[serde(default)]
    pub challenges: Vec<String>,
}

/// `POST /api/v1/challenges/{challenge_id}/approve`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    /// Protocol version.
    pub v: ProtocolVersion,
    /// The `nokkel-approval+jwt` statement.
    pub statement: String,
}

/// `POST /api/v1/challenges/{challenge_id}/deny`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenyRequest {
    /// Protocol version.
    pub v: ProtocolVersion,
    /// The `nokkel-denial+jwt` statement.
    pub statement: String,
}

/// How a challenge ended, from the device's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChallengeOutcome {
    /// The login was approved.
    Approved,
    /// The login was denied.
    Denied,
    /// Denied and reported as "this wasn't me".
    Reported,
}

/// Answer to approve and deny.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeOutcomeResponse {
    /// Protocol version.
    pub v: ProtocolVersion,
    /// The challenge answered.
    pub challenge_id: String,
    /// What happened.
    pub outcome: ChallengeOutcome,
}

/// One device in [`DeviceListResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSummary {
    /// The device id.
    pub device_id: DeviceId,
    /// Its name from enrolment.
    pub name: String,
    /// Its platform.
    pub platform: Platform,
    /// Enrolled at, Unix seconds.
    pub enrolled_at: i64,
    /// Last approval or denial, Unix seconds, or null.
    pub last_used_at: Option<i64>,
    /// True for the device that made this request.
    pub this_device: bool,
}

/// `GET /api/v1/devices`: the person's active devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceListResponse {
    /// Protocol version.
    pub v: ProtocolVersion,
    /// Active devices, oldest first.
    pub devices: Vec<DeviceSummary>,
}

/// Answer to `DELETE /api/v1/devices/{device_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeDeviceResponse {
    /// Protocol version.
    pub v: ProtocolVersion,
    /// The device that can no longer sign in.
    pub device_id: DeviceId,
}

/// The result of a past login request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryOutcome {
    /// Approved.
    Approved,
    /// Denied.
    Denied,
    /// Denied and reported.
    Reported,
    /// A wrong number was picked.
    WrongNumber,
    /// Nobody answered in time.
    Expired,
    /// The browser side cancelled.
    Cancelled,
}

/// One past login request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryEntry {
    /// When the request was made, Unix seconds.
    pub at: i64,
    /// The relying party's display name.
    pub service: String,
    /// Browser from the User-Agent.
    pub browser: String,
    /// Operating system from the User-Agent.
    pub os: String,
    /// Approximate place, or null.
    pub place: Option<String>,
    /// The result.
    pub outcome: HistoryOutcome,
    /// The device that answered, or null.
    pub device_id: Option<DeviceId>,
    /// The verification method used, for approvals.
    pub uv: Option<UserVerification>,
}

/// `GET /api/v1/history?limit=N`: newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryResponse {
    /// Protocol version.
    pub v: ProtocolVersion,
    /// Entries, newest first.
    pub entries: Vec<HistoryEntry>,
}

/// `GET /api/v1/contact`, and the answer to `PUT`: the person's entry in the contact
/// register. A `*_confirmed_at` is when the person last confirmed that value (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactDetails {
    /// Protocol version.
    pub v: ProtocolVersion,
    /// Mobile number in E.164 form, or null.
    pub mobile: Option<String>,
    /// When the mobile number was last confirmed.
    pub mobile_confirmed_at: Option<i64>,
    /// E-mail address, or null.
    pub email: Option<String>,
    /// When the e-mail address was last confirmed.
    pub email_confirmed_at: Option<i64>,
}

/// `PUT /api/v1/contact`: replaces the entry; saving confirms the values as current.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateContactRequest {
    /// Protocol version.
    pub v: ProtocolVersion,
    /// Mobile number as typed (national numbers are Norwegian; `+` for others), or null to remove.
    pub mobile: Option<String>,
    /// E-mail address, or null to remove.
    pub email: Option<String>,
}

/// `PUT /api/v1/push`: sets or replaces the calling device's push registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetPushRequest {
    /// Protocol version.
    pub v: ProtocolVersion,
    /// Where to wake this device (checked when read).
    pub registration: PushRegistration,
}

/// Answer to `PUT` and `DELETE /api/v1/push`: which push service now wakes the calling
/// device, or null when none does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushStatusResponse {
    /// Protocol version.
    pub v: ProtocolVersion,
    /// The registration's kind, or null after clearing.
    pub kind: Option<PushKind>,
}

/// What a push carries (encrypted to the device for Web Push): only that a login waits,
/// and an opaque id to tell pushes apart. No identity number, name, service or place: the
/// app fetches the signed challenge itself (`GET /api/v1/challenges/pending`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushNotice {
    /// Protocol version.
    pub v: ProtocolVersion,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: PushNoticeKind,
    /// A random id, different for every push: no meaning beyond telling pushes apart.
    pub id: String,
}

/// Why the server woke the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushNoticeKind {
    /// A login waits for the person's answer.
    LoginWaiting,
}

/// `POST /api/v1/transfers` (no request proof: the new phone has no key on the server yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartTransferRequest {
    /// Protocol version.
    pub v: ProtocolVersion,
}

/// Answer to [`StartTransferRequest`]: what the new phone signs over, and the code it shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartTransferResponse {
    /// Protocol version.
    pub v: ProtocolVersion,
    /// The new phone's handle for this transfer (keep it to itself).
    pub transfer_id: String,
    /// The server's issuer URL: `aud` of every device statement.
    pub issuer: String,
    /// Nonce the new phone's enrolment statement (and the old phone's statement) carries.
    pub nonce: String,
    /// The transfer code to show, grouped (`7KQ-M3X-A9D`); also the QR payload.
    pub code: Redacted,
    /// Until when (Unix seconds) the transfer is accepted.
    pub expires_at: i64,
    /// The key that signs login challenges: the new phone pins it.
    pub challenge_key: PublicJwk,
    /// Its `kid` (RFC 7638 thumbprint).
    pub challenge_key_id: String,
}

/// `POST /api/v1/transfers/{transfer_id}/device`: the new phone's proof of possession.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferDeviceRequest {
    /// Protocol version.
    pub v: ProtocolVersion,
    /// A `nokkel-enrolment+jwt` statement over the transfer's nonce.
    pub statement: String,
}

/// Where a transfer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferStatus {
    /// Started; the new phone has not yet proved its key.
    Started,
    /// Waiting for the old phone.
    Waiting,
    /// The old phone approved: the new phone is enrolled.
    Approved,
    /// The old phone refused.
    Refused,
    /// Nobody decided in time.
    Expired,
}

/// The new phone's view of its transfer (answer to the device call and to
/// `GET /api/v1/transfers/{transfer_id}?wait=SECS`), and the old phone's after deciding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferStatusResponse {
    /// Protocol version.
    pub v: ProtocolVersion,
    /// The transfer.
    pub transfer_id: String,
    /// Where it stands.
    pub status: TransferStatus,
    /// The new device's id, once it has proved its key.
    pub device_id: Option<DeviceId>,
    /// Whether the old device was retired (revoked) as the new one was enrolled.
    pub old_device_retired: bool,
}

/// `POST /api/v1/transfers/lookup` (old phone): the code the person typed or scanned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupTransferRequest {
    /// Protocol version.
    pub v: ProtocolVersion,
    /// The transfer code, as typed.
    pub code: Redacted,
}

/// Answer to [`LookupTransferRequest`]: the new device to show, and what to sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferOfferResponse {
    /// Protocol version.
    pub v: ProtocolVersion,
    /// The transfer to approve or refuse.
    pub transfer_id: String,
    /// The issuer (`aud` of the statement).
    pub issuer: String,
    /// Nonce the statement carries.
    pub nonce: String,
    /// The new device's id (`new_device_id` of the statement).
    pub new_device_id: DeviceId,
    /// The name the new device gave itself.
    pub device_name: String,
    /// Its platform.
    pub platform: Platform,
    /// When the new phone started the transfer, Unix seconds.
    pub started_at: i64,
    /// Until when it can be approved, Unix seconds.
    pub expires_at: i64,
}

/// `POST /api/v1/transfers/{transfer_id}/approve`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveTransferRequest {
    /// Protocol version.
    pub v: ProtocolVersion,
    /// The `nokkel-transfer+jwt` statement.
    pub statement: String,
}

/// Body of every 4xx/5xx answer of the device API. Clients branch on `code`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiError {
    /// Protocol version.
    pub v: ProtocolVersion,
    /// A stable `snake_case` code, e.g. a [`crate::statements::StatementError::code`].
    pub code: String,
    /// A human-readable explanation (English), never containing secrets.
    pub message: String,
}

impl ApiError {
    /// An error with the given code and message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            v: ProtocolVersion,
            code: code.into(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_version_fails_clearly() {
        let err = serde_json::from_str::<PendingChallengeResponse>(r#"{"v":2,"challenge":null}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unsupported protocol version 2; this side speaks 1"),
            "{err}"
        );
        let missing = serde_json::from_str::<PendingChallengeResponse>(r#"{"challenge":null}"#);
        assert!(missing
            .unwrap_err()
            .to_string()
            .contains("missing field `v`"));
        let ok: PendingChallengeResponse =
            serde_json::from_str(r#"{"v":1,"challenge":null}"#).unwrap();
        assert_eq!(ok.challenge, None);
    }

    #[test]
    fn activation_code_never_in_debug() {
        let request: StartEnrolmentRequest = serde_json::from_str(
            r#"{"v":1,"pid":"31129956715","activation_code":"ABCDE-FGHJK-MNPQ7"}"#,
        )
        .unwrap();
        assert_eq!(request.activation_code.expose(), "ABCDE-FGHJK-MNPQ7");
        let debug = format!("{request:?}");
        assert!(!debug.contains("ABCDE"), "{debug}");
        assert!(serde_json::to_string(&request)
            .unwrap()
            .contains("ABCDE-FGHJK-MNPQ7"));
    }

    #[test]
    fn transfer_code_never_in_debug() {
        let request: LookupTransferRequest =
            serde_json::from_str(r#"{"v":1,"code":"7KQ-M3X-A9D"}"#).unwrap();
        assert!(!format!("{request:?}").contains("7KQ"));
    }

    #[test]
    fn api_error_shape() {
        let e = ApiError::new("wrong_number", "the number picked is not the number shown");
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"v":1,"code":"wrong_number","message":"the number picked is not the number shown"})
        );
    }

    #[test]
    fn history_round_trip() {
        let json = r#"{"v":1,"entries":[{"at":1800000000,"service":"NAV","browser":"Firefox 140","os":"Linux","place":null,"outcome":"wrong_number","device_id":null,"uv":null}]}"#;
        let h: HistoryResponse = serde_json::from_str(json).unwrap();
        assert_eq!(h.entries[0].outcome, HistoryOutcome::WrongNumber);
        assert_eq!(serde_json::to_string(&h).unwrap(), json);
    }
}
