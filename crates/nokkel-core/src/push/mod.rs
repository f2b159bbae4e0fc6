//! Push registrations: where the server may wake a device when a login waits for it.
//!
//! A device registers at most one: an FCM registration token (Android with Google
//! services), an APNs device token (iOS), or a Web Push subscription (RFC 8030/8291: any
//! browser or UnifiedPush distributor, and testers). Each is parsed once, at the edge
//! ([`PushRegistration`] deserializes only when valid), and is a secret: whoever holds it
//! can wake the phone, so no `Debug` output shows it.
//!
//! A push says only that a login is waiting (see docs/PROTOCOL.md, "Push"); the app then
//! fetches the signed challenge itself, so a forged push can do nothing.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub mod web_push;

/// Longest FCM registration token accepted (they are about 160 characters today).
pub const MAX_FCM_TOKEN_LEN: usize = 4096;
/// Longest Web Push endpoint URL accepted.
pub const MAX_ENDPOINT_LEN: usize = 2048;

/// Why a push registration was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PushError {
    /// The FCM token is empty, too long, or holds other than printable ASCII.
    #[error("the FCM token must be 1 to 4096 printable ASCII characters")]
    FcmToken,
    /// The APNs device token is not 32 to 100 bytes of hexadecimal.
    #[error("the APNs device token must be 64 to 200 hexadecimal digits")]
    ApnsToken,
    /// The endpoint is not an `https://` URL with a host, of at most 2048 characters.
    #[error("the Web Push endpoint must be an https URL of at most 2048 characters")]
    Endpoint,
    /// The endpoint's host is not one of the push services this server sends to.
    #[error("the Web Push endpoint is not at a push service this server sends to")]
    EndpointHost,
    /// `p256dh` is not the base64url of an uncompressed P-256 public key.
    #[error("p256dh must be the base64url of an uncompressed P-256 public key (65 bytes)")]
    P256dh,
    /// `auth` is not the base64url of 16 bytes.
    #[error("auth must be the base64url of 16 bytes")]
    Auth,
    /// A push payload does not fit one 4096-byte record.
    #[error("the push payload is too long")]
    PayloadTooLong,
    /// A push body could not be encrypted or opened.
    #[error("the push body cannot be opened")]
    Crypto,
    /// A VAPID header is malformed, badly signed, for another audience or expired.
    #[error("the VAPID authorization is not valid")]
    Vapid,
}

impl PushError {
    /// The stable API error code.
    pub fn code(&self) -> &'static str {
        "invalid_push_registration"
    }
}

/// The APNs environment a device token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApnsEnvironment {
    /// Development builds (`api.sandbox.push.apple.com`).
    Sandbox,
    /// App Store and TestFlight builds (`api.push.apple.com`).
    Production,
}

/// Which push service a registration uses (stored in the clear; the rest is sealed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushKind {
    /// Firebase Cloud Messaging (HTTP v1).
    Fcm,
    /// Apple Push Notification service.
    Apns,
    /// Web Push (RFC 8030, payload per RFC 8291, VAPID per RFC 8292).
    WebPush,
}

impl PushKind {
    /// The name on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fcm => "fcm",
            Self::Apns => "apns",
            Self::WebPush => "web_push",
        }
    }
}

/// A Web Push subscription (the browser's `PushSubscription`): where to POST, and the keys
/// the payload is encrypted to (RFC 8291).
#[derive(Clone, PartialEq, Eq)]
pub struct WebPushSubscription {
    endpoint: String,
    p256dh: [u8; 65],
    auth: [u8; 16],
}

