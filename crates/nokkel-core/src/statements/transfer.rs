//! Transfer: moving a person's eID to a new phone while the old one is at hand.
//!
//! [`PendingTransfer::start`] gives the server's nonce and the short [`TransferCode`] the
//! new phone shows → the new phone proves possession of its key with an ordinary
//! enrolment statement over the transfer nonce, checked by [`verify_transfer_device`],
//! which turns the pending transfer into a [`ReadyTransfer`] naming the new device →
//! the old phone, after a fresh user verification, vouches for that device with a
//! `nokkel-transfer+jwt` statement ([`sign_transfer`]) → [`verify_transfer`] consumes the
//! ready transfer. Every check and its code is in docs/PROTOCOL.md § Transfer.

use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};

use super::*;
use crate::jws::{sign_compact, Es256Signer, Header};
use crate::keys::{DeviceId, PublicKey};
use crate::transfer_code::TransferCode;

/// Transfer payload: the old device vouches for a new device's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// Format version, 1.
    pub v: u64,
    /// `"transfer"`.
    pub purpose: String,
    /// The server's issuer URL.
    pub aud: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// The signing (old) device.
    pub device_id: DeviceId,
    /// The transfer's nonce.
    pub nonce: String,
    /// The device being vouched for: the thumbprint of the new phone's key.
    pub new_device_id: DeviceId,
    /// How the user was verified just before signing.
    pub uv: UserVerification,
    /// Signature counter, greater than any this device used before.
    pub ctr: u64,
    /// True when the old device is to be revoked as the new one is enrolled.
    pub retire: bool,
}

/// What the server remembers between starting a transfer and the new phone's proof of
/// possession. The code is returned beside it and never kept in it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingTransfer {
    issuer: String,
    nonce: String,
    expires_at: i64,
}

impl PendingTransfer {
    /// Starts a transfer: a fresh 256-bit nonce and a transfer code, valid for
    /// [`TRANSFER_TTL_SECS`].
    pub fn start<R: CryptoRngCore + ?Sized>(
        issuer: &str,
        rng: &mut R,
        now: i64,
    ) -> (TransferCode, Self) {
        let code = TransferCode::generate(rng);
        let pending = Self {
            issuer: issuer.to_owned(),
            nonce: random_token(rng, 32),
            expires_at: now.saturating_add(TRANSFER_TTL_SECS),
        };
        (code, pending)
    }

    /// The nonce both statements carry.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The issuer the statements must be addressed to.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// When the transfer stops being accepted (Unix seconds).
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }
}

/// A transfer whose new device has proved possession of its key: what the old device
/// vouches for.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadyTransfer {
    issuer: String,
    nonce: String,
    expires_at: i64,
    new_device_id: DeviceId,
}

impl ReadyTransfer {
    /// The nonce the old device's statement must carry.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The new device the old one must name.
    pub fn new_device_id(&self) -> &DeviceId {
        &self.new_device_id
    }

    /// When the transfer stops being accepted (Unix seconds).
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }
}

/// Server side: checks the new phone's enrolment statement over the transfer nonce
/// (every check of [`verify_enrolment`]) and names its key in the ready transfer.
pub fn verify_transfer_device(
    compact: &str,
    pending: PendingTransfer,
    now: i64,
) -> Result<(ReadyTransfer, VerifiedEnrolment), StatementError> {
    let PendingTransfer {
        issuer,
        nonce,
        expires_at,
    } = pending;
    let enrolment = PendingEnrolment::from_parts(issuer.clone(), nonce.clone(), expires_at);
    let verified = verify_enrolment(compact, enrolment, now)?;
    let ready = ReadyTransfer {
        issuer,
        nonce,
        expires_at,
        new_device_id: verified.device_id().clone(),
    };
    Ok((ready, verified))
}

/// What the old device is asked to vouch for, as the server showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferOffer {
    /// The server's issuer URL.
    pub issuer: String,
    /// The transfer's nonce.
    pub nonce: String,
    /// The new device's id.
    pub new_device_id: DeviceId,
}

/// Old device: signs the vouching statement, after verifying the user with `uv`.
/// `ctr` must be greater than every counter this device signed before.
pub fn sign_transfer(
    key: &dyn Es256Signer,
    offer: &TransferOffer,
    uv: UserVerification,
    ctr: u64,
    retire: bool,
    now: i64,
) -> Result<String, StatementError> {
    let device_id = DeviceId::parse(&key.key_id())
        .map_err(|_| JwsError::KeyReference("signer's key id is not a device id"))?;
    let payload = Transfer {
        v: VERSION,
        purpose: PURPOSE_TRANSFER.to_owned(),
        aud: offer.issuer.clone(),
        iat: now,
        device_id,
        nonce: offer.nonce.clone(),
        new_device_id: offer.new_device_id.clone(),
        uv,
        ctr,
        retire,
    };
    sign_transfer_payload(key, &payload)
}

