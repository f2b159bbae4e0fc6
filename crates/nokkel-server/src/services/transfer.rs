//! Moving a person's eID to a new phone while the old phone is at hand, without a letter
//! (docs/PROTOCOL.md § Transfer, docs/RULES.md § Moving to a new phone).
//!
//! The new phone starts a transfer and gets a nonce and a short code; it proves
//! possession of its new key with an enrolment statement over the nonce, shows the code
//! and waits. The old phone looks the code up (limited per client address), shows the new
//! phone's name and platform and, after a fresh user verification, approves with a
//! `nokkel-transfer+jwt` statement — or refuses. Approval is one transaction: the new
//! device is enrolled on the old device's account, the old device's counter stored and,
//! if asked, the old device revoked. A notice goes to the contact register.
//!
//! Unknown, expired, used and refused transfers all get the one answer `unknown_transfer`
//! (no enumeration of codes). Every transfer is usable once.

use std::time::Duration;

use nokkel_core::keys::DeviceId;
use nokkel_core::random::RandomRng;
use nokkel_core::statements::{
    claimed_device_id, verify_transfer, verify_transfer_device, PendingTransfer, Platform,
    ReadyTransfer, StatementError, TYP_TRANSFER,
};
use nokkel_core::transfer_code::TransferCode;
use nokkel_core::wire::{
    ProtocolVersion, Redacted, StartTransferResponse, TransferOfferResponse, TransferStatus,
    TransferStatusResponse,
};
use serde_json::json;

use super::events::wait_for;
use super::notices::{self, Notice};
use super::{audit, random_id, rate_limit, Deps, ServiceError};
use crate::store::{AccountStatus, DeviceRecord, TransferApproval, TransferRecord, TransferState};

/// Transfers a client address may start per hour.
const STARTS_PER_HOUR: i64 = 20;
/// Code lookups a client address may make per minute: with 40-bit codes alive for ten
/// minutes, a guesser at this rate finds a given live code with probability ~3·10⁻¹⁰.
const LOOKUPS_PER_MINUTE: i64 = 30;
/// Code lookups one device may make per hour, whatever address it calls from.
const LOOKUPS_PER_DEVICE_HOUR: i64 = 30;
/// Longest long-poll wait.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

fn events_key(id: &str) -> String {
    format!("transfer:{id}")
}

fn code_hash(deps: &Deps, code: &TransferCode) -> Vec<u8> {
    deps.secrets
        .token_hash(&format!("transfer-code:{}", code.expose_secret()))
}

/// New phone: starts a transfer.
pub async fn start(deps: &Deps, client_ip: &str) -> Result<StartTransferResponse, ServiceError> {
    rate_limit(
        deps,
        &format!("transfer-start-ip:{client_ip}"),
        3600,
        STARTS_PER_HOUR,
    )
    .await?;
    let now = deps.clock.unix();
    let (code, pending) = PendingTransfer::start(
        &deps.issuer(),
        &mut RandomRng::new(deps.random.as_ref()),
        now,
    );
    let id = random_id(deps);
    let record = TransferRecord {
        id: id.clone(),
        code_hash: code_hash(deps, &code),
        state: TransferState::Started,
        flow: serde_json::to_string(&pending).map_err(|_| ServiceError::SessionExpired)?,
        device_id: None,
        device_name: None,
        platform: None,
        public_jwk: None,
        uv_methods: None,
        pid: None,
        old_device_id: None,
        old_device_retired: false,
        created_at: now,
        expires_at: pending.expires_at(),
        decided_at: None,
    };
    deps.store.insert_transfer(&record).await?;
    audit(
        deps,
        "transfer_started",
        None,
        Some(client_ip),
        json!({ "transfer_id": id }),
    )
    .await;
    Ok(StartTransferResponse {
        v: ProtocolVersion,
        transfer_id: id,
        issuer: pending.issuer().to_owned(),
        nonce: pending.nonce().to_owned(),
        code: Redacted::new(code.grouped()),
        expires_at: pending.expires_at(),
        challenge_key: super::enrolment::challenge_jwk(deps),
        challenge_key_id: deps.keys.challenge.kid().to_owned(),
    })
}

/// The transfer `id` while it is in `state` and unexpired; `UnknownTransfer` otherwise.
async fn live(deps: &Deps, id: &str, state: TransferState) -> Result<TransferRecord, ServiceError> {
    deps.store
        .transfer(id)
        .await?
        .filter(|t| t.state == state && t.expires_at >= deps.clock.unix())
        .ok_or(ServiceError::UnknownTransfer)
}

