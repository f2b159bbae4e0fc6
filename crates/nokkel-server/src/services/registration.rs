//! Registering with an activation letter: identity number + code, then either an SMS user
//! (password, then a one-time code to the mobile) or an app user (device enrolment).
//!
//! The ceremony is a chain of typed states. [`verify_letter`] yields a [`VerifiedLetter`];
//! [`start_sms_user`] consumes it and yields an [`SmsPending`]; [`finish_sms_user`] consumes
//! that. Between HTTP requests a state travels as a sealed token (AES-GCM under the server
//! key, with an expiry), so the browser can neither read nor forge it and any server
//! instance can continue the flow. The letter is consumed only at the very end, in one
//! transaction with the account, so an abandoned flow loses nothing and of two concurrent
//! registrations with one code exactly one wins.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use nokkel_core::activation_code::ActivationCode;
use nokkel_core::id_number::IdNumber;
use nokkel_core::ordering::{
    after_wrong_code, locked_for_address, WrongCode, MAX_WRONG_CODES, MAX_WRONG_CODES_PER_LETTER,
};
use nokkel_core::phone::MobileNumber;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use subtle::ConstantTimeEq;

use super::notices::{self, Notice};
use super::outbound::TextMessage;
use super::{address_key, audit, password, random_id, rate_limit, ServiceError};
use crate::i18n::Lang;
use crate::services::Deps;
use crate::store::{
    AccountKind, AccountRecord, AccountStatus, ContactRecord, LetterRecord, LetterState, OtpRecord,
    RegistrationMode, RegistrationOutcome,
};

/// How long a registration flow may take between steps.
pub const FLOW_LIFETIME_SECONDS: i64 = 20 * 60;
/// How long an SMS code is valid.
pub const OTP_LIFETIME_SECONDS: i64 = 10 * 60;
/// Wrong SMS codes before the code is void.
pub const MAX_WRONG_OTPS: i64 = 5;
/// Code checks per client address per hour (all identity numbers together).
pub const CODE_CHECKS_PER_IP_PER_HOUR: i64 = 60;

const OTP_PURPOSE_REGISTRATION: &str = "registration";

/// A letter whose code was checked: the right to create an account for its person, or,
/// when the person has one, to set it up again (a recovery letter).
#[derive(Serialize, Deserialize)]
pub struct VerifiedLetter {
    pid: String,
    letter_id: String,
    /// The person had an account when the code was checked: registering replaces its
    /// devices or password instead of creating it.
    recovery: bool,
    exp: i64,
}

impl VerifiedLetter {
    /// The person the letter was sent to.
    pub fn pid(&self) -> &str {
        &self.pid
    }

    /// The letter that will be consumed when the account is created.
    pub fn letter_id(&self) -> &str {
        &self.letter_id
    }

    /// Whether registering sets up an existing account again.
    pub fn is_recovery(&self) -> bool {
        self.recovery
    }
}

/// An SMS user waiting to type the code sent to the mobile they gave at registration.
#[derive(Serialize, Deserialize)]
pub struct SmsPending {
    letter: VerifiedLetter,
    /// The mobile the code went to (E.164): it enters the contact register once proven.
    mobile: String,
    password_hash: String,
    otp_id: String,
    /// The language the registration runs in (a tag; older flows carry none: Bokmål).
    #[serde(default)]
    lang: String,
}

impl SmsPending {
    /// The masked mobile number the code went to.
    pub fn masked_mobile(&self) -> String {
        MobileNumber::parse_e164(&self.mobile)
            .map(|m| m.masked())
            .unwrap_or_default()
    }
}

/// Seals a flow state into a URL-safe token that expires with the state.
pub fn seal<T: Serialize>(deps: &Deps, state: &T) -> String {
    let json = serde_json::to_vec(state).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(deps.secrets.seal(&json, deps.random.as_ref()))
}

/// A sealed flow state that carries its own expiry.
pub trait Expiring {
    /// When the state stops being accepted (unix seconds).
    fn exp(&self) -> i64;
}

impl Expiring for VerifiedLetter {
    fn exp(&self) -> i64 {
        self.exp
    }
}

impl Expiring for SmsPending {
    fn exp(&self) -> i64 {
        self.letter.exp
    }
}

/// Opens a token made by [`seal`]; `SessionExpired` if tampered with, foreign or expired.
pub fn open<T: DeserializeOwned + Expiring>(deps: &Deps, token: &str) -> Result<T, ServiceError> {
    let sealed = URL_SAFE_NO_PAD
        .decode(token.trim())
        .map_err(|_| ServiceError::SessionExpired)?;
    let json = deps
        .secrets
        .open(&sealed)
        .map_err(|_| ServiceError::SessionExpired)?;
    let state: T = serde_json::from_slice(&json).map_err(|_| ServiceError::SessionExpired)?;
    if state.exp() <= deps.clock.unix() {
        return Err(ServiceError::SessionExpired);
    }
    Ok(state)
}

