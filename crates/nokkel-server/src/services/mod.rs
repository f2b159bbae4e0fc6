//! Services: the server's use cases (ordering letters, registering, …). They apply
//! nokkel-core's rules, talk to the store, and know nothing of HTTP.

use nokkel_core::activation_code::ActivationCodeError;
use nokkel_core::id_number::IdNumberError;
use nokkel_core::phone::PhoneError;
use thiserror::Error;

pub use deps::Deps;

use crate::store::NewAuditEvent;
use crate::store::StoreError;

pub mod audit_writer;
pub mod cache;
pub mod capacity;
pub mod confirmation;
pub mod contact;
pub mod delivery;
mod deps;
pub mod devices;
pub mod enrolment;
pub mod events;
pub mod housekeeping;
pub mod inbox;
pub mod keys;
pub mod lifecycle;
pub mod login;
pub mod notices;
pub mod oidc;
pub mod operator;
pub mod ordering;
pub mod outbound;
pub mod password;
pub mod pending;
pub mod push;
pub mod registration;
pub mod stats;
pub mod transfer;
pub mod verification;

/// Every way a service call can fail. `code()` is the stable code APIs and pages use.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The identity number is malformed.
    #[error("invalid identity number: {0}")]
    IdNumber(#[from] IdNumberError),
    /// The mobile number is not usable.
    #[error("invalid mobile number: {0}")]
    Mobile(#[from] PhoneError),
    /// The activation code is malformed.
    #[error("invalid activation code: {0}")]
    Code(#[from] ActivationCodeError),
    /// No usable letter for this person.
    #[error("no valid activation letter")]
    NoLetter,
    /// The code does not match the person's letter.
    #[error("wrong activation code")]
    WrongCode {
        /// Attempts left before the letter locks.
        attempts_left: u32,
    },
    /// No usable letter, a wrong code or an existing account, said without telling which:
    /// until the code is verified the caller may not hold the letter.
    #[error("the identity number or the activation code is wrong")]
    CodeNotAccepted,
    /// The letter is locked after too many wrong codes.
    #[error("activation letter locked")]
    LetterLocked,
    /// The letter has expired.
    #[error("activation letter expired")]
    LetterExpired,
    /// The letter has been used.
    #[error("activation letter already used")]
    LetterUsed,
    /// The person already has an account.
    #[error("already registered")]
    AlreadyRegistered,
    /// Too many attempts from this client or for this person.
    #[error("rate limited")]
    RateLimited,
    /// The password breaks the policy.
    #[error("password rejected: {0}")]
    Password(#[from] password::PasswordProblem),
    /// The password is wrong.
    #[error("wrong password")]
    WrongPassword,
    /// The one-time code is malformed.
    #[error("one-time code must be 6 digits")]
    OtpFormat,
    /// The one-time code is wrong.
    #[error("wrong one-time code")]
    OtpWrong {
        /// Attempts left.
        attempts_left: u32,
    },
    /// The one-time code expired, was used, or was locked.
    #[error("one-time code expired")]
    OtpExpired,
    /// A signed statement from a device was rejected.
    #[error("statement rejected: {0}")]
    Statement(#[from] nokkel_core::statements::StatementError),
    /// The e-mail address is not plausible.
    #[error("invalid e-mail address")]
    Email,
    /// Software authenticators (no user verification) are accepted only in demo mode.
    #[error("this kind of device is not accepted by this server")]
    DeviceNotAllowed,
    /// The device's key is enrolled already (a device id is its key's thumbprint).
    #[error("this device key is already enrolled")]
    DeviceExists,
    /// The person has no account.
    #[error("no Nøkkel account")]
    NoAccount,
    /// The account logs in another way (SMS user asked for an app login or vice versa).
    #[error("this account uses another login method")]
    WrongMethod,
    /// The account has no active device.
    #[error("no active device")]
    NoDevice,
    /// App logins are paused after the person reported a login that was not theirs.
    #[error("app login is blocked after a reported login")]
    AppLoginBlocked,
    /// Nøkkel is blocked for the person (lost phone, support): no login of any kind.
    #[error("the account is blocked")]
    AccountBlocked,
    /// No such pending challenge for this device's person.
    #[error("no pending challenge")]
    NoPendingChallenge,
    /// Another answer already decided the challenge.
    #[error("the challenge was already answered")]
    ChallengeTaken,
    /// The request proof is malformed, expired, for another request or badly signed.
    #[error("request proof rejected: {0}")]
    Proof(nokkel_core::statements::StatementError),
    /// The person has no active device with that id.
    #[error("no active device with that id on this account")]
    NoSuchDevice,
    /// The device proof is missing or invalid, or the device is unknown.
    #[error("device not authenticated")]
    Unauthenticated,
    /// The device was revoked.
    #[error("device revoked")]
    DeviceRevoked,
    /// The request proof was seen before.
    #[error("request proof replayed")]
    ReplayedProof,
    /// The call needs an action statement made after fresh user verification, and it is
    /// missing or not fresh.
    #[error("this call needs fresh user verification on the device")]
    UserVerificationRequired,
    /// The device signed with a counter it had used before: its key looks copied. The
    /// device is revoked and the person's app logins are paused.
    #[error("this device's signature counter went backwards; the device is revoked")]
    CloneSuspected,
    /// A multi-step flow's state is missing, tampered with or expired.
    #[error("session expired")]
    SessionExpired,
    /// No live transfer by that code or id: unknown, expired, used or refused, said
    /// without telling which.
    #[error("no such transfer, or it has expired or been used")]
    UnknownTransfer,
    /// The transfer code is malformed (wrong length, character or check symbol).
    #[error("invalid transfer code: {0}")]
    TransferCode(#[from] nokkel_core::transfer_code::TransferCodeError),
    /// A push registration this server does not accept (a plain-http endpoint outside a
    /// test server).
    #[error("push registration refused: {0}")]
    PushRegistration(nokkel_core::push::PushError),
    /// Something failed inside; details are logged, never shown.
    #[error("internal error")]
    Internal(#[from] StoreError),
}

impl ServiceError {
    /// A short stable code for APIs, translations (`error-…` keys) and tests.
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::IdNumber(_) => "invalid_id_number",
            ServiceError::Mobile(_) => "invalid_mobile",
            ServiceError::Code(_) => "invalid_code",
            ServiceError::NoLetter => "no_letter",
            ServiceError::WrongCode { .. } | ServiceError::CodeNotAccepted => "wrong_code",
            ServiceError::LetterLocked => "letter_locked",
            ServiceError::LetterExpired => "letter_expired",
            ServiceError::LetterUsed => "letter_used",
            ServiceError::AlreadyRegistered => "already_registered",
            ServiceError::RateLimited => "rate_limited",
            ServiceError::Password(_) => "weak_password",
            ServiceError::WrongPassword => "wrong_password",
            ServiceError::OtpFormat => "invalid_otp",
            ServiceError::OtpWrong { .. } => "wrong_otp",
            ServiceError::OtpExpired => "otp_expired",
            ServiceError::Statement(e) | ServiceError::Proof(e) => e.code(),
            ServiceError::NoSuchDevice => "no_such_device",
            ServiceError::DeviceNotAllowed => "device_not_allowed",
            ServiceError::DeviceExists => "device_exists",
            ServiceError::Email => "invalid_email",
            ServiceError::NoAccount => "no_account",
            ServiceError::WrongMethod => "wrong_method",
            ServiceError::NoDevice => "no_device",
            ServiceError::AppLoginBlocked => "app_login_blocked",
            ServiceError::AccountBlocked => "account_blocked",
            ServiceError::NoPendingChallenge => "no_pending_challenge",
            ServiceError::ChallengeTaken => "challenge_taken",
            ServiceError::Unauthenticated => "unauthenticated",
            ServiceError::DeviceRevoked => "device_revoked",
            ServiceError::ReplayedProof => "replayed_proof",
            ServiceError::UserVerificationRequired => "user_verification_required",
            ServiceError::CloneSuspected => "device_clone_suspected",
            ServiceError::SessionExpired => "session_expired",
            ServiceError::UnknownTransfer => "unknown_transfer",
            ServiceError::TransferCode(_) => "invalid_transfer_code",
            ServiceError::PushRegistration(e) => e.code(),
            ServiceError::Internal(_) => "internal",
        }
    }
}

/// Queues an audit event for the batched writer ([`audit_writer::AuditWriter`]). Audit failures
/// are logged but do not undo the action: the action already happened, and the log line
/// still records it.
pub(crate) async fn audit(
    deps: &Deps,
    event: &str,
    pid: Option<&str>,
    client_ip: Option<&str>,
    detail: serde_json::Value,
) {
    let record = NewAuditEvent {
        at: deps.clock.unix(),
        event: event.to_owned(),
        pid: pid.map(str::to_owned),
        client_ip: client_ip.map(str::to_owned),
        detail: detail.to_string(),
    };
    tracing::info!(target: "audit", event, detail = %record.detail, "audit");
    deps.audit.append(record);
}

/// A random identifier: 16 bytes as 32 lowercase hex digits.
pub(crate) fn random_id(deps: &Deps) -> String {
    let mut bytes = [0u8; 16];
    deps.random.fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Counts a hit against a fixed-window rate limit kept in the store, so it survives a
/// restart (brakes on guessing: passwords, codes, orders); `Err(RateLimited)` when over.
pub(crate) async fn rate_limit(
    deps: &Deps,
    key: &str,
    window_seconds: i64,
    limit: i64,
) -> Result<(), ServiceError> {
    let window_start = window_start(deps, window_seconds);
    let count = deps.store.hit(key, window_start, limit).await?;
    refuse_over_limit(key, count)
}

/// For a limit on failures: `Err(RateLimited)` when `key` has reached `limit` hits in the
/// current window, without counting this attempt. The caller counts a failure with
/// [`rate_limit`] once it has failed, so successes never use up the limit.
pub(crate) async fn check_rate_limit(
    deps: &Deps,
    key: &str,
    window_seconds: i64,
    limit: i64,
) -> Result<(), ServiceError> {
    let hits = deps
        .store
        .hits(key, window_start(deps, window_seconds))
        .await?;
    refuse_over_limit(
        key,
        crate::store::RateCount {
            count: hits + 1,
            allowed: hits < limit,
        },
    )
}

/// Like [`rate_limit`], for a brake a restart may reset (kept with the pending logins:
/// in memory on SQLite). Windows of at most an hour.
pub(crate) async fn volatile_rate_limit(
    deps: &Deps,
    key: &str,
    window_seconds: i64,
    limit: i64,
) -> Result<(), ServiceError> {
    let window_start = window_start(deps, window_seconds);
    let count = deps.pending.hit(key, window_start, limit).await?;
    refuse_over_limit(key, count)
}

/// The part of a client address a per-address limit counts on: the address itself, or
/// for IPv6 its /64 network (one subscriber is routinely given a whole /64, so counting
/// single IPv6 addresses would give one client billions of budgets).
pub(crate) fn address_key(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        _ => ip.to_owned(),
    }
}

fn window_start(deps: &Deps, window_seconds: i64) -> i64 {
    let now = deps.clock.unix();
    now - now.rem_euclid(window_seconds)
}

fn refuse_over_limit(key: &str, count: crate::store::RateCount) -> Result<(), ServiceError> {
    if count.allowed {
        Ok(())
    } else {
        // The limit's name is the key up to its first `:` (`login-pid`, `order-ip`, …).
        let limit = key.split(':').next().unwrap_or_default().to_owned();
        metrics::counter!(crate::metrics::RATE_LIMITED, "limit" => limit).increment(1);
        Err(ServiceError::RateLimited)
    }
}

#[cfg(test)]
mod tests {
    use super::address_key;

    #[test]
    fn ipv6_addresses_count_per_64_network() {
        assert_eq!(address_key("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
        assert_eq!(address_key("2001:db8:1:2::9"), "2001:db8:1:2::/64");
        assert_eq!(address_key("::ffff:10.1.2.3"), "10.1.2.3");
        assert_eq!(address_key("10.1.2.3"), "10.1.2.3");
        assert_eq!(address_key("unknown"), "unknown");
    }
}
