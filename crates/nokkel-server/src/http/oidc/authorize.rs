//! The authorization endpoint: hands the request to [`authorize::start`] and sends the
//! browser to the login pages, or shows the rejection.
//!
//! Until the client and its redirect URI are known good, problems are shown on an error
//! page and never redirected, so the endpoint cannot be used as an open redirector.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use crate::http::{render, AppState, ClientIp, ErrorPage, Page};
use crate::i18n::Lang;
use crate::services::oidc::authorize::{self, Rejection};
use crate::services::Deps;

/// An error page shown instead of redirecting (unknown client, bad redirect URI). The
/// detail is technical, in English, for the relying party's developers.
#[derive(Template)]
#[template(path = "oidc_error.html")]
pub(crate) struct OidcErrorPage {
    pub page: Page,
    pub title: String,
    pub text: String,
    pub detail: String,
}

pub(crate) fn error_page(page: Page, status: StatusCode, detail: &str) -> Response {
    let template = OidcErrorPage {
        title: page.t("oidc-error-title"),
        text: page.t("oidc-error-text"),
        detail: page.t1("oidc-error-detail", "detail", detail),
        page,
    };
    (status, render(&template)).into_response()
}

pub(crate) async fn authorize_get(
    State(state): State<AppState>,
    page: Page,
    ip: ClientIp,
    RawQuery(query): RawQuery,
) -> Response {
    authorize(&state, page, ip, query.unwrap_or_default().as_bytes()).await
}

pub(crate) async fn authorize_post(
    State(state): State<AppState>,
    page: Page,
    ip: ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return error_page(
            page,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request: POST must be application/x-www-form-urlencoded",
        );
    }
    authorize(&state, page, ip, &body).await
}

async fn authorize(deps: &Deps, page: Page, ip: ClientIp, raw: &[u8]) -> Response {
    match authorize::start(deps, raw, &ip.text()).await {
        Ok(request) => {
            let mut target = format!("/login?request={}", request.id);
            if let Some(lang) = request.ui_locales.as_deref().and_then(preferred_lang) {
                target.push_str("&lang=");
                target.push_str(lang.tag());
            }
            Redirect::to(&target).into_response()
        }
        Err(Rejection::Page(detail)) => {
            tracing::info!(detail = %detail, "authorization request refused");
            error_page(page, StatusCode::BAD_REQUEST, &detail)
        }
        Err(Rejection::Redirect {
            url,
            error,
            description,
        }) => {
            tracing::info!(error = error.as_str(), description = %description, "authorization request refused");
            Redirect::to(&url).into_response()
        }
        Err(Rejection::Internal) => ErrorPage::Internal.into_response(),
    }
}

/// The first of the space-separated `ui_locales` that Nøkkel speaks (`nb-NO` → nb).
pub(crate) fn preferred_lang(ui_locales: &str) -> Option<Lang> {
    ui_locales.split(' ').find_map(|tag| {
        let primary = tag.split(['-', '_']).next().unwrap_or(tag);
        Lang::from_tag(&primary.to_ascii_lowercase())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ui_locales_pick_the_first_language_we_speak() {
        assert_eq!(preferred_lang("de nn-NO en"), Some(Lang::Nn));
        assert_eq!(preferred_lang("nb-NO"), Some(Lang::Nb));
        assert_eq!(preferred_lang("EN"), Some(Lang::En));
        assert_eq!(preferred_lang("fr de"), None);
    }
}
