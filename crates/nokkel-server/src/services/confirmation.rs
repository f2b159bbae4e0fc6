//! Fresh user verification for sensitive device calls, and what a signature counter going
//! backwards sets off.
//!
//! Revoking a device, resuming paused app logins and changing the contact register carry
//! an action statement next to their request proof: the person was verified on the device
//! for exactly this call. The statement's counter is stored before the call acts, so each
//! statement acts once.
//!
//! A device statement that is valid in every respect but its counter (approval, denial,
//! action) was signed by the device's key with a counter already used: the key is in two
//! places, or the device's state was restored from a copy. Either way the device can no
//! longer be trusted: [`clone_suspected`] revokes it, pauses the person's app logins,
//! tells them and audits it.

use nokkel_core::statements::{
    claimed_device_id, verify_action, Action, StatementError, TYP_ACTION,
};
use serde_json::json;

use super::lifecycle::BLOCKED_CLONE_SUSPECTED;
use super::notices::{self, Notice};
use super::verification::{check_uv, counter, device_public_key, uv_name};
use super::{audit, Deps, ServiceError};
use crate::store::{AccountStatus, DeviceRecord};

/// Checks that `statement` confirms `action` for `device` with fresh user verification
/// the device declared at enrolment, and stores its counter. `Err(UserVerificationRequired)`
/// when there is no statement or it is too old (or too new) to be fresh; a counter that
/// did not grow revokes the device ([`clone_suspected`]).
pub async fn confirm(
    deps: &Deps,
    device: &DeviceRecord,
    statement: Option<&str>,
    action: &Action,
) -> Result<(), ServiceError> {
    let statement = statement.ok_or(ServiceError::UserVerificationRequired)?;
    if claimed_device_id(statement, TYP_ACTION)?.as_str() != device.id {
        return Err(StatementError::WrongDevice.into());
    }
    let key = device_public_key(deps, device)?;
    let now = deps.clock.unix();
    let verified = match verify_action(
        statement,
        &key,
        &deps.issuer(),
        action,
        counter(device),
        now,
    ) {
        Ok(verified) => verified,
        Err(StatementError::Stale | StatementError::IssuedInFuture) => {
            return Err(ServiceError::UserVerificationRequired)
        }
        Err(StatementError::CounterNotIncreased { .. }) => {
            return Err(clone_suspected(deps, device, "action").await)
        }
        Err(other) => return Err(other.into()),
    };
    check_uv(deps, device, verified.uv())?;
    let ctr = i64::try_from(verified.ctr()).map_err(|_| StatementError::BadPayload("counter"))?;
    counter_stored(deps, device, ctr, "action").await?;
    audit(
        deps,
        "user_verified",
        Some(&device.pid),
        None,
        json!({ "device_id": device.id, "action": action_name(action), "uv": uv_name(verified.uv()) }),
    )
    .await;
    Ok(())
}

/// The action's name (`revoke_device`, …) without its argument, which may be personal
/// data the audit log does not keep.
fn action_name(action: &Action) -> String {
    serde_json::to_value(action)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
        .unwrap_or_default()
}

/// Stores `ctr` as `device`'s counter. When the store refuses (the device was revoked
/// meanwhile, or its stored counter is already at or above `ctr`), says which: a counter
/// at or above is a clone as surely as one the cache knew about.
pub(crate) async fn counter_stored(
    deps: &Deps,
    device: &DeviceRecord,
    ctr: i64,
    statement: &str,
) -> Result<(), ServiceError> {
    let now = deps.clock.unix();
    if deps
        .store
        .advance_device_counter(&device.id, ctr, now)
        .await?
    {
        deps.caches.devices.counter_advanced(&device.id, ctr, now);
        return Ok(());
    }
    Err(counter_refused(deps, device, ctr, statement).await)
}

/// Why the store refused `ctr` for `device`: revoked, or a counter that went backwards.
pub(crate) async fn counter_refused(
    deps: &Deps,
    device: &DeviceRecord,
    ctr: i64,
    statement: &str,
) -> ServiceError {
    deps.caches.devices.forget(&device.id);
    match deps.store.device(&device.id).await {
        Ok(Some(stored)) if stored.revoked_at.is_some() => ServiceError::DeviceRevoked,
        Ok(Some(stored)) if stored.counter >= ctr => clone_suspected(deps, device, statement).await,
        Ok(_) => ServiceError::DeviceRevoked,
        Err(err) => err.into(),
    }
}

/// A statement of `device` (`approval`, `denial`, `action`, `transfer`) came with a
/// counter not above the stored one. Revokes the device, pauses the person's app logins,
/// notifies them and audits it, once: when two stale statements race, the one that
/// revokes the device does the rest. Returns the error the device is answered with.
pub async fn clone_suspected(deps: &Deps, device: &DeviceRecord, statement: &str) -> ServiceError {
    match act_on_clone(deps, device, statement).await {
        Ok(()) => ServiceError::CloneSuspected,
        Err(err) => err,
    }
}

async fn act_on_clone(
    deps: &Deps,
    device: &DeviceRecord,
    statement: &str,
) -> Result<(), ServiceError> {
    let now = deps.clock.unix();
    let revoked = deps
        .store
        .revoke_device(&device.pid, &device.id, now)
        .await?;
    deps.caches.devices.forget(&device.id);
    if !revoked {
        // Revoked already, by a racing stale statement or by the person: nothing more.
        return Ok(());
    }
    tracing::warn!(device_id = %device.id, statement, "device counter went backwards: revoked");
    deps.store
        .set_account_status(
            &device.pid,
            AccountStatus::Blocked,
            Some(BLOCKED_CLONE_SUSPECTED),
            now,
        )
        .await?;
    audit(
        deps,
        "device_clone_suspected",
        Some(&device.pid),
        None,
        json!({ "device_id": device.id, "statement": statement }),
    )
    .await;
    notices::notify(
        deps,
        &device.pid,
        Notice::CloneSuspected {
            device: device.name.clone(),
        },
    )
    .await
}