impl WebPushSubscription {
    /// Checks the three parts: an https endpoint (or plain http to a loopback address,
    /// which only a test server accepts, see [`Self::is_plain_http`]), the user agent's
    /// uncompressed P-256 public key (base64url) and its 16-byte authentication secret
    /// (base64url).
    pub fn parse(endpoint: &str, p256dh: &str, auth: &str) -> Result<Self, PushError> {
        let host = match endpoint.strip_prefix("https://") {
            Some(rest) => host_of(rest),
            None => endpoint
                .strip_prefix("http://")
                .map(host_of)
                .filter(|host| is_loopback(host))
                .unwrap_or(""),
        };
        if host.is_empty()
            || endpoint.len() > MAX_ENDPOINT_LEN
            || !endpoint.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(PushError::Endpoint);
        }
        let key: [u8; 65] = URL_SAFE_NO_PAD
            .decode(p256dh.trim_end_matches('='))
            .ok()
            .and_then(|k| k.try_into().ok())
            .ok_or(PushError::P256dh)?;
        if p256::PublicKey::from_sec1_bytes(&key).is_err() {
            return Err(PushError::P256dh);
        }
        let secret: [u8; 16] = URL_SAFE_NO_PAD
            .decode(auth.trim_end_matches('='))
            .ok()
            .and_then(|a| a.try_into().ok())
            .ok_or(PushError::Auth)?;
        Ok(Self {
            endpoint: endpoint.to_owned(),
            p256dh: key,
            auth: secret,
        })
    }

    /// The endpoint's host name (or address), without userinfo or port.
    pub fn host(&self) -> &str {
        let rest = self
            .endpoint
            .split_once("://")
            .map_or(self.endpoint.as_str(), |(_, rest)| rest);
        let authority = host_of(rest);
        let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => authority.split(':').next().unwrap_or(""),
        }
    }

    /// Whether the endpoint is plain `http://` (to a loopback address: a test peer).
    pub fn is_plain_http(&self) -> bool {
        self.endpoint.starts_with("http://")
    }

    /// The push service URL to POST to (a capability: keep it secret).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The user agent's public key, uncompressed SEC1 (`0x04 || x || y`).
    pub fn p256dh(&self) -> &[u8; 65] {
        &self.p256dh
    }

    /// The authentication secret.
    pub fn auth(&self) -> &[u8; 16] {
        &self.auth
    }
}

/// The key of the alert text an APNs push asks iOS to show (`aps.alert.loc-key`): the app
/// ships it in `Localizable.strings` in nb, nn and en, so the push carries no text.
pub const APNS_ALERT_LOC_KEY: &str = "LOGIN_WAITING";
/// The app's Android string resource an FCM push names as its notification's title
/// (`android.notification.title_loc_key`), shipped in nb, nn and en.
pub const ANDROID_TITLE_KEY: &str = "nokkel_login_waiting_title";
/// The app's Android string resource for the notification's body (`body_loc_key`).
pub const ANDROID_BODY_KEY: &str = "nokkel_login_waiting_body";

/// The Web Push services a server sends to unless its operator says otherwise: Chrome's
/// (FCM), Firefox's (Mozilla autopush), Safari's (Apple), Edge's (Windows Push
/// Notification Services) and the public UnifiedPush distributor ntfy.sh. A pattern is a
/// host name, `*.` and a domain (any name under it), or `*` (any host).
pub const KNOWN_WEB_PUSH_HOSTS: &[&str] = &[
    "fcm.googleapis.com",
    "*.push.services.mozilla.com",
    "web.push.apple.com",
    "*.notify.windows.com",
    "ntfy.sh",
];

/// Whether `host` (a host name, any case, without port) matches one of `patterns` (see
/// [`KNOWN_WEB_PUSH_HOSTS`]). `*.example.net` matches `a.example.net` and
/// `a.b.example.net`, not `example.net` itself or `badexample.net`.
pub fn host_matches<S: AsRef<str>>(host: &str, patterns: &[S]) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    patterns.iter().any(|pattern| {
        let pattern = pattern.as_ref().trim_end_matches('.').to_ascii_lowercase();
        match pattern.strip_prefix("*.") {
            _ if pattern == "*" => true,
            Some(domain) => host
                .strip_suffix(domain)
                .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
            None => host == pattern,
        }
    })
}

/// The host (and port) part of a URL after its scheme.
fn host_of(rest: &str) -> &str {
    rest.split(['/', '?', '#']).next().unwrap_or("")
}

/// Whether `host` (with an optional port) is a loopback address.
fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Where the server may wake one device. Deserializes only when valid.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawRegistration", into = "RawRegistration")]
pub enum PushRegistration {
    /// An FCM registration token.
    Fcm {
        /// The token.
        token: String,
    },
    /// An APNs device token (lower-case hexadecimal) and its environment.
    Apns {
        /// The token.
        device_token: String,
        /// Sandbox or production.
        environment: ApnsEnvironment,
    },
    /// A Web Push subscription.
    WebPush(WebPushSubscription),
}

