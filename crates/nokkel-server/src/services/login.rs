//! Logging in: the login transaction and its challenge (app approval with number
//! matching), and the answers devices send. The rules — challenge contents, expiry,
//! signatures, counters, the number — are nokkel-core's; this service keeps the state
//! and makes each transition happen once.
//!
//! A login is pending until one of: approved, denied, reported ("this wasn't me"), a
//! wrong number, expired, or cancelled (in the browser, or replaced by a newer login from
//! the same browser or address). Logins from different browsers wait side by side, a few
//! per person at most (`nokkel_core::admission`): a stranger's login cannot cancel the
//! person's own, and the app shows each one.
//!
//! Every limit a stranger can reach is counted per person *and* client address first, so
//! strangers elsewhere cannot lock a person out; see [`limit_logins_started`] and
//! [`check_password`].

use std::time::Duration;

use nokkel_core::id_number::IdNumber;
use nokkel_core::jws::ServerSigner;
use nokkel_core::random::RandomRng;
use nokkel_core::statements::{
    claimed_device_id, verify_approval, verify_denial, Action, LoginContext, PendingLogin,
    StatementError, TYP_APPROVAL, TYP_DENIAL,
};
use nokkel_core::wire::{ChallengeOutcome, HistoryEntry, HistoryOutcome};
use serde_json::json;

use super::events::{self, wait_for};
use super::lifecycle::{self, Standing, BLOCKED_REPORTED};
use super::notices::{self, Notice};
use super::oidc::{self, Authenticated, AuthorizationError, OidcError};
use super::verification::{check_uv, counter, device_public_key, uv_name};
use super::{address_key, audit, check_rate_limit, rate_limit, volatile_rate_limit, ServiceError};
use super::{confirmation, registration};
use crate::i18n::Lang;
use crate::metrics::{LOGINS_ENDED, LOGINS_STARTED, LOGIN_NOTIFY_SECONDS};
use crate::services::Deps;
use crate::store::{
    AccountKind, AccountRecord, AccountStatus, Decided, DeviceDecision, DeviceRecord, LoginMethod,
    LoginRecord, LoginState, LoginTransition,
};

/// The window of the wrong-password ceiling per person, in seconds.
const DAY: i64 = 86_400;
/// Longest long-poll a device may ask for.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// Where a login comes from. Today every login starts in a browser on the login pages; a
/// backchannel login (the relying party asking for a person directly) would be a second
/// variant, calling the same service functions.
#[derive(Debug, Clone)]
pub enum LoginChannel {
    /// A browser on the login pages.
    Browser {
        /// The `User-Agent` header.
        user_agent: String,
        /// The client address (for the audit log; no place lookup is configured).
        ip: String,
        /// The page's language: the words the app shows about an unknown browser.
        lang: Lang,
    },
}

impl LoginChannel {
    /// The client address, for the audit log.
    pub fn client_ip(&self) -> &str {
        match self {
            LoginChannel::Browser { ip, .. } => ip,
        }
    }

    /// The browser and system names the app shows ("Firefox 140", "Windows 10").
    fn describe(&self) -> (String, String) {
        match self {
            LoginChannel::Browser {
                user_agent, lang, ..
            } => describe_user_agent(user_agent, *lang),
        }
    }
}

/// Browser and operating system names for the app to show ("Firefox 140", "Windows 10"),
/// with the words for unknown ones in `lang`.
pub fn describe_user_agent(user_agent: &str, lang: Lang) -> (String, String) {
    match woothee::parser::Parser::new().parse(user_agent) {
        Some(ua) => {
            let major = ua.version.split('.').next().unwrap_or_default();
            let browser = if ua.name == "UNKNOWN" {
                lang.t("login-unknown-browser")
            } else if major.is_empty() || major == "UNKNOWN" {
                ua.name.to_owned()
            } else {
                format!("{} {major}", ua.name)
            };
            let os = if ua.os == "UNKNOWN" {
                lang.t("login-unknown-os")
            } else {
                ua.os.to_owned()
            };
            (browser, os)
        }
        None => (lang.t("login-unknown-browser"), lang.t("login-unknown-os")),
    }
}

