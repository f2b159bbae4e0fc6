//! Action statements: the user, verified afresh on the device, confirms one sensitive API
//! call (revoking a device, resuming paused app logins, changing the contact register).
//!
//! A request proof only shows that the caller holds the device key, which an unlocked app
//! holds in memory; an action statement shows that the person was asked. It names the
//! action and its argument, so it confirms this call and no other, and carries the next
//! signature counter, so it is used once.

use serde::{Deserialize, Serialize};

use super::*;
use crate::jws::{sign_compact, Es256Signer, Header};
use crate::keys::PublicKey;

/// What the user confirms: one API call and its argument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Action {
    /// `DELETE /api/v1/devices/{device_id}`: revoke one of the person's devices.
    RevokeDevice {
        /// The device to revoke, exactly as in the URL path.
        device_id: String,
    },
    /// `POST /api/v1/account/resume`: resume app logins paused after a report.
    ResumeAppLogins {},
    /// `PUT /api/v1/contact`: replace the contact-register entry.
    UpdateContact {
        /// The mobile number exactly as in the request body, or null.
        mobile: Option<String>,
        /// The e-mail address exactly as in the request body, or null.
        email: Option<String>,
    },
}

/// Action-statement payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionStatement {
    /// Format version, 1.
    pub v: u64,
    /// `"action"`.
    pub purpose: String,
    /// The server's issuer URL.
    pub aud: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// The signing device.
    pub device_id: DeviceId,
    /// The action confirmed.
    pub act: Action,
    /// How the user was verified.
    pub uv: UserVerification,
    /// Signature counter, greater than any this device used before.
    pub ctr: u64,
}

/// Device side: signs an action statement for `action`, after the user was verified by
/// `uv`. `ctr` must be greater than every counter this device signed before.
pub fn sign_action(
    key: &dyn Es256Signer,
    issuer: &str,
    action: &Action,
    uv: UserVerification,
    ctr: u64,
    now: i64,
) -> Result<String, StatementError> {
    let device_id = DeviceId::parse(&key.key_id())
        .map_err(|_| JwsError::KeyReference("signer's key id is not a device id"))?;
    let payload = ActionStatement {
        v: VERSION,
        purpose: PURPOSE_ACTION.to_owned(),
        aud: issuer.to_owned(),
        iat: now,
        device_id,
        act: action.clone(),
        uv,
        ctr,
    };
    sign_action_payload(key, &payload)
}

/// Signs an action payload as given (no checks: tests and vectors use it to make
/// deliberately wrong statements; apps use [`sign_action`]).
pub fn sign_action_payload(
    key: &dyn Es256Signer,
    payload: &ActionStatement,
) -> Result<String, StatementError> {
    let header = Header::with_kid(TYP_ACTION, &key.key_id());
    Ok(sign_compact(&header, &to_json(payload)?, key)?)
}

/// A verified action statement for the expected action. The server must check
/// [`Self::uv`] against the methods the device declared, and store [`Self::ctr`] as the
/// device's new counter (only if still greater, atomically) before acting.
#[derive(Debug, Clone)]
pub struct VerifiedAction {
    payload: ActionStatement,
}

impl VerifiedAction {
    /// The verified payload.
    pub fn payload(&self) -> &ActionStatement {
        &self.payload
    }
    /// The confirming device.
    pub fn device_id(&self) -> &DeviceId {
        &self.payload.device_id
    }
    /// How the user was verified.
    pub fn uv(&self) -> UserVerification {
        self.payload.uv
    }
    /// The new counter value.
    pub fn ctr(&self) -> u64 {
        self.payload.ctr
    }
}

