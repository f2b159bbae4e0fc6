//! Text messages through an SMS aggregator's HTTPS endpoint: one signed JSON request per
//! message. The contract (docs/OPERATIONS.md) is small on purpose, so that an adapter for
//! any aggregator is an afternoon's work:
//!
//! ```text
//! POST {url}
//! Content-Type: application/json
//! Idempotency-Key: {key}
//! X-Nokkel-Timestamp: {unix seconds}
//! X-Nokkel-Signature: v1={hex HMAC-SHA256(secret, timestamp + "." + body)}
//!
//! {"id": key, "to": "+4791234567", "text": "…", "encoding": "gsm7", "segments": 1,
//!  "purpose": "login_otp"}
//! ```
//!
//! 2xx: accepted (also for a copy the peer discarded by its key). 408, 429 and 5xx, or
//! no answer: try again later. Any other status: refused for good.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use nokkel_core::clock::Clock;
use nokkel_core::sms::SmsLength;
use ring::hmac;
use serde::Serialize;

use super::{Outgoing, SendError, Sender};
use crate::config::SmsConfig;
use crate::store::Channel;

/// Sends text messages to the configured aggregator.
pub struct HttpSmsSender {
    url: reqwest::Url,
    key: hmac::Key,
    client: reqwest::Client,
    clock: std::sync::Arc<dyn Clock>,
}

#[derive(Serialize)]
struct Body<'a> {
    id: &'a str,
    to: &'a str,
    text: &'a str,
    encoding: nokkel_core::sms::SmsEncoding,
    segments: usize,
    purpose: &'a str,
}

/// Reads the first line of a secret file, trimmed.
pub(crate) fn read_secret(path: &Path, what: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {what} from {}: {e}", path.display()))?;
    let secret = text.lines().next().unwrap_or_default().trim().to_owned();
    if secret.is_empty() {
        return Err(format!("{what} file {} is empty", path.display()));
    }
    Ok(secret)
}

/// Whether `host` is a loopback address (plain HTTP or SMTP is allowed only there).
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl HttpSmsSender {
    /// A sender for `config`; fails with a readable reason on a bad URL or secret.
    pub fn new(config: &SmsConfig, clock: std::sync::Arc<dyn Clock>) -> Result<Self, String> {
        let url = reqwest::Url::parse(&config.url)
            .map_err(|e| format!("sms.url {:?} is not a URL: {e}", config.url))?;
        let host = url.host_str().unwrap_or_default();
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(host) => {}
            _ => return Err("sms.url must be https:// (http:// only to loopback)".to_owned()),
        }
        let secret = read_secret(&config.hmac_secret_file, "sms.hmac_secret_file")?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_seconds.max(1)))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| format!("SMS HTTP client: {e}"))?;
        Ok(Self {
            url,
            key: hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()),
            client,
            clock,
        })
    }

    /// The signature header's value for `body` at `timestamp`.
    pub fn signature(&self, timestamp: i64, body: &[u8]) -> String {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(timestamp.to_string().as_bytes());
        context.update(b".");
        context.update(body);
        let tag = context.sign();
        let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        format!("v1={hex}")
    }

    async fn send_one(&self, message: &Outgoing) -> Result<(), SendError> {
        let text = String::from_utf8_lossy(&message.body);
        let length = SmsLength::of(&text);
        let body = serde_json::to_vec(&Body {
            id: &message.idempotency_key,
            to: &message.recipient,
            text: &text,
            encoding: length.encoding,
            segments: length.segments,
            purpose: &message.purpose,
        })
        .map_err(|e| SendError::Permanent(format!("cannot encode: {e}")))?;
        let timestamp = self.clock.unix();
        let response = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", &message.idempotency_key)
            .header("X-Nokkel-Timestamp", timestamp.to_string())
            .header("X-Nokkel-Signature", self.signature(timestamp, &body))
            .body(body)
            .send()
            .await
            // reqwest's error names the URL, never the body.
            .map_err(|e| SendError::Transient(format!("SMS aggregator unreachable: {e}")))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let reason = format!("SMS aggregator answered {status}");
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

#[async_trait]
impl Sender for HttpSmsSender {
    fn channel(&self) -> Channel {
        Channel::Sms
    }

    async fn send(&self, batch: &[Outgoing]) -> Vec<Result<(), SendError>> {
        let mut results = Vec::with_capacity(batch.len());
        for message in batch {
            results.push(self.send_one(message).await);
        }
        results
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_documented_vector() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "s3cret-shared-with-the-aggregator\n").unwrap();
        let sender = HttpSmsSender::new(
            &SmsConfig {
                url: "https://sms.example/send".to_owned(),
                hmac_secret_file: secret,
                timeout_seconds: 5,
            },
            std::sync::Arc::new(nokkel_core::clock::FixedClock::at_unix(1_700_000_000)),
        )
        .unwrap();
        // The vector in docs/OPERATIONS.md, computed independently with Python's hmac.
        assert_eq!(
            sender.signature(1_700_000_000, br#"{"id":"sms-1"}"#),
            "v1=429aad23757ca0df0bb95a3c258bbbbcc588d45ffd88156e8e3068dc639896f9"
        );
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("[::1]"));
        assert!(is_loopback("localhost"));
        assert!(!is_loopback("sms.example"));
        assert!(!is_loopback("10.0.0.1"));
        let config = SmsConfig {
            url: "http://sms.example/send".to_owned(),
            hmac_secret_file: "/nonexistent".into(),
            timeout_seconds: 5,
        };
        let clock = std::sync::Arc::new(nokkel_core::clock::FixedClock::at_unix(0));
        let err = HttpSmsSender::new(&config, clock).err().unwrap();
        assert!(err.contains("https://"), "{err}");
    }
}