/// Starts an app login for `pid`: checks the account can log in with the app, then makes
/// and stores the challenge and wakes the person's devices.
pub async fn start_app_login(
    deps: &Deps,
    pid: &IdNumber,
    request_id: Option<&str>,
    service: &str,
    channel: &LoginChannel,
) -> Result<LoginRecord, ServiceError> {
    start_app_login_again(deps, pid, request_id, service, channel, None).await
}

/// [`start_app_login`] from a browser that started login `replaces` before ("try
/// again"): that one is cancelled, others waiting for the person are not.
pub async fn start_app_login_again(
    deps: &Deps,
    pid: &IdNumber,
    request_id: Option<&str>,
    service: &str,
    channel: &LoginChannel,
    replaces: Option<&str>,
) -> Result<LoginRecord, ServiceError> {
    let account = deps
        .store
        .account(pid.as_str())
        .await?
        .ok_or(ServiceError::NoAccount)?;
    let start = AppLoginStart {
        request_id,
        service,
        channel,
        replaces,
    };
    start_app_login_for(deps, &account, pid, &start).await
}

/// What an app login is started for, and from where.
struct AppLoginStart<'a> {
    request_id: Option<&'a str>,
    service: &'a str,
    channel: &'a LoginChannel,
    /// The login the same browser started before, which this one replaces.
    replaces: Option<&'a str>,
}

/// [`start_app_login`] for an account already read.
async fn start_app_login_for(
    deps: &Deps,
    account: &AccountRecord,
    pid: &IdNumber,
    start: &AppLoginStart<'_>,
) -> Result<LoginRecord, ServiceError> {
    let AppLoginStart {
        request_id,
        service,
        channel,
        replaces,
    } = *start;
    if account.kind != AccountKind::App {
        return Err(ServiceError::WrongMethod);
    }
    match lifecycle::standing(account) {
        Standing::Active => {}
        Standing::Paused => return Err(ServiceError::AppLoginBlocked),
        Standing::Blocked => return Err(ServiceError::AccountBlocked),
    }
    let devices = deps.store.devices_for(pid.as_str()).await?;
    if devices.iter().all(|d| d.revoked_at.is_some()) {
        return Err(ServiceError::NoDevice);
    }
    limit_logins_started(deps, pid, channel.client_ip()).await?;
    let (browser_name, os) = channel.describe();
    let now = deps.clock.unix();
    let pending = PendingLogin::start(
        &deps.issuer(),
        LoginContext {
            service: service.to_owned(),
            browser: browser_name.clone(),
            os: os.clone(),
            place: None,
        },
        &mut RandomRng::new(deps.random.as_ref()),
        now,
    );
    let record = LoginRecord {
        id: pending.challenge_id().to_owned(),
        request_id: request_id.map(str::to_owned),
        pid: pid.as_str().to_owned(),
        method: LoginMethod::App,
        service: service.to_owned(),
        browser: browser_name,
        os,
        place: None,
        number: i64::from(pending.number()),
        pending: serde_json::to_string(&pending).map_err(|_| ServiceError::SessionExpired)?,
        state: LoginState::Pending,
        created_at: now,
        expires_at: pending.expires_at(),
        decided_at: None,
        device_id: None,
        uv: None,
        address: address_key(channel.client_ip()),
    };
    let replaced = deps.pending.start(&record, replaces).await?;
    metrics::counter!(LOGINS_STARTED, "method" => "app").increment(1);
    ended(LoginState::Cancelled, replaced);
    audit(
        deps,
        "login_started",
        Some(pid.as_str()),
        Some(channel.client_ip()),
        json!({ "login_id": record.id, "method": "app", "service": service, "replaced": replaced }),
    )
    .await;
    publish(deps, &events::person_key(pid.as_str())).await;
    super::push::login_waiting(deps, pid.as_str(), record.expires_at).await;
    Ok(record)
}

