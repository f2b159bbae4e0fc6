//! The HTTP edge: the router (`app`), per-request context (language, CSRF token), security
//! headers, error pages, shared extractors (client address, page context), and its children:
//! the citizen's pages, the login pages, the JSON API, the OpenID Connect endpoints and the
//! demo inbox. Handlers are thin: they parse, call a service, render. Nothing below this
//! module imports it.

use std::net::{IpAddr, SocketAddr};

use askama::Template;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;

use crate::i18n::{Lang, LANG_COOKIE};

pub mod api;
pub mod cookies;
pub mod dev;
pub mod login;
pub mod lost;
pub mod metrics;
pub mod oidc;
pub mod pages;
mod state;

pub use state::AppState;

/// The cookie holding the double-submit CSRF token.
pub const CSRF_COOKIE: &str = "nokkel_csrf";
/// Largest form body accepted (forms here are a few short fields).
const MAX_FORM_BYTES: usize = 64 * 1024;

/// Per-request context set by [`context_layer`].
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The language the page is shown in.
    pub lang: Lang,
    /// The CSRF token forms must echo.
    pub csrf: String,
}

/// What every page template gets: language, CSRF token and demo flag.
#[derive(Debug, Clone)]
pub struct Page {
    /// The language the page is shown in.
    pub lang: Lang,
    /// The CSRF token for forms.
    pub csrf: String,
    /// Demo mode (shows the banner and the inbox link).
    pub demo: bool,
}

impl Page {
    /// Translation of `key`.
    pub fn t(&self, key: &str) -> String {
        self.lang.t(key)
    }

    /// Translation of `key` with one argument.
    pub fn t1(&self, key: &str, name: &str, value: impl ToString) -> String {
        self.lang.t_args(key, &[(name, value.to_string())])
    }

    /// Translation of `key` with two arguments.
    pub fn t2(
        &self,
        key: &str,
        name1: &str,
        value1: impl ToString,
        name2: &str,
        value2: impl ToString,
    ) -> String {
        self.lang.t_args(
            key,
            &[(name1, value1.to_string()), (name2, value2.to_string())],
        )
    }

    /// The languages for the switcher.
    pub fn languages(&self) -> [Lang; 3] {
        Lang::ALL
    }

    /// This page in another language: a query-only reference, so the link stays on this
    /// page whatever its path (a path such as `//evil.example/` would be another site).
    pub fn lang_href(&self, lang: &Lang) -> String {
        format!("?lang={}", lang.tag())
    }
}

impl FromRequestParts<AppState> for Page {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ctx = parts.extensions.get::<RequestContext>().cloned();
        let (lang, csrf) = match ctx {
            Some(ctx) => (ctx.lang, ctx.csrf),
            None => (Lang::default(), String::new()),
        };
        Ok(Page {
            lang,
            csrf,
            demo: state.config.demo,
        })
    }
}

/// The language a JSON API client asks for in `Accept-Language` (the app sends its own),
/// if it names one of ours. The person's notices are written in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiLang(pub Option<Lang>);

impl<S: Send + Sync> FromRequestParts<S> for ApiLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ApiLang(
            parts
                .headers
                .get(axum::http::header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language),
        ))
    }
}

/// The client's IP address: the socket peer, or, when the server is configured to trust
/// its proxies, the `X-Forwarded-For` entry the outermost trusted proxy wrote.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

impl ClientIp {
    /// The address as text for logs and rate-limit keys; `unknown` when not known.
    pub fn text(&self) -> String {
        self.0
            .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
    }
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.config.trust_forwarded_for {
            let forwarded = forwarded_client(&parts.headers, state.config.trusted_proxies);
            if forwarded.is_some() {
                return Ok(ClientIp(forwarded));
            }
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Ok(ClientIp(peer))
    }
}