/// New phone: its proof of possession of the new key, over the transfer's nonce.
pub async fn submit_device(
    deps: &Deps,
    id: &str,
    statement: &str,
) -> Result<TransferStatusResponse, ServiceError> {
    let record = live(deps, id, TransferState::Started).await?;
    let pending: PendingTransfer =
        serde_json::from_str(&record.flow).map_err(|_| ServiceError::UnknownTransfer)?;
    let now = deps.clock.unix();
    let (ready, verified) = verify_transfer_device(statement, pending, now)?;
    let payload = verified.payload();
    let software_only = payload.platform == Platform::Software
        || payload.uv_methods.iter().all(|m| m.is_test_only());
    if software_only && !deps.accepts_software_devices() {
        return Err(ServiceError::DeviceNotAllowed);
    }
    if deps
        .store
        .device(verified.device_id().as_str())
        .await?
        .is_some()
    {
        return Err(ServiceError::DeviceExists);
    }
    let device = DeviceRecord {
        id: verified.device_id().as_str().to_owned(),
        pid: String::new(),
        public_jwk: serde_json::to_string(&verified.public_key().to_jwk()).unwrap_or_default(),
        name: payload.device_name.clone(),
        platform: serde_json::to_value(payload.platform)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        uv_methods: serde_json::to_string(&payload.uv_methods).unwrap_or_default(),
        counter: 0,
        created_at: now,
        last_used_at: None,
        revoked_at: None,
    };
    let flow = serde_json::to_string(&ready).map_err(|_| ServiceError::UnknownTransfer)?;
    if !deps.store.ready_transfer(id, &flow, &device, now).await? {
        return Err(ServiceError::UnknownTransfer);
    }
    Ok(TransferStatusResponse {
        v: ProtocolVersion,
        transfer_id: id.to_owned(),
        status: TransferStatus::Waiting,
        device_id: Some(verified.device_id().clone()),
        old_device_retired: false,
    })
}

fn status_of(record: &TransferRecord, now: i64) -> TransferStatusResponse {
    let status = match record.state {
        TransferState::Approved => TransferStatus::Approved,
        TransferState::Refused => TransferStatus::Refused,
        _ if record.expires_at < now => TransferStatus::Expired,
        TransferState::Started => TransferStatus::Started,
        TransferState::Ready => TransferStatus::Waiting,
    };
    TransferStatusResponse {
        v: ProtocolVersion,
        transfer_id: record.id.clone(),
        status,
        device_id: record
            .device_id
            .as_deref()
            .and_then(|d| DeviceId::parse(d).ok()),
        old_device_retired: record.old_device_retired,
    }
}

/// New phone: where its transfer stands, waiting up to `wait` (at most [`MAX_WAIT`]) for
/// it to be decided.
pub async fn status(
    deps: &Deps,
    id: &str,
    wait: Duration,
) -> Result<TransferStatusResponse, ServiceError> {
    let first = deps
        .store
        .transfer(id)
        .await?
        .ok_or(ServiceError::UnknownTransfer)?;
    // Wait no longer than the transfer can live.
    let left = u64::try_from(first.expires_at + 1 - deps.clock.unix()).unwrap_or(0);
    let wait = wait.min(MAX_WAIT).min(Duration::from_secs(left));
    let decided = wait_for(&deps.events, &events_key(id), wait, || async {
        let record = deps.store.transfer(id).await.ok().flatten()?;
        let status = status_of(&record, deps.clock.unix());
        matches!(
            status.status,
            TransferStatus::Approved | TransferStatus::Refused | TransferStatus::Expired
        )
        .then_some(status)
    })
    .await;
    match decided {
        Some(status) => Ok(status),
        None => {
            let record = deps
                .store
                .transfer(id)
                .await?
                .ok_or(ServiceError::UnknownTransfer)?;
            Ok(status_of(&record, deps.clock.unix()))
        }
    }
}

/// App logins paused after a report (or the account blocked): no transfers either.
async fn refuse_paused(deps: &Deps, pid: &str) -> Result<(), ServiceError> {
    let account = deps
        .store
        .account(pid)
        .await?
        .ok_or(ServiceError::NoAccount)?;
    if account.status == AccountStatus::Blocked {
        return Err(ServiceError::AppLoginBlocked);
    }
    Ok(())
}

/// Old phone: the transfer behind a code the person typed or scanned.
pub async fn lookup(
    deps: &Deps,
    device: &DeviceRecord,
    code: &str,
    client_ip: &str,
) -> Result<TransferOfferResponse, ServiceError> {
    rate_limit(
        deps,
        &format!("transfer-lookup-ip:{client_ip}"),
        60,
        LOOKUPS_PER_MINUTE,
    )
    .await?;
    rate_limit(
        deps,
        &format!("transfer-lookup-device:{}", device.id),
        3600,
        LOOKUPS_PER_DEVICE_HOUR,
    )
    .await?;
    refuse_paused(deps, &device.pid).await?;
    let code = TransferCode::parse(code)?;
    let now = deps.clock.unix();
    let record = deps
        .store
        .ready_transfer_by_code(&code_hash(deps, &code), now)
        .await?
        .ok_or(ServiceError::UnknownTransfer)?;
    let ready: ReadyTransfer =
        serde_json::from_str(&record.flow).map_err(|_| ServiceError::UnknownTransfer)?;
    let platform = record
        .platform
        .as_deref()
        .and_then(|p| serde_json::from_value(serde_json::Value::String(p.to_owned())).ok())
        .ok_or(ServiceError::UnknownTransfer)?;
    Ok(TransferOfferResponse {
        v: ProtocolVersion,
        transfer_id: record.id,
        issuer: deps.issuer(),
        nonce: ready.nonce().to_owned(),
        new_device_id: ready.new_device_id().clone(),
        device_name: record.device_name.unwrap_or_default(),
        platform,
        started_at: record.created_at,
        expires_at: record.expires_at,
    })
}