/// The brakes on starting app logins, against push bombing. Counted per person *and*
/// client address first, so a stranger elsewhere using up a limit does not lock the person
/// out; then per address for all people; then a generous ceiling per person. A hit refused
/// by an earlier brake is not counted by a later one. A crash forgetting the counts is
/// harmless, so they are kept with the pending logins (in memory on SQLite).
async fn limit_logins_started(deps: &Deps, pid: &IdNumber, ip: &str) -> Result<(), ServiceError> {
    let address = address_key(ip);
    let limits = [
        (
            format!("login-pid-ip:{pid}/{address}"),
            deps.config.logins_per_person_and_address_per_10_min,
        ),
        (
            format!("login-ip:{address}"),
            deps.config.logins_per_address_per_10_min,
        ),
        (
            format!("login-pid:{pid}"),
            deps.config.logins_per_person_per_10_min,
        ),
    ];
    for (key, limit) in limits {
        volatile_rate_limit(deps, &key, 600, i64::from(limit)).await?;
    }
    Ok(())
}

/// Counts login `id`'s ending and wakes whoever waits for it, noting when, so the waiter
/// can record how long the news took to reach it.
async fn announce_decision(deps: &Deps, id: &str, outcome: LoginState) {
    ended(outcome, 1);
    let key = events::login_key(id);
    deps.events.mark(&key);
    publish(deps, &key).await;
}

/// Counts `n` logins that ended as `outcome`.
pub(crate) fn ended(outcome: LoginState, n: u64) {
    metrics::counter!(LOGINS_ENDED, "outcome" => outcome.as_str()).increment(n);
}

/// Wakes local and (on PostgreSQL) remote waiters on `key`.
pub async fn publish(deps: &Deps, key: &str) {
    deps.events.wake(key);
    if let Err(err) = deps.store.publish_event(events::CHANNEL, key).await {
        tracing::warn!(error = %err, "event not published to other instances");
    }
}

/// The login challenges pending for `device`'s person, oldest first, each signed for that
/// device, waiting up to `wait` for one to appear.
pub async fn pending_challenges(
    deps: &Deps,
    device: &DeviceRecord,
    wait: Duration,
) -> Result<Vec<String>, ServiceError> {
    let key = events::person_key(&device.pid);
    let found = wait_for(&deps.events, &key, wait.min(MAX_WAIT), || async {
        deps.pending
            .pending_app_logins(&device.pid, deps.clock.unix())
            .await
            .ok()
            .filter(|logins| !logins.is_empty())
    })
    .await;
    let device_id = nokkel_core::keys::DeviceId::parse(&device.id)
        .map_err(|_| ServiceError::Unauthenticated)?;
    let random = nokkel_core::random::ring_random();
    let signer = ServerSigner::new(&deps.keys.challenge, &random);
    let mut challenges = Vec::new();
    for login in found.unwrap_or_default() {
        let pending: PendingLogin =
            serde_json::from_str(&login.pending).map_err(|_| ServiceError::NoPendingChallenge)?;
        challenges.push(pending.sign_challenge(&device_id, &signer)?);
    }
    Ok(challenges)
}

/// Loads the pending login `challenge_id` of `device`'s person, checking the statement is
/// signed as coming from `device`.
async fn answerable(
    deps: &Deps,
    device: &DeviceRecord,
    challenge_id: &str,
    statement: &str,
    typ: &'static str,
) -> Result<(LoginRecord, PendingLogin), ServiceError> {
    if claimed_device_id(statement, typ)?.as_str() != device.id {
        return Err(StatementError::WrongDevice.into());
    }
    let login = deps
        .pending
        .get(challenge_id)
        .await?
        .filter(|l| l.pid == device.pid && l.method == LoginMethod::App)
        .ok_or(ServiceError::NoPendingChallenge)?;
    if login.state != LoginState::Pending {
        return Err(ServiceError::ChallengeTaken);
    }
    let pending =
        serde_json::from_str(&login.pending).map_err(|_| ServiceError::NoPendingChallenge)?;
    Ok((login, pending))
}

