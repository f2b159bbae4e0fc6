//! The device API (`/api/v1/challenges`, `/devices`, `/history`, `/account`): every call
//! carries a fresh request proof in the `Nokkel-Proof` header, verified by
//! [`AuthenticatedDevice`] against the device's enrolled key, with a replay cache.

use std::time::Duration;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Json;
use axum::routing::{delete, get, post};
use axum::Router;
use nokkel_core::statements::{
    claimed_device_id, verify_request_proof, RequestTarget, TYP_REQUEST_PROOF,
};
use nokkel_core::wire::{
    ApproveRequest, ChallengeOutcome, ChallengeOutcomeResponse, ContactDetails, DenyRequest,
    DeviceListResponse, DeviceSummary, HistoryResponse, PendingChallengeResponse, ProtocolVersion,
    RevokeDeviceResponse, UpdateContactRequest, REQUEST_PROOF_HEADER,
};
use serde::{Deserialize, Serialize};

use axum::extract::rejection::JsonRejection;

use super::ApiFailure;
use crate::services::{login, ServiceError};
use crate::state::AppState;
use crate::store::DeviceRecord;

/// The device API routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/challenges/pending", get(pending))
        .route("/api/v1/challenges/{id}/approve", post(approve))
        .route("/api/v1/challenges/{id}/deny", post(deny))
        .route("/api/v1/devices", get(devices))
        .route("/api/v1/devices/{id}", delete(revoke))
        .route("/api/v1/history", get(history))
        .route("/api/v1/account", get(account))
        .route("/api/v1/account/resume", post(resume))
        .route("/api/v1/contact", get(contact).put(update_contact))
}

/// A device whose request proof for this very request checked out.
pub struct AuthenticatedDevice(pub DeviceRecord);

