//! Pushes: through Web Push (RFC 8030), one encrypted POST per message to the device's
//! subscription endpoint; through FCM ([`super::fcm`]) to an FCM token; or through APNs
//! ([`super::apns`]) to an APNs device token.
//!
//! ```text
//! POST {endpoint}
//! TTL: {seconds until the login expires}
//! Urgency: high
//! Content-Encoding: aes128gcm
//! Authorization: vapid t={ES256 JWT: aud = endpoint origin, exp ≤ 12 h, sub}, k={public key}
//!
//! {RFC 8291 body: {"v":1,"type":"login_waiting","id":"…"} encrypted to p256dh/auth}
//! ```
//!
//! The registration is read (and opened) when the push is sent, so one cleared or replaced
//! meanwhile is honoured. 2xx: accepted. 404 or 410: the subscription is gone; it is
//! removed and the push is not tried again. 408, 429, 5xx or no answer: try again later
//! (while the login lasts). Any other status: refused for good. Redirects are not followed.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nokkel_core::clock::Clock;
use nokkel_core::push::web_push::{self, VapidClaims};
use nokkel_core::push::{PushRegistration, WebPushSubscription};
use nokkel_core::random::{Random, RandomRng};
use nokkel_core::wire::PushNotice;

use super::apns::Apns;
use super::fcm::{Fcm, FcmOutcome};
use super::{Outgoing, SendError, Sender};
use crate::config::PushConfig;
use crate::secrets::ServerSecrets;
use crate::services::outbound::PushMessage;
use crate::store::{Channel, Store};

/// How long a VAPID JWT is valid (RFC 8292 allows up to 24 hours).
const VAPID_LIFETIME: i64 = 12 * 60 * 60;

/// Sends pushes to Web Push endpoints.
pub struct WebPushSender {
    store: Store,
    secrets: Arc<ServerSecrets>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    vapid: p256::ecdsa::SigningKey,
    subject: String,
    /// Which endpoints may be pushed to (`web_push_hosts`, `danger_allow_http_loopback`).
    config: PushConfig,
    client: reqwest::Client,
    fcm: Option<Fcm>,
    apns: Option<Apns>,
}