/// Approves login `challenge_id` with `device`'s signed approval.
pub async fn approve(
    deps: &Deps,
    device: &DeviceRecord,
    challenge_id: &str,
    statement: &str,
) -> Result<(), ServiceError> {
    let (login, pending) = answerable(deps, device, challenge_id, statement, TYP_APPROVAL).await?;
    let key = device_public_key(deps, device)?;
    let now = deps.clock.unix();
    let verified = match verify_approval(statement, pending, &key, counter(device), now) {
        Ok(verified) => verified,
        Err(StatementError::WrongNumber) => {
            // A wrong pick ends the login: the person may be approving someone else's.
            if deps
                .pending
                .decide(
                    &login.id,
                    LoginTransition::WRONG_NUMBER,
                    now,
                    Some(&device.id),
                )
                .await?
            {
                audit(
                    deps,
                    "login_wrong_number",
                    Some(&login.pid),
                    None,
                    json!({ "login_id": login.id, "device_id": device.id }),
                )
                .await;
                announce_decision(deps, &login.id, LoginState::WrongNumber).await;
            }
            return Err(StatementError::WrongNumber.into());
        }
        Err(StatementError::CounterNotIncreased { .. }) => {
            return Err(confirmation::clone_suspected(deps, device, "approval").await)
        }
        Err(other) => return Err(other.into()),
    };
    let uv = verified.uv();
    check_uv(deps, device, uv)?;
    let ctr = i64::try_from(verified.ctr()).map_err(|_| StatementError::BadPayload("counter"))?;
    let uv_name = uv_name(uv);
    let decision = DeviceDecision {
        device_id: &device.id,
        counter: ctr,
        now,
        uv: Some(&uv_name),
    };
    decided_by_device(deps, device, &login.id, LoginTransition::APPROVE, &decision).await?;
    audit(
        deps,
        "login_approved",
        Some(&login.pid),
        None,
        json!({ "login_id": login.id, "device_id": device.id, "uv": uv_name }),
    )
    .await;
    announce_decision(deps, &login.id, LoginState::Approved).await;
    Ok(())
}

/// Decides login `id` by a device's answer, with the device's counter in the same write.
/// A login no longer pending means the answer came too late; a revoked device or a
/// counter not above the stored one (which the cache had not seen) are said as such.
async fn decided_by_device(
    deps: &Deps,
    device: &DeviceRecord,
    id: &str,
    transition: LoginTransition,
    decision: &DeviceDecision<'_>,
) -> Result<(), ServiceError> {
    match deps
        .pending
        .decide_by_device(id, transition, decision)
        .await?
    {
        Decided::Yes => {
            deps.caches.devices.counter_advanced(
                decision.device_id,
                decision.counter,
                decision.now,
            );
            Ok(())
        }
        Decided::Taken => Err(ServiceError::ChallengeTaken),
        Decided::CounterStale => {
            let statement = if transition == LoginTransition::APPROVE {
                "approval"
            } else {
                "denial"
            };
            Err(confirmation::counter_refused(deps, device, decision.counter, statement).await)
        }
    }
}

/// Denies login `challenge_id`; with `report` the person says it was not them: app logins
/// are blocked until they resume them from the app, and a notice goes to their contacts.
pub async fn deny(
    deps: &Deps,
    device: &DeviceRecord,
    challenge_id: &str,
    statement: &str,
) -> Result<ChallengeOutcome, ServiceError> {
    let (login, pending) = answerable(deps, device, challenge_id, statement, TYP_DENIAL).await?;
    let key = device_public_key(deps, device)?;
    let now = deps.clock.unix();
    let verified = match verify_denial(statement, pending, &key, counter(device), now) {
        Ok(verified) => verified,
        Err(StatementError::CounterNotIncreased { .. }) => {
            return Err(confirmation::clone_suspected(deps, device, "denial").await)
        }
        Err(other) => return Err(other.into()),
    };
    let ctr = i64::try_from(verified.ctr()).map_err(|_| StatementError::BadPayload("counter"))?;
    let (transition, outcome) = if verified.report() {
        (LoginTransition::REPORT, ChallengeOutcome::Reported)
    } else {
        (LoginTransition::DENY, ChallengeOutcome::Denied)
    };
    let decision = DeviceDecision {
        device_id: &device.id,
        counter: ctr,
        now,
        uv: None,
    };
    decided_by_device(deps, device, &login.id, transition, &decision).await?;
    audit(
        deps,
        &format!("login_{}", transition.to()),
        Some(&login.pid),
        None,
        json!({ "login_id": login.id, "device_id": device.id }),
    )
    .await;
    if verified.report() {
        report(deps, &login).await?;
    }
    announce_decision(deps, &login.id, transition.to()).await;
    Ok(outcome)
}

