//! The token endpoint: parses the form and the client's Basic credentials, and hands them
//! to the `authorization_code` grant ([`crate::services::oidc::authorization_code`]).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::http::{AppState, ClientIp};
use crate::services::oidc::authorization_code::{exchange, Form, TokenError};
use crate::services::oidc::TokenErrorCode;

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let status = match self.code {
            TokenErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            TokenErrorCode::TemporarilyUnavailable => StatusCode::TOO_MANY_REQUESTS,
            TokenErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            TokenErrorCode::InvalidRequest
            | TokenErrorCode::InvalidGrant
            | TokenErrorCode::UnsupportedGrantType => StatusCode::BAD_REQUEST,
        };
        let body = serde_json::json!({ "error": self.code, "error_description": self.description });
        let mut response = (status, no_store(), axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        if self.basic_challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"nokkel\", charset=\"UTF-8\""),
            );
        }
        response
    }
}

fn no_store() -> [(header::HeaderName, &'static str); 2] {
    [
        (header::CACHE_CONTROL, "no-store"),
        (header::PRAGMA, "no-cache"),
    ]
}

fn parse_form(headers: &HeaderMap, body: &[u8]) -> Result<Form, TokenError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(TokenError::new(
            TokenErrorCode::InvalidRequest,
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    Form::parse(body)
}

/// `client_id` and secret from `Authorization: Basic` (each form-urlencoded, RFC 6749
/// §2.3.1). `Ok(None)` without such a header.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, TokenError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || TokenError {
        basic_challenge: true,
        ..TokenError::new(TokenErrorCode::InvalidClient, "malformed Basic credentials")
    };
    let text = value.to_str().map_err(|_| malformed())?;
    let Some((scheme, encoded)) = text.split_once(' ') else {
        return Err(malformed());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(TokenError {
            basic_challenge: true,
            ..TokenError::new(
                TokenErrorCode::InvalidClient,
                "only the Basic scheme is supported here",
            )
        });
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let unescape = |s: &str| -> String {
        form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

pub(crate) async fn token(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = match (parse_form(&headers, &body), basic_credentials(&headers)) {
        (Ok(form), Ok(basic)) => exchange(&state, &ip.text(), basic, &form).await,
        (Err(err), _) | (_, Err(err)) => Err(err),
    };
    match result {
        Ok(body) => (StatusCode::OK, no_store(), axum::Json(body)).into_response(),
        Err(err) => {
            if err.code != TokenErrorCode::ServerError {
                tracing::info!(error = err.code.as_str(), description = %err.description, "token request refused");
            }
            err.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut headers = HeaderMap::new();
        let encoded = STANDARD.encode("my%3Aclient:s%C3%A6cret+x");
        headers.insert(
            header::AUTHORIZATION,
            format!("Basic {encoded}").parse().unwrap(),
        );
        let (id, secret) = basic_credentials(&headers).unwrap().unwrap();
        assert_eq!(id, "my:client");
        assert_eq!(secret, "sæcret x");
    }
}
