//! Web Push message encryption (RFC 8291, `aes128gcm` of RFC 8188) and VAPID (RFC 8292).
//!
//! The server encrypts each push to the subscription's keys with a fresh ephemeral key and
//! salt, so the push service learns nothing of the payload; it signs a short-lived VAPID
//! JWT so the push service knows which server sends. `decrypt` is the user agent's half:
//! the test peers use it to read what arrived, and a Rust client could.
//!
//! Pure functions: the caller supplies the ephemeral key, the salt and the time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hmac;
use serde::{Deserialize, Serialize};

use super::{PushError, WebPushSubscription};

/// The record size written into the header: one record holds the whole message.
pub const RECORD_SIZE: u32 = 4096;
/// Header: salt (16) ‖ record size (4) ‖ key id length (1) ‖ the sender's public key (65).
const HEADER_LEN: usize = 16 + 4 + 1 + 65;
/// The longest payload one record carries (RFC 8291 §4: 4096 minus header, tag, delimiter).
pub const MAX_PAYLOAD: usize = RECORD_SIZE as usize - HEADER_LEN - 16 - 1;
/// Longest VAPID JWT lifetime a push service accepts (RFC 8292 §2: at most 24 hours).
pub const MAX_VAPID_LIFETIME: i64 = 24 * 60 * 60;

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut context = hmac::Context::with_key(&key);
    for part in parts {
        context.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(context.sign().as_ref());
    out
}

fn ecdh(secret: &p256::SecretKey, public: &[u8]) -> Result<[u8; 32], PushError> {
    let public = p256::PublicKey::from_sec1_bytes(public).map_err(|_| PushError::P256dh)?;
    let shared = (public.to_projective() * *secret.to_nonzero_scalar()).to_affine();
    let point = shared.to_encoded_point(false);
    let x = point.x().ok_or(PushError::Crypto)?;
    let mut out = [0u8; 32];
    out.copy_from_slice(x);
    Ok(out)
}

/// The content-encryption key and nonce (RFC 8291 §3.3–3.4, RFC 8188 §2.2–2.3).
fn key_and_nonce(
    shared: &[u8; 32],
    auth: &[u8; 16],
    ua_public: &[u8],
    as_public: &[u8],
    salt: &[u8; 16],
) -> ([u8; 16], [u8; 12]) {
    let prk_key = hmac_sha256(auth, &[shared]);
    let ikm = hmac_sha256(&prk_key, &[b"WebPush: info\0", ua_public, as_public, &[1]]);
    let prk = hmac_sha256(salt, &[&ikm]);
    let cek_full = hmac_sha256(&prk, &[b"Content-Encoding: aes128gcm\0", &[1]]);
    let nonce_full = hmac_sha256(&prk, &[b"Content-Encoding: nonce\0", &[1]]);
    let mut cek = [0u8; 16];
    cek.copy_from_slice(&cek_full[..16]);
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&nonce_full[..12]);
    (cek, nonce)
}

fn aes_key(cek: &[u8; 16]) -> Result<LessSafeKey, PushError> {
    UnboundKey::new(&aead::AES_128_GCM, cek)
        .map(LessSafeKey::new)
        .map_err(|_| PushError::Crypto)
}

/// Encrypts `payload` to `subscription` with the ephemeral `sender` key and `salt` (both
/// fresh for every message): the body of the push request (`Content-Encoding: aes128gcm`).
pub fn encrypt(
    payload: &[u8],
    subscription: &WebPushSubscription,
    sender: &p256::SecretKey,
    salt: &[u8; 16],
) -> Result<Vec<u8>, PushError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(PushError::PayloadTooLong);
    }
    let as_public = sender.public_key().to_encoded_point(false);
    let as_public = as_public.as_bytes();
    let shared = ecdh(sender, subscription.p256dh())?;
    let (cek, nonce) = key_and_nonce(
        &shared,
        subscription.auth(),
        subscription.p256dh(),
        as_public,
        salt,
    );
    let mut record = Vec::with_capacity(payload.len() + 17);
    record.extend_from_slice(payload);
    // The last (and only) record's padding delimiter, no further padding.
    record.push(2);
    aes_key(&cek)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::empty(),
            &mut record,
        )
        .map_err(|_| PushError::Crypto)?;
    let mut body = Vec::with_capacity(HEADER_LEN + record.len());
    body.extend_from_slice(salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(65);
    body.extend_from_slice(as_public);
    body.extend_from_slice(&record);
    Ok(body)
}