async fn report(deps: &Deps, login: &LoginRecord) -> Result<(), ServiceError> {
    let now = deps.clock.unix();
    deps.store
        .set_account_status(
            &login.pid,
            AccountStatus::Blocked,
            Some(BLOCKED_REPORTED),
            now,
        )
        .await?;
    audit(
        deps,
        "app_login_blocked",
        Some(&login.pid),
        None,
        json!({ "login_id": login.id, "service": login.service }),
    )
    .await;
    notices::notify(
        deps,
        &login.pid,
        Notice::LoginReported {
            service: login.service.clone(),
        },
    )
    .await
}

/// Lifts a pause set by a report (or a suspected clone). Only a device of the person can
/// do this, with `statement` confirming it after fresh user verification, and it cannot
/// lift a block (lost phone, support): those need a recovery letter or support.
pub async fn resume_app_logins(
    deps: &Deps,
    device: &DeviceRecord,
    statement: Option<&str>,
) -> Result<(), ServiceError> {
    confirmation::confirm(deps, device, statement, &Action::ResumeAppLogins {}).await?;
    let account = deps
        .store
        .account(&device.pid)
        .await?
        .ok_or(ServiceError::NoAccount)?;
    if lifecycle::standing(&account) == Standing::Blocked {
        return Err(ServiceError::AccountBlocked);
    }
    let now = deps.clock.unix();
    deps.store
        .set_account_status(&device.pid, AccountStatus::Active, None, now)
        .await?;
    audit(
        deps,
        "app_login_resumed",
        Some(&device.pid),
        None,
        json!({ "device_id": device.id }),
    )
    .await;
    Ok(())
}

/// Waits up to `timeout` for login `id` to leave `pending`; returns the login as it is then.
pub async fn wait_decided(
    deps: &Deps,
    id: &str,
    timeout: Duration,
) -> Result<Option<LoginRecord>, ServiceError> {
    let key = events::login_key(id);
    let decided = wait_for(&deps.events, &key, timeout, || async {
        match deps.pending.get(id).await.ok()? {
            // Unknown (lost in a restart, or never there): nothing to wait for.
            None => Some(None),
            Some(login) => {
                let now = deps.clock.unix();
                let expired = login.state == LoginState::Pending && login.expires_at <= now;
                (login.state != LoginState::Pending || expired).then_some(Some(login))
            }
        }
    })
    .await;
    match decided {
        Some(Some(login)) => {
            if let Some(at) = deps.events.take_mark(&key) {
                metrics::histogram!(LOGIN_NOTIFY_SECONDS).record(at.elapsed().as_secs_f64());
            }
            Ok(Some(settle_expiry(deps, login).await?))
        }
        Some(None) => Ok(None),
        None => Ok(deps.pending.get(id).await?),
    }
}

/// A pending login past its expiry is recorded as expired.
pub async fn settle_expiry(deps: &Deps, login: LoginRecord) -> Result<LoginRecord, ServiceError> {
    let now = deps.clock.unix();
    if login.state == LoginState::Pending && login.expires_at <= now {
        if deps.pending.expire(&login.id, now).await? {
            ended(LoginState::Expired, 1);
        }
        return Ok(deps.pending.get(&login.id).await?.unwrap_or(login));
    }
    Ok(login)
}

