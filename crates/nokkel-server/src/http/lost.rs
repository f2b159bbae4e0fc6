//! The lost-phone page: a person blocks Nøkkel for their identity number with a code sent
//! to the contact register (`services::lifecycle`). The pages say the same whether or not
//! the number has an account.

use askama::Template;
use axum::extract::{Form, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::pages::{errors_for, pid_message, service_failure, FieldError};
use super::{cookies, render, ClientIp, Page};
use crate::http::AppState;
use crate::services::lifecycle::{self, BlockPending};
use crate::services::registration::{self, FLOW_LIFETIME_SECONDS};
use crate::services::ServiceError;

/// The cookie carrying the sealed lost-phone state between the two steps.
const LOST_COOKIE: &str = "nokkel_lost";

/// Routes of the lost-phone page.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/lost", get(pid_form).post(pid_submit))
        .route("/lost/code", get(code_form).post(code_submit))
}

#[derive(Template)]
#[template(path = "lost_pid.html")]
struct PidPage {
    page: Page,
    pid: String,
    pid_error: Option<String>,
    errors: Vec<FieldError>,
}

#[derive(Template)]
#[template(path = "lost_code.html")]
struct CodePage {
    page: Page,
    code_error: Option<String>,
    errors: Vec<FieldError>,
}

#[derive(Template)]
#[template(path = "lost_done.html")]
struct DonePage {
    page: Page,
}

#[derive(Deserialize)]
struct PidForm {
    #[serde(default)]
    pid: String,
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
}

fn pid_page(page: Page, pid: String, pid_error: Option<String>) -> Html<String> {
    render(&PidPage {
        errors: errors_for("pid", &pid_error),
        page,
        pid,
        pid_error,
    })
}

fn code_page(page: Page, code_error: Option<String>) -> Html<String> {
    render(&CodePage {
        errors: errors_for("code", &code_error),
        page,
        code_error,
    })
}

fn lost_cookie(state: &AppState, value: &str, max_age: i64) -> String {
    format!(
        "{LOST_COOKIE}={value}; Path=/lost; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
        if state.issuer().starts_with("https://") {
            "; Secure"
        } else {
            ""
        }
    )
}

async fn pid_form(page: Page) -> Html<String> {
    pid_page(page, String::new(), None)
}

async fn pid_submit(
    State(state): State<AppState>,
    page: Page,
    ip: ClientIp,
    Form(form): Form<PidForm>,
) -> Response {
    match lifecycle::start_block(&state, &form.pid, &ip.text(), page.lang).await {
        Ok(pending) => {
            let token = registration::seal(&state, &pending);
            (
                StatusCode::SEE_OTHER,
                [
                    (LOCATION, "/lost/code".to_owned()),
                    (
                        SET_COOKIE,
                        lost_cookie(&state, &token, FLOW_LIFETIME_SECONDS),
                    ),
                ],
            )
                .into_response()
        }
        Err(err @ (ServiceError::IdNumber(_) | ServiceError::RateLimited)) => {
            let status = if matches!(err, ServiceError::RateLimited) {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let message = pid_message(&page, &err);
            (status, pid_page(page, form.pid, Some(message))).into_response()
        }
        Err(other) => service_failure(other),
    }
}

fn pending(state: &AppState, headers: &HeaderMap) -> Option<BlockPending> {
    let token = cookies::cookie(headers, LOST_COOKIE).filter(|t| !t.is_empty())?;
    registration::open::<BlockPending>(state, token).ok()
}

fn start_again(page: Page) -> Response {
    let message = page.t("error-session-expired");
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        pid_page(page, String::new(), Some(message)),
    )
        .into_response()
}

async fn code_form(State(state): State<AppState>, page: Page, headers: HeaderMap) -> Response {
    match pending(&state, &headers) {
        Some(_) => code_page(page, None).into_response(),
        None => start_again(page),
    }
}

async fn code_submit(
    State(state): State<AppState>,
    page: Page,
    ip: ClientIp,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response {
    let Some(pending) = pending(&state, &headers) else {
        return start_again(page);
    };
    match lifecycle::finish_block(&state, pending, &form.code, &ip.text()).await {
        Ok(()) => (
            [(SET_COOKIE, lost_cookie(&state, "", 0))],
            render(&DonePage { page }),
        )
            .into_response(),
        Err(ServiceError::OtpFormat) => {
            let message = page.t("error-otp-format");
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                code_page(page, Some(message)),
            )
                .into_response()
        }
        // Wrong, used up, expired and never sent: one answer, so the page does not tell
        // whether a code went anywhere.
        Err(ServiceError::OtpWrong { .. } | ServiceError::OtpExpired) => {
            let message = page.t("lost-code-wrong");
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                code_page(page, Some(message)),
            )
                .into_response()
        }
        Err(other) => service_failure(other),
    }
}
