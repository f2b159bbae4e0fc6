//! The login pages a relying party sends the citizen to (`/login?request=…` from the
//! OpenID Connect authorize endpoint): identity number, then the app approval page with
//! the number to pick (live via server-sent events, refresh without JavaScript), or
//! password and SMS code for SMS users. Each ending — approved, denied, reported, wrong
//! number, expired, cancelled — lands on a clear page with the next step.

use std::convert::Infallible;
use std::time::Duration;

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::header::{LOCATION, RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use nokkel_core::calendar::oslo_offset;
use nokkel_core::id_number::IdNumber;
use serde::{Deserialize, Serialize};

use super::pages::{errors_for, FieldError};
use super::{cookies, render, ClientIp, ErrorPage, Page};
use crate::http::AppState;
use crate::i18n::Lang;
use crate::services::login::{self, LoginChannel, LoginEnd, LoginStart};
use crate::services::oidc::{self, AuthorizationRequest};
use crate::services::registration::{self, Expiring};
use crate::services::{address_key, contact, ServiceError};
use crate::store::{LoginRecord, LoginState};

/// The cookie carrying the sealed login flow between pages.
const LOGIN_COOKIE: &str = "nokkel_login";
/// How long the login pages' state lives (the challenge itself lives two minutes).
const FLOW_SECONDS: i64 = 15 * 60;
/// How long "I have answered in the app" waits for an answer that has not arrived yet.
const FINISH_WAIT: Duration = Duration::from_secs(20);

/// Routes of the login pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(start_page).post(start_submit))
        .route("/login/app", get(app_page))
        .route("/login/events", get(events))
        .route("/login/finish", get(finish))
        .route("/login/retry", post(retry))
        .route("/login/cancel", post(cancel))
        .route("/login/password", get(password_page).post(password_submit))
        .route("/login/otp", get(otp_page).post(otp_submit))
}

/// The login flow's state between pages, sealed in a cookie: for which request, who, and
/// where they are.
#[derive(Serialize, Deserialize)]
struct Flow {
    request: String,
    pid: String,
    step: Step,
    exp: i64,
}

/// Where a browser login stands; each step is reached only from the one before it.
#[derive(Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
enum Step {
    /// The identity number is known (an SMS user's password comes next).
    Identified,
    /// An app login is pending in the person's app.
    AwaitingApp {
        /// The pending login.
        login: String,
    },
    /// The password was right; the SMS code is on its way.
    AwaitingSmsCode {
        /// The code's id.
        otp: String,
    },
}

impl Flow {
    /// The pending app login, if the flow is waiting for the app.
    fn app_login(&self) -> Option<&str> {
        match &self.step {
            Step::AwaitingApp { login } => Some(login),
            _ => None,
        }
    }

    /// The SMS code's id, if the flow is waiting for the code.
    fn sms_code(&self) -> Option<&str> {
        match &self.step {
            Step::AwaitingSmsCode { otp } => Some(otp),
            _ => None,
        }
    }
}

impl Expiring for Flow {
    fn exp(&self) -> i64 {
        self.exp
    }
}

fn flow_cookie(state: &AppState, flow: Option<&Flow>) -> String {
    let secure = if state.issuer().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    match flow {
        Some(flow) => format!(
            "{LOGIN_COOKIE}={}; Path=/login; Max-Age={FLOW_SECONDS}; HttpOnly; SameSite=Lax{secure}",
            registration::seal(state, flow)
        ),
        None => format!("{LOGIN_COOKIE}=; Path=/login; Max-Age=0; HttpOnly; SameSite=Lax{secure}"),
    }
}

fn flow(state: &AppState, headers: &HeaderMap) -> Option<Flow> {
    let token = cookies::cookie(headers, LOGIN_COOKIE).filter(|t| !t.is_empty())?;
    registration::open::<Flow>(state, token).ok()
}

fn see_other(to: &str, cookie: Option<String>) -> Response {
    let mut response = (StatusCode::SEE_OTHER, [(LOCATION, to.to_owned())]).into_response();
    if let Some(cookie) = cookie.and_then(|c| c.parse().ok()) {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}

#[derive(Template)]
#[template(path = "login_pid.html")]
struct PidPage {
    page: Page,
    service: String,
    request: String,
    wants_pid: bool,
    pid: String,
    pid_error: Option<String>,
    errors: Vec<FieldError>,
}

#[derive(Template)]
#[template(path = "login_app.html")]
struct AppPage {
    page: Page,
    service: String,
    request: String,
    number: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "login_outcome.html")]
struct OutcomePage {
    page: Page,
    title: String,
    text: String,
    service: String,
    /// The authorization request, for the cancel button next to "try again".
    request: String,
    retry: bool,
    back_url: Option<String>,
}