/// Cancels a pending login from the browser.
pub async fn cancel(deps: &Deps, id: &str) -> Result<bool, ServiceError> {
    let now = deps.clock.unix();
    let cancelled = deps
        .pending
        .decide(id, LoginTransition::CANCEL, now, None)
        .await?;
    if cancelled {
        announce_decision(deps, id, LoginState::Cancelled).await;
    }
    Ok(cancelled)
}

/// The person's login history for the app, newest first.
pub async fn history(
    deps: &Deps,
    pid: &str,
    limit: i64,
) -> Result<Vec<HistoryEntry>, ServiceError> {
    let now = deps.clock.unix();
    let logins = deps.store.logins_for(pid, limit.clamp(1, 200)).await?;
    Ok(logins
        .into_iter()
        .filter_map(|l| {
            let outcome = match l.state {
                LoginState::Approved | LoginState::Completed => HistoryOutcome::Approved,
                LoginState::Denied => HistoryOutcome::Denied,
                LoginState::Reported => HistoryOutcome::Reported,
                LoginState::WrongNumber => HistoryOutcome::WrongNumber,
                LoginState::Expired => HistoryOutcome::Expired,
                LoginState::Cancelled => HistoryOutcome::Cancelled,
                LoginState::Pending if l.expires_at <= now => HistoryOutcome::Expired,
                // Still pending: it shows as the pending request, not in the history.
                LoginState::Pending => return None,
            };
            Some(HistoryEntry {
                at: l.created_at,
                service: l.service,
                browser: l.browser,
                os: l.os,
                place: l.place,
                outcome,
                device_id: l
                    .device_id
                    .and_then(|d| nokkel_core::keys::DeviceId::parse(&d).ok()),
                uv: l
                    .uv
                    .and_then(|u| serde_json::from_value(serde_json::Value::String(u)).ok()),
            })
        })
        .collect())
}

/// How a browser login goes on once the person is identified, by their account's kind.
#[derive(Debug)]
pub enum LoginStart {
    /// An SMS user: password, then a code by SMS.
    Sms,
    /// An app user: login `login_id` is pending in the app.
    App {
        /// The pending login.
        login_id: String,
    },
}

/// Begins the login of `pid` for authorization request `request_id` of `service`;
/// `replaces` is the app login the same browser started before, if any.
pub async fn begin(
    deps: &Deps,
    pid: &IdNumber,
    request_id: &str,
    service: &str,
    channel: &LoginChannel,
    replaces: Option<&str>,
) -> Result<LoginStart, ServiceError> {
    // Before the lookup, so one address cannot probe who has an account without bound.
    volatile_rate_limit(
        deps,
        &format!("login-id-ip:{}", address_key(channel.client_ip())),
        600,
        i64::from(deps.config.login_ids_per_address_per_10_min),
    )
    .await?;
    let account = deps
        .store
        .account(pid.as_str())
        .await?
        .ok_or(ServiceError::NoAccount)?;
    if account.kind == AccountKind::Sms {
        if lifecycle::standing(&account) == Standing::Blocked {
            return Err(ServiceError::AccountBlocked);
        }
        metrics::counter!(LOGINS_STARTED, "method" => "sms").increment(1);
        return Ok(LoginStart::Sms);
    }
    let start = AppLoginStart {
        request_id: Some(request_id),
        service,
        channel,
        replaces,
    };
    let login = start_app_login_for(deps, &account, pid, &start).await?;
    Ok(LoginStart::App { login_id: login.id })
}

/// Login `id` as it is now (a pending login past its expiry is recorded as expired).
pub async fn current(deps: &Deps, id: &str) -> Result<Option<LoginRecord>, ServiceError> {
    match deps.pending.get(id).await? {
        Some(login) => Ok(Some(settle_expiry(deps, login).await?)),
        None => Ok(None),
    }
}

