//! Signed statements: what a device signs (enrolment, approval, denial, request proof,
//! action) and what the server signs (login challenge), with the pure functions that
//! verify them.
//!
//! Ceremonies are start/finish pairs. Enrolment: [`PendingEnrolment::start`] →
//! the device signs with [`sign_enrolment`] → [`verify_enrolment`] consumes the pending
//! value. Login: [`PendingLogin::start`] → [`PendingLogin::sign_challenge`] for each of the
//! person's devices → the device checks it with [`verify_login_challenge`] against the
//! pinned server key and answers with [`VerifiedChallenge::approve`] or
//! [`VerifiedChallenge::deny`] → [`verify_approval`] or [`verify_denial`] consumes the
//! pending value. Transfer to a new phone: [`PendingTransfer::start`] → the new phone's
//! enrolment statement checked by [`verify_transfer_device`] → the old phone's
//! [`sign_transfer`] → [`verify_transfer`]. Every API call carries a [`sign_request_proof`]
//! proof checked by [`verify_request_proof`]. A sensitive call (revoking a device, resuming
//! app logins, changing the contact register) also carries a [`sign_action`] statement,
//! made after fresh user verification and checked by [`verify_action`].
//!
//! The server stores pending values between HTTP requests, so they serialize; their fields
//! stay private so nothing but `start` (or the server's own store) makes one. Never send a
//! pending value to a client.
//!
//! Every check and its error code is specified in docs/PROTOCOL.md and exercised by the
//! files in docs/vectors/.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand_core::CryptoRngCore;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use thiserror::Error;

use crate::jws::{JwsError, UnverifiedJws};
use crate::keys::{DeviceId, KeyError, PublicKey};

mod action;
mod enrolment;
mod login;
mod request_proof;
mod transfer;

pub use action::*;
pub use enrolment::*;
pub use login::*;
pub use request_proof::*;
pub use transfer::*;

/// The statement format version this code speaks (`v` in every payload).
pub const VERSION: u64 = 1;

/// How far a device's `iat` may lie from the verifier's clock, either way, in seconds.
pub const CLOCK_SKEW_SECS: i64 = 60;

/// Lifetime of a login challenge, in seconds. The server enforces it exactly.
pub const CHALLENGE_TTL_SECS: i64 = 120;

/// Lifetime of an enrolment nonce, in seconds. The server enforces it exactly.
pub const ENROLMENT_TTL_SECS: i64 = 600;

/// Lifetime of a transfer (its nonce and code), in seconds. The server enforces it exactly.
pub const TRANSFER_TTL_SECS: i64 = 600;

/// Largest counter value: 2^53 − 1, so that every JSON implementation reads it exactly.
pub const MAX_COUNTER: u64 = (1 << 53) - 1;

/// `typ` of an enrolment statement.
pub const TYP_ENROLMENT: &str = "nokkel-enrolment+jwt";
/// `typ` of an approval.
pub const TYP_APPROVAL: &str = "nokkel-approval+jwt";
/// `typ` of a denial.
pub const TYP_DENIAL: &str = "nokkel-denial+jwt";
/// `typ` of a request proof.
pub const TYP_REQUEST_PROOF: &str = "nokkel-proof+jwt";
/// `typ` of an action statement (fresh user verification for one sensitive call).
pub const TYP_ACTION: &str = "nokkel-action+jwt";
/// `typ` of a server-signed login challenge.
pub const TYP_LOGIN_CHALLENGE: &str = "nokkel-challenge+jwt";
/// `typ` of an old device's vouching statement for a new device.
pub const TYP_TRANSFER: &str = "nokkel-transfer+jwt";

const PURPOSE_ENROLMENT: &str = "enrolment";
const PURPOSE_APPROVAL: &str = "approval";
const PURPOSE_DENIAL: &str = "denial";
const PURPOSE_REQUEST: &str = "request";
const PURPOSE_ACTION: &str = "action";
const PURPOSE_LOGIN_CHALLENGE: &str = "login_challenge";
const PURPOSE_TRANSFER: &str = "transfer";

const MAX_DEVICE_NAME_CHARS: usize = 64;
const MAX_TEXT_CHARS: usize = 256;
const MIN_JTI_CHARS: usize = 16;
const MAX_JTI_CHARS: usize = 128;