/// Old phone: approves transfer `id` with its vouching statement, signed after a fresh
/// user verification. Enrols the new device on this device's account.
pub async fn approve(
    deps: &Deps,
    device: &DeviceRecord,
    id: &str,
    statement: &str,
    client_ip: &str,
) -> Result<TransferStatusResponse, ServiceError> {
    if claimed_device_id(statement, TYP_TRANSFER)?.as_str() != device.id {
        return Err(StatementError::WrongDevice.into());
    }
    refuse_paused(deps, &device.pid).await?;
    let record = live(deps, id, TransferState::Ready).await?;
    let ready: ReadyTransfer =
        serde_json::from_str(&record.flow).map_err(|_| ServiceError::UnknownTransfer)?;
    let key = super::verification::device_public_key(deps, device)?;
    let now = deps.clock.unix();
    let verified = match verify_transfer(
        statement,
        ready,
        &key,
        super::verification::counter(device),
        now,
    ) {
        Ok(verified) => verified,
        // A counter that went backwards: a copy of this device's key is in use.
        Err(StatementError::CounterNotIncreased { .. }) => {
            return Err(super::confirmation::clone_suspected(deps, device, "transfer").await)
        }
        Err(err) => return Err(err.into()),
    };
    super::verification::check_uv(deps, device, verified.uv())?;
    let ctr = i64::try_from(verified.ctr()).map_err(|_| StatementError::BadPayload("counter"))?;
    let new_device = DeviceRecord {
        id: verified.new_device_id().as_str().to_owned(),
        pid: device.pid.clone(),
        public_jwk: record.public_jwk.clone().unwrap_or_default(),
        name: record.device_name.clone().unwrap_or_default(),
        platform: record.platform.clone().unwrap_or_default(),
        uv_methods: record.uv_methods.clone().unwrap_or_default(),
        counter: 0,
        created_at: now,
        last_used_at: None,
        revoked_at: None,
    };
    let retire = verified.retire();
    let outcome = deps
        .store
        .approve_transfer(id, &device.id, ctr, retire, &new_device, now)
        .await?;
    match outcome {
        TransferApproval::Approved => {}
        TransferApproval::Gone => return Err(ServiceError::UnknownTransfer),
        TransferApproval::OldDevice => {
            return Err(super::confirmation::counter_refused(deps, device, ctr, "transfer").await);
        }
        TransferApproval::DeviceExists => return Err(ServiceError::DeviceExists),
    }
    if retire {
        deps.caches.devices.forget(&device.id);
    } else {
        deps.caches.devices.counter_advanced(&device.id, ctr, now);
    }
    deps.events.wake(&events_key(id));
    audit(
        deps,
        "transfer_approved",
        Some(&device.pid),
        Some(client_ip),
        json!({
            "transfer_id": id,
            "device_id": new_device.id,
            "by": device.id,
            "uv": verified.uv(),
            "old_device_retired": retire,
        }),
    )
    .await;
    notices::notify(
        deps,
        &device.pid,
        Notice::PhoneMoved {
            device: new_device.name.clone(),
            old: device.name.clone(),
            retired: retire,
        },
    )
    .await?;
    Ok(TransferStatusResponse {
        v: ProtocolVersion,
        transfer_id: id.to_owned(),
        status: TransferStatus::Approved,
        device_id: Some(verified.new_device_id().clone()),
        old_device_retired: retire,
    })
}

/// Old phone: refuses transfer `id` (the person does not recognise the new phone).
pub async fn refuse(
    deps: &Deps,
    device: &DeviceRecord,
    id: &str,
    client_ip: &str,
) -> Result<TransferStatusResponse, ServiceError> {
    let record = live(deps, id, TransferState::Ready).await?;
    let now = deps.clock.unix();
    if !deps
        .store
        .refuse_transfer(id, &device.pid, &device.id, now)
        .await?
    {
        return Err(ServiceError::UnknownTransfer);
    }
    deps.events.wake(&events_key(id));
    audit(
        deps,
        "transfer_refused",
        Some(&device.pid),
        Some(client_ip),
        json!({ "transfer_id": id, "device_id": record.device_id, "by": device.id }),
    )
    .await;
    Ok(TransferStatusResponse {
        v: ProtocolVersion,
        transfer_id: id.to_owned(),
        status: TransferStatus::Refused,
        device_id: record
            .device_id
            .as_deref()
            .and_then(|d| DeviceId::parse(d).ok()),
        old_device_retired: false,
    })
}