/// Signs a transfer payload as given (no checks: tests and vectors use it to make
/// deliberately wrong statements; apps use [`sign_transfer`]).
pub fn sign_transfer_payload(
    key: &dyn Es256Signer,
    payload: &Transfer,
) -> Result<String, StatementError> {
    let header = Header::with_kid(TYP_TRANSFER, &key.key_id());
    Ok(sign_compact(&header, &to_json(payload)?, key)?)
}

/// A verified vouching statement: the server may enrol the new device on the old
/// device's account. It must store [`Self::ctr`] as the old device's counter (only if
/// still greater, atomically) and check [`Self::uv`] against what the device declared.
#[derive(Debug, Clone)]
pub struct VerifiedTransfer {
    payload: Transfer,
}

impl VerifiedTransfer {
    /// The verified payload.
    pub fn payload(&self) -> &Transfer {
        &self.payload
    }
    /// The vouching (old) device.
    pub fn device_id(&self) -> &DeviceId {
        &self.payload.device_id
    }
    /// The new device.
    pub fn new_device_id(&self) -> &DeviceId {
        &self.payload.new_device_id
    }
    /// The old device's new counter value.
    pub fn ctr(&self) -> u64 {
        self.payload.ctr
    }
    /// How the user was verified.
    pub fn uv(&self) -> UserVerification {
        self.payload.uv
    }
    /// Whether the old device is to be revoked.
    pub fn retire(&self) -> bool {
        self.payload.retire
    }
}

