//! Firebase Cloud Messaging, HTTP v1: the way to wake Android phones with Google services.
//!
//! The server holds a Google service account (its JSON key file). For each hour it signs
//! an RS256 assertion (RFC 7523 JWT-bearer grant: `iss` the account's e-mail, `scope`
//! firebase.messaging, `aud` the token URI) and trades it at the account's `token_uri` for
//! an OAuth2 access token, which it caches. Each push is then
//!
//! ```text
//! POST {fcm_url}/v1/projects/{project_id}/messages:send
//! Authorization: Bearer {access token}
//!
//! {"message": {"token": "…", "data": {"v": "1", "type": "login_waiting", "id": "…"},
//!              "android": {"priority": "HIGH", "ttl": "{seconds}s",
//!                          "notification": {"title_loc_key": "nokkel_login_waiting_title",
//!                                           "body_loc_key": "nokkel_login_waiting_body",
//!                                           "tag": "login-waiting"}}}}
//! ```
//!
//! a high-priority message whose data carries only what a Web Push carries (FCM data values
//! are strings). The notification block names two string resources the app ships (in the
//! phone's language) rather than text: Android shows it while the app is not running,
//! which a data-only message would not do, and it says nothing about the login; the tag
//! makes a second waiting login replace the first on screen. 200: sent. 404 (`UNREGISTERED`): the token is gone. 401: the access token is
//! dropped and the push tried again. 429 and 5xx: tried again. Other answers: refused.

use std::path::Path;
use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use nokkel_core::clock::Clock;
use nokkel_core::push::{ANDROID_BODY_KEY, ANDROID_TITLE_KEY};
use nokkel_core::wire::PushNotice;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Mutex;

use super::sms::is_loopback;
use super::SendError;

/// The OAuth2 scope FCM's HTTP v1 API needs.
pub const FCM_SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// How long an assertion is valid (Google accepts at most an hour).
const ASSERTION_LIFETIME: i64 = 3600;

/// What a push to FCM came to.
#[derive(Debug, PartialEq, Eq)]
pub enum FcmOutcome {
    /// FCM took it.
    Sent,
    /// FCM says the token is no longer registered: forget it.
    Gone(String),
}

/// The fields of a Google service-account key file that are used.
#[derive(Deserialize)]
struct ServiceAccount {
    project_id: String,
    private_key_id: String,
    private_key: String,
    client_email: String,
    token_uri: String,
}

/// An FCM HTTP v1 client for one service account.
pub struct Fcm {
    client_email: String,
    key_id: String,
    key: RsaKeyPair,
    token_uri: reqwest::Url,
    send_url: reqwest::Url,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
    /// The cached access token and until when (Unix seconds) it may be used.
    token: Mutex<Option<(String, i64)>>,
}

pub(super) fn checked_url(
    url: &str,
    what: &str,
    allow_http_loopback: bool,
) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{what} is not a URL: {e}"))?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if allow_http_loopback && is_loopback(parsed.host_str().unwrap_or_default()) => {
            Ok(parsed)
        }
        _ => Err(format!("{what} must be https://")),
    }
}

impl Fcm {
    /// A client for the service account in `account_file`, sending to `fcm_url`.
    pub fn new(
        account_file: &Path,
        fcm_url: &str,
        client: reqwest::Client,
        clock: Arc<dyn Clock>,
        allow_http_loopback: bool,
    ) -> Result<Self, String> {
        let text = std::fs::read_to_string(account_file).map_err(|e| {
            format!(
                "cannot read push.fcm_service_account_file {}: {e}",
                account_file.display()
            )
        })?;
        let account: ServiceAccount = serde_json::from_str(&text).map_err(|e| {
            format!("push.fcm_service_account_file is not a service-account key: {e}")
        })?;
        let der: String = account
            .private_key
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        let der = STANDARD
            .decode(der.trim())
            .map_err(|_| "the service account's private_key is not PEM".to_owned())?;
        let key = RsaKeyPair::from_pkcs8(&der)
            .map_err(|e| format!("the service account's private_key is not an RSA key: {e}"))?;
        let token_uri = checked_url(&account.token_uri, "token_uri", allow_http_loopback)?;
        let base = checked_url(fcm_url, "push.fcm_url", allow_http_loopback)?;
        let send_url = base
            .join(&format!("v1/projects/{}/messages:send", account.project_id))
            .map_err(|e| format!("push.fcm_url: {e}"))?;
        Ok(Self {
            client_email: account.client_email,
            key_id: account.private_key_id,
            key,
            token_uri,
            send_url,
            client,
            clock,
            token: Mutex::new(None),
        })
    }

    /// The signed JWT-bearer assertion for a token request at `now`.
    fn assertion(&self, now: i64) -> Result<String, SendError> {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.key_id});
        let claims = json!({
            "iss": self.client_email,
            "scope": FCM_SCOPE,
            "aud": self.token_uri.as_str(),
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &nokkel_core::random::ring_random(),
                input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| SendError::Transient("FCM assertion not signed".to_owned()))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    /// A valid access token: the cached one, or a new one from the token URI.
    async fn access_token(&self) -> Result<String, SendError> {
        let mut cached = self.token.lock().await;
        let now = self.clock.unix();
        if let Some((token, until)) = cached.as_ref() {
            if *until > now {
                return Ok(token.clone());
            }
        }
        #[derive(Deserialize)]
        struct TokenAnswer {
            access_token: String,
            expires_in: i64,
        }
        let assertion = self.assertion(now)?;
        let response = self
            .client
            .post(self.token_uri.clone())
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|e| SendError::Transient(format!("FCM token endpoint unreachable: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            return Err(SendError::Transient(format!(
                "FCM token endpoint answered {status}"
            )));
        }
        let answer: TokenAnswer = response
            .json()
            .await
            .map_err(|_| SendError::Transient("FCM token answer not understood".to_owned()))?;
        // Renew a minute early, so a token never expires on its way.
        *cached = Some((answer.access_token.clone(), now + answer.expires_in - 60));
        Ok(answer.access_token)
    }

    /// Sends `notice` to the device with FCM registration `token`, alive `ttl` seconds.
    pub async fn send(
        &self,
        token: &str,
        notice: &PushNotice,
        ttl: i64,
    ) -> Result<FcmOutcome, SendError> {
        let kind = serde_json::to_value(notice.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let body = json!({"message": {
            "token": token,
            "data": {"v": "1", "type": kind, "id": notice.id},
            "android": {
                "priority": "HIGH",
                "ttl": format!("{ttl}s"),
                "notification": {
                    "title_loc_key": ANDROID_TITLE_KEY,
                    "body_loc_key": ANDROID_BODY_KEY,
                    "tag": "login-waiting",
                },
            },
        }});
        let bearer = self.access_token().await?;
        let response = self
            .client
            .post(self.send_url.clone())
            .bearer_auth(&bearer)
            .json(&body)
            .send()
            .await
            .map_err(|e| SendError::Transient(format!("FCM unreachable: {}", e.without_url())))?;
        let status = response.status();
        if status.is_success() {
            return Ok(FcmOutcome::Sent);
        }
        let reason = format!("FCM answered {status}");
        let answer = response.text().await.unwrap_or_default();
        if status == reqwest::StatusCode::NOT_FOUND || answer.contains("\"UNREGISTERED\"") {
            return Ok(FcmOutcome::Gone(reason));
        }
        if status == reqwest::StatusCode::UNAUTHORIZED {
            *self.token.lock().await = None;
            return Err(SendError::Transient(reason));
        }
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            Err(SendError::Transient(reason))
        } else {
            Err(SendError::Permanent(reason))
        }
    }
}