/// Checks an identity number and activation code against the person's letters.
///
/// Wrong codes count against the pending letter; the fifth locks it. Errors say precisely
/// what is wrong (the person holds the letter, so this reveals nothing new to them). A
/// person who has an account gets a recovery flow: their letter was ordered as one.
pub async fn verify_letter(
    deps: &Deps,
    pid_input: &str,
    code_input: &str,
    client_ip: &str,
) -> Result<VerifiedLetter, ServiceError> {
    let pid = IdNumber::parse(pid_input, deps.synthetic_policy())?;
    let code = ActivationCode::parse(code_input)?;
    rate_limit(
        deps,
        &format!("code-ip:{client_ip}"),
        3600,
        CODE_CHECKS_PER_IP_PER_HOUR,
    )
    .await?;
    let now = deps.clock.unix();

    let recovery = deps.store.account(pid.as_str()).await?.is_some();
    let letters = deps.store.letters_for(pid.as_str()).await?;
    let Some(letter) = letters
        .iter()
        .find(|l| l.state == LetterState::Pending && l.expires_at > now)
    else {
        return Err(refusal_without_pending(&letters, now));
    };

    // Wrong codes lock the letter for the address they come from, so a stranger who knows
    // the identity number cannot lock the person's letter; many wrong codes from anywhere
    // lock it for good.
    // Keyed like every per-address limit: an IPv6 /64 is one address.
    let from_here = format!("code-wrong:{}:{}", letter.id, address_key(client_ip));
    let wrong_here = deps.store.hits(&from_here, letter.expires_at).await?;
    if locked_for_address(u32::try_from(wrong_here).unwrap_or(u32::MAX)) {
        return Err(ServiceError::LetterLocked);
    }
    let expected = deps.secrets.code_hash(code.expose_secret());
    if !bool::from(expected.ct_eq(&letter.code_hash)) {
        let here = deps
            .store
            .hit(&from_here, letter.expires_at, i64::from(MAX_WRONG_CODES))
            .await?;
        let count = deps
            .store
            .record_failed_attempt(&letter.id, i64::from(MAX_WRONG_CODES_PER_LETTER))
            .await?;
        let detail =
            json!({ "letter_id": letter.id, "attempts": count.attempts, "from_here": here.count });
        let counted = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
        let attempts_left = match after_wrong_code(counted(here.count), counted(count.attempts)) {
            WrongCode::TryAgain { attempts_left } if !count.locked => attempts_left,
            _ => {
                audit(
                    deps,
                    "letter_locked",
                    Some(pid.as_str()),
                    Some(client_ip),
                    json!({ "letter_id": letter.id, "attempts": count.attempts, "from_here": here.count, "for_good": count.locked }),
                )
                .await;
                return Err(ServiceError::LetterLocked);
            }
        };
        audit(
            deps,
            "activation_code_wrong",
            Some(pid.as_str()),
            Some(client_ip),
            detail,
        )
        .await;
        return Err(ServiceError::WrongCode { attempts_left });
    }
    audit(
        deps,
        "activation_code_accepted",
        Some(pid.as_str()),
        Some(client_ip),
        json!({ "letter_id": letter.id }),
    )
    .await;
    Ok(VerifiedLetter {
        pid: pid.as_str().to_owned(),
        letter_id: letter.id.clone(),
        recovery,
        exp: now + FLOW_LIFETIME_SECONDS,
    })
}

fn refusal_without_pending(letters: &[LetterRecord], now: i64) -> ServiceError {
    // The newest letter tells the person what to do next.
    match letters.first() {
        Some(l) if l.state == LetterState::Locked => ServiceError::LetterLocked,
        Some(l) if l.state == LetterState::Used => ServiceError::LetterUsed,
        Some(l) if l.state == LetterState::Pending && l.expires_at <= now => {
            ServiceError::LetterExpired
        }
        _ => ServiceError::NoLetter,
    }
}

/// What an SMS user types on the password page.
pub struct SmsUserForm<'a> {
    /// The new password.
    pub password: &'a str,
    /// The password again.
    pub repeated: &'a str,
    /// The calling code of a national mobile number (`47`).
    pub calling_code: &'a str,
    /// The mobile number the code goes to, national or with `+`.
    pub mobile: &'a str,
}

