//! Blocking and unblocking Nøkkel for a person.
//!
//! An account is `blocked` for one of three reasons, and they differ in what lifts them:
//!
//! | reason | set by | stops | lifted by |
//! |---|---|---|---|
//! | `reported_login` | "this wasn't me" in the app | app logins | the person's device (resume), support |
//! | `clone_suspected` | a device signed with a counter it had used before | app logins; that device revoked | the person's other device (resume), support |
//! | `lost` | the person, on the lost-phone page | every login; all devices revoked | a recovery letter, support |
//! | `operator` | support (`nokkel admin account block`) | every login; devices kept | support (`unblock`), a recovery letter |
//!
//! The lost-phone page proves the person with a one-time code sent to the contact
//! register's mobile and e-mail. Its answers are the same whether or not the number has an
//! account or contact points, so the page tells a stranger nothing.

use nokkel_core::id_number::IdNumber;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::notices::{self, Notice};
use super::outbound::{Outbound, TextMessage};
use super::registration::{self, Expiring, FLOW_LIFETIME_SECONDS};
use super::{audit, random_id, rate_limit, Deps, ServiceError};
use crate::i18n::Lang;
use crate::store::{AccountRecord, AccountStatus, NewAuditEvent, Store};

/// App logins are paused: the person said "this wasn't me" to a login.
pub const BLOCKED_REPORTED: &str = "reported_login";
/// The reason recorded when app logins are paused because a device looks cloned.
pub const BLOCKED_CLONE_SUSPECTED: &str = "clone_suspected";
/// The person blocked Nøkkel on the lost-phone page.
pub const BLOCKED_LOST: &str = "lost";
/// Support blocked Nøkkel.
pub const BLOCKED_OPERATOR: &str = "operator";

/// Codes the lost-phone page sends per client address per hour.
pub const BLOCK_CODES_PER_IP_PER_HOUR: i64 = 10;
/// Codes the lost-phone page sends per person per day (each is a text message and an
/// e-mail the person receives unasked).
pub const BLOCK_CODES_PER_PERSON_PER_DAY: i64 = 3;

const OTP_PURPOSE_BLOCK: &str = "block";

/// What stops an account's logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// It may log in.
    Active,
    /// App logins are paused after "this wasn't me"; the person's device may resume them.
    Paused,
    /// No login of any kind until support or a recovery letter lifts it.
    Blocked,
}

/// Where `account` stands.
pub fn standing(account: &AccountRecord) -> Standing {
    match (account.status, account.blocked_reason.as_deref()) {
        (AccountStatus::Active, _) => Standing::Active,
        (AccountStatus::Blocked, Some(BLOCKED_REPORTED | BLOCKED_CLONE_SUSPECTED)) => {
            Standing::Paused
        }
        (AccountStatus::Blocked, _) => Standing::Blocked,
    }
}

/// Who blocked an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockedBy {
    /// The person, proven by a code to their contact points: all devices are revoked.
    Person,
    /// Support: devices are kept, so `unblock` restores the person's Nøkkel as it was.
    Operator,
}

/// Blocks `pid`'s Nøkkel, audits it and tells the person. Returns false when there is no
/// account. Callers holding [`Deps`] forget the revoked devices in their caches.
pub async fn block(
    store: &Store,
    outbound: &dyn Outbound,
    pid: &str,
    by: BlockedBy,
    client_ip: Option<&str>,
    now: i64,
) -> Result<Option<Vec<String>>, ServiceError> {
    let (reason, revoke, who) = match by {
        BlockedBy::Person => (BLOCKED_LOST, true, "person"),
        BlockedBy::Operator => (BLOCKED_OPERATOR, false, "operator"),
    };
    let Some(revoked) = store.block_account(pid, reason, revoke, now).await? else {
        return Ok(None);
    };
    store
        .append_audit_batch(&[NewAuditEvent {
            at: now,
            event: "account_blocked".to_owned(),
            pid: Some(pid.to_owned()),
            client_ip: client_ip.map(str::to_owned),
            detail: json!({ "by": who, "reason": reason, "revoked_devices": revoked }).to_string(),
        }])
        .await?;
    notices::notify_through(store, outbound, pid, Notice::Blocked).await?;
    Ok(Some(revoked))
}

