//! The citizen's pages: front page, ordering an activation letter, registering with it.

use askama::Template;
use axum::extract::{Form, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use nokkel_core::phone::COMMON_REGIONS;
use serde::Deserialize;

use super::{cookies, render, ClientIp, ErrorPage, Page};
use crate::http::AppState;
use crate::services::ordering::{self, Receipt};
use crate::services::registration::{self, SmsPending, VerifiedLetter};
use crate::services::ServiceError;

/// The cookie carrying the sealed registration state between steps.
const FLOW_COOKIE: &str = "nokkel_reg";

/// Routes for the citizen's pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/order", get(order_form).post(order_pid))
        .route("/register", get(register_form).post(register_submit))
        .route("/register/choose", get(choose_form).post(choose_submit))
        .route("/register/app", get(register_app))
        .route(
            "/register/password",
            get(password_form).post(password_submit),
        )
        .route("/register/otp", get(otp_form).post(otp_submit))
        .route("/register/done", get(register_done))
}

/// A message tied to a form field, linked from the error summary.
#[derive(Debug, Clone)]
pub struct FieldError {
    /// The id of the field.
    pub field: &'static str,
    /// The translated message.
    pub message: String,
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    page: Page,
}

async fn index(page: Page) -> Html<String> {
    render(&IndexPage { page })
}

// ---------------------------------------------------------------- ordering

#[derive(Template)]
#[template(path = "order_pid.html")]
struct OrderPidPage {
    page: Page,
    pid: String,
    pid_error: Option<String>,
    errors: Vec<FieldError>,
}

#[derive(Template)]
#[template(path = "order_receipt.html")]
struct ReceiptPage {
    page: Page,
    domestic: String,
    abroad: String,
    support: String,
}

#[derive(Deserialize)]
struct PidForm {
    #[serde(default)]
    pid: String,
}

/// The error-summary entries for one field's message, if any.
pub(crate) fn errors_for(field: &'static str, message: &Option<String>) -> Vec<FieldError> {
    message
        .iter()
        .map(|m| FieldError {
            field,
            message: m.clone(),
        })
        .collect()
}

fn countries(page: &Page) -> Vec<(String, String)> {
    COMMON_REGIONS
        .iter()
        .map(|(region, code)| {
            (
                code.to_string(),
                format!("{} (+{code})", page.t(&format!("country-{region}"))),
            )
        })
        .collect()
}

fn order_pid_page(page: Page, pid: String, pid_error: Option<String>) -> Html<String> {
    render(&OrderPidPage {
        errors: errors_for("pid", &pid_error),
        page,
        pid,
        pid_error,
    })
}

async fn order_form(page: Page) -> Html<String> {
    order_pid_page(page, String::new(), None)
}

async fn order_pid(
    State(state): State<AppState>,
    page: Page,
    ip: ClientIp,
    Form(form): Form<PidForm>,
) -> Response {
    match ordering::order_letter(&state, &form.pid, &ip.text(), page.lang).await {
        Ok(receipt) => receipt_page(page, receipt).into_response(),
        Err(err @ ServiceError::IdNumber(_)) => {
            let message = pid_message(&page, &err);
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                order_pid_page(page, form.pid, Some(message)),
            )
                .into_response()
        }
        Err(other) => service_failure(other),
    }
}

fn receipt_page(page: Page, receipt: Receipt) -> Html<String> {
    render(&ReceiptPage {
        domestic: page.lang.date(receipt.domestic_by),
        abroad: page.lang.date(receipt.abroad_by),
        support: page.lang.date(receipt.contact_support_from),
        page,
    })
}

pub(crate) fn pid_message(page: &Page, err: &ServiceError) -> String {
    match err {
        ServiceError::IdNumber(e) => {
            let key = format!("error-pid-{}", e.code());
            let text = page.t(&key);
            if text == key {
                page.t("error-pid-invalid")
            } else {
                text
            }
        }
        ServiceError::AlreadyRegistered => page.t("error-already-registered"),
        ServiceError::RateLimited => page.t("error-rate-limited"),
        _ => page.t("error-pid-invalid"),
    }
}

/// Errors that no form field explains become error pages; internal ones are logged here.
pub(crate) fn service_failure(err: ServiceError) -> Response {
    match err {
        ServiceError::RateLimited => ErrorPage::RateLimited.into_response(),
        ServiceError::Internal(store) => {
            tracing::error!(error = %store, "service failed");
            ErrorPage::Internal.into_response()
        }
        other => {
            tracing::error!(code = other.code(), "unexpected service error on a page");
            ErrorPage::Internal.into_response()
        }
    }
}

// ---------------------------------------------------------------- registration

#[derive(Template)]
#[template(path = "register_start.html")]
struct RegisterStartPage {
    page: Page,
    pid: String,
    code: String,
    pid_error: Option<String>,
    code_error: Option<String>,
    errors: Vec<FieldError>,
}