impl WebPushSender {
    /// A sender for `config` signing with the VAPID key `vapid_key` (32 bytes); fails with
    /// a readable reason on a bad subject or key.
    pub fn new(
        config: &PushConfig,
        vapid_key: &[u8; 32],
        store: Store,
        secrets: Arc<ServerSecrets>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Result<Self, String> {
        let subject = config.vapid_subject.trim();
        if !(subject.starts_with("mailto:") || subject.starts_with("https:")) {
            return Err("push.vapid_subject must be a mailto: or https: URI".to_owned());
        }
        let vapid = p256::ecdsa::SigningKey::from_slice(vapid_key)
            .map_err(|_| "the VAPID key is not a P-256 private key".to_owned())?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_seconds.max(1)))
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .build()
            .map_err(|e| format!("push HTTP client: {e}"))?;
        let fcm = match &config.fcm_service_account_file {
            Some(file) => Some(Fcm::new(
                file,
                &config.fcm_url,
                client.clone(),
                clock.clone(),
                config.danger_allow_http_loopback,
            )?),
            None => None,
        };
        let apns = match &config.apns {
            Some(apns) => Some(Apns::new(
                apns,
                Duration::from_secs(config.timeout_seconds.max(1)),
                clock.clone(),
                config.danger_allow_http_loopback,
            )?),
            None => None,
        };
        Ok(Self {
            fcm,
            apns,
            store,
            secrets,
            clock,
            random,
            vapid,
            subject: subject.to_owned(),
            config: config.clone(),
            client,
        })
    }

    /// The VAPID public key (uncompressed, base64url): what a browser's
    /// `applicationServerKey` must be for its subscription to be pushed to by this server.
    pub fn public_key(&self) -> String {
        vapid_public_key(&self.vapid)
    }

    async fn send_one(&self, message: &Outgoing) -> Result<(), SendError> {
        let push: PushMessage = serde_json::from_slice(&message.body)
            .map_err(|_| SendError::Permanent("push body is not a push message".to_owned()))?;
        let ttl = push.expires_at - self.clock.unix();
        if ttl <= 0 {
            return Err(SendError::Permanent(
                "the login expired before the push was sent".to_owned(),
            ));
        }
        let Some(record) = self
            .store
            .push_registration(&push.device_id)
            .await
            .map_err(|e| SendError::Transient(format!("push registration not read: {e}")))?
        else {
            return Err(SendError::Permanent(
                "the device has no push registration".to_owned(),
            ));
        };
        let registration: PushRegistration = self
            .secrets
            .open(&record.registration_sealed)
            .ok()
            .and_then(|plain| serde_json::from_slice(&plain).ok())
            .ok_or_else(|| SendError::Permanent("push registration cannot be opened".to_owned()))?;
        let outcome = match registration {
            PushRegistration::WebPush(subscription) => {
                self.send_web_push(&subscription, &push.notice, ttl).await?
            }
            PushRegistration::Fcm { token } => match &self.fcm {
                Some(fcm) => fcm.send(&token, &push.notice, ttl).await?,
                None => {
                    return Err(SendError::Permanent(
                        "FCM is not configured on this server".to_owned(),
                    ))
                }
            },
            PushRegistration::Apns {
                device_token,
                environment,
            } => match &self.apns {
                Some(apns) => {
                    apns.send(&device_token, environment, &push.notice, push.expires_at)
                        .await?
                }
                None => {
                    return Err(SendError::Permanent(
                        "APNs is not configured on this server".to_owned(),
                    ))
                }
            },
        };
        match outcome {
            FcmOutcome::Sent => Ok(()),
            FcmOutcome::Gone(reason) => {
                // The subscription or token expired or was unregistered: forget it,
                // unless the device has registered anew since.
                self.store
                    .clear_push_registration_if(&push.device_id, &record.registration_sealed)
                    .await
                    .map_err(|e| SendError::Transient(format!("{reason}; not removed: {e}")))?;
                Err(SendError::Permanent(format!(
                    "{reason}: the registration is gone and was removed"
                )))
            }
        }
    }

    async fn send_web_push(
        &self,
        subscription: &WebPushSubscription,
        notice: &PushNotice,
        ttl: i64,
    ) -> Result<FcmOutcome, SendError> {
        if !self.config.allows_endpoint(subscription) {
            return Err(SendError::Permanent(
                "the endpoint is not at a push service this server sends to (push.web_push_hosts)"
                    .to_owned(),
            ));
        }
        let notice = serde_json::to_vec(notice)
            .map_err(|_| SendError::Permanent("push notice not encoded".to_owned()))?;
        let mut salt = [0u8; 16];
        self.random.fill(&mut salt);
        let ephemeral = p256::SecretKey::random(&mut RandomRng::new(self.random.as_ref()));
        let body = web_push::encrypt(&notice, subscription, &ephemeral, &salt)
            .map_err(|e| SendError::Permanent(format!("push not encrypted: {e}")))?;
        let audience = web_push::origin(subscription.endpoint())
            .ok_or_else(|| SendError::Permanent("push endpoint has no origin".to_owned()))?;
        let authorization = web_push::vapid_authorization(
            &self.vapid,
            &VapidClaims {
                aud: audience.to_owned(),
                exp: self.clock.unix() + VAPID_LIFETIME,
                sub: self.subject.clone(),
            },
        );
        let response = self
            .client
            .post(subscription.endpoint())
            .header("TTL", ttl.to_string())
            .header("Urgency", "high")
            .header(reqwest::header::CONTENT_ENCODING, "aes128gcm")
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header(reqwest::header::AUTHORIZATION, authorization)
            .body(body)
            .send()
            .await
            // The endpoint is a secret: the error text names the failure, not the URL.
            .map_err(|e| {
                SendError::Transient(format!("push service unreachable: {}", e.without_url()))
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(FcmOutcome::Sent);
        }
        let reason = format!("push service answered {status}");
        if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
            return Ok(FcmOutcome::Gone(reason));
        }
        if status.is_server_error()
            || status == reqwest::StatusCode::REQUEST_TIMEOUT
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        {
            Err(SendError::Transient(reason))
        } else {
            Err(SendError::Permanent(reason))
        }
    }
}

/// The uncompressed public key of `key`, base64url: the VAPID `k`.
pub fn vapid_public_key(key: &p256::ecdsa::SigningKey) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(key.verifying_key().to_encoded_point(false).as_bytes())
}

#[async_trait]
impl Sender for WebPushSender {
    fn channel(&self) -> Channel {
        Channel::Push
    }

    async fn send(&self, batch: &[Outgoing]) -> Vec<Result<(), SendError>> {
        let mut results = Vec::with_capacity(batch.len());
        for message in batch {
            results.push(self.send_one(message).await);
        }
        results
    }
}
