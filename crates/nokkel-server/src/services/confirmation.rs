//! Fresh user verification for sensitive device calls.
//!
//! Revoking a device, resuming paused app logins and changing the contact register carry
//! an action statement next to their request proof: the person was verified on the device
//! for exactly this call. The statement's counter is stored before the call acts, so each
//! statement acts once.

use nokkel_core::statements::{
    claimed_device_id, verify_action, Action, StatementError, TYP_ACTION,
};
use serde_json::json;

use super::verification::{check_uv, counter, device_public_key, uv_name};
use super::{audit, Deps, ServiceError};
use crate::store::DeviceRecord;

/// Checks that `statement` confirms `action` for `device` with fresh user verification
/// the device declared at enrolment, and stores its counter. `Err(UserVerificationRequired)`
/// when there is no statement or it is too old (or too new) to be fresh.
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
        Err(other) => return Err(other.into()),
    };
    check_uv(deps, device, verified.uv())?;
    let ctr = i64::try_from(verified.ctr()).map_err(|_| StatementError::BadPayload("counter"))?;
    counter_stored(deps, device, ctr).await?;
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
/// meanwhile, or its stored counter is already at or above `ctr`), says which.
async fn counter_stored(deps: &Deps, device: &DeviceRecord, ctr: i64) -> Result<(), ServiceError> {
    let now = deps.clock.unix();
    if deps
        .store
        .advance_device_counter(&device.id, ctr, now)
        .await?
    {
        deps.caches.devices.counter_advanced(&device.id, ctr, now);
        return Ok(());
    }
    Err(counter_refused(deps, device, ctr).await)
}

/// Why the store refused `ctr` for `device`: revoked, or a counter already at or above.
async fn counter_refused(deps: &Deps, device: &DeviceRecord, ctr: i64) -> ServiceError {
    deps.caches.devices.forget(&device.id);
    match deps.store.device(&device.id).await {
        Ok(Some(stored)) if stored.revoked_at.is_none() && stored.counter >= ctr => {
            StatementError::CounterNotIncreased {
                last: u64::try_from(stored.counter).unwrap_or(0),
            }
            .into()
        }
        Ok(_) => ServiceError::DeviceRevoked,
        Err(err) => err.into(),
    }
}