/// Lifts any block on `pid` (support only). Returns false when the account is not blocked.
pub async fn unblock(
    store: &Store,
    outbound: &dyn Outbound,
    pid: &str,
    now: i64,
) -> Result<bool, ServiceError> {
    let Some(account) = store.account(pid).await? else {
        return Ok(false);
    };
    if account.status != AccountStatus::Blocked {
        return Ok(false);
    }
    store
        .set_account_status(pid, AccountStatus::Active, None, now)
        .await?;
    store
        .append_audit_batch(&[NewAuditEvent {
            at: now,
            event: "account_unblocked".to_owned(),
            pid: Some(pid.to_owned()),
            client_ip: None,
            detail: json!({ "by": "operator", "reason": account.blocked_reason }).to_string(),
        }])
        .await?;
    notices::notify_through(store, outbound, pid, Notice::Unblocked).await?;
    Ok(true)
}

/// The lost-phone page between sending the code and typing it, sealed in a cookie. For a
/// number without an account or contact points it holds a code id that was never stored,
/// so every code typed is refused the same way.
#[derive(Serialize, Deserialize)]
pub struct BlockPending {
    pid: String,
    otp_id: String,
    exp: i64,
}

impl Expiring for BlockPending {
    fn exp(&self) -> i64 {
        self.exp
    }
}

/// Step 1 of the lost-phone page: sends a code to the contact register's mobile and
/// e-mail if `pid_input` has an account with either. The answer is the same either way.
pub async fn start_block(
    deps: &Deps,
    pid_input: &str,
    client_ip: &str,
    lang: Lang,
) -> Result<BlockPending, ServiceError> {
    let pid = IdNumber::parse(pid_input, deps.synthetic_policy())?;
    rate_limit(
        deps,
        &format!("block-ip:{client_ip}"),
        3600,
        BLOCK_CODES_PER_IP_PER_HOUR,
    )
    .await?;
    let now = deps.clock.unix();
    let pending = |otp_id: String| BlockPending {
        pid: pid.as_str().to_owned(),
        otp_id,
        exp: now + FLOW_LIFETIME_SECONDS,
    };
    let unsent = pending(random_id(deps));
    if deps.store.account(pid.as_str()).await?.is_none() {
        return Ok(unsent);
    }
    let Some(contact) = deps.store.contact(pid.as_str()).await? else {
        return Ok(unsent);
    };
    if contact.mobile.is_none() && contact.email.is_none() {
        return Ok(unsent);
    }
    // More codes than this for one person are dropped quietly: the page looks the same.
    if rate_limit(
        deps,
        &format!("block-pid:{pid}"),
        86_400,
        BLOCK_CODES_PER_PERSON_PER_DAY,
    )
    .await
    .is_err()
    {
        return Ok(unsent);
    }
    let (otp_id, code) = registration::issue_otp(deps, pid.as_str(), OTP_PURPOSE_BLOCK).await?;
    let lang = Lang::from_tag(&contact.lang).unwrap_or(lang);
    if let Some(mobile) = &contact.mobile {
        deps.outbound
            .send_text(TextMessage {
                to: mobile.clone(),
                body: lang.t_args("sms-block-code", &[("code", code.clone())]),
                purpose: OTP_PURPOSE_BLOCK.to_owned(),
                lang,
            })
            .await?;
    }
    if let Some(address) = &contact.email {
        let name = deps
            .store
            .person(pid.as_str())
            .await?
            .map(|p| format!("{} {}", p.given_name, p.family_name));
        deps.outbound
            .send_email(notices::block_code_email(
                lang,
                address,
                name.as_deref(),
                &code,
            ))
            .await?;
    }
    audit(
        deps,
        "block_code_sent",
        Some(pid.as_str()),
        Some(client_ip),
        json!({ "otp_id": otp_id }),
    )
    .await;
    Ok(pending(otp_id))
}

/// Step 2 of the lost-phone page: the code blocks Nøkkel. Wrong, expired and never-sent
/// codes all answer [`ServiceError::OtpExpired`] or [`ServiceError::OtpWrong`] alike
/// for the page, which shows one message for both.
pub async fn finish_block(
    deps: &Deps,
    pending: BlockPending,
    code: &str,
    client_ip: &str,
) -> Result<(), ServiceError> {
    registration::check_otp(deps, &pending.otp_id, &pending.pid, code, client_ip).await?;
    let now = deps.clock.unix();
    let revoked = block(
        &deps.store,
        deps.outbound.as_ref(),
        &pending.pid,
        BlockedBy::Person,
        Some(client_ip),
        now,
    )
    .await?
    .unwrap_or_default();
    for id in &revoked {
        deps.caches.devices.forget(id);
    }
    Ok(())
}