#[derive(Template)]
#[template(path = "register_choose.html")]
struct ChoosePage {
    page: Page,
}

#[derive(Template)]
#[template(path = "register_app.html")]
struct AppPage {
    page: Page,
}

#[derive(Template)]
#[template(path = "register_password.html")]
struct PasswordPage {
    page: Page,
    recovery: bool,
    country: String,
    countries: Vec<(String, String)>,
    mobile: String,
    mobile_error: Option<String>,
    password_error: Option<String>,
    errors: Vec<FieldError>,
}

#[derive(Template)]
#[template(path = "register_otp.html")]
struct OtpPage {
    page: Page,
    mobile: String,
    otp_error: Option<String>,
    errors: Vec<FieldError>,
}

#[derive(Template)]
#[template(path = "register_done.html")]
struct DonePage {
    page: Page,
}

#[derive(Deserialize)]
struct RegisterForm {
    #[serde(default)]
    pid: String,
    #[serde(default)]
    code: String,
}

#[derive(Deserialize)]
struct ChooseForm {
    #[serde(default)]
    kind: String,
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    country: String,
    #[serde(default)]
    mobile: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
}

#[derive(Deserialize)]
struct OtpForm {
    #[serde(default)]
    otp: String,
}

fn register_start_page(
    page: Page,
    pid: String,
    code: String,
    pid_error: Option<String>,
    code_error: Option<String>,
) -> Html<String> {
    let mut errors = errors_for("pid", &pid_error);
    errors.extend(errors_for("code", &code_error));
    render(&RegisterStartPage {
        page,
        pid,
        code,
        pid_error,
        code_error,
        errors,
    })
}

async fn register_form(page: Page) -> Html<String> {
    register_start_page(page, String::new(), String::new(), None, None)
}

fn code_message(page: &Page, err: &ServiceError) -> Option<String> {
    Some(match err {
        ServiceError::Code(e) => page.t(&format!("error-code-{}", e.code())),
        ServiceError::WrongCode { attempts_left } => {
            page.t1("error-code-wrong", "left", attempts_left)
        }
        ServiceError::LetterLocked => page.t("error-code-locked"),
        ServiceError::LetterExpired => page.t("error-code-expired"),
        ServiceError::LetterUsed => page.t("error-code-used"),
        ServiceError::NoLetter => page.t("error-code-none"),
        _ => return None,
    })
}

fn redirect_with_flow(to: &str, token: Option<&str>, secure: bool) -> Response {
    let cookie = match token {
        Some(token) => flow_cookie(token, registration::FLOW_LIFETIME_SECONDS, secure),
        None => flow_cookie("", 0, secure),
    };
    (
        StatusCode::SEE_OTHER,
        [(LOCATION, to.to_owned()), (SET_COOKIE, cookie)],
    )
        .into_response()
}

fn flow_cookie(value: &str, max_age: i64, secure: bool) -> String {
    format!(
        "{FLOW_COOKIE}={value}; Path=/register; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

fn secure(state: &AppState) -> bool {
    state.issuer().starts_with("https://")
}

async fn register_submit(
    State(state): State<AppState>,
    page: Page,
    ip: ClientIp,
    Form(form): Form<RegisterForm>,
) -> Response {
    match registration::verify_letter(&state, &form.pid, &form.code, &ip.text()).await {
        Ok(letter) => {
            let token = registration::seal(&state, &letter);
            redirect_with_flow("/register/choose", Some(&token), secure(&state))
        }
        Err(err @ (ServiceError::IdNumber(_) | ServiceError::AlreadyRegistered)) => {
            let message = pid_message(&page, &err);
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                register_start_page(page, form.pid, form.code, Some(message), None),
            )
                .into_response()
        }
        Err(err) => match code_message(&page, &err) {
            // The code is not echoed back: it stays only in the person's letter.
            Some(message) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                register_start_page(page, form.pid, String::new(), None, Some(message)),
            )
                .into_response(),
            None if matches!(err, ServiceError::RateLimited) => {
                let message = page.t("error-rate-limited");
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    register_start_page(page, form.pid, String::new(), Some(message), None),
                )
                    .into_response()
            }
            None => service_failure(err),
        },
    }
}

fn flow_token(headers: &HeaderMap) -> Option<&str> {
    cookies::cookie(headers, FLOW_COOKIE).filter(|t| !t.is_empty())
}

fn session_expired(page: Page) -> Response {
    let message = page.t("error-session-expired");
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        register_start_page(page, String::new(), String::new(), Some(message), None),
    )
        .into_response()
}

fn verified(state: &AppState, headers: &HeaderMap) -> Option<VerifiedLetter> {
    registration::open::<VerifiedLetter>(state, flow_token(headers)?).ok()
}