/// Server side: verifies an action statement (ring) for the call `expected` that it
/// arrived with. `device_key` and `last_counter` come from the device record that the
/// request proof authenticated. The counter is checked last, so a statement that fails
/// it is otherwise valid: signed by the device's key, fresh, for this very call.
pub fn verify_action(
    compact: &str,
    device_key: &PublicKey,
    issuer: &str,
    expected: &Action,
    last_counter: u64,
    now: i64,
) -> Result<VerifiedAction, StatementError> {
    let payload: ActionStatement = open(
        &verify_by_device(compact, TYP_ACTION, device_key)?,
        PURPOSE_ACTION,
    )?;
    if payload.aud != issuer {
        return Err(StatementError::WrongAudience);
    }
    if payload.device_id.as_str() != device_key.thumbprint() {
        return Err(StatementError::WrongDevice);
    }
    check_iat(payload.iat, now)?;
    if &payload.act != expected {
        return Err(StatementError::WrongAction);
    }
    check_counter(payload.ctr, last_counter)?;
    Ok(VerifiedAction { payload })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::DeviceKey;
    use rand::rngs::OsRng;

    const ISS: &str = "https://id.nokkel.test";
    const NOW: i64 = 1_800_000_000;

    fn contact() -> Action {
        Action::UpdateContact {
            mobile: Some("412 34 567".into()),
            email: None,
        }
    }

    #[test]
    fn action_statement_binds_action_time_and_counter() {
        let device = DeviceKey::generate(&mut OsRng);
        let key = device.public_key();
        let signed =
            sign_action(&device, ISS, &contact(), UserVerification::Passcode, 7, NOW).unwrap();
        assert_eq!(
            claimed_device_id(&signed, TYP_ACTION).unwrap(),
            device.device_id()
        );
        let ok = verify_action(&signed, &key, ISS, &contact(), 6, NOW + 60).unwrap();
        assert_eq!(ok.ctr(), 7);
        assert_eq!(ok.uv(), UserVerification::Passcode);
        assert_eq!(ok.device_id(), &device.device_id());

        let other_value = Action::UpdateContact {
            mobile: Some("412 34 568".into()),
            email: None,
        };
        assert_eq!(
            verify_action(&signed, &key, ISS, &other_value, 6, NOW).unwrap_err(),
            StatementError::WrongAction
        );
        assert_eq!(
            verify_action(&signed, &key, ISS, &Action::ResumeAppLogins {}, 6, NOW).unwrap_err(),
            StatementError::WrongAction
        );
        assert_eq!(
            verify_action(&signed, &key, ISS, &contact(), 7, NOW).unwrap_err(),
            StatementError::CounterNotIncreased { last: 7 }
        );
        assert_eq!(
            verify_action(&signed, &key, ISS, &contact(), 6, NOW + 61).unwrap_err(),
            StatementError::Stale
        );
        assert_eq!(
            verify_action(&signed, &key, "https://evil", &contact(), 6, NOW).unwrap_err(),
            StatementError::WrongAudience
        );
        // A request proof is not an action statement.
        let proof = sign_request_proof(
            &device,
            &RequestTarget {
                issuer: ISS,
                method: "PUT",
                url: "https://id.nokkel.test/api/v1/contact",
                access_token: None,
            },
            &new_jti(&mut OsRng),
            NOW,
        )
        .unwrap();
        assert_eq!(
            verify_action(&proof, &key, ISS, &contact(), 0, NOW)
                .unwrap_err()
                .code(),
            "wrong_typ"
        );
    }

    #[test]
    fn actions_have_a_fixed_shape() {
        let revoke = Action::RevokeDevice {
            device_id: "abc".into(),
        };
        assert_eq!(
            serde_json::to_value(&revoke).unwrap(),
            serde_json::json!({"type": "revoke_device", "device_id": "abc"})
        );
        assert_eq!(
            serde_json::to_value(Action::ResumeAppLogins {}).unwrap(),
            serde_json::json!({"type": "resume_app_logins"})
        );
        assert!(serde_json::from_value::<Action>(
            serde_json::json!({"type": "resume_app_logins", "extra": 1})
        )
        .is_err());
        assert!(serde_json::from_value::<Action>(serde_json::json!({"type": "transfer"})).is_err());
    }
}