impl PushRegistration {
    /// An FCM registration token.
    pub fn fcm(token: &str) -> Result<Self, PushError> {
        if token.is_empty()
            || token.len() > MAX_FCM_TOKEN_LEN
            || !token.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(PushError::FcmToken);
        }
        Ok(Self::Fcm {
            token: token.to_owned(),
        })
    }

    /// An APNs device token (hexadecimal, any case) for `environment`.
    pub fn apns(device_token: &str, environment: ApnsEnvironment) -> Result<Self, PushError> {
        if !(64..=200).contains(&device_token.len())
            || !device_token.len().is_multiple_of(2)
            || !device_token.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(PushError::ApnsToken);
        }
        Ok(Self::Apns {
            device_token: device_token.to_ascii_lowercase(),
            environment,
        })
    }

    /// A Web Push subscription; see [`WebPushSubscription::parse`].
    pub fn web_push(endpoint: &str, p256dh: &str, auth: &str) -> Result<Self, PushError> {
        WebPushSubscription::parse(endpoint, p256dh, auth).map(Self::WebPush)
    }

    /// Which push service it uses.
    pub fn kind(&self) -> PushKind {
        match self {
            Self::Fcm { .. } => PushKind::Fcm,
            Self::Apns { .. } => PushKind::Apns,
            Self::WebPush(_) => PushKind::WebPush,
        }
    }
}

impl fmt::Debug for PushRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PushRegistration({}, <redacted>)", self.kind().as_str())
    }
}

impl fmt::Debug for WebPushSubscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebPushSubscription(<redacted>)")
    }
}

/// The wire form, before checking.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum RawRegistration {
    Fcm {
        token: String,
    },
    Apns {
        device_token: String,
        environment: ApnsEnvironment,
    },
    WebPush {
        endpoint: String,
        p256dh: String,
        auth: String,
    },
}

impl TryFrom<RawRegistration> for PushRegistration {
    type Error = PushError;

    fn try_from(raw: RawRegistration) -> Result<Self, PushError> {
        match raw {
            RawRegistration::Fcm { token } => Self::fcm(&token),
            RawRegistration::Apns {
                device_token,
                environment,
            } => Self::apns(&device_token, environment),
            RawRegistration::WebPush {
                endpoint,
                p256dh,
                auth,
            } => Self::web_push(&endpoint, &p256dh, &auth),
        }
    }
}