/// Step 2 for SMS users: checks the mobile and the password policy, hashes the password,
/// and sends a 6-digit code to the mobile typed here — never to a number from the order,
/// which anybody could have typed.
pub async fn start_sms_user(
    deps: &Deps,
    letter: VerifiedLetter,
    form: SmsUserForm<'_>,
    lang: Lang,
) -> Result<SmsPending, ServiceError> {
    let SmsUserForm {
        password,
        repeated,
        calling_code,
        mobile,
    } = form;
    let person = deps.store.person(&letter.pid).await?;
    let mut context = vec![letter.pid.as_str()];
    if let Some(p) = &person {
        context.push(&p.given_name);
        context.push(&p.family_name);
    }
    password::check(password, repeated, &context)?;
    let mobile = MobileNumber::parse(calling_code, mobile)?;
    // Hashing costs ~50 ms of CPU; keep it off the async worker threads.
    let owned = password.to_owned();
    let salt = password::salt(deps.random.as_ref());
    let password_hash = tokio::task::spawn_blocking(move || password::hash(&owned, &salt?))
        .await
        .ok()
        .flatten()
        .ok_or_else(|| {
            tracing::error!("password hashing failed");
            ServiceError::SessionExpired
        })?;
    let otp_id = send_otp(
        deps,
        &letter.pid,
        mobile.e164(),
        OTP_PURPOSE_REGISTRATION,
        lang,
    )
    .await?;
    Ok(SmsPending {
        letter,
        mobile: mobile.e164().to_owned(),
        password_hash,
        otp_id,
        lang: lang.tag().to_owned(),
    })
}

/// Sends a fresh one-time code to `mobile` for `purpose` and returns the challenge id.
pub async fn send_otp(
    deps: &Deps,
    pid: &str,
    mobile: &str,
    purpose: &str,
    lang: Lang,
) -> Result<String, ServiceError> {
    let (id, code) = issue_otp(deps, pid, purpose).await?;
    let body = lang.t_args("sms-otp", &[("code", code)]);
    deps.outbound
        .send_text(TextMessage {
            to: mobile.to_owned(),
            body,
            purpose: purpose.to_owned(),
            lang,
        })
        .await?;
    audit(deps, "otp_sent", Some(pid), None, json!({ "otp_id": id })).await;
    Ok(id)
}

/// Makes and stores (hashed) a fresh 6-digit code for `purpose`, valid for
/// [`OTP_LIFETIME_SECONDS`]; returns the challenge id and the code, for the caller to send.
pub(crate) async fn issue_otp(
    deps: &Deps,
    pid: &str,
    purpose: &str,
) -> Result<(String, String), ServiceError> {
    let now = deps.clock.unix();
    let mut bytes = [0u8; 4];
    deps.random.fill(&mut bytes);
    let code = format!("{:06}", u32::from_le_bytes(bytes) % 1_000_000);
    let id = random_id(deps);
    deps.store
        .insert_otp(&OtpRecord {
            id: id.clone(),
            pid: pid.to_owned(),
            purpose: purpose.to_owned(),
            code_hash: deps.secrets.otp_hash(&id, &code),
            attempts: 0,
            created_at: now,
            expires_at: now + OTP_LIFETIME_SECONDS,
            consumed_at: None,
        })
        .await?;
    Ok((id, code))
}

/// The result of a completed registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The new account holder.
    pub pid: String,
    /// How they log in.
    pub kind: AccountKind,
    /// Whether an existing account was set up again with a recovery letter.
    pub recovered: bool,
}

/// Step 3 for SMS users: checks the SMS code, then creates the account (or, with a
/// recovery letter, sets its new password and revokes its devices), consumes the letter
/// and registers the (now confirmed) mobile in the contact register, atomically.
pub async fn finish_sms_user(
    deps: &Deps,
    pending: SmsPending,
    otp_input: &str,
    client_ip: &str,
) -> Result<Registered, ServiceError> {
    check_otp(
        deps,
        &pending.otp_id,
        &pending.letter.pid,
        otp_input,
        client_ip,
    )
    .await?;
    let now = deps.clock.unix();
    let letter = pending.letter;
    complete(
        deps,
        &letter,
        NewAccount {
            kind: AccountKind::Sms,
            password_hash: Some(pending.password_hash),
            mobile: Some(ConfirmedMobile {
                e164: pending.mobile,
                confirmed_at: now,
            }),
            device: None,
            lang: Lang::from_tag(&pending.lang).unwrap_or_default(),
        },
        client_ip,
    )
    .await
}