/// Why a statement was rejected. [`StatementError::code`] gives the stable code used in API
/// errors and test vectors. Messages never contain keys, nonces or expected numbers.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatementError {
    /// Rejected at the JOSE level (encoding, algorithm, type, header, signature).
    #[error(transparent)]
    Jws(#[from] JwsError),
    /// The key presented (enrolment `jwk`) is not a valid P-256 public key.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The payload is not JSON, or members are missing, unknown or of the wrong type/range.
    #[error("statement payload invalid: {0}")]
    BadPayload(&'static str),
    /// `v` is a version this side does not speak.
    #[error("unsupported statement version {0}; this side speaks 1")]
    UnsupportedVersion(u64),
    /// `purpose` does not match the statement type.
    #[error("statement purpose does not match its type")]
    WrongPurpose,
    /// `aud` is not this verifier (the server's issuer, or this device).
    #[error("statement is addressed to someone else")]
    WrongAudience,
    /// A challenge's `iss` is not the server this device enrolled with.
    #[error("challenge comes from another issuer")]
    WrongIssuer,
    /// The statement names another device than the key that signed it.
    #[error("statement names another device than its signer")]
    WrongDevice,
    /// `iat` is more than the clock-skew bound in the future.
    #[error("statement issued in the future")]
    IssuedInFuture,
    /// `iat` is more than the clock-skew bound in the past.
    #[error("statement is too old")]
    Stale,
    /// The challenge or enrolment it answers has expired.
    #[error("challenge expired")]
    Expired,
    /// It answers another challenge.
    #[error("statement answers another challenge")]
    WrongChallenge,
    /// The nonce is not the one the server issued.
    #[error("nonce does not match")]
    NonceMismatch,
    /// The signature counter did not grow: a replay, or a cloned key.
    #[error("signature counter did not increase (last seen {last})")]
    CounterNotIncreased {
        /// The last counter value the server accepted for this device.
        last: u64,
    },
    /// The approval picked another number than the browser shows.
    #[error("the number picked is not the number shown")]
    WrongNumber,
    /// The device tried to approve with a number the challenge did not offer.
    #[error("the number picked was not one of the choices")]
    NumberNotOffered,
    /// A request proof is for another method, URL or access token.
    #[error("request proof is for another request")]
    WrongRequest,
    /// An action statement confirms another action (or argument) than the call it came with.
    #[error("action statement confirms another action")]
    WrongAction,
    /// A transfer statement vouches for another device than the one the transfer names.
    #[error("transfer statement names another new device")]
    WrongNewDevice,
}

impl StatementError {
    /// A stable short code (`snake_case`), used in API errors and test vectors.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Jws(e) => e.code(),
            Self::Key(_) => "bad_key",
            Self::BadPayload(_) => "bad_payload",
            Self::UnsupportedVersion(_) => "unsupported_version",
            Self::WrongPurpose => "wrong_purpose",
            Self::WrongAudience => "wrong_audience",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongDevice => "wrong_device",
            Self::IssuedInFuture => "issued_in_future",
            Self::Stale => "stale",
            Self::Expired => "expired",
            Self::WrongChallenge => "wrong_challenge",
            Self::NonceMismatch => "nonce_mismatch",
            Self::CounterNotIncreased { .. } => "counter_not_increased",
            Self::WrongNumber => "wrong_number",
            Self::NumberNotOffered => "number_not_offered",
            Self::WrongRequest => "wrong_request",
            Self::WrongAction => "wrong_action",
            Self::WrongNewDevice => "wrong_new_device",
        }
    }
}

/// How the user proved presence before the device signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserVerification {
    /// Face or fingerprint through the platform's biometric prompt.
    Biometric,
    /// The phone's own PIN, pattern or password (platform prompt).
    DeviceCredential,
    /// The app's own passcode (desktop builds).
    Passcode,
    /// No verification: tests and the software authenticator only. Servers outside test
    /// mode must refuse it (see [`UserVerification::is_test_only`]).
    NoneTest,
}

impl UserVerification {
    /// True for methods a production server must refuse.
    pub fn is_test_only(self) -> bool {
        matches!(self, Self::NoneTest)
    }
}

/// The platform an authenticator runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// Android app.
    Android,
    /// iOS app.
    Ios,
    /// macOS desktop app.
    Macos,
    /// Linux desktop app.
    Linux,
    /// Windows desktop app.
    Windows,
    /// The `nokkel device` software authenticator.
    Software,
}