/// The address `hops` trusted proxies vouch for. Each proxy appends the address it saw to
/// `X-Forwarded-For` (nginx's `$proxy_add_x_forwarded_for`), so the entry `hops` from the
/// right was written by the outermost one; anything left of it came from the client and
/// may be forged. `None` when the header has fewer entries or is not readable.
fn forwarded_client(headers: &HeaderMap, hops: u32) -> Option<IpAddr> {
    let hops = usize::try_from(hops).ok().filter(|&h| h > 0)?;
    let mut entries = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        entries.extend(value.to_str().ok()?.split(',').map(str::trim));
    }
    let index = entries.len().checked_sub(hops)?;
    entries.get(index)?.parse().ok()
}

/// An error page to show. Handlers return it; [`context_layer`] renders it in the
/// request's language, so handlers need not carry the language around.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorPage {
    /// 404.
    NotFound,
    /// 403: the form's CSRF token did not match.
    Csrf,
    /// 429.
    RateLimited,
    /// 500: details were logged where the error happened.
    Internal,
}

impl IntoResponse for ErrorPage {
    fn into_response(self) -> Response {
        let status = match self {
            ErrorPage::NotFound => StatusCode::NOT_FOUND,
            ErrorPage::Csrf => StatusCode::FORBIDDEN,
            ErrorPage::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorPage::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut response = status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate {
    page: Page,
    title: String,
    text: String,
}

fn render_error(kind: ErrorPage, page: Page) -> Html<String> {
    let (title, text) = match kind {
        ErrorPage::NotFound => ("error-not-found-title", "error-not-found-text"),
        ErrorPage::Csrf => ("error-internal-title", "error-csrf"),
        ErrorPage::RateLimited => ("error-internal-title", "error-rate-limited"),
        ErrorPage::Internal => ("error-internal-title", "error-internal-text"),
    };
    let template = ErrorTemplate {
        title: page.t(title),
        text: page.t(text),
        page,
    };
    render(&template)
}

/// Renders a template; a rendering failure (a bug) becomes a plain 500 and is logged.
pub fn render(template: &impl Template) -> Html<String> {
    match template.render() {
        Ok(html) => Html(html),
        Err(err) => {
            tracing::error!(error = %err, "template rendering failed");
            Html("<!doctype html><title>Error</title><h1>Something went wrong</h1>".to_owned())
        }
    }
}

fn new_token(state: &AppState) -> String {
    let mut bytes = [0u8; 32];
    state.random.fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn query_lang(uri: &axum::http::Uri) -> Option<Lang> {
    uri.query()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "lang")
        .and_then(|(_, v)| Lang::from_tag(v))
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// Sets the language and CSRF context for pages, checks the CSRF token of every
/// state-changing page request (so no handler can forget), renders [`ErrorPage`]s and sets
/// the cookies.
pub async fn context_layer(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let chosen_lang = query_lang(request.uri());
    let lang = chosen_lang
        .or_else(|| cookies::cookie(headers, LANG_COOKIE).and_then(Lang::from_tag))
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or_default();
    let existing = cookies::cookie(headers, CSRF_COOKIE)
        .filter(|t| t.len() == 43)
        .map(str::to_owned);
    let csrf = existing.clone().unwrap_or_else(|| new_token(&state));
    let path = request.uri().path().to_owned();
    let page = Page {
        lang,
        csrf: csrf.clone(),
        demo: state.config.demo,
    };

    let mut request = request;
    // `/api/` calls carry request proofs, not cookies; `/oauth/` endpoints authenticate the
    // client. Every other state-changing request is a page's form.
    let checks_csrf = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) && !path.starts_with("/api/")
        && !path.starts_with("/oauth/");
    if checks_csrf {
        let (parts, body) = request.into_parts();
        // Only a form body carries the token. Any other body is read as carrying none: a
        // cross-site `text/plain` or multipart post needs no preflight, and a handler that
        // reads no body would otherwise act on it.
        let bytes = if is_form(&parts.headers) {
            let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
                return (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    render_error(ErrorPage::Csrf, page),
                )
                    .into_response();
            };
            bytes
        } else {
            axum::body::Bytes::new()
        };
        let sent = form_field(&bytes, "csrf").unwrap_or_default();
        let valid = existing
            .as_deref()
            .is_some_and(|cookie| bool::from(cookie.as_bytes().ct_eq(sent.as_bytes())));
        if !valid {
            tracing::warn!(path = %path, "form rejected: CSRF token missing or wrong");
            return with_cookies(
                (StatusCode::FORBIDDEN, render_error(ErrorPage::Csrf, page)).into_response(),
                &state,
                existing.is_none().then_some(&csrf),
                None,
            );
        }
        request = Request::from_parts(parts, Body::from(bytes));
    }
    request.extensions_mut().insert(RequestContext {
        lang,
        csrf: csrf.clone(),
    });

    let mut response = next.run(request).await;
    if let Some(kind) = response.extensions().get::<ErrorPage>().copied() {
        let status = response.status();
        response = (status, render_error(kind, page)).into_response();
    }
    with_cookies(
        response,
        &state,
        existing.is_none().then_some(&csrf),
        chosen_lang,
    )
}

fn with_cookies(
    mut response: Response,
    state: &AppState,
    csrf: Option<&String>,
    lang: Option<Lang>,
) -> Response {
    let secure = state.issuer().starts_with("https://");
    let mut add = |value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    };
    if let Some(token) = csrf {
        add(cookies::set_cookie(
            CSRF_COOKIE,
            token,
            60 * 60 * 12,
            secure,
        ));
    }
    if let Some(lang) = lang {
        add(cookies::set_cookie(
            LANG_COOKIE,
            lang.tag(),
            60 * 60 * 24 * 365,
            secure,
        ));
    }
    response
}

/// Security headers on every response.
pub async fn security_headers(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    let set = |h: &mut HeaderMap, name: &'static str, value: &'static str| {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
         object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    );
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    set(h, "referrer-policy", "no-referrer");
    set(
        h,
        "permissions-policy",
        "camera=(), microphone=(), geolocation=()",
    );
    set(h, "cross-origin-opener-policy", "same-origin");
    // Pages carry personal data and one-time forms: never cache them.
    set(h, "cache-control", "no-store");
    if state.issuer().starts_with("https://") {
        set(
            h,
            "strict-transport-security",
            "max-age=31536000; includeSubDomains",
        );
    }
    response
}

async fn login_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/login.js"),
    )
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/style.css"),
    )
}