/// Server side: verifies the old device's vouching statement (ring) against the ready
/// transfer. `device_key` and `last_counter` come from the device record named by the
/// `kid` (see [`claimed_device_id`]).
pub fn verify_transfer(
    compact: &str,
    ready: ReadyTransfer,
    device_key: &PublicKey,
    last_counter: u64,
    now: i64,
) -> Result<VerifiedTransfer, StatementError> {
    let payload: Transfer = open(
        &verify_by_device(compact, TYP_TRANSFER, device_key)?,
        PURPOSE_TRANSFER,
    )?;
    if payload.aud != ready.issuer {
        return Err(StatementError::WrongAudience);
    }
    if payload.device_id.as_str() != device_key.thumbprint() {
        return Err(StatementError::WrongDevice);
    }
    if now > ready.expires_at {
        return Err(StatementError::Expired);
    }
    check_iat(payload.iat, now)?;
    if payload.nonce != ready.nonce {
        return Err(StatementError::NonceMismatch);
    }
    if payload.new_device_id != ready.new_device_id {
        return Err(StatementError::WrongNewDevice);
    }
    check_counter(payload.ctr, last_counter)?;
    Ok(VerifiedTransfer { payload })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::DeviceKey;
    use rand::rngs::OsRng;

    const ISS: &str = "https://id.nokkel.test";
    const NOW: i64 = 1_800_000_000;

    fn new_phone(key: &DeviceKey, nonce: &str, at: i64) -> String {
        let description = DeviceDescription {
            name: "Ny telefon".into(),
            platform: Platform::Ios,
            uv_methods: vec![UserVerification::Biometric],
        };
        sign_enrolment(key, ISS, nonce, &description, at).unwrap()
    }

    fn ready(new: &DeviceKey) -> ReadyTransfer {
        let (_code, pending) = PendingTransfer::start(ISS, &mut OsRng, NOW);
        let statement = new_phone(new, pending.nonce(), NOW + 5);
        verify_transfer_device(&statement, pending, NOW + 5)
            .unwrap()
            .0
    }

    fn again(r: &ReadyTransfer) -> ReadyTransfer {
        serde_json::from_value(serde_json::to_value(r).unwrap()).unwrap()
    }

    fn offer(r: &ReadyTransfer) -> TransferOffer {
        TransferOffer {
            issuer: ISS.into(),
            nonce: r.nonce().into(),
            new_device_id: r.new_device_id().clone(),
        }
    }

    #[test]
    fn old_device_vouches_for_the_new_one() {
        let old = DeviceKey::generate(&mut OsRng);
        let new = DeviceKey::generate(&mut OsRng);
        let (code, pending) = PendingTransfer::start(ISS, &mut OsRng, NOW);
        assert_eq!(pending.expires_at(), NOW + 600);
        assert_eq!(code.expose_secret().len(), 9);
        let statement = new_phone(&new, pending.nonce(), NOW + 5);
        let (ready, enrolment) = verify_transfer_device(&statement, pending, NOW + 5).unwrap();
        assert_eq!(ready.new_device_id(), &new.device_id());
        assert_eq!(enrolment.public_key(), &new.public_key());

        let vouch = sign_transfer(
            &old,
            &offer(&ready),
            UserVerification::Biometric,
            8,
            true,
            NOW + 60,
        )
        .unwrap();
        assert_eq!(
            claimed_device_id(&vouch, TYP_TRANSFER).unwrap(),
            old.device_id()
        );
        let ok = verify_transfer(&vouch, again(&ready), &old.public_key(), 7, NOW + 61).unwrap();
        assert_eq!(ok.device_id(), &old.device_id());
        assert_eq!(ok.new_device_id(), &new.device_id());
        assert_eq!(
            (ok.ctr(), ok.uv(), ok.retire()),
            (8, UserVerification::Biometric, true)
        );
        assert_eq!(
            verify_transfer(&vouch, again(&ready), &old.public_key(), 8, NOW + 61).unwrap_err(),
            StatementError::CounterNotIncreased { last: 8 }
        );
        assert_eq!(
            verify_transfer(&vouch, ready, &new.public_key(), 7, NOW + 61)
                .unwrap_err()
                .code(),
            "wrong_key"
        );
    }

    #[test]
    fn the_statement_must_name_this_transfer_and_this_new_device() {
        let old = DeviceKey::generate(&mut OsRng);
        let new = DeviceKey::generate(&mut OsRng);
        let stranger = DeviceKey::generate(&mut OsRng);
        let r = ready(&new);
        let sign = |offer: &TransferOffer, at| {
            sign_transfer(&old, offer, UserVerification::Passcode, 1, false, at).unwrap()
        };
        let other_device = TransferOffer {
            new_device_id: stranger.device_id(),
            ..offer(&r)
        };
        assert_eq!(
            verify_transfer(
                &sign(&other_device, NOW),
                again(&r),
                &old.public_key(),
                0,
                NOW
            )
            .unwrap_err(),
            StatementError::WrongNewDevice
        );
        let other_nonce = TransferOffer {
            nonce: "another".into(),
            ..offer(&r)
        };
        assert_eq!(
            verify_transfer(
                &sign(&other_nonce, NOW),
                again(&r),
                &old.public_key(),
                0,
                NOW
            )
            .unwrap_err(),
            StatementError::NonceMismatch
        );
        let other_server = TransferOffer {
            issuer: "https://evil.example".into(),
            ..offer(&r)
        };
        assert_eq!(
            verify_transfer(
                &sign(&other_server, NOW),
                again(&r),
                &old.public_key(),
                0,
                NOW
            )
            .unwrap_err(),
            StatementError::WrongAudience
        );
        // Expiry is exact: valid at the last second, refused one second later.
        let late = sign(&offer(&r), NOW + 600);
        assert!(verify_transfer(&late, again(&r), &old.public_key(), 0, NOW + 600).is_ok());
        assert_eq!(
            verify_transfer(&late, again(&r), &old.public_key(), 0, NOW + 601).unwrap_err(),
            StatementError::Expired
        );
        // An enrolment statement is not a transfer statement.
        assert_eq!(
            verify_transfer(
                &new_phone(&old, r.nonce(), NOW),
                again(&r),
                &old.public_key(),
                0,
                NOW
            )
            .unwrap_err()
            .code(),
            "wrong_typ"
        );
    }

    #[test]
    fn the_new_phone_must_sign_over_the_transfer_nonce_in_time() {
        let new = DeviceKey::generate(&mut OsRng);
        let (_code, pending) = PendingTransfer::start(ISS, &mut OsRng, NOW);
        let statement = new_phone(&new, "another-nonce", NOW);
        assert_eq!(
            verify_transfer_device(&statement, pending, NOW).unwrap_err(),
            StatementError::NonceMismatch
        );
        let (_code, pending) = PendingTransfer::start(ISS, &mut OsRng, NOW);
        let statement = new_phone(&new, pending.nonce(), NOW + 601);
        assert_eq!(
            verify_transfer_device(&statement, pending, NOW + 601).unwrap_err(),
            StatementError::Expired
        );
    }
}