async fn choose_form(State(state): State<AppState>, page: Page, headers: HeaderMap) -> Response {
    match verified(&state, &headers) {
        Some(_) => render(&ChoosePage { page }).into_response(),
        None => session_expired(page),
    }
}

async fn choose_submit(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Form(form): Form<ChooseForm>,
) -> Response {
    if verified(&state, &headers).is_none() {
        return session_expired(page);
    }
    let to = if form.kind == "sms" {
        "/register/password"
    } else {
        "/register/app"
    };
    (StatusCode::SEE_OTHER, [(LOCATION, to)]).into_response()
}

async fn register_app(page: Page) -> Html<String> {
    render(&AppPage { page })
}

/// What the password page shows again after an error (never the password).
struct PasswordPageState {
    recovery: bool,
    country: String,
    mobile: String,
    mobile_error: Option<String>,
    password_error: Option<String>,
}

fn password_page(page: Page, state: PasswordPageState) -> Html<String> {
    let mut errors = errors_for("mobile", &state.mobile_error);
    errors.extend(errors_for("password", &state.password_error));
    let country = if state.country.is_empty() {
        "47".to_owned()
    } else {
        state.country
    };
    render(&PasswordPage {
        errors,
        countries: countries(&page),
        page,
        recovery: state.recovery,
        country,
        mobile: state.mobile,
        mobile_error: state.mobile_error,
        password_error: state.password_error,
    })
}

async fn password_form(State(state): State<AppState>, page: Page, headers: HeaderMap) -> Response {
    match verified(&state, &headers) {
        Some(letter) => password_page(
            page,
            PasswordPageState {
                recovery: letter.is_recovery(),
                country: String::new(),
                mobile: String::new(),
                mobile_error: None,
                password_error: None,
            },
        )
        .into_response(),
        None => session_expired(page),
    }
}

async fn password_submit(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Response {
    let Some(letter) = verified(&state, &headers) else {
        return session_expired(page);
    };
    let recovery = letter.is_recovery();
    let typed = registration::SmsUserForm {
        password: &form.password,
        repeated: &form.password2,
        calling_code: &form.country,
        mobile: &form.mobile,
    };
    match registration::start_sms_user(&state, letter, typed, page.lang).await {
        Ok(pending) => {
            let token = registration::seal(&state, &pending);
            redirect_with_flow("/register/otp", Some(&token), secure(&state))
        }
        Err(err @ (ServiceError::Password(_) | ServiceError::Mobile(_))) => {
            let (mobile_error, password_error) = match err {
                ServiceError::Password(problem) => (None, Some(page.t(problem.key()))),
                _ => (Some(page.t("error-mobile-invalid")), None),
            };
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                password_page(
                    page,
                    PasswordPageState {
                        recovery,
                        country: form.country,
                        mobile: form.mobile,
                        mobile_error,
                        password_error,
                    },
                ),
            )
                .into_response()
        }
        Err(err) => service_failure(err),
    }
}

fn otp_page(page: Page, mobile: String, otp_error: Option<String>) -> Html<String> {
    render(&OtpPage {
        errors: errors_for("otp", &otp_error),
        page,
        mobile,
        otp_error,
    })
}

fn pending(state: &AppState, headers: &HeaderMap) -> Option<SmsPending> {
    registration::open::<SmsPending>(state, flow_token(headers)?).ok()
}

async fn otp_form(State(state): State<AppState>, page: Page, headers: HeaderMap) -> Response {
    match pending(&state, &headers) {
        Some(p) => otp_page(page, p.masked_mobile(), None).into_response(),
        None => session_expired(page),
    }
}

async fn otp_submit(
    State(state): State<AppState>,
    page: Page,
    ip: ClientIp,
    headers: HeaderMap,
    Form(form): Form<OtpForm>,
) -> Response {
    let Some(pending) = pending(&state, &headers) else {
        return session_expired(page);
    };
    let mobile = pending.masked_mobile();
    match registration::finish_sms_user(&state, pending, &form.otp, &ip.text()).await {
        Ok(_) => redirect_with_flow("/register/done", None, secure(&state)),
        Err(err) => {
            let message = match &err {
                ServiceError::OtpFormat => page.t("error-otp-format"),
                ServiceError::OtpWrong { attempts_left } => {
                    page.t1("error-otp-wrong", "left", attempts_left)
                }
                ServiceError::OtpExpired => page.t("error-otp-expired"),
                ServiceError::AlreadyRegistered => page.t("error-already-registered"),
                other => match code_message(&page, other) {
                    Some(m) => m,
                    None => return service_failure(err),
                },
            };
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                otp_page(page, mobile, Some(message)),
            )
                .into_response()
        }
    }
}

async fn register_done(page: Page) -> Html<String> {
    render(&DonePage { page })
}