async fn not_found() -> ErrorPage {
    ErrorPage::NotFound
}

async fn healthz() -> &'static str {
    "ok"
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(pages::routes())
        .merge(lost::routes())
        .merge(login::routes())
        .merge(api::routes())
        .merge(dev::routes(state.config.demo))
        .merge(oidc::routes(state.config.demo))
        .route("/healthz", get(healthz))
        .route("/static/style.css", get(stylesheet))
        .route("/static/login.js", get(login_script))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), context_layer))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security_headers,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn forwarded_client_counts_trusted_hops_from_the_right() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let headers = forwarded(&["6.6.6.6, 10.1.2.3"]);
        assert_eq!(forwarded_client(&headers, 1), ip("10.1.2.3"));
        assert_eq!(forwarded_client(&headers, 2), ip("6.6.6.6"));
        assert_eq!(
            forwarded_client(&headers, 3),
            None,
            "fewer entries than hops"
        );
        assert_eq!(forwarded_client(&headers, 0), None);
        let split = forwarded(&["6.6.6.6", "10.1.2.3, 192.0.2.7"]);
        assert_eq!(forwarded_client(&split, 2), ip("10.1.2.3"));
        assert_eq!(forwarded_client(&forwarded(&["not-an-ip"]), 1), None);
        assert_eq!(forwarded_client(&HeaderMap::new(), 1), None);
    }
}
