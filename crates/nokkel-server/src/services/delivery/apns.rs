//! Apple Push Notification service: the way to wake iPhones.
//!
//! Token-based provider authentication: the server holds the team's APNs signing key (a
//! `.p8` file, PKCS#8 P-256) and signs an ES256 provider JWT (header `alg=ES256, kid=<key
//! id>`, claims `iss=<team id>, iat`), which it reuses for [`TOKEN_RENEW_AFTER`] seconds:
//! Apple refuses a token older than an hour and throttles one renewed more often than every
//! 20 minutes. Each push is one HTTP/2 request:
//!
//! ```text
//! POST {base}/3/device/{device token}
//! authorization: bearer {provider JWT}
//! apns-topic: {bundle id}
//! apns-push-type: alert
//! apns-priority: 10
//! apns-expiration: {Unix time the login expires}
//! apns-collapse-id: login-waiting
//!
//! {"aps":{"alert":{"loc-key":"LOGIN_WAITING"},"sound":"default"},
//!  "v":1,"type":"login_waiting","id":"…"}
//! ```
//!
//! `base` is the production or sandbox host, after the token's environment. An alert, not a
//! background push: a background push shows nothing to the person, iOS delays or drops it
//! at will (a few an hour at most) and it may not have priority 10, whereas a waiting login
//! needs the person now. The alert is a localisation key the app translates, so the text
//! Apple sees names no one and no service. The collapse id is the same for every push: APNs
//! collapses per device, so a device shows only the latest waiting login, and Apple gets no
//! identifier of ours.
//!
//! 200: sent. 410 (`Unregistered`) or 400 `BadDeviceToken`: the token is gone. 403
//! `ExpiredProviderToken`: the JWT is dropped and the push tried again; other 403s (a wrong
//! key, team or topic): refused, for the operator. 429 and 5xx: tried again. Other answers:
//! refused.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use nokkel_core::clock::Clock;
use nokkel_core::push::ApnsEnvironment;
use nokkel_core::wire::PushNotice;
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::DecodePrivateKey as _;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Mutex;

use super::fcm::{checked_url, FcmOutcome};
use super::SendError;
use crate::config::ApnsConfig;

/// Seconds a provider JWT is reused: past Apple's 20-minute renewal throttle, well short
/// of its one-hour limit.
pub const TOKEN_RENEW_AFTER: i64 = 50 * 60;
/// The collapse id of every push (APNs collapses per device token).
pub const COLLAPSE_ID: &str = "login-waiting";

/// An APNs client for one signing key and app.
pub struct Apns {
    team_id: String,
    key_id: String,
    key: p256::ecdsa::SigningKey,
    topic: String,
    production: reqwest::Url,
    sandbox: reqwest::Url,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
    /// The cached provider JWT and when (Unix seconds) it was issued.
    token: Mutex<Option<(String, i64)>>,
}

