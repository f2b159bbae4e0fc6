//! What every device statement (approval, denial, action) is checked against besides its
//! signature rules: the device's enrolled key, its stored signature counter, and the
//! user-verification methods it declared at enrolment.

use nokkel_core::keys::PublicKey;
use nokkel_core::statements::{StatementError, UserVerification};

use super::{Deps, ServiceError};
use crate::store::DeviceRecord;

/// The public key of a stored device (parsed once, then from the cache).
pub fn device_public_key(deps: &Deps, device: &DeviceRecord) -> Result<PublicKey, ServiceError> {
    deps.caches
        .devices
        .key(device)
        .ok_or(ServiceError::Unauthenticated)
}

/// The device's stored signature counter, as statements carry it.
pub(crate) fn counter(device: &DeviceRecord) -> u64 {
    u64::try_from(device.counter).unwrap_or(0)
}

/// The method's wire name (`biometric`, …), as stored and audited.
pub(crate) fn uv_name(uv: UserVerification) -> String {
    serde_json::to_value(uv)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The method must be one the device declared at enrolment, and test-only methods are
/// accepted only in demo mode.
pub(crate) fn check_uv(
    deps: &Deps,
    device: &DeviceRecord,
    uv: UserVerification,
) -> Result<(), ServiceError> {
    if uv.is_test_only() && !deps.accepts_software_devices() {
        return Err(ServiceError::DeviceNotAllowed);
    }
    if !super::enrolment::declared_uv(device).contains(&uv) {
        return Err(StatementError::BadPayload(
            "user verification method not declared at enrolment",
        )
        .into());
    }
    Ok(())
}