impl From<PushRegistration> for RawRegistration {
    fn from(registration: PushRegistration) -> Self {
        match registration {
            PushRegistration::Fcm { token } => Self::Fcm { token },
            PushRegistration::Apns {
                device_token,
                environment,
            } => Self::Apns {
                device_token,
                environment,
            },
            PushRegistration::WebPush(sub) => Self::WebPush {
                p256dh: URL_SAFE_NO_PAD.encode(sub.p256dh),
                auth: URL_SAFE_NO_PAD.encode(sub.auth),
                endpoint: sub.endpoint,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 8291 appendix A: the user agent's public key and authentication secret.
    const UA_PUBLIC: &str =
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

    #[test]
    fn web_push_round_trips_and_hides_its_parts() {
        let json = format!(
            r#"{{"kind":"web_push","endpoint":"https://push.example.net/p/JzLQ3raZJfFBR0aqvOMsLrt54w4rJUsV","p256dh":"{UA_PUBLIC}","auth":"{AUTH}"}}"#
        );
        let reg: PushRegistration = serde_json::from_str(&json).unwrap();
        assert_eq!(reg.kind(), PushKind::WebPush);
        let PushRegistration::WebPush(sub) = &reg else {
            panic!("not web push")
        };
        assert_eq!(sub.auth().len(), 16);
        assert_eq!(sub.p256dh()[0], 4);
        assert_eq!(serde_json::to_string(&reg).unwrap(), json);
        let debug = format!("{reg:?} {sub:?}");
        assert!(
            !debug.contains("push.example") && !debug.contains("BCVx"),
            "{debug}"
        );
    }

    #[test]
    fn endpoint_hosts_match_names_and_subdomains_only() {
        let host = |endpoint: &str| {
            let PushRegistration::WebPush(sub) =
                PushRegistration::web_push(endpoint, UA_PUBLIC, AUTH).unwrap()
            else {
                panic!("not web push")
            };
            sub.host().to_owned()
        };
        assert_eq!(
            host("https://fcm.googleapis.com/fcm/send/abc"),
            "fcm.googleapis.com"
        );
        assert_eq!(
            host("https://Updates.Push.Services.Mozilla.com:443/wpush/v2/x"),
            "Updates.Push.Services.Mozilla.com"
        );
        assert_eq!(host("https://user@ntfy.sh/up?x=1"), "ntfy.sh");
        assert_eq!(host("http://[::1]:9/p"), "::1");
        assert_eq!(host("http://127.0.0.1:8080/push/1"), "127.0.0.1");
        let known = KNOWN_WEB_PUSH_HOSTS;
        for allowed in [
            "fcm.googleapis.com",
            "updates.push.services.mozilla.com",
            "Updates.Push.Services.Mozilla.com.",
            "web.push.apple.com",
            "wns2-db5p.notify.windows.com",
            "ntfy.sh",
        ] {
            assert!(host_matches(allowed, known), "{allowed}");
        }
        for refused in [
            "push.services.mozilla.com",
            "evilpush.services.mozilla.com",
            "fcm.googleapis.com.evil.example",
            "ntfy.sh.evil.example",
            "intranet.local",
            "10.0.0.1",
            "",
        ] {
            assert!(!host_matches(refused, known), "{refused}");
        }
        assert!(host_matches("anything.example", &["*"]));
        assert!(!host_matches("anything.example", &[] as &[&str]));
    }

    #[test]
    fn bad_subscriptions_are_refused() {
        let ok = |e: &str, k: &str, a: &str| PushRegistration::web_push(e, k, a);
        assert!(ok("https://push.example.net/x", UA_PUBLIC, AUTH).is_ok());
        for loopback in [
            "http://127.0.0.1:8080/push/1",
            "http://localhost/p",
            "http://[::1]:9/p",
        ] {
            let PushRegistration::WebPush(sub) = ok(loopback, UA_PUBLIC, AUTH).unwrap() else {
                panic!("not web push")
            };
            assert!(sub.is_plain_http());
        }
        for endpoint in [
            "http://push.example.net/x",
            "http://10.0.0.1/x",
            "http://127.0.0.1.example/x",
            "https:///x",
            "https://push example/x",
            "file:///etc/passwd",
        ] {
            assert_eq!(
                ok(endpoint, UA_PUBLIC, AUTH).unwrap_err(),
                PushError::Endpoint
            );
        }
        let long = format!("https://push.example.net/{}", "a".repeat(MAX_ENDPOINT_LEN));
        assert_eq!(ok(&long, UA_PUBLIC, AUTH).unwrap_err(), PushError::Endpoint);
        // A point not on the curve, and a compressed key.
        let mut off_curve = URL_SAFE_NO_PAD.decode(UA_PUBLIC).unwrap();
        off_curve[64] ^= 1;
        let off_curve = URL_SAFE_NO_PAD.encode(off_curve);
        assert_eq!(
            ok("https://p.example/x", &off_curve, AUTH).unwrap_err(),
            PushError::P256dh
        );
        assert_eq!(
            ok("https://p.example/x", &UA_PUBLIC[..44], AUTH).unwrap_err(),
            PushError::P256dh
        );
        assert_eq!(
            ok("https://p.example/x", UA_PUBLIC, "AAAA").unwrap_err(),
            PushError::Auth
        );
    }

    #[test]
    fn tokens_are_checked_and_hidden() {
        let apns: PushRegistration = serde_json::from_str(&format!(
            r#"{{"kind":"apns","device_token":"{}","environment":"sandbox"}}"#,
            "AB".repeat(32)
        ))
        .unwrap();
        assert_eq!(
            apns,
            PushRegistration::Apns {
                device_token: "ab".repeat(32),
                environment: ApnsEnvironment::Sandbox
            }
        );
        assert!(!format!("{apns:?}").contains("ab"));
        assert_eq!(
            PushRegistration::apns("abc", ApnsEnvironment::Production).unwrap_err(),
            PushError::ApnsToken
        );
        let fcm = PushRegistration::fcm("dX2sF0:APA91bHsecret").unwrap();
        assert_eq!(fcm.kind(), PushKind::Fcm);
        assert!(!format!("{fcm:?}").contains("secret"));
        assert_eq!(
            PushRegistration::fcm("a b").unwrap_err(),
            PushError::FcmToken
        );
        assert!(serde_json::from_str::<PushRegistration>(r#"{"kind":"fcm","token":""}"#).is_err());
        assert!(
            serde_json::from_str::<PushRegistration>(r#"{"kind":"fcm","token":"t","x":1}"#)
                .is_err()
        );
        assert!(serde_json::from_str::<PushRegistration>(r#"{"kind":"sms","token":"t"}"#).is_err());
    }
}