impl std::fmt::Debug for Apns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Apns")
            .field("key_id", &self.key_id)
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl Apns {
    /// A client for `config`; fails with a readable reason (never the key) on a bad key
    /// file or URL.
    pub fn new(
        config: &ApnsConfig,
        timeout: Duration,
        clock: Arc<dyn Clock>,
        allow_http_loopback: bool,
    ) -> Result<Self, String> {
        let pem = std::fs::read_to_string(&config.key_file).map_err(|e| {
            format!(
                "cannot read push.apns.key_file {}: {e}",
                config.key_file.display()
            )
        })?;
        let key = p256::ecdsa::SigningKey::from_pkcs8_pem(&pem)
            .map_err(|_| "push.apns.key_file is not a PKCS#8 P-256 key (.p8)".to_owned())?;
        for (value, what) in [
            (&config.team_id, "team_id"),
            (&config.key_id, "key_id"),
            (&config.bundle_id, "bundle_id"),
        ] {
            if value.trim().is_empty() || !value.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(format!("push.apns.{what} must be set"));
            }
        }
        let production = checked_url(
            &config.production_url,
            "push.apns.production_url",
            allow_http_loopback,
        )?;
        let sandbox = checked_url(
            &config.sandbox_url,
            "push.apns.sandbox_url",
            allow_http_loopback,
        )?;
        // HTTP/2 only: over TLS it is chosen by ALPN; to a plain-http loopback peer (test
        // servers only, checked above) it is spoken with prior knowledge (h2c).
        let client = reqwest::Client::builder()
            .http2_prior_knowledge()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .build()
            .map_err(|e| format!("APNs HTTP client: {e}"))?;
        Ok(Self {
            team_id: config.team_id.clone(),
            key_id: config.key_id.clone(),
            key,
            topic: config.bundle_id.clone(),
            production,
            sandbox,
            client,
            clock,
            token: Mutex::new(None),
        })
    }

    /// The provider JWT signed at `now`.
    fn sign(&self, now: i64) -> String {
        let header = json!({"alg": "ES256", "kid": self.key_id});
        let claims = json!({"iss": self.team_id, "iat": now});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        // RFC 6979 deterministic ECDSA: no randomness needed.
        let signature: p256::ecdsa::Signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    /// A valid provider JWT: the cached one, or a new one when it is due for renewal.
    async fn provider_token(&self) -> String {
        let mut cached = self.token.lock().await;
        let now = self.clock.unix();
        if let Some((token, issued)) = cached.as_ref() {
            if now - issued < TOKEN_RENEW_AFTER && now >= *issued {
                return token.clone();
            }
        }
        let token = self.sign(now);
        *cached = Some((token.clone(), now));
        token
    }

    /// Sends `notice` to the device with APNs `device_token` in `environment`; APNs
    /// discards it after `expires_at` (Unix seconds).
    pub async fn send(
        &self,
        device_token: &str,
        environment: ApnsEnvironment,
        notice: &PushNotice,
        expires_at: i64,
    ) -> Result<FcmOutcome, SendError> {
        let base = match environment {
            ApnsEnvironment::Production => &self.production,
            ApnsEnvironment::Sandbox => &self.sandbox,
        };
        // The token is hexadecimal (checked when it was registered).
        let url = base
            .join(&format!("3/device/{device_token}"))
            .map_err(|_| SendError::Permanent("APNs URL not formed".to_owned()))?;
        let mut payload = serde_json::to_value(notice)
            .map_err(|_| SendError::Permanent("push notice not encoded".to_owned()))?;
        if let Some(object) = payload.as_object_mut() {
            object.insert(
                "aps".to_owned(),
                json!({"alert": {"loc-key": nokkel_core::push::APNS_ALERT_LOC_KEY}, "sound": "default"}),
            );
        }
        let bearer = self.provider_token().await;
        let response = self
            .client
            .post(url)
            .header(reqwest::header::AUTHORIZATION, format!("bearer {bearer}"))
            .header("apns-topic", &self.topic)
            .header("apns-push-type", "alert")
            .header("apns-priority", "10")
            .header("apns-expiration", expires_at.to_string())
            .header("apns-collapse-id", COLLAPSE_ID)
            .json(&payload)
            .send()
            .await
            // The URL holds the device token: the error names the failure, not the URL.
            .map_err(|e| SendError::Transient(format!("APNs unreachable: {}", e.without_url())))?;
        let status = response.status();
        if status.is_success() {
            return Ok(FcmOutcome::Sent);
        }
        #[derive(Deserialize)]
        struct Answer {
            reason: String,
        }
        // Apple's reasons are fixed words ("Unregistered", "BadDeviceToken"); anything
        // else is not echoed.
        let reason = response
            .json::<Answer>()
            .await
            .ok()
            .map(|a| a.reason)
            .filter(|r| r.len() <= 64 && r.bytes().all(|b| b.is_ascii_alphanumeric()))
            .unwrap_or_default();
        let text = format!("APNs answered {status} {reason}").trim().to_owned();
        match (status.as_u16(), reason.as_str()) {
            (410, _) | (400, "BadDeviceToken") => Ok(FcmOutcome::Gone(text)),
            (403, "ExpiredProviderToken") => {
                *self.token.lock().await = None;
                Err(SendError::Transient(text))
            }
            (429, _) | (500..=599, _) => Err(SendError::Transient(text)),
            _ => Err(SendError::Permanent(text)),
        }
    }
}
