//! The JSON API under `/api/v1`: ordering letters, and the device API the app uses.
//! Errors are `nokkel_core::wire::ApiError` bodies with stable codes.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use axum::Router;
use nokkel_core::wire::{
    ApiError, FinishEnrolmentRequest, FinishEnrolmentResponse, ProtocolVersion,
    StartEnrolmentRequest, StartEnrolmentResponse,
};
use serde::{Deserialize, Serialize};

use crate::http::AppState;
use crate::http::{ApiLang, ClientIp};
use crate::services::{enrolment, ordering, ServiceError};

pub mod device;
pub mod transfer;

/// The API routes.
pub fn routes() -> Router<AppState> {
    device::routes()
        .merge(transfer::routes())
        .route("/api/v1/orders", post(order))
        .route("/api/v1/enrolments", post(start_enrolment))
        .route("/api/v1/enrolments/{id}/finish", post(finish_enrolment))
        .route("/api/v1/openapi.json", get(openapi))
}

/// The OpenAPI 3.1 description of this API, compiled in from `static/openapi.json`.
pub const OPENAPI_DOCUMENT: &str = include_str!("../../../static/openapi.json");

/// `GET /api/v1/openapi.json`.
async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        OPENAPI_DOCUMENT,
    )
}

/// An API failure: status plus the stable error body.
#[derive(Debug)]
pub struct ApiFailure {
    status: StatusCode,
    body: ApiError,
}

impl ApiFailure {
    /// A failure with the given status, code and message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ApiError::new(code, message),
        }
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

impl From<JsonRejection> for ApiFailure {
    fn from(rejection: JsonRejection) -> Self {
        // serde's message says which field or version is wrong; it never holds a secret
        // because secret fields are redacted types without a Debug of their value.
        ApiFailure::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            rejection.body_text(),
        )
    }
}

impl From<ServiceError> for ApiFailure {
    fn from(err: ServiceError) -> Self {
        let status = match &err {
            ServiceError::Internal(store) => {
                tracing::error!(error = %store, "service failed");
                return ApiFailure::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "something went wrong",
                );
            }
            ServiceError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ServiceError::AlreadyRegistered | ServiceError::LetterUsed => StatusCode::CONFLICT,
            ServiceError::LetterLocked => StatusCode::LOCKED,
            ServiceError::LetterExpired => StatusCode::GONE,
            ServiceError::WrongCode { .. }
            | ServiceError::NoLetter
            | ServiceError::CodeNotAccepted => StatusCode::FORBIDDEN,
            ServiceError::SessionExpired => StatusCode::GONE,
            ServiceError::TransferCode(_) => StatusCode::BAD_REQUEST,
            ServiceError::Statement(_) | ServiceError::PushRegistration(_) => {
                StatusCode::BAD_REQUEST
            }
            ServiceError::DeviceNotAllowed
            | ServiceError::AppLoginBlocked
            | ServiceError::AccountBlocked => StatusCode::FORBIDDEN,
            ServiceError::Unauthenticated
            | ServiceError::Proof(_)
            | ServiceError::DeviceRevoked
            | ServiceError::ReplayedProof
            | ServiceError::UserVerificationRequired
            | ServiceError::CloneSuspected => StatusCode::UNAUTHORIZED,
            ServiceError::NoPendingChallenge
            | ServiceError::NoAccount
            | ServiceError::NoDevice
            | ServiceError::NoSuchDevice
            | ServiceError::UnknownTransfer => StatusCode::NOT_FOUND,
            ServiceError::ChallengeTaken
            | ServiceError::WrongMethod
            | ServiceError::DeviceExists => StatusCode::CONFLICT,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        let message = match &err {
            ServiceError::WrongCode { attempts_left } => {
                format!(
                    "wrong activation code; {attempts_left} attempts left before the letter locks"
                )
            }
            ServiceError::LetterLocked => {
                "the activation letter is locked after too many wrong codes; order a new letter"
                    .to_owned()
            }
            other => other.to_string(),
        };
        ApiFailure::new(status, err.code(), message)
    }
}

impl From<crate::store::StoreError> for ApiFailure {
    fn from(err: crate::store::StoreError) -> Self {
        ServiceError::from(err).into()
    }
}

impl From<nokkel_core::statements::StatementError> for ApiFailure {
    fn from(err: nokkel_core::statements::StatementError) -> Self {
        ServiceError::from(err).into()
    }
}

/// `POST /api/v1/orders`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    /// Protocol version.
    pub v: ProtocolVersion,
    /// National identity number or D-number.
    pub pid: String,
}

/// The receipt: identical for every accepted order, whatever the outcome.
#[derive(Debug, Serialize)]
pub struct OrderReceipt {
    /// Protocol version.
    pub v: ProtocolVersion,
    /// Always `received`.
    pub status: &'static str,
    /// Latest expected delivery to a Norwegian address (`YYYY-MM-DD`).
    pub domestic_delivery_by: String,
    /// Latest expected delivery abroad.
    pub abroad_delivery_by: String,
    /// From this day, contact support if no letter came.
    pub contact_support_from: String,
}

async fn order(
    State(state): State<AppState>,
    ip: ClientIp,
    ApiLang(lang): ApiLang,
    body: Result<Json<OrderRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<OrderReceipt>), ApiFailure> {
    let Json(request) = body?;
    let receipt =
        ordering::order_letter(&state, &request.pid, &ip.text(), lang.unwrap_or_default()).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(OrderReceipt {
            v: ProtocolVersion,
            status: "received",
            domestic_delivery_by: receipt.domestic_by.to_string(),
            abroad_delivery_by: receipt.abroad_by.to_string(),
            contact_support_from: receipt.contact_support_from.to_string(),
        }),
    ))
}

/// `POST /api/v1/enrolments`: identity number + activation code → nonce and the key to pin.
async fn start_enrolment(
    State(state): State<AppState>,
    ip: ClientIp,
    body: Result<Json<StartEnrolmentRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<StartEnrolmentResponse>), ApiFailure> {
    let Json(request) = body?;
    let response = enrolment::start(
        &state,
        &request.pid,
        request.activation_code.expose(),
        &ip.text(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(response)))
}

/// `POST /api/v1/enrolments/{id}/finish`: the device's signed enrolment statement.
async fn finish_enrolment(
    State(state): State<AppState>,
    ip: ClientIp,
    ApiLang(lang): ApiLang,
    Path(id): Path<String>,
    body: Result<Json<FinishEnrolmentRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<FinishEnrolmentResponse>), ApiFailure> {
    let Json(request) = body?;
    let response = enrolment::finish(
        &state,
        &id,
        &request.statement,
        lang.unwrap_or_default(),
        &ip.text(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(response)))
}