impl FromRequestParts<AppState> for AuthenticatedDevice {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiFailure> {
        let proof = parts
            .headers
            .get(REQUEST_PROOF_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or(ServiceError::Unauthenticated)?;
        let device_id = claimed_device_id(proof, TYP_REQUEST_PROOF).map_err(proof_failure)?;
        let device = state
            .store
            .device(device_id.as_str())
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        if device.revoked_at.is_some() {
            return Err(ServiceError::DeviceRevoked.into());
        }
        let key = login::device_public_key(&device)?;
        let issuer = state.issuer();
        // The URL as seen at the public address: the issuer plus the path, no query.
        let url = format!("{issuer}{}", parts.uri.path());
        let now = state.clock.unix();
        let verified = verify_request_proof(
            proof,
            &key,
            &RequestTarget {
                issuer: &issuer,
                method: parts.method.as_str(),
                url: &url,
                access_token: None,
            },
            now,
        )
        .map_err(proof_failure)?;
        if !state
            .store
            .remember_proof(
                &device.id,
                verified.jti(),
                verified.remember_jti_until(),
                now,
            )
            .await?
        {
            return Err(ServiceError::ReplayedProof.into());
        }
        Ok(AuthenticatedDevice(device))
    }
}

/// A bad request proof is an authentication failure (401), with the statement's code.
fn proof_failure(err: nokkel_core::statements::StatementError) -> ApiFailure {
    ApiFailure::new(
        StatusCode::UNAUTHORIZED,
        err.code(),
        format!("request proof rejected: {err}"),
    )
}

#[derive(Deserialize)]
struct WaitQuery {
    #[serde(default)]
    wait: u64,
}

async fn pending(
    State(state): State<AppState>,
    AuthenticatedDevice(device): AuthenticatedDevice,
    Query(query): Query<WaitQuery>,
) -> Result<Json<PendingChallengeResponse>, ApiFailure> {
    let challenge =
        login::pending_challenge(&state, &device, Duration::from_secs(query.wait)).await?;
    Ok(Json(PendingChallengeResponse {
        v: ProtocolVersion,
        challenge,
    }))
}

async fn approve(
    State(state): State<AppState>,
    AuthenticatedDevice(device): AuthenticatedDevice,
    Path(id): Path<String>,
    body: Result<Json<ApproveRequest>, JsonRejection>,
) -> Result<Json<ChallengeOutcomeResponse>, ApiFailure> {
    let Json(request) = body?;
    login::approve(&state, &device, &id, &request.statement).await?;
    Ok(Json(ChallengeOutcomeResponse {
        v: ProtocolVersion,
        challenge_id: id,
        outcome: ChallengeOutcome::Approved,
    }))
}

async fn deny(
    State(state): State<AppState>,
    AuthenticatedDevice(device): AuthenticatedDevice,
    Path(id): Path<String>,
    body: Result<Json<DenyRequest>, JsonRejection>,
) -> Result<Json<ChallengeOutcomeResponse>, ApiFailure> {
    let Json(request) = body?;
    let outcome = login::deny(&state, &device, &id, &request.statement).await?;
    Ok(Json(ChallengeOutcomeResponse {
        v: ProtocolVersion,
        challenge_id: id,
        outcome,
    }))
}

async fn devices(
    State(state): State<AppState>,
    AuthenticatedDevice(device): AuthenticatedDevice,
) -> Result<Json<DeviceListResponse>, ApiFailure> {
    let mut records = state.store.devices_for(&device.pid).await?;
    records.retain(|d| d.revoked_at.is_none());
    records.sort_by_key(|d| d.created_at);
    let devices = records
        .into_iter()
        .filter_map(|d| {
            Some(DeviceSummary {
                device_id: nokkel_core::keys::DeviceId::parse(&d.id).ok()?,
                platform: serde_json::from_value(serde_json::Value::String(d.platform.clone()))
                    .ok()?,
                this_device: d.id == device.id,
                name: d.name,
                enrolled_at: d.created_at,
                last_used_at: d.last_used_at,
            })
        })
        .collect();
    Ok(Json(DeviceListResponse {
        v: ProtocolVersion,
        devices,
    }))
}

async fn revoke(
    State(state): State<AppState>,
    AuthenticatedDevice(device): AuthenticatedDevice,
    Path(id): Path<String>,
) -> Result<Json<RevokeDeviceResponse>, ApiFailure> {
    let now = state.clock.unix();
    if !state.store.revoke_device(&device.pid, &id, now).await? {
        return Err(ApiFailure::new(
            StatusCode::NOT_FOUND,
            "no_such_device",
            "no active device with that id on this account",
        ));
    }
    crate::services::audit(
        &state,
        "device_revoked",
        Some(&device.pid),
        None,
        serde_json::json!({ "device_id": id, "by": device.id }),
    )
    .await;
    Ok(Json(RevokeDeviceResponse {
        v: ProtocolVersion,
        device_id: nokkel_core::keys::DeviceId::parse(&id)
            .map_err(|_| ServiceError::Unauthenticated)?,
    }))
}

#[derive(Deserialize)]
struct LimitQuery {
    limit: Option<i64>,
}

async fn history(
    State(state): State<AppState>,
    AuthenticatedDevice(device): AuthenticatedDevice,
    Query(query): Query<LimitQuery>,
) -> Result<Json<HistoryResponse>, ApiFailure> {
    let entries = login::history(&state, &device.pid, query.limit.unwrap_or(50)).await?;
    Ok(Json(HistoryResponse {
        v: ProtocolVersion,
        entries,
    }))
}

/// `GET /api/v1/account`: whether app logins are paused after a report.
#[derive(Debug, Serialize)]
pub struct AccountResponse {
    /// Protocol version.
    pub v: ProtocolVersion,
    /// True while app logins are blocked after "this wasn't me".
    pub app_login_blocked: bool,
}

async fn account_status(state: &AppState, pid: &str) -> Result<AccountResponse, ApiFailure> {
    let account = state
        .store
        .account(pid)
        .await?
        .ok_or(ServiceError::NoAccount)?;
    Ok(AccountResponse {
        v: ProtocolVersion,
        app_login_blocked: account.status == crate::store::account_status::BLOCKED,
    })
}

async fn account(
    State(state): State<AppState>,
    AuthenticatedDevice(device): AuthenticatedDevice,
) -> Result<Json<AccountResponse>, ApiFailure> {
    Ok(Json(account_status(&state, &device.pid).await?))
}

async fn resume(
    State(state): State<AppState>,
    AuthenticatedDevice(device): AuthenticatedDevice,
) -> Result<Json<AccountResponse>, ApiFailure> {
    login::resume_app_logins(&state, &device).await?;
    Ok(Json(account_status(&state, &device.pid).await?))
}

fn contact_details(record: Option<crate::store::ContactRecord>) -> ContactDetails {
    let record = record.unwrap_or_else(|| crate::store::ContactRecord {
        pid: String::new(),
        mobile: None,
        mobile_confirmed_at: None,
        email: None,
        email_confirmed_at: None,
        updated_at: 0,
    });
    ContactDetails {
        v: ProtocolVersion,
        mobile: record.mobile,
        mobile_confirmed_at: record.mobile_confirmed_at,
        email: record.email,
        email_confirmed_at: record.email_confirmed_at,
    }
}

/// `GET /api/v1/contact`: the person's entry in the contact register.
async fn contact(
    State(state): State<AppState>,
    AuthenticatedDevice(device): AuthenticatedDevice,
) -> Result<Json<ContactDetails>, ApiFailure> {
    Ok(Json(contact_details(
        state.store.contact(&device.pid).await?,
    )))
}

/// `PUT /api/v1/contact`: replaces (and so confirms) the entry.
async fn update_contact(
    State(state): State<AppState>,
    AuthenticatedDevice(device): AuthenticatedDevice,
    body: Result<Json<UpdateContactRequest>, JsonRejection>,
) -> Result<Json<ContactDetails>, ApiFailure> {
    let Json(request) = body?;
    let record = crate::services::contact::update(
        &state,
        &device.pid,
        request.mobile.as_deref(),
        request.email.as_deref(),
    )
    .await?;
    Ok(Json(contact_details(Some(record))))
}
