//! Push registrations (issue 11): a device sets, replaces or clears where the server may
//! wake it when a login waits. The registration is a secret, sealed before it reaches the
//! store; only its kind is kept in the clear and written to the audit log. When an app
//! login starts, [`login_waiting`] queues one push per device in the outbox, which the
//! delivery worker sends (`services::delivery::push`).

use nokkel_core::push::{PushError, PushKind, PushRegistration};
use nokkel_core::wire::{ProtocolVersion, PushNotice, PushNoticeKind};
use serde_json::json;

use super::outbound::PushMessage;
use super::{audit, random_id, Deps, ServiceError};
use crate::store::DeviceRecord;

/// Sets or replaces `device`'s push registration. `Err(DeviceRevoked)` when the device
/// was revoked since it authenticated (nothing is stored then).
pub async fn set(
    deps: &Deps,
    device: &DeviceRecord,
    registration: &PushRegistration,
) -> Result<PushKind, ServiceError> {
    let kind = registration.kind();
    if let PushRegistration::WebPush(sub) = registration {
        // Without `[push]` nothing is sent, but the registration is judged by the same
        // rules a configured server would apply.
        let allowed = match &deps.config.push {
            Some(push) => push.allows_endpoint(sub),
            None => {
                !sub.is_plain_http()
                    && nokkel_core::push::host_matches(
                        sub.host(),
                        nokkel_core::push::KNOWN_WEB_PUSH_HOSTS,
                    )
            }
        };
        if !allowed {
            let error = if sub.is_plain_http() {
                PushError::Endpoint
            } else {
                PushError::EndpointHost
            };
            return Err(ServiceError::PushRegistration(error));
        }
    }
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

/// Queues one push to each of `pid`'s devices that the running server can wake (a Web
/// Push subscription when `[push]` is configured, an FCM token or APNs device token when
/// FCM or APNs is too): a login
/// waits until `expires_at`. The push says nothing else ([`PushNotice`]). A failure to
/// queue is logged, not returned: the app still learns of the login when it asks.
pub async fn login_waiting(deps: &Deps, pid: &str, expires_at: i64) {
    if deps.config.push.is_none() {
        return;
    }
    if let Err(err) = queue_login_waiting(deps, pid, expires_at).await {
        tracing::warn!(error = %err, "push not queued");
    }
}

async fn queue_login_waiting(
    deps: &Deps,
    pid: &str,
    expires_at: i64,
) -> Result<(), crate::store::StoreError> {
    let push = deps.config.push.as_ref();
    let fcm = push.is_some_and(|push| push.fcm_service_account_file.is_some());
    let apns = push.is_some_and(|push| push.apns.is_some());
    for record in deps.store.push_registrations_for(pid).await? {
        let sendable = record.kind == PushKind::WebPush.as_str()
            || (fcm && record.kind == PushKind::Fcm.as_str())
            || (apns && record.kind == PushKind::Apns.as_str());
        if !sendable {
            continue;
        }
        deps.outbound
            .send_push(PushMessage {
                device_id: record.device_id,
                notice: PushNotice {
                    v: ProtocolVersion,
                    kind: PushNoticeKind::LoginWaiting,
                    id: random_id(deps),
                },
                expires_at,
            })
            .await?;
    }
    Ok(())
}