/// How an app login ended, as the browser is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginEnd {
    /// Still waiting for the app.
    Pending,
    /// Approved: the code is issued; the browser goes back to the relying party.
    Completed {
        /// The relying party's redirect URI with the code.
        redirect: String,
    },
    /// Denied in the app (`reported`: "this wasn't me"); the relying party is told.
    Denied {
        /// Whether the person reported the login as not theirs.
        reported: bool,
        /// The relying party's redirect URI with `access_denied`, if it could be made.
        back_url: Option<String>,
    },
    /// The person picked the wrong number.
    WrongNumber,
    /// Nobody answered in time.
    Expired,
    /// Cancelled, or replaced by a newer login.
    Cancelled,
    /// The login or its authorization request is gone (finished, expired, unknown).
    Gone,
}

/// Ends the browser's side of app login `login_id` for request `request_id`: waits up to
/// `wait` for an answer still on its way, then turns an approval into the relying party's
/// code — once: approved → completed happens once, so one approval gives one code.
/// Returns the ending and the service's name as the login shows it.
pub async fn finish_app_login(
    deps: &Deps,
    request_id: &str,
    login_id: &str,
    wait: Duration,
) -> Result<(LoginEnd, String), ServiceError> {
    let Some(mut login) = current(deps, login_id).await? else {
        return lost(deps, request_id).await;
    };
    if login.state == LoginState::Pending {
        match wait_decided(deps, &login.id, wait).await? {
            Some(decided) => login = decided,
            None => return lost(deps, request_id).await,
        }
    }
    let end = finish_decided(deps, request_id, &login).await?;
    Ok((end, login.service))
}

/// The browser's login is unknown. While its authorization request still waits, the
/// login was lost (pending logins live in memory on SQLite, and the server restarted):
/// to the person that is an expired login they can try again. Otherwise it is gone.
async fn lost(deps: &Deps, request_id: &str) -> Result<(LoginEnd, String), ServiceError> {
    match oidc::waiting_request(deps, request_id).await? {
        Some(service) => Ok((LoginEnd::Expired, service)),
        None => Ok((LoginEnd::Gone, String::new())),
    }
}

async fn finish_decided(
    deps: &Deps,
    request_id: &str,
    login: &LoginRecord,
) -> Result<LoginEnd, ServiceError> {
    Ok(match login.state {
        LoginState::Pending => LoginEnd::Pending,
        LoginState::Approved => {
            let who = Authenticated {
                pid: login.pid.clone(),
                amr: vec!["app".to_owned()],
                auth_time: login.decided_at.unwrap_or_else(|| deps.clock.unix()),
            };
            match oidc::complete_approved_login(deps, request_id, who, &login.id).await {
                Ok(redirect) => {
                    deps.pending.completed(&login.id);
                    LoginEnd::Completed { redirect }
                }
                // Completed by another call already, or its request ended meanwhile.
                Err(OidcError::RequestNotPending) => LoginEnd::Gone,
                Err(err) => {
                    tracing::warn!(error = %err, "approved login could not complete its request");
                    LoginEnd::Gone
                }
            }
        }
        LoginState::Denied | LoginState::Reported => {
            let back_url = oidc::fail_authorization(
                deps,
                request_id,
                AuthorizationError::AccessDenied,
                "the login was denied in the app",
            )
            .await
            .ok();
            LoginEnd::Denied {
                reported: login.state == LoginState::Reported,
                back_url,
            }
        }
        LoginState::WrongNumber => LoginEnd::WrongNumber,
        LoginState::Expired => LoginEnd::Expired,
        LoginState::Cancelled | LoginState::Completed => LoginEnd::Cancelled,
    })
}

/// The person cancels in the browser: the pending login (if any) is cancelled and the
/// relying party is told `access_denied`. Returns where the browser goes back to.
pub async fn cancel_in_browser(
    deps: &Deps,
    request_id: &str,
    login_id: Option<&str>,
) -> Result<String, ServiceError> {
    if let Some(login_id) = login_id {
        // Already decided (or gone) is fine: the relying party is told all the same.
        let _ = cancel(deps, login_id).await;
    }
    oidc::fail_authorization(
        deps,
        request_id,
        AuthorizationError::AccessDenied,
        "the person cancelled the login",
    )
    .await
    .map_err(|_| ServiceError::SessionExpired)
}