/// The user agent's half: opens a push body with the subscription's private key and
/// authentication secret. `Err(Crypto)` for anything that is not one well-formed record
/// encrypted to these keys.
pub fn decrypt(
    body: &[u8],
    ua_secret: &p256::SecretKey,
    auth: &[u8; 16],
) -> Result<Vec<u8>, PushError> {
    if body.len() < HEADER_LEN + 17 || body[20] != 65 {
        return Err(PushError::Crypto);
    }
    let mut salt = [0u8; 16];
    salt.copy_from_slice(&body[..16]);
    let as_public = &body[21..HEADER_LEN];
    let ua_public = ua_secret.public_key().to_encoded_point(false);
    let shared = ecdh(ua_secret, as_public).map_err(|_| PushError::Crypto)?;
    let (cek, nonce) = key_and_nonce(&shared, auth, ua_public.as_bytes(), as_public, &salt);
    let mut record = body[HEADER_LEN..].to_vec();
    let plain = aes_key(&cek)?
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::empty(),
            &mut record,
        )
        .map_err(|_| PushError::Crypto)?;
    // Strip the padding: zeros, then the delimiter 2 (last record).
    let end = plain
        .iter()
        .rposition(|&b| b != 0)
        .ok_or(PushError::Crypto)?;
    if plain[end] != 2 {
        return Err(PushError::Crypto);
    }
    Ok(plain[..end].to_vec())
}

/// The claims of a VAPID JWT (RFC 8292 §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VapidClaims {
    /// The push resource's origin (`https://push.example.net`).
    pub aud: String,
    /// Until when (Unix seconds) it is valid: at most 24 hours ahead.
    pub exp: i64,
    /// How the push service reaches the operator: `mailto:` or `https:` URI.
    pub sub: String,
}

/// The origin of an endpoint URL (`scheme://host[:port]`), the VAPID audience.
pub fn origin(endpoint: &str) -> Option<&str> {
    let (scheme, rest) = endpoint.split_once("://")?;
    let host_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    (!rest[..host_len].is_empty()).then(|| &endpoint[..scheme.len() + 3 + host_len])
}

/// The `Authorization` header value for a push to `claims.aud` (RFC 8292 §3:
/// `vapid t=<ES256 JWT>, k=<the key's uncompressed public key, base64url>`).
pub fn vapid_authorization(key: &p256::ecdsa::SigningKey, claims: &VapidClaims) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
    // Plain data always serialises.
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let input = format!("{header}.{payload}");
    let signature: p256::ecdsa::Signature = key.sign(input.as_bytes());
    let public = key.verifying_key().to_encoded_point(false);
    format!(
        "vapid t={input}.{}, k={}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes()),
        URL_SAFE_NO_PAD.encode(public.as_bytes())
    )
}