#[derive(Template)]
#[template(path = "login_password.html")]
struct PasswordPage {
    page: Page,
    service: String,
    request: String,
    password_error: Option<String>,
    errors: Vec<FieldError>,
}

#[derive(Template)]
#[template(path = "login_otp.html")]
struct OtpPage {
    page: Page,
    service: String,
    request: String,
    mobile: String,
    otp_error: Option<String>,
    errors: Vec<FieldError>,
}

fn request_gone(page: Page) -> Response {
    (
        StatusCode::GONE,
        render(&OutcomePage {
            title: page.t("login-request-gone-title"),
            text: page.t("login-request-gone-text"),
            service: String::new(),
            request: String::new(),
            retry: false,
            back_url: None,
            page,
        }),
    )
        .into_response()
}

async fn request(state: &AppState, id: &str) -> Option<AuthorizationRequest> {
    match oidc::authorization_request(state, id).await {
        Ok(found) => found,
        Err(err) => {
            tracing::error!(error = %err, "authorization request unreadable");
            None
        }
    }
}

fn pid_page(
    page: Page,
    request: &AuthorizationRequest,
    pid: String,
    pid_error: Option<String>,
) -> Html<String> {
    render(&PidPage {
        errors: errors_for("pid", &pid_error),
        service: request.client_name.clone(),
        request: request.id.clone(),
        wants_pid: request.wants_pid,
        page,
        pid,
        pid_error,
    })
}

#[derive(Deserialize)]
struct StartQuery {
    #[serde(default)]
    request: String,
}

async fn start_page(
    State(state): State<AppState>,
    page: Page,
    Query(query): Query<StartQuery>,
) -> Response {
    let Some(request) = request(&state, &query.request).await else {
        return request_gone(page);
    };
    let hint = request.login_hint.clone().unwrap_or_default();
    pid_page(page, &request, hint, None).into_response()
}

#[derive(Deserialize)]
struct StartForm {
    #[serde(default)]
    request: String,
    #[serde(default)]
    pid: String,
}

async fn start_submit(
    State(state): State<AppState>,
    page: Page,
    ip: ClientIp,
    headers: HeaderMap,
    Form(form): Form<StartForm>,
) -> Response {
    let Some(request) = request(&state, &form.request).await else {
        return request_gone(page);
    };
    let refuse = |page: Page, key: &str| {
        let message = page.t(key);
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            pid_page(page, &request, form.pid.clone(), Some(message)),
        )
            .into_response()
    };
    let pid = match IdNumber::parse(&form.pid, state.synthetic_policy()) {
        Ok(pid) => pid,
        Err(err) => {
            let key = format!("error-pid-{}", err.code());
            return refuse(page, &key);
        }
    };
    // This browser's own waiting login (if it started one for this person) is replaced;
    // logins from other browsers wait on beside the new one.
    let earlier = flow(&state, &headers)
        .filter(|f| f.pid == pid.as_str())
        .and_then(|f| f.app_login().map(str::to_owned));
    let now = state.clock.unix();
    let mut flow = Flow {
        request: request.id.clone(),
        pid: pid.as_str().to_owned(),
        step: Step::Identified,
        exp: now + FLOW_SECONDS,
    };
    let browser = browser_side(&headers, &ip, page.lang);
    let begun = login::begin(
        &state,
        &pid,
        &request.id,
        &request.client_name,
        &browser,
        earlier.as_deref(),
    )
    .await;
    match begun {
        Ok(LoginStart::Sms) => see_other("/login/password", Some(flow_cookie(&state, Some(&flow)))),
        Ok(LoginStart::App { login_id }) => {
            flow.step = Step::AwaitingApp { login: login_id };
            see_other("/login/app", Some(flow_cookie(&state, Some(&flow))))
        }
        Err(ServiceError::NoAccount) => refuse(page, "login-no-account-error"),
        Err(ServiceError::AppLoginBlocked) => refuse(page, "login-blocked"),
        Err(ServiceError::AccountBlocked) => refuse(page, "login-account-blocked"),
        Err(ServiceError::NoDevice) => refuse(page, "login-no-device"),
        Err(ServiceError::RateLimited) => refuse(page, "error-rate-limited"),
        Err(err) => failure(err),
    }
}

fn browser_side(headers: &HeaderMap, ip: &ClientIp, lang: Lang) -> LoginChannel {
    LoginChannel::Browser {
        user_agent: headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        ip: ip.text(),
        lang,
    }
}

fn failure(err: ServiceError) -> Response {
    tracing::error!(error = %err, code = err.code(), "login page failed");
    ErrorPage::Internal.into_response()
}

async fn current_login(state: &AppState, flow: &Flow) -> Option<LoginRecord> {
    login::current(state, flow.app_login()?)
        .await
        .ok()
        .flatten()
}

