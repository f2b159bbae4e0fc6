//! The device API (`/api/v1/challenges`, `/devices`, `/history`, `/account`, `/push`): every call
//! carries a fresh request proof in the `Nokkel-Proof` header, verified by
//! [`AuthenticatedDevice`] against the device's enrolled key, with a replay cache. Revoking
//! a device, resuming app logins and changing the contact register also carry an action
//! statement in the `Nokkel-Action` header ([`ActionStatement`]).

use std::time::Duration;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::response::Json;
use axum::routing::{delete, get, post, put};
use axum::Router;
use nokkel_core::wire::{
    ApproveRequest, ChallengeOutcome, ChallengeOutcomeResponse, ContactDetails, DenyRequest,
    DeviceListResponse, HistoryResponse, PendingChallengeResponse, ProtocolVersion,
    PushStatusResponse, RevokeDeviceResponse, SetPushRequest, UpdateContactRequest, ACTION_HEADER,
    REQUEST_PROOF_HEADER,
};
use serde::{Deserialize, Serialize};

use axum::extract::rejection::JsonRejection;

use super::ApiFailure;
use crate::http::ApiLang;
use crate::http::AppState;
use crate::services::{devices, login, push, ServiceError};
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
        .route("/api/v1/push", put(set_push).delete(clear_push))
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
        let device =
            devices::authenticate(state, proof, parts.method.as_str(), parts.uri.path()).await?;
        Ok(AuthenticatedDevice(device))
    }
}

/// The `Nokkel-Action` header, if the request has one: the service checks it.
pub struct ActionStatement(pub Option<String>);

impl FromRequestParts<AppState> for ActionStatement {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiFailure> {
        Ok(ActionStatement(
            parts
                .headers
                .get(ACTION_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        ))
    }
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
    let challenges =
        login::pending_challenges(&state, &device, Duration::from_secs(query.wait)).await?;
    Ok(Json(PendingChallengeResponse {
        v: ProtocolVersion,
        challenge: challenges.first().cloned(),
        challenges,
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
    Ok(Json(DeviceListResponse {
        v: ProtocolVersion,
        devices: devices::list(&state, &device).await?,
    }))
}

async fn revoke(
    State(state): State<AppState>,
    AuthenticatedDevice(device): AuthenticatedDevice,
    ActionStatement(statement): ActionStatement,
    Path(id): Path<String>,
) -> Result<Json<RevokeDeviceResponse>, ApiFailure> {
    Ok(Json(RevokeDeviceResponse {
        v: ProtocolVersion,
        device_id: devices::revoke(&state, &device, &id, statement.as_deref()).await?,
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
    Ok(AccountResponse {
        v: ProtocolVersion,
        app_login_blocked: devices::app_login_blocked(state, pid).await?,
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
    ActionStatement(statement): ActionStatement,
) -> Result<Json<AccountResponse>, ApiFailure> {
    login::resume_app_logins(&state, &device, statement.as_deref()).await?;
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
        lang: String::new(),
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
        crate::services::contact::entry(&state, &device.pid).await?,
    )))
}

/// `PUT /api/v1/contact`: replaces (and so confirms) the entry.
async fn update_contact(
    State(state): State<AppState>,
    AuthenticatedDevice(device): AuthenticatedDevice,
    ActionStatement(statement): ActionStatement,
    ApiLang(lang): ApiLang,
    body: Result<Json<UpdateContactRequest>, JsonRejection>,
) -> Result<Json<ContactDetails>, ApiFailure> {
    let Json(request) = body?;
    let record = crate::services::contact::update(
        &state,
        &device,
        statement.as_deref(),
        request.mobile.as_deref(),
        request.email.as_deref(),
        lang,
    )
    .await?;
    Ok(Json(contact_details(Some(record))))
}

/// `PUT /api/v1/push`: sets or replaces the calling device's push registration.
async fn set_push(
    State(state): State<AppState>,
    AuthenticatedDevice(device): AuthenticatedDevice,
    body: Result<Json<SetPushRequest>, JsonRejection>,
) -> Result<Json<PushStatusResponse>, ApiFailure> {
    let Json(request) = body?;
    let kind = push::set(&state, &device, &request.registration).await?;
    Ok(Json(PushStatusResponse {
        v: ProtocolVersion,
        kind: Some(kind),
    }))
}

/// `DELETE /api/v1/push`: clears it (no error when there was none).
async fn clear_push(
    State(state): State<AppState>,
    AuthenticatedDevice(device): AuthenticatedDevice,
) -> Result<Json<PushStatusResponse>, ApiFailure> {
    push::clear(&state, &device).await?;
    Ok(Json(PushStatusResponse {
        v: ProtocolVersion,
        kind: None,
    }))
}
