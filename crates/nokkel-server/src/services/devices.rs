//! A person's devices as the device API sees them: authenticating a device by its request
//! proof (with the replay cache), listing the person's devices, revoking one (after fresh
//! user verification), and whether the account's app logins are paused.

use nokkel_core::keys::DeviceId;
use nokkel_core::statements::{claimed_device_id, verify_request_proof, RequestTarget};
use nokkel_core::statements::{Action, TYP_REQUEST_PROOF};
use nokkel_core::wire::DeviceSummary;
use serde_json::json;

use super::notices::{self, Notice};
use super::{audit, confirmation, Deps, ServiceError};
use crate::store::{AccountStatus, DeviceRecord};

/// The device that signed `proof` for the request `method` `path`, once the proof checks
/// out against its enrolled key and has not been seen before.
pub async fn authenticate(
    deps: &Deps,
    proof: &str,
    method: &str,
    path: &str,
) -> Result<DeviceRecord, ServiceError> {
    let device_id = claimed_device_id(proof, TYP_REQUEST_PROOF).map_err(ServiceError::Proof)?;
    let now = deps.clock.unix();
    let (device, key) = match deps.caches.devices.get(device_id.as_str(), now) {
        Some(kept) => kept,
        None => {
            let device = deps
                .store
                .device(device_id.as_str())
                .await?
                .ok_or(ServiceError::Unauthenticated)?;
            let key = deps
                .caches
                .devices
                .put(device.clone(), now)
                .ok_or(ServiceError::Unauthenticated)?;
            (device, key)
        }
    };
    if device.revoked_at.is_some() {
        return Err(ServiceError::DeviceRevoked);
    }
    let issuer = deps.issuer();
    // The URL as seen at the public address: the issuer plus the path, no query.
    let url = format!("{issuer}{path}");
    let verified = verify_request_proof(
        proof,
        &key,
        &RequestTarget {
            issuer: &issuer,
            method,
            url: &url,
            access_token: None,
        },
        now,
    )
    .map_err(ServiceError::Proof)?;
    if !deps
        .pending
        .remember_proof(
            &device.id,
            verified.jti(),
            verified.remember_jti_until(),
            now,
        )
        .await?
    {
        return Err(ServiceError::ReplayedProof);
    }
    Ok(device)
}

/// The person's active devices, oldest first, marking the one asking.
pub async fn list(deps: &Deps, asking: &DeviceRecord) -> Result<Vec<DeviceSummary>, ServiceError> {
    let mut records = deps.store.devices_for(&asking.pid).await?;
    records.retain(|d| d.revoked_at.is_none());
    records.sort_by_key(|d| d.created_at);
    Ok(records
        .into_iter()
        .filter_map(|d| {
            Some(DeviceSummary {
                device_id: DeviceId::parse(&d.id).ok()?,
                platform: serde_json::from_value(serde_json::Value::String(d.platform.clone()))
                    .ok()?,
                this_device: d.id == asking.id,
                name: d.name,
                enrolled_at: d.created_at,
                last_used_at: d.last_used_at,
            })
        })
        .collect())
}

/// Revokes the person's device `id` (a lost phone), asked by another of their devices or
/// by itself, with `statement` confirming it after fresh user verification.
/// `Err(NoSuchDevice)` when the person has no active device with that id.
pub async fn revoke(
    deps: &Deps,
    asking: &DeviceRecord,
    id: &str,
    statement: Option<&str>,
) -> Result<DeviceId, ServiceError> {
    let action = Action::RevokeDevice {
        device_id: id.to_owned(),
    };
    confirmation::confirm(deps, asking, statement, &action).await?;
    let now = deps.clock.unix();
    let name = deps.store.device(id).await?.map(|d| d.name);
    if !deps.store.revoke_device(&asking.pid, id, now).await? {
        return Err(ServiceError::NoSuchDevice);
    }
    deps.caches.devices.forget(id);
    audit(
        deps,
        "device_revoked",
        Some(&asking.pid),
        None,
        json!({ "device_id": id, "by": asking.id }),
    )
    .await;
    if let Some(device) = name {
        notices::notify(deps, &asking.pid, Notice::DeviceRemoved { device }).await?;
    }
    DeviceId::parse(id).map_err(|_| ServiceError::Unauthenticated)
}

/// Whether the person's app logins are paused after a report.
pub async fn app_login_blocked(deps: &Deps, pid: &str) -> Result<bool, ServiceError> {
    let account = deps
        .store
        .account(pid)
        .await?
        .ok_or(ServiceError::NoAccount)?;
    Ok(account.status == AccountStatus::Blocked)
}
