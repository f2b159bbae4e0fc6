//! Enrolling the app as an authenticator with an activation letter: the app user's way to
//! register. Start checks the identity number and code like the web registration and
//! returns a nonce and the key the device must pin; finish verifies the device's
//! proof of possession (nokkel-core's enrolment statement) and, in one transaction,
//! consumes the letter, creates the account and stores the device.
//!
//! The enrolment id handed to the device is the sealed pending state, so any instance can
//! finish it. It is single-use: the first finish spends it, whatever the outcome
//! (docs/PROTOCOL.md § Enrolment statement).

use nokkel_core::keys::PublicJwk;
use nokkel_core::random::RandomRng;
use nokkel_core::statements::{verify_enrolment, PendingEnrolment, Platform, UserVerification};
use nokkel_core::wire::{FinishEnrolmentResponse, ProtocolVersion, StartEnrolmentResponse};
use serde::{Deserialize, Serialize};

use super::notices::{self, Notice};
use super::registration::{self, NewAccount, VerifiedLetter};
use super::ServiceError;
use crate::i18n::Lang;
use crate::services::Deps;
use crate::store::{AccountKind, DeviceRecord};

#[derive(Serialize, Deserialize)]
struct EnrolmentTicket {
    letter: VerifiedLetter,
    pending: PendingEnrolment,
}

impl registration::Expiring for EnrolmentTicket {
    fn exp(&self) -> i64 {
        self.pending.expires_at()
    }
}

/// Starts an enrolment with an identity number and activation code.
pub async fn start(
    deps: &Deps,
    pid: &str,
    code: &str,
    client_ip: &str,
) -> Result<StartEnrolmentResponse, ServiceError> {
    let letter = registration::verify_letter(deps, pid, code, client_ip)
        .await
        .map_err(unverified)?;
    let pending = PendingEnrolment::start(
        &deps.issuer(),
        &mut RandomRng::new(deps.random.as_ref()),
        deps.clock.unix(),
    );
    let response = StartEnrolmentResponse {
        v: ProtocolVersion,
        enrolment_id: String::new(),
        issuer: pending.issuer().to_owned(),
        nonce: pending.nonce().to_owned(),
        expires_at: pending.expires_at(),
        challenge_key: challenge_jwk(deps),
        challenge_key_id: deps.keys.challenge.kid().to_owned(),
    };
    let enrolment_id = registration::seal(deps, &EnrolmentTicket { letter, pending });
    Ok(StartEnrolmentResponse {
        enrolment_id,
        ..response
    })
}

/// The caller of the API may not hold the letter, so until the code is verified the
/// answer must not tell a person with an account, one without a letter and one whose
/// letter the code does not open apart (docs/SECURITY.md § Anti-enumeration).
fn unverified(err: ServiceError) -> ServiceError {
    match err {
        ServiceError::AlreadyRegistered
        | ServiceError::NoLetter
        | ServiceError::WrongCode { .. } => ServiceError::CodeNotAccepted,
        other => other,
    }
}

/// The public key devices pin to verify login challenges.
pub fn challenge_jwk(deps: &Deps) -> PublicJwk {
    deps.keys.challenge.public_key().to_jwk()
}

/// Finishes an enrolment with the device's signed enrolment statement.
pub async fn finish(
    deps: &Deps,
    enrolment_id: &str,
    statement: &str,
    lang: Lang,
    client_ip: &str,
) -> Result<FinishEnrolmentResponse, ServiceError> {
    let ticket: EnrolmentTicket = registration::open(deps, enrolment_id)?;
    spend(deps, &ticket.pending).await?;
    let now = deps.clock.unix();
    let verified = verify_enrolment(statement, ticket.pending, now)?;
    let payload = verified.payload();
    let software_only = payload.platform == Platform::Software
        || payload.uv_methods.iter().all(|m| m.is_test_only());
    if software_only && !deps.accepts_software_devices() {
        return Err(ServiceError::DeviceNotAllowed);
    }
    let device = DeviceRecord {
        id: verified.device_id().as_str().to_owned(),
        pid: ticket.letter.pid().to_owned(),
        public_jwk: serde_json::to_string(&verified.public_key().to_jwk()).unwrap_or_default(),
        name: payload.device_name.clone(),
        platform: serde_json::to_value(payload.platform)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        uv_methods: serde_json::to_string(&payload.uv_methods).unwrap_or_default(),
        counter: 0,
        created_at: now,
        last_used_at: None,
        revoked_at: None,
    };
    registration::complete(
        deps,
        &ticket.letter,
        NewAccount {
            kind: AccountKind::App,
            password_hash: None,
            mobile: None,
            device: Some(&device),
            lang,
        },
        client_ip,
    )
    .await?;
    notices::notify(
        deps,
        ticket.letter.pid(),
        Notice::DeviceAdded {
            device: device.name.clone(),
        },
    )
    .await?;
    Ok(FinishEnrolmentResponse {
        v: ProtocolVersion,
        device_id: verified.device_id().clone(),
    })
}

/// Spends a ticket before anything in it is checked, so a failed finish cannot be
/// retried with it. Its one use is counted in the store's rate-limit windows, keyed by the
/// nonce, in a window that starts at the ticket's expiry: shared by every instance, kept
/// across restarts, and swept by housekeeping only once the ticket has expired.
async fn spend(deps: &Deps, pending: &PendingEnrolment) -> Result<(), ServiceError> {
    let key = format!("enrolment-ticket:{}", pending.nonce());
    let uses = deps.store.hit(&key, pending.expires_at(), 1).await?;
    if uses.allowed {
        Ok(())
    } else {
        Err(ServiceError::SessionExpired)
    }
}

/// The user-verification methods a stored device declared.
pub fn declared_uv(device: &DeviceRecord) -> Vec<UserVerification> {
    serde_json::from_str(&device.uv_methods).unwrap_or_default()
}