/// Checks a one-time code against challenge `otp_id` of `pid` and consumes it. Wrong codes
/// are counted; the fifth voids the challenge.
pub async fn check_otp(
    deps: &Deps,
    otp_id: &str,
    pid: &str,
    otp_input: &str,
    client_ip: &str,
) -> Result<(), ServiceError> {
    let otp: String = otp_input.chars().filter(|c| !c.is_whitespace()).collect();
    if otp.len() != 6 || !otp.chars().all(|c| c.is_ascii_digit()) {
        return Err(ServiceError::OtpFormat);
    }
    let now = deps.clock.unix();
    let Some(record) = deps.store.otp(otp_id).await?.filter(|r| r.pid == pid) else {
        return Err(ServiceError::OtpExpired);
    };
    let expected = deps.secrets.otp_hash(&record.id, &otp);
    if !bool::from(expected.ct_eq(&record.code_hash)) {
        let count = deps
            .store
            .record_otp_failure(&record.id, MAX_WRONG_OTPS)
            .await?;
        audit(
            deps,
            "otp_wrong",
            Some(pid),
            Some(client_ip),
            json!({ "attempts": count.attempts }),
        )
        .await;
        if count.locked {
            return Err(ServiceError::OtpExpired);
        }
        return Err(ServiceError::OtpWrong {
            attempts_left: u32::try_from(MAX_WRONG_OTPS - count.attempts).unwrap_or(0),
        });
    }
    if !deps
        .store
        .consume_otp(&record.id, now, MAX_WRONG_OTPS)
        .await?
    {
        return Err(ServiceError::OtpExpired);
    }
    Ok(())
}

/// A mobile number proven by an SMS code during registration.
pub(crate) struct ConfirmedMobile {
    /// E.164.
    pub e164: String,
    /// When the code was typed (unix seconds).
    pub confirmed_at: i64,
}

/// The account a registration creates.
pub(crate) struct NewAccount<'a> {
    /// How the person logs in.
    pub kind: AccountKind,
    /// SMS users' password (Argon2 PHC string).
    pub password_hash: Option<String>,
    /// The mobile proven during registration (SMS users), for the contact register.
    pub mobile: Option<ConfirmedMobile>,
    /// App users' first device.
    pub device: Option<&'a crate::store::DeviceRecord>,
    /// The language of the registration, which notices will use.
    pub lang: Lang,
}

/// Creates the account in one transaction with consuming the letter and writing the
/// contact register. With a recovery letter the account is set up again instead: its
/// devices are revoked, the new password or device takes their place, a block is lifted,
/// and the contact points it had before are told, with a way to block it if it was not
/// the person.
pub(crate) async fn complete(
    deps: &Deps,
    letter: &VerifiedLetter,
    account: NewAccount<'_>,
    client_ip: &str,
) -> Result<Registered, ServiceError> {
    let NewAccount {
        kind,
        password_hash,
        mobile,
        device,
        lang,
    } = account;
    let now = deps.clock.unix();
    let record = AccountRecord {
        pid: letter.pid.clone(),
        kind,
        password_hash,
        status: AccountStatus::Active,
        blocked_reason: None,
        created_at: now,
        updated_at: now,
    };
    let contact = ContactRecord {
        pid: letter.pid.clone(),
        mobile: mobile.as_ref().map(|m| m.e164.clone()),
        mobile_confirmed_at: mobile.as_ref().map(|m| m.confirmed_at),
        email: None,
        email_confirmed_at: None,
        updated_at: now,
        lang: lang.tag().to_owned(),
    };
    let (mode, told_before) = if letter.recovery {
        // The contact points as they were, before a new mobile replaces the old one.
        let before = deps.store.contact(&letter.pid).await?;
        (RegistrationMode::Recover, before)
    } else {
        (RegistrationMode::New, None)
    };
    let outcome = deps
        .store
        .complete_registration(&letter.letter_id, &record, &contact, device, mode, now)
        .await?;
    let revoked = match outcome {
        RegistrationOutcome::Created => Vec::new(),
        RegistrationOutcome::Recovered { revoked_devices } => revoked_devices,
        RegistrationOutcome::LetterUnavailable => {
            // Another registration with the same letter won, or it expired meanwhile.
            return Err(match deps.store.letter(&letter.letter_id).await? {
                Some(l) if l.state == LetterState::Used => ServiceError::LetterUsed,
                Some(l) if l.state == LetterState::Locked => ServiceError::LetterLocked,
                _ => ServiceError::LetterExpired,
            });
        }
        RegistrationOutcome::AccountExists => return Err(ServiceError::AlreadyRegistered),
        RegistrationOutcome::DeviceExists => return Err(ServiceError::DeviceExists),
    };
    for id in &revoked {
        deps.caches.devices.forget(id);
    }
    let event = if letter.recovery {
        "account_recovered"
    } else {
        "account_created"
    };
    audit(
        deps,
        event,
        Some(&letter.pid),
        Some(client_ip),
        json!({
            "kind": kind,
            "letter_id": letter.letter_id,
            "device_id": device.map(|d| d.id.as_str()),
            "revoked_devices": revoked,
        }),
    )
    .await;
    if let Some(before) = told_before {
        let block_url = format!("{}/lost", deps.issuer().trim_end_matches('/'));
        notices::notify_contact(deps, &before, Notice::Recovered { block_url }).await?;
    }
    Ok(Registered {
        pid: letter.pid.clone(),
        kind,
        recovered: letter.recovery,
    })
}
