//! The transfer API (`/api/v1/transfers`): moving to a new phone with the old one at hand.
//! The new phone's calls carry no proof (it has no key on the server yet; the transfer id
//! is its handle); the old phone's carry a request proof.

use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Json;
use axum::routing::{get, post};
use axum::Router;
use nokkel_core::wire::{
    ApproveTransferRequest, LookupTransferRequest, StartTransferRequest, StartTransferResponse,
    TransferDeviceRequest, TransferOfferResponse, TransferStatusResponse,
};
use serde::Deserialize;

use super::device::AuthenticatedDevice;
use super::ApiFailure;
use crate::http::{AppState, ClientIp};
use crate::services::transfer;

/// The transfer routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/transfers", post(start))
        .route("/api/v1/transfers/lookup", post(lookup))
        .route("/api/v1/transfers/{id}", get(status))
        .route("/api/v1/transfers/{id}/device", post(device))
        .route("/api/v1/transfers/{id}/approve", post(approve))
        .route("/api/v1/transfers/{id}/refuse", post(refuse))
}

/// `POST /api/v1/transfers` (new phone).
async fn start(
    State(state): State<AppState>,
    ip: ClientIp,
    body: Result<Json<StartTransferRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<StartTransferResponse>), ApiFailure> {
    let Json(_request) = body?;
    let response = transfer::start(&state, &ip.text()).await?;
    Ok((StatusCode::CREATED, Json(response)))
}

/// `POST /api/v1/transfers/{id}/device` (new phone): its enrolment statement.
async fn device(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<TransferDeviceRequest>, JsonRejection>,
) -> Result<Json<TransferStatusResponse>, ApiFailure> {
    let Json(request) = body?;
    Ok(Json(
        transfer::submit_device(&state, &id, &request.statement).await?,
    ))
}

#[derive(Deserialize)]
struct WaitQuery {
    #[serde(default)]
    wait: u64,
}

/// `GET /api/v1/transfers/{id}?wait=SECS` (new phone): long-polls for the outcome.
async fn status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<WaitQuery>,
) -> Result<Json<TransferStatusResponse>, ApiFailure> {
    Ok(Json(
        transfer::status(&state, &id, Duration::from_secs(query.wait)).await?,
    ))
}

/// `POST /api/v1/transfers/lookup` (old phone): the code the person typed.
async fn lookup(
    State(state): State<AppState>,
    AuthenticatedDevice(device): AuthenticatedDevice,
    ip: ClientIp,
    body: Result<Json<LookupTransferRequest>, JsonRejection>,
) -> Result<Json<TransferOfferResponse>, ApiFailure> {
    let Json(request) = body?;
    Ok(Json(
        transfer::lookup(&state, &device, request.code.expose(), &ip.text()).await?,
    ))
}

/// `POST /api/v1/transfers/{id}/approve` (old phone): the vouching statement.
async fn approve(
    State(state): State<AppState>,
    AuthenticatedDevice(device): AuthenticatedDevice,
    ip: ClientIp,
    Path(id): Path<String>,
    body: Result<Json<ApproveTransferRequest>, JsonRejection>,
) -> Result<Json<TransferStatusResponse>, ApiFailure> {
    let Json(request) = body?;
    Ok(Json(
        transfer::approve(&state, &device, &id, &request.statement, &ip.text()).await?,
    ))
}

/// `POST /api/v1/transfers/{id}/refuse` (old phone).
async fn refuse(
    State(state): State<AppState>,
    AuthenticatedDevice(device): AuthenticatedDevice,
    ip: ClientIp,
    Path(id): Path<String>,
) -> Result<Json<TransferStatusResponse>, ApiFailure> {
    Ok(Json(
        transfer::refuse(&state, &device, &id, &ip.text()).await?,
    ))
}
