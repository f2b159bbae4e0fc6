//! What user support does for a person (`nokkel admin account`, `nokkel admin device`):
//! look up an account, revoke a lost device, lift a "this wasn't me" pause. Every change
//! is audited with `by: operator` and the person is told through the contact register.
//! Contact details are shown masked.

use serde::Serialize;
use serde_json::json;

use super::lifecycle::{BLOCKED_CLONE_SUSPECTED, BLOCKED_REPORTED};
use super::notices::{self, Notice};
use super::ServiceError;
use crate::services::delivery::admin::mask_recipient;
use crate::services::outbound::Outbound;
use crate::store::{AccountKind, AccountStatus, Channel, NewAuditEvent, Store};

/// A person's account as support sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountView {
    /// How they log in.
    pub kind: AccountKind,
    /// Whether they may log in.
    pub status: AccountStatus,
    /// Why it is blocked (`reported_login`: paused after "this wasn't me").
    pub blocked_reason: Option<String>,
    /// When it was created (unix seconds).
    pub created_at: i64,
    /// Their devices, revoked ones included.
    pub devices: Vec<DeviceView>,
    /// Contact-register mobile, masked.
    pub mobile: Option<String>,
    /// Contact-register e-mail, masked.
    pub email: Option<String>,
    /// The language notices are written in.
    pub lang: Option<String>,
}

/// A device as support sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceView {
    /// Its id (the key's thumbprint), for `nokkel admin device revoke`.
    pub id: String,
    /// The name the person gave it.
    pub name: String,
    /// `android`, `ios`, `desktop` or `cli`.
    pub platform: String,
    /// When it was enrolled (unix seconds).
    pub created_at: i64,
    /// When it last signed something accepted.
    pub last_used_at: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
}

/// `pid`'s account, if they have one.
pub async fn account(store: &Store, pid: &str) -> Result<Option<AccountView>, ServiceError> {
    let Some(account) = store.account(pid).await? else {
        return Ok(None);
    };
    let contact = store.contact(pid).await?;
    let devices = store
        .devices_for(pid)
        .await?
        .into_iter()
        .map(|d| DeviceView {
            id: d.id,
            name: d.name,
            platform: d.platform,
            created_at: d.created_at,
            last_used_at: d.last_used_at,
            revoked_at: d.revoked_at,
        })
        .collect();
    Ok(Some(AccountView {
        kind: account.kind,
        status: account.status,
        blocked_reason: account.blocked_reason,
        created_at: account.created_at,
        devices,
        mobile: contact
            .as_ref()
            .and_then(|c| c.mobile.as_deref())
            .map(|m| mask_recipient(Channel::Sms, m)),
        email: contact
            .as_ref()
            .and_then(|c| c.email.as_deref())
            .map(|e| mask_recipient(Channel::Email, e)),
        lang: contact.map(|c| c.lang),
    }))
}

/// Revokes device `id` (a lost or stolen phone) and tells its owner. Returns false when
/// there is no active device with that id. A running single-instance server may accept the
/// device for up to its device-record cache time (30 s) after this.
pub async fn revoke_device(
    store: &Store,
    outbound: &dyn Outbound,
    id: &str,
    now: i64,
) -> Result<bool, ServiceError> {
    let Some(device) = store.device(id).await? else {
        return Ok(false);
    };
    if device.revoked_at.is_some() || !store.revoke_device(&device.pid, id, now).await? {
        return Ok(false);
    }
    audit(
        store,
        "device_revoked",
        &device.pid,
        json!({ "device_id": id, "by": "operator" }),
        now,
    )
    .await?;
    notices::notify_through(
        store,
        outbound,
        &device.pid,
        Notice::DeviceRemoved {
            device: device.name,
        },
    )
    .await?;
    Ok(true)
}

/// Lifts the pause a "this wasn't me" report (or a suspected clone) put on `pid`'s app
/// logins, as the person's own device can. Returns false when their logins are not paused
/// that way.
pub async fn resume_app_logins(store: &Store, pid: &str, now: i64) -> Result<bool, ServiceError> {
    let paused = store.account(pid).await?.is_some_and(|a| {
        a.status == AccountStatus::Blocked
            && matches!(
                a.blocked_reason.as_deref(),
                Some(BLOCKED_REPORTED | BLOCKED_CLONE_SUSPECTED)
            )
    });
    if !paused {
        return Ok(false);
    }
    store
        .set_account_status(pid, AccountStatus::Active, None, now)
        .await?;
    audit(
        store,
        "app_login_resumed",
        pid,
        json!({ "by": "operator" }),
        now,
    )
    .await?;
    Ok(true)
}

async fn audit(
    store: &Store,
    event: &str,
    pid: &str,
    detail: serde_json::Value,
    now: i64,
) -> Result<(), ServiceError> {
    store
        .append_audit_batch(&[NewAuditEvent {
            at: now,
            event: event.to_owned(),
            pid: Some(pid.to_owned()),
            client_ip: None,
            detail: detail.to_string(),
        }])
        .await?;
    Ok(())
}