/// Checks an SMS user's password and sends the login code to their registered mobile.
/// Returns the code's id for the SMS-code step.
///
/// Tries are limited per person and client address (5 per 15 minutes by default) and per
/// address for all people; wrong passwords per person from everywhere have a generous daily
/// ceiling. Only wrong ones count there, so a stranger's guesses elsewhere cannot use up
/// the person's own right ones until the ceiling itself is reached.
pub async fn check_password(
    deps: &Deps,
    pid: &str,
    password: String,
    client_ip: &str,
) -> Result<String, ServiceError> {
    let address = address_key(client_ip);
    let config = &deps.config;
    rate_limit(
        deps,
        &format!("password-pid-ip:{pid}/{address}"),
        900,
        i64::from(config.passwords_per_person_and_address_per_15_min),
    )
    .await?;
    rate_limit(
        deps,
        &format!("password-ip:{address}"),
        900,
        i64::from(config.passwords_per_address_per_15_min),
    )
    .await?;
    let wrong_key = format!("password-wrong-pid:{pid}");
    let wrong_limit = i64::from(config.wrong_passwords_per_person_per_day);
    check_rate_limit(deps, &wrong_key, DAY, wrong_limit).await?;
    let account = deps
        .store
        .account(pid)
        .await?
        .ok_or(ServiceError::SessionExpired)?;
    if lifecycle::standing(&account) == Standing::Blocked {
        return Err(ServiceError::AccountBlocked);
    }
    let hash = account.password_hash.unwrap_or_default();
    let ok = tokio::task::spawn_blocking(move || super::password::verify(&password, &hash))
        .await
        .unwrap_or(false);
    if !ok {
        // Counted after the fact; the check above refuses once the ceiling is reached.
        let _ = rate_limit(deps, &wrong_key, DAY, wrong_limit).await;
        audit(
            deps,
            "login_password_wrong",
            Some(pid),
            Some(client_ip),
            json!({}),
        )
        .await;
        return Err(ServiceError::WrongPassword);
    }
    let contact = super::contact::entry(deps, pid).await?;
    let lang = contact
        .as_ref()
        .map(notices::contact_lang)
        .unwrap_or_default();
    let mobile = contact.and_then(|c| c.mobile).unwrap_or_default();
    registration::send_otp(deps, pid, &mobile, "login", lang).await
}

/// Checks the SMS code of a password login and issues the relying party's code. Returns
/// the redirect; `Err(SessionExpired)` when the authorization request is gone.
pub async fn finish_sms_login(
    deps: &Deps,
    request_id: &str,
    pid: &str,
    otp_id: &str,
    otp: &str,
    client_ip: &str,
) -> Result<String, ServiceError> {
    registration::check_otp(deps, otp_id, pid, otp, client_ip).await?;
    let who = Authenticated {
        pid: pid.to_owned(),
        amr: vec!["pwd".to_owned(), "otp".to_owned()],
        auth_time: deps.clock.unix(),
    };
    let redirect = oidc::complete_authorization(deps, request_id, who)
        .await
        .map_err(|_| ServiceError::SessionExpired)?;
    ended(LoginState::Completed, 1);
    Ok(redirect)
}

#[cfg(test)]
mod tests {
    use super::describe_user_agent;
    use crate::i18n::Lang;

    #[test]
    fn user_agents_become_short_names() {
        let firefox =
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0";
        assert_eq!(
            describe_user_agent(firefox, Lang::Nb),
            ("Firefox 140".into(), "Windows 10".into())
        );
        let (browser, os) = describe_user_agent("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", Lang::Nb);
        assert_eq!(browser, "Chrome 131");
        assert_eq!(os, "Linux");
        assert_eq!(describe_user_agent("", Lang::Nb).0, "Ukjent nettleser");
        assert_eq!(describe_user_agent("", Lang::En).1, "Unknown system");
    }
}