async fn app_page(State(state): State<AppState>, page: Page, headers: HeaderMap) -> Response {
    let Some(flow) = flow(&state, &headers) else {
        return request_gone(page);
    };
    let Some(login) = current_login(&state, &flow).await else {
        // Lost in a restart, or gone: the finish step tells which.
        return if flow.app_login().is_some() {
            see_other("/login/finish", None)
        } else {
            request_gone(page)
        };
    };
    if login.state != LoginState::Pending {
        return see_other("/login/finish", None);
    }
    let expires = time::OffsetDateTime::from_unix_timestamp(login.expires_at)
        .map(|t| {
            let local = t.to_offset(oslo_offset(t));
            format!("{:02}:{:02}", local.hour(), local.minute())
        })
        .unwrap_or_default();
    render(&AppPage {
        service: login.service.clone(),
        request: flow.request.clone(),
        number: login.number.to_string(),
        expires,
        page,
    })
    .into_response()
}

/// Server-sent events: one `decided` event when the login leaves `pending` (or expires).
async fn events(State(state): State<AppState>, ip: ClientIp, headers: HeaderMap) -> Response {
    let Some(login_id) = flow(&state, &headers).and_then(|f| f.app_login().map(str::to_owned))
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // Each stream holds a connection for up to two minutes: a few per address and a
    // ceiling per instance. Refused, the page falls back to its "I have answered" link.
    let Some(ticket) = state.capacity.open_stream(&address_key(&ip.text())) else {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(RETRY_AFTER, "30")],
            "too many open event streams",
        )
            .into_response();
    };
    let stream = futures_util::stream::once(async move {
        let _ticket = ticket;
        // Up to the challenge's lifetime plus a little; the page falls back to its link.
        let decided = login::wait_decided(&state, &login_id, Duration::from_secs(130)).await;
        let state_name = match decided {
            Ok(Some(login)) => login.state.as_str(),
            _ => "unknown",
        };
        Ok::<_, Infallible>(Event::default().event("decided").data(state_name))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

async fn finish(State(state): State<AppState>, page: Page, headers: HeaderMap) -> Response {
    let Some(flow) = flow(&state, &headers) else {
        return request_gone(page);
    };
    let Some(login_id) = flow.app_login() else {
        return request_gone(page);
    };
    // Without JavaScript this link is how the page learns the answer (a timed refresh
    // would fail WCAG 2.2.1), so it waits a while for an answer still on its way.
    let (end, service) =
        match login::finish_app_login(&state, &flow.request, login_id, FINISH_WAIT).await {
            Ok(finished) => finished,
            Err(err) => return failure(err),
        };
    let outcome = |page: Page, title: &str, text: &str, retry: bool, back_url: Option<String>| {
        render(&OutcomePage {
            title: page.t(title),
            text: page.t(text),
            service: service.clone(),
            request: flow.request.clone(),
            retry,
            back_url,
            page,
        })
        .into_response()
    };
    match end {
        LoginEnd::Pending => see_other("/login/app", None),
        LoginEnd::Completed { redirect } => see_other(&redirect, Some(flow_cookie(&state, None))),
        LoginEnd::Denied { reported, back_url } => {
            let text = if reported {
                "login-reported-text"
            } else {
                "login-denied-text"
            };
            outcome(page, "login-denied-title", text, false, back_url)
        }
        LoginEnd::WrongNumber => outcome(
            page,
            "login-wrong-number-title",
            "login-wrong-number-text",
            true,
            None,
        ),
        LoginEnd::Expired => outcome(
            page,
            "login-expired-title",
            "login-expired-text",
            true,
            None,
        ),
        LoginEnd::Cancelled => outcome(
            page,
            "login-cancelled-title",
            "login-cancelled-text",
            true,
            None,
        ),
        LoginEnd::Gone => request_gone(page),
    }
}

async fn retry(
    State(state): State<AppState>,
    page: Page,
    ip: ClientIp,
    headers: HeaderMap,
) -> Response {
    let Some(mut flow) = flow(&state, &headers) else {
        return request_gone(page);
    };
    let Some(request) = request(&state, &flow.request).await else {
        return request_gone(page);
    };
    let Ok(pid) = IdNumber::parse(&flow.pid, state.synthetic_policy()) else {
        return request_gone(page);
    };
    match login::start_app_login_again(
        &state,
        &pid,
        Some(&request.id),
        &request.client_name,
        &browser_side(&headers, &ip, page.lang),
        flow.app_login(),
    )
    .await
    {
        Ok(started) => {
            flow.step = Step::AwaitingApp { login: started.id };
            see_other("/login/app", Some(flow_cookie(&state, Some(&flow))))
        }
        Err(_) => see_other(&format!("/login?request={}", request.id), None),
    }
}

#[derive(Deserialize)]
struct CancelForm {
    #[serde(default)]
    request: String,
}

async fn cancel(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Form(form): Form<CancelForm>,
) -> Response {
    let login = flow(&state, &headers).and_then(|f| f.app_login().map(str::to_owned));
    match login::cancel_in_browser(&state, &form.request, login.as_deref()).await {
        Ok(url) => see_other(&url, Some(flow_cookie(&state, None))),
        Err(_) => request_gone(page),
    }
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    password: String,
}

/// The service's name for the cancel button of the password and SMS code pages.
async fn service_name(state: &AppState, request_id: &str) -> String {
    request(state, request_id)
        .await
        .map(|r| r.client_name)
        .unwrap_or_default()
}

async fn password_page(State(state): State<AppState>, page: Page, headers: HeaderMap) -> Response {
    match flow(&state, &headers) {
        Some(flow) => render(&PasswordPage {
            page,
            service: service_name(&state, &flow.request).await,
            request: flow.request,
            password_error: None,
            errors: Vec::new(),
        })
        .into_response(),
        None => request_gone(page),
    }
}

async fn password_submit(
    State(state): State<AppState>,
    page: Page,
    ip: ClientIp,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Response {
    let Some(mut flow) = flow(&state, &headers) else {
        return request_gone(page);
    };
    let service = service_name(&state, &flow.request).await;
    let request_id = flow.request.clone();
    let wrong = |page: Page, key: &str| {
        let message = Some(page.t(key));
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            render(&PasswordPage {
                errors: errors_for("password", &message),
                service: service.clone(),
                request: request_id.clone(),
                page,
                password_error: message,
            }),
        )
            .into_response()
    };
    match login::check_password(&state, &flow.pid, form.password, &ip.text()).await {
        Ok(otp) => {
            flow.step = Step::AwaitingSmsCode { otp };
            see_other("/login/otp", Some(flow_cookie(&state, Some(&flow))))
        }
        Err(ServiceError::RateLimited) => wrong(page, "error-rate-limited"),
        Err(ServiceError::WrongPassword) => wrong(page, "login-password-wrong"),
        Err(ServiceError::AccountBlocked) => wrong(page, "login-account-blocked"),
        Err(ServiceError::SessionExpired) => request_gone(page),
        Err(err) => failure(err),
    }
}

fn masked_mobile(mobile: Option<String>) -> String {
    mobile
        .and_then(|m| nokkel_core::phone::MobileNumber::parse_e164(&m).ok())
        // Non-breaking spaces: a phone number never wraps across lines.
        .map(|m| m.masked().replace(' ', "\u{a0}"))
        .unwrap_or_default()
}

async fn otp_page(State(state): State<AppState>, page: Page, headers: HeaderMap) -> Response {
    let Some(flow) = flow(&state, &headers).filter(|f| f.sms_code().is_some()) else {
        return request_gone(page);
    };
    let mobile = contact::mobile(&state, &flow.pid).await.ok().flatten();
    render(&OtpPage {
        page,
        service: service_name(&state, &flow.request).await,
        request: flow.request.clone(),
        mobile: masked_mobile(mobile),
        otp_error: None,
        errors: Vec::new(),
    })
    .into_response()
}

#[derive(Deserialize)]
struct OtpForm {
    #[serde(default)]
    otp: String,
}

async fn otp_submit(
    State(state): State<AppState>,
    page: Page,
    ip: ClientIp,
    headers: HeaderMap,
    Form(form): Form<OtpForm>,
) -> Response {
    let Some(flow) = flow(&state, &headers).filter(|f| f.sms_code().is_some()) else {
        return request_gone(page);
    };
    let otp_id = flow.sms_code().unwrap_or_default().to_owned();
    match login::finish_sms_login(
        &state,
        &flow.request,
        &flow.pid,
        &otp_id,
        &form.otp,
        &ip.text(),
    )
    .await
    {
        Ok(url) => see_other(&url, Some(flow_cookie(&state, None))),
        Err(ServiceError::SessionExpired) => request_gone(page),
        Err(err) => {
            let message = Some(match &err {
                ServiceError::OtpFormat => page.t("error-otp-format"),
                ServiceError::OtpWrong { attempts_left } => {
                    page.t1("error-otp-wrong", "left", attempts_left)
                }
                ServiceError::OtpExpired => page.t("error-otp-expired"),
                _ => return failure(err),
            });
            let mobile = contact::mobile(&state, &flow.pid).await.ok().flatten();
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                render(&OtpPage {
                    errors: errors_for("otp", &message),
                    service: service_name(&state, &flow.request).await,
                    request: flow.request.clone(),
                    page,
                    mobile: masked_mobile(mobile),
                    otp_error: message,
                }),
            )
                .into_response()
        }
    }
}