// ---------------------------------------------------------------------------------------
// Shared checks
// ---------------------------------------------------------------------------------------

fn open<T: DeserializeOwned>(payload: &[u8], purpose: &str) -> Result<T, StatementError> {
    let value: serde_json::Value =
        serde_json::from_slice(payload).map_err(|_| StatementError::BadPayload("not JSON"))?;
    let object = value
        .as_object()
        .ok_or(StatementError::BadPayload("not a JSON object"))?;
    // Version first, so a newer peer gets "unsupported version" and not a schema error.
    match object.get("v").map(serde_json::Value::as_u64) {
        Some(Some(VERSION)) => {}
        Some(Some(other)) => return Err(StatementError::UnsupportedVersion(other)),
        _ => return Err(StatementError::BadPayload("v missing or not an integer")),
    }
    match object.get("purpose").and_then(serde_json::Value::as_str) {
        Some(p) if p == purpose => {}
        Some(_) => return Err(StatementError::WrongPurpose),
        None => return Err(StatementError::BadPayload("purpose missing")),
    }
    serde_json::from_value(value)
        .map_err(|_| StatementError::BadPayload("members missing, unknown, or of the wrong type"))
}

fn check_iat(iat: i64, now: i64) -> Result<(), StatementError> {
    if iat > now.saturating_add(CLOCK_SKEW_SECS) {
        Err(StatementError::IssuedInFuture)
    } else if iat < now.saturating_sub(CLOCK_SKEW_SECS) {
        Err(StatementError::Stale)
    } else {
        Ok(())
    }
}

fn check_counter(ctr: u64, last: u64) -> Result<(), StatementError> {
    if ctr > MAX_COUNTER {
        Err(StatementError::BadPayload("ctr above 2^53-1"))
    } else if ctr <= last {
        Err(StatementError::CounterNotIncreased { last })
    } else {
        Ok(())
    }
}

fn check_text(text: &str, max: usize, what: &'static str) -> Result<(), StatementError> {
    if text.chars().count() > max {
        Err(StatementError::BadPayload(what))
    } else {
        Ok(())
    }
}

/// Decodes, checks `kid` against the device key, verifies with ring.
fn verify_by_device(
    compact: &str,
    typ: &'static str,
    device_key: &PublicKey,
) -> Result<Vec<u8>, StatementError> {
    let jws = UnverifiedJws::decode(compact, typ)?;
    if jws.kid() != Some(device_key.thumbprint().as_str()) {
        return Err(JwsError::KeyReference("kid does not name the verifying key").into());
    }
    Ok(jws.verify(device_key)?)
}

