//! Push registrations (issue 11): a device sets, replaces or clears where the server may
//! wake it when a login waits. The registration is a secret, sealed before it reaches the
//! store; only its kind is kept in the clear and written to the audit log.

use nokkel_core::push::{PushKind, PushRegistration};
use serde_json::json;

use super::{audit, Deps, ServiceError};
use crate::store::DeviceRecord;

/// Sets or replaces `device`'s push registration. `Err(DeviceRevoked)` when the device
/// was revoked since it authenticated (nothing is stored then).
pub async fn set(
    deps: &Deps,
    device: &DeviceRecord,
    registration: &PushRegistration,
) -> Result<PushKind, ServiceError> {
    let kind = registration.kind();
    // Plain data always serialises; the JSON is what the sender reads back.
    let plain = serde_json::to_vec(registration).unwrap_or_default();
    let sealed = deps.secrets.seal(&plain, deps.random.as_ref());
    let now = deps.clock.unix();
    if !deps
        .store
        .set_push_registration(&device.id, kind.as_str(), &sealed, now)
        .await?
    {
        return Err(ServiceError::DeviceRevoked);
    }
    audit(
        deps,
        "push_registered",
        Some(&device.pid),
        None,
        json!({ "device_id": device.id, "kind": kind.as_str() }),
    )
    .await;
    Ok(kind)
}

/// Clears `device`'s push registration, if it has one.
pub async fn clear(deps: &Deps, device: &DeviceRecord) -> Result<(), ServiceError> {
    if deps.store.clear_push_registration(&device.id).await? {
        audit(
            deps,
            "push_cleared",
            Some(&device.pid),
            None,
            json!({ "device_id": device.id }),
        )
        .await;
    }
    Ok(())
}

/// The push registration of `device_id`, opened, if it has one that opens and parses.
pub async fn registration(
    deps: &Deps,
    device_id: &str,
) -> Result<Option<PushRegistration>, ServiceError> {
    let Some(record) = deps.store.push_registration(device_id).await? else {
        return Ok(None);
    };
    Ok(deps
        .secrets
        .open(&record.registration_sealed)
        .ok()
        .and_then(|plain| serde_json::from_slice(&plain).ok()))
}