/// What a push service checks (RFC 8292 §3–4): the header's shape, the ES256 signature
/// under `k`, the audience and an expiry in the future but at most 24 hours away. Returns
/// the claims and the public key `k` (uncompressed SEC1).
pub fn verify_vapid(
    authorization: &str,
    audience: &str,
    now: i64,
) -> Result<(VapidClaims, Vec<u8>), PushError> {
    let rest = authorization
        .strip_prefix("vapid ")
        .ok_or(PushError::Vapid)?;
    let mut token = None;
    let mut key = None;
    for part in rest.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => token = Some(value),
            Some(("k", value)) => key = Some(value),
            _ => return Err(PushError::Vapid),
        }
    }
    let (token, key) = token.zip(key).ok_or(PushError::Vapid)?;
    let key = URL_SAFE_NO_PAD.decode(key).map_err(|_| PushError::Vapid)?;
    let verifying =
        p256::ecdsa::VerifyingKey::from_sec1_bytes(&key).map_err(|_| PushError::Vapid)?;
    let (input, signature) = token.rsplit_once('.').ok_or(PushError::Vapid)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
        .and_then(|s| p256::ecdsa::Signature::from_slice(&s).ok())
        .ok_or(PushError::Vapid)?;
    verifying
        .verify(input.as_bytes(), &signature)
        .map_err(|_| PushError::Vapid)?;
    let (header, payload) = input.split_once('.').ok_or(PushError::Vapid)?;
    let header: serde_json::Value = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|h| serde_json::from_slice(&h).ok())
        .ok_or(PushError::Vapid)?;
    if header["alg"] != "ES256" {
        return Err(PushError::Vapid);
    }
    let claims: VapidClaims = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|p| serde_json::from_slice(&p).ok())
        .ok_or(PushError::Vapid)?;
    if claims.aud != audience
        || claims.exp <= now
        || claims.exp > now + MAX_VAPID_LIFETIME
        || !(claims.sub.starts_with("mailto:") || claims.sub.starts_with("https:"))
    {
        return Err(PushError::Vapid);
    }
    Ok((claims, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(s).unwrap()
    }

    // RFC 8291 appendix A.
    const PLAINTEXT: &[u8] = b"When I grow up, I want to be a watermelon";
    const AS_PRIVATE: &str = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
    const AS_PUBLIC: &str =
        "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
    const UA_PRIVATE: &str = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
    const UA_PUBLIC: &str =
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const SALT: &str = "DGv6ra1nlYgDCS1FRnbzlw";
    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";
    const BODY: &str = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIg\
        Dll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPX\
        LWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN";

    fn subscription() -> WebPushSubscription {
        WebPushSubscription::parse("https://push.example.net/x", UA_PUBLIC, AUTH).unwrap()
    }

    #[test]
    fn rfc8291_appendix_a_vector() {
        let sender = p256::SecretKey::from_slice(&d(AS_PRIVATE)).unwrap();
        assert_eq!(
            sender.public_key().to_encoded_point(false).as_bytes(),
            &d(AS_PUBLIC)[..]
        );
        let salt: [u8; 16] = d(SALT).try_into().unwrap();
        let body = encrypt(PLAINTEXT, &subscription(), &sender, &salt).unwrap();
        assert_eq!(URL_SAFE_NO_PAD.encode(&body), BODY);

        // The user agent's side opens it; a wrong secret or a flipped bit does not.
        let ua = p256::SecretKey::from_slice(&d(UA_PRIVATE)).unwrap();
        let auth: [u8; 16] = d(AUTH).try_into().unwrap();
        assert_eq!(decrypt(&body, &ua, &auth).unwrap(), PLAINTEXT);
        let mut wrong_auth = auth;
        wrong_auth[0] ^= 1;
        assert_eq!(decrypt(&body, &ua, &wrong_auth), Err(PushError::Crypto));
        let mut flipped = body.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(decrypt(&flipped, &ua, &auth), Err(PushError::Crypto));
    }

    #[test]
    fn payload_must_fit_one_record() {
        let sender = p256::SecretKey::from_slice(&d(AS_PRIVATE)).unwrap();
        let big = vec![b'a'; MAX_PAYLOAD + 1];
        assert_eq!(
            encrypt(&big, &subscription(), &sender, &[0; 16]),
            Err(PushError::PayloadTooLong)
        );
        let fits = vec![b'a'; MAX_PAYLOAD];
        let body = encrypt(&fits, &subscription(), &sender, &[0; 16]).unwrap();
        assert_eq!(body.len(), RECORD_SIZE as usize);
    }

    #[test]
    fn vapid_jwt_verifies_and_checks_its_claims() {
        let key = p256::ecdsa::SigningKey::from_slice(&d(AS_PRIVATE)).unwrap();
        let now = 1_800_000_000;
        let claims = VapidClaims {
            aud: "https://push.example.net".to_owned(),
            exp: now + 12 * 3600,
            sub: "mailto:drift@nokkel.example".to_owned(),
        };
        let header = vapid_authorization(&key, &claims);
        assert!(header.ends_with(&format!(", k={AS_PUBLIC}")), "{header}");
        let (verified, k) = verify_vapid(&header, "https://push.example.net", now).unwrap();
        assert_eq!((verified, k), (claims.clone(), d(AS_PUBLIC)));

        // Another audience, an expired or too long-lived token, a forged signature.
        assert_eq!(
            verify_vapid(&header, "https://other.example", now),
            Err(PushError::Vapid)
        );
        assert!(verify_vapid(&header, &claims.aud, now + 12 * 3600).is_err());
        let long = VapidClaims {
            exp: now + MAX_VAPID_LIFETIME + 1,
            ..claims.clone()
        };
        assert!(verify_vapid(&vapid_authorization(&key, &long), &claims.aud, now).is_err());
        let other = p256::ecdsa::SigningKey::from_slice(&d(UA_PRIVATE)).unwrap();
        let forged = vapid_authorization(&other, &claims).replace(
            &URL_SAFE_NO_PAD.encode(other.verifying_key().to_encoded_point(false).as_bytes()),
            AS_PUBLIC,
        );
        assert_eq!(
            verify_vapid(&forged, &claims.aud, now),
            Err(PushError::Vapid)
        );
    }

    #[test]
    fn origin_of_an_endpoint() {
        assert_eq!(
            origin("https://push.example.net/p/abc?x"),
            Some("https://push.example.net")
        );
        assert_eq!(
            origin("http://127.0.0.1:8080/push/1"),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(origin("https:///x"), None);
    }
}