fn random_token<R: CryptoRngCore + ?Sized>(rng: &mut R, bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

fn to_json<T: Serialize>(payload: &T) -> Result<Vec<u8>, StatementError> {
    serde_json::to_vec(payload).map_err(|_| StatementError::BadPayload("not serializable"))
}

/// The device id a statement's header names (`kid`), so the server can look up the
/// device's key before verifying. Nothing is verified yet.
pub fn claimed_device_id(compact: &str, typ: &'static str) -> Result<DeviceId, StatementError> {
    let jws = UnverifiedJws::decode(compact, typ)?;
    let kid = jws.kid().ok_or(JwsError::KeyReference("kid missing"))?;
    DeviceId::parse(kid).map_err(|_| JwsError::KeyReference("kid is not a device id").into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jws::ServerSigner;
    use crate::keys::{DeviceKey, ServerKey};
    use rand::rngs::OsRng;

    const ISS: &str = "https://id.nokkel.test";
    const NOW: i64 = 1_800_000_000;

    fn context() -> LoginContext {
        LoginContext {
            service: "Skatteetaten".into(),
            browser: "Firefox 140".into(),
            os: "Windows 11".into(),
            place: None,
        }
    }

    fn relogin(p: &PendingLogin) -> PendingLogin {
        serde_json::from_value(serde_json::to_value(p).unwrap()).unwrap()
    }

    #[test]
    fn enrolment_then_login_then_approval() {
        let rng = ring::rand::SystemRandom::new();
        let server = ServerKey::generate(&rng).unwrap();
        let device = DeviceKey::generate(&mut OsRng);

        let pending = PendingEnrolment::start(ISS, &mut OsRng, NOW);
        let description = DeviceDescription {
            name: "Kari's phone".into(),
            platform: Platform::Android,
            uv_methods: vec![
                UserVerification::Biometric,
                UserVerification::DeviceCredential,
            ],
        };
        let statement =
            sign_enrolment(&device, ISS, pending.nonce(), &description, NOW + 5).unwrap();
        let enrolled = verify_enrolment(&statement, pending, NOW + 6).unwrap();
        assert_eq!(enrolled.device_id(), &device.device_id());
        assert_eq!(enrolled.public_key(), &device.public_key());

        let login = PendingLogin::start(ISS, context(), &mut OsRng, NOW + 100);
        let challenge = login
            .sign_challenge(&device.device_id(), &ServerSigner::new(&server, &rng))
            .unwrap();
        let verified = verify_login_challenge(
            &challenge,
            server.public_key(),
            ISS,
            &device.device_id(),
            NOW + 101,
        )
        .unwrap();
        assert_eq!(verified.choices(), login.choices());
        assert!(verified.choices().contains(&login.number()));

        let approval = verified
            .clone()
            .approve(
                login.number(),
                UserVerification::Biometric,
                1,
                &device,
                NOW + 110,
            )
            .unwrap();
        assert_eq!(
            claimed_device_id(&approval, TYP_APPROVAL).unwrap(),
            device.device_id()
        );
        let ok = verify_approval(
            &approval,
            relogin(&login),
            &device.public_key(),
            0,
            NOW + 111,
        )
        .unwrap();
        assert_eq!(ok.ctr(), 1);
        assert_eq!(ok.uv(), UserVerification::Biometric);
        // The same approval again: counter has moved on.
        assert_eq!(
            verify_approval(
                &approval,
                relogin(&login),
                &device.public_key(),
                1,
                NOW + 112
            )
            .unwrap_err()
            .code(),
            "counter_not_increased"
        );
        // Wrong pick among the offered numbers.
        let wrong = *verified
            .choices()
            .iter()
            .find(|c| **c != login.number())
            .unwrap();
        let bad = verified
            .clone()
            .approve(wrong, UserVerification::Biometric, 2, &device, NOW + 110)
            .unwrap();
        assert_eq!(
            verify_approval(&bad, relogin(&login), &device.public_key(), 1, NOW + 111).unwrap_err(),
            StatementError::WrongNumber
        );
        assert_eq!(
            verified
                .clone()
                .approve(9, UserVerification::Biometric, 2, &device, NOW)
                .unwrap_err(),
            StatementError::NumberNotOffered
        );
        // After expiry, exactly.
        let late = verified
            .clone()
            .approve(
                login.number(),
                UserVerification::Biometric,
                3,
                &device,
                NOW + 221,
            )
            .unwrap();
        assert!(
            verify_approval(&late, relogin(&login), &device.public_key(), 2, NOW + 220).is_ok()
        );
        assert_eq!(
            verify_approval(&late, relogin(&login), &device.public_key(), 2, NOW + 221)
                .unwrap_err(),
            StatementError::Expired
        );
        // Denial with report.
        let denial = verified.deny(true, 4, &device, NOW + 110).unwrap();
        let denied = verify_denial(&denial, login, &device.public_key(), 3, NOW + 110).unwrap();
        assert!(denied.report());
    }

    #[test]
    fn challenge_must_come_from_the_pinned_key_for_this_device() {
        let rng = ring::rand::SystemRandom::new();
        let server = ServerKey::generate(&rng).unwrap();
        let impostor = ServerKey::generate(&rng).unwrap();
        let device = DeviceKey::generate(&mut OsRng).device_id();
        let other = DeviceKey::generate(&mut OsRng).device_id();
        let login = PendingLogin::start(ISS, context(), &mut OsRng, NOW);
        let forged = login
            .sign_challenge(&device, &ServerSigner::new(&impostor, &rng))
            .unwrap();
        assert_eq!(
            verify_login_challenge(&forged, server.public_key(), ISS, &device, NOW)
                .unwrap_err()
                .code(),
            "wrong_key"
        );
        let genuine = login
            .sign_challenge(&device, &ServerSigner::new(&server, &rng))
            .unwrap();
        assert_eq!(
            verify_login_challenge(&genuine, server.public_key(), ISS, &other, NOW).unwrap_err(),
            StatementError::WrongAudience
        );
        assert_eq!(
            verify_login_challenge(&genuine, server.public_key(), "https://evil", &device, NOW)
                .unwrap_err(),
            StatementError::WrongIssuer
        );
        assert_eq!(
            verify_login_challenge(&genuine, server.public_key(), ISS, &device, NOW + 181)
                .unwrap_err(),
            StatementError::Expired
        );
        assert!(
            verify_login_challenge(&genuine, server.public_key(), ISS, &device, NOW + 180).is_ok()
        );
    }

    #[test]
    fn request_proof_binds_method_url_and_time() {
        let device = DeviceKey::generate(&mut OsRng);
        let target = RequestTarget {
            issuer: ISS,
            method: "GET",
            url: "https://id.nokkel.test/api/v1/challenges/pending",
            access_token: None,
        };
        let jti = new_jti(&mut OsRng);
        let proof = sign_request_proof(&device, &target, &jti, NOW).unwrap();
        let ok = verify_request_proof(&proof, &device.public_key(), &target, NOW + 60).unwrap();
        assert_eq!(ok.jti(), jti);
        assert_eq!(ok.remember_jti_until(), NOW + 60);
        assert_eq!(ok.device_id(), &device.device_id());
        let post = RequestTarget {
            method: "POST",
            ..target
        };
        assert_eq!(
            verify_request_proof(&proof, &device.public_key(), &post, NOW).unwrap_err(),
            StatementError::WrongRequest
        );
        assert_eq!(
            verify_request_proof(&proof, &device.public_key(), &target, NOW + 61).unwrap_err(),
            StatementError::Stale
        );
        assert_eq!(
            verify_request_proof(&proof, &device.public_key(), &target, NOW - 61).unwrap_err(),
            StatementError::IssuedInFuture
        );
        let short = sign_request_proof(&device, &target, "abc", NOW).unwrap();
        assert_eq!(
            verify_request_proof(&short, &device.public_key(), &target, NOW)
                .unwrap_err()
                .code(),
            "bad_payload"
        );
        let with_token = RequestTarget {
            access_token: Some("tok"),
            ..target
        };
        let bound = sign_request_proof(&device, &with_token, &jti, NOW).unwrap();
        assert!(verify_request_proof(&bound, &device.public_key(), &with_token, NOW).is_ok());
        assert_eq!(
            verify_request_proof(&bound, &device.public_key(), &target, NOW).unwrap_err(),
            StatementError::WrongRequest
        );
    }

    #[test]
    fn enrolment_rejects_kid_and_checks_nonce_and_expiry() {
        let device = DeviceKey::generate(&mut OsRng);
        let description = DeviceDescription {
            name: "x".into(),
            platform: Platform::Software,
            uv_methods: vec![UserVerification::NoneTest],
        };
        let make = || PendingEnrolment::start(ISS, &mut OsRng, NOW);
        let p = make();
        let s = sign_enrolment(&device, ISS, "other-nonce", &description, NOW).unwrap();
        assert_eq!(
            verify_enrolment(&s, p, NOW).unwrap_err(),
            StatementError::NonceMismatch
        );
        let p = make();
        let s = sign_enrolment(&device, ISS, p.nonce(), &description, NOW + 601).unwrap();
        assert_eq!(
            verify_enrolment(&s, p, NOW + 601).unwrap_err(),
            StatementError::Expired
        );
        let p = make();
        let nameless = DeviceDescription {
            name: String::new(),
            ..description.clone()
        };
        let s = sign_enrolment(&device, ISS, p.nonce(), &nameless, NOW).unwrap();
        assert_eq!(
            verify_enrolment(&s, p, NOW).unwrap_err().code(),
            "bad_payload"
        );
        let p = make();
        let twice = DeviceDescription {
            uv_methods: vec![UserVerification::Passcode, UserVerification::Passcode],
            ..description
        };
        let s = sign_enrolment(&device, ISS, p.nonce(), &twice, NOW).unwrap();
        assert_eq!(
            verify_enrolment(&s, p, NOW).unwrap_err().code(),
            "bad_payload"
        );
    }

    #[test]
    fn counter_rules() {
        assert!(check_counter(1, 0).is_ok());
        assert_eq!(
            check_counter(5, 5),
            Err(StatementError::CounterNotIncreased { last: 5 })
        );
        assert_eq!(
            check_counter(MAX_COUNTER + 1, 0).unwrap_err().code(),
            "bad_payload"
        );
    }
}
