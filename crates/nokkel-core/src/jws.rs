//! Compact JWS (RFC 7515) restricted to what Nøkkel needs: ES256 only, a closed set of
//! header members, and conversion between the DER and fixed-size forms of ECDSA signatures.
//!
//! Header rules (docs/PROTOCOL.md, "JWS header"): `alg` must be `ES256`; `typ` must name the
//! expected statement type; exactly one of `kid` (a known key) and `jwk` (a key presented for
//! the first time, at enrolment) is present; every other member, `crit` and `b64` included,
//! is rejected. Signatures are the fixed 64-byte `r || s` form.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::Verifier as _;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::keys::{DeviceKey, KeyError, PublicJwk, PublicKey, ServerKey};

/// The only algorithm accepted.
pub const ALG: &str = "ES256";

/// Upper bound on a compact JWS we will even look at; statements are well under 2 KiB.
pub const MAX_COMPACT_LEN: usize = 16 * 1024;

/// Why a compact JWS was rejected at the JOSE level.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwsError {
    /// Not three base64url parts, bad base64url, header not a JSON object, wrong signature
    /// length, or longer than [`MAX_COMPACT_LEN`].
    #[error("malformed JWS: {0}")]
    Malformed(&'static str),
    /// `alg` is not `ES256` (this includes `none`).
    #[error("unsupported JWS algorithm (only ES256 is accepted)")]
    UnsupportedAlgorithm,
    /// `typ` is not the statement type the verifier expected.
    #[error("wrong JWS type: expected {expected}")]
    WrongType {
        /// The `typ` the verifier wanted.
        expected: &'static str,
    },
    /// A header member outside the allowed set (`crit`, `b64`, `x5u`, ...).
    #[error("unsupported JWS header member {0:?}")]
    UnsupportedHeader(String),
    /// `kid` or `jwk` missing where required, or present where not allowed, or the key does
    /// not match the one the verifier holds.
    #[error("JWS key reference invalid: {0}")]
    KeyReference(&'static str),
    /// The signature does not verify with the key.
    #[error("JWS signature does not verify")]
    BadSignature,
    /// Signing failed (RNG failure in ring).
    #[error("signing failed: {0}")]
    Signing(#[from] KeyError),
}

impl JwsError {
    /// A stable short code, used in API errors and test vectors.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::UnsupportedAlgorithm => "unsupported_alg",
            Self::WrongType { .. } => "wrong_typ",
            Self::UnsupportedHeader(_) => "unsupported_header",
            Self::KeyReference(_) => "wrong_key",
            Self::BadSignature => "bad_signature",
            Self::Signing(_) => "signing_failed",
        }
    }
}

/// A protected header as this protocol allows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Always `ES256`.
    pub alg: String,
    /// The statement type, e.g. `nokkel-approval+jwt`.
    pub typ: String,
    /// Key id: the device id, or the server key's thumbprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// The signer's public key, only where the verifier does not know it yet (enrolment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwk: Option<PublicJwk>,
}

impl Header {
    /// A header naming a known key by `kid`.
    pub fn with_kid(typ: &str, kid: &str) -> Self {
        Self {
            alg: ALG.to_owned(),
            typ: typ.to_owned(),
            kid: Some(kid.to_owned()),
            jwk: None,
        }
    }

    /// A header carrying the signer's public key (enrolment).
    pub fn with_jwk(typ: &str, jwk: PublicJwk) -> Self {
        Self {
            alg: ALG.to_owned(),
            typ: typ.to_owned(),
            kid: None,
            jwk: Some(jwk),
        }
    }
}

/// Something that makes ES256 signatures: a [`DeviceKey`] (deterministic, p256) or a
/// [`ServerKey`] with its RNG (randomised, ring), see [`ServerSigner`].
pub trait Es256Signer {
    /// Signs the JWS signing input and returns `r || s` (64 bytes).
    fn sign_es256(&self, signing_input: &[u8]) -> Result<[u8; 64], JwsError>;

    /// The `kid` naming this key: its RFC 7638 thumbprint (for a device, its device id).
    fn key_id(&self) -> String;
}

impl Es256Signer for DeviceKey {
    fn sign_es256(&self, signing_input: &[u8]) -> Result<[u8; 64], JwsError> {
        Ok(self.sign(signing_input))
    }

    fn key_id(&self) -> String {
        self.device_id().to_string()
    }
}

/// A [`ServerKey`] together with the RNG its signatures need.
pub struct ServerSigner<'a> {
    key: &'a ServerKey,
    rng: &'a dyn ring::rand::SecureRandom,
}

impl<'a> ServerSigner<'a> {
    /// Pairs a server key with an RNG.
    pub fn new(key: &'a ServerKey, rng: &'a dyn ring::rand::SecureRandom) -> Self {
        Self { key, rng }
    }

    /// The key's id, for the header.
    pub fn kid(&self) -> &str {
        self.key.kid()
    }
}

impl Es256Signer for ServerSigner<'_> {
    fn sign_es256(&self, signing_input: &[u8]) -> Result<[u8; 64], JwsError> {
        Ok(self.key.sign(self.rng, signing_input)?)
    }

    fn key_id(&self) -> String {
        self.key.kid().to_owned()
    }
}

/// Produces `base64url(header) . base64url(payload) . base64url(signature)`.
pub fn sign_compact(
    header: &Header,
    payload: &[u8],
    signer: &dyn Es256Signer,
) -> Result<String, JwsError> {
    let header_json =
        serde_json::to_vec(header).map_err(|_| JwsError::Malformed("header not serializable"))?;
    let mut out = URL_SAFE_NO_PAD.encode(header_json);
    out.push('.');
    out.push_str(&URL_SAFE_NO_PAD.encode(payload));
    let signature = signer.sign_es256(out.as_bytes())?;
    out.push('.');
    out.push_str(&URL_SAFE_NO_PAD.encode(signature));
    Ok(out)
}

/// A compact JWS whose structure and header passed the rules, signature not yet checked.
#[derive(Debug, Clone)]
pub struct UnverifiedJws {
    header: Header,
    signing_input: String,
    payload: Vec<u8>,
    signature: [u8; 64],
}

impl UnverifiedJws {
    /// Splits and decodes a compact JWS and applies the header rules. `expected_typ` is the
    /// statement type the caller is prepared to handle.
    pub fn decode(compact: &str, expected_typ: &'static str) -> Result<Self, JwsError> {
        if compact.len() > MAX_COMPACT_LEN {
            return Err(JwsError::Malformed("longer than 16 KiB"));
        }
        let mut parts = compact.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwsError::Malformed("not three dot-separated parts"));
        };
        let header_bytes = URL_SAFE_NO_PAD
            .decode(h)
            .map_err(|_| JwsError::Malformed("header is not base64url"))?;
        let header = parse_header(&header_bytes)?;
        if header.alg != ALG {
            return Err(JwsError::UnsupportedAlgorithm);
        }
        if header.typ != expected_typ {
            return Err(JwsError::WrongType {
                expected: expected_typ,
            });
        }
        match (&header.kid, &header.jwk) {
            (Some(_), Some(_)) => return Err(JwsError::KeyReference("both kid and jwk present")),
            (None, None) => return Err(JwsError::KeyReference("neither kid nor jwk present")),
            _ => {}
        }
        let payload = URL_SAFE_NO_PAD
            .decode(p)
            .map_err(|_| JwsError::Malformed("payload is not base64url"))?;
        let signature_bytes = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| JwsError::Malformed("signature is not base64url"))?;
        let signature: [u8; 64] = signature_bytes
            .try_into()
            .map_err(|_| JwsError::Malformed("signature is not 64 bytes"))?;
        Ok(Self {
            header,
            signing_input: format!("{h}.{p}"),
            payload,
            signature,
        })
    }

    /// The checked header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The `kid`, for looking up the signer's key (e.g. a device by its id).
    pub fn kid(&self) -> Option<&str> {
        self.header.kid.as_deref()
    }

    /// Verifies the signature with ring (the server's verifier) and returns the payload.
    pub fn verify(self, key: &PublicKey) -> Result<Vec<u8>, JwsError> {
        let public = key.to_uncompressed();
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            &public[..],
        )
        .verify(self.signing_input.as_bytes(), &self.signature)
        .map_err(|_| JwsError::BadSignature)?;
        Ok(self.payload)
    }

    /// Verifies the signature with p256 (pure Rust) and returns the payload. Gives the same
    /// answer as [`Self::verify`]; a test proves it on every vector and random cases.
    pub fn verify_with_p256(self, key: &PublicKey) -> Result<Vec<u8>, JwsError> {
        let signature = p256::ecdsa::Signature::from_slice(&self.signature)
            .map_err(|_| JwsError::BadSignature)?;
        key.p256_verifying_key()
            .verify(self.signing_input.as_bytes(), &signature)
            .map_err(|_| JwsError::BadSignature)?;
        Ok(self.payload)
    }
}

const ALLOWED_HEADER_MEMBERS: [&str; 4] = ["alg", "typ", "kid", "jwk"];

fn parse_header(bytes: &[u8]) -> Result<Header, JwsError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|_| JwsError::Malformed("header is not JSON"))?;
    let object = value
        .as_object()
        .ok_or(JwsError::Malformed("header is not a JSON object"))?;
    // Name the first disallowed member precisely (crit and b64 above all: a verifier that
    // ignored them would accept what the signer meant to be rejected).
    for name in ["crit", "b64"] {
        if object.contains_key(name) {
            return Err(JwsError::UnsupportedHeader(name.to_owned()));
        }
    }
    if let Some(name) = object
        .keys()
        .find(|k| !ALLOWED_HEADER_MEMBERS.contains(&k.as_str()))
    {
        let shown: String = name.chars().take(32).collect();
        return Err(JwsError::UnsupportedHeader(shown));
    }
    // A second pass over the raw bytes rejects duplicate members, which the map above
    // silently merged.
    serde_json::from_slice::<Header>(bytes)
        .map_err(|_| JwsError::Malformed("header members have the wrong type or repeat"))
}

/// Why a DER signature could not be converted.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureFormatError {
    /// Not a DER `SEQUENCE { INTEGER r, INTEGER s }` with 0 < r, s < n.
    #[error("not a valid DER ECDSA P-256 signature")]
    InvalidDer,
    /// The fixed form has r or s equal to zero or not below the group order.
    #[error("not a valid fixed-size ECDSA P-256 signature")]
    InvalidFixed,
}

/// Converts a DER ECDSA signature (what Android Keystore, iOS Secure Enclave and OpenSSL
/// emit) to the fixed 64-byte `r || s` form JWS uses. Strict DER: no trailing bytes, minimal
/// integers.
pub fn der_to_fixed(der: &[u8]) -> Result<[u8; 64], SignatureFormatError> {
    let signature =
        p256::ecdsa::Signature::from_der(der).map_err(|_| SignatureFormatError::InvalidDer)?;
    let mut out = [0u8; 64];
    out.copy_from_slice(&signature.to_bytes());
    Ok(out)
}

/// Converts a fixed 64-byte `r || s` signature to DER.
pub fn fixed_to_der(fixed: &[u8; 64]) -> Result<Vec<u8>, SignatureFormatError> {
    let signature = p256::ecdsa::Signature::from_slice(fixed)
        .map_err(|_| SignatureFormatError::InvalidFixed)?;
    Ok(signature.to_der().as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::OsRng;
    use ring::rand::SystemRandom;
    use ring::signature::KeyPair as _;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn signed_raw(key: &DeviceKey, header_json: &str, payload: &str) -> String {
        let input = format!(
            "{}.{}",
            b64(header_json.as_bytes()),
            b64(payload.as_bytes())
        );
        let sig = key.sign(input.as_bytes());
        format!("{input}.{}", b64(&sig))
    }

    #[test]
    fn round_trip_with_both_verifiers() {
        let key = DeviceKey::generate(&mut OsRng);
        let header = Header::with_kid("t+jwt", key.device_id().as_str());
        let jws = sign_compact(&header, b"{\"a\":1}", &key).unwrap();
        let decoded = UnverifiedJws::decode(&jws, "t+jwt").unwrap();
        assert_eq!(decoded.kid(), Some(key.device_id().as_str()));
        assert_eq!(
            decoded.clone().verify(&key.public_key()).unwrap(),
            b"{\"a\":1}"
        );
        assert_eq!(
            decoded.verify_with_p256(&key.public_key()).unwrap(),
            b"{\"a\":1}"
        );
    }

    #[test]
    fn server_signatures_verify_and_are_randomised() {
        let rng = SystemRandom::new();
        let key = ServerKey::generate(&rng).unwrap();
        let signer = ServerSigner::new(&key, &rng);
        let header = Header::with_kid("t+jwt", signer.kid());
        let a = sign_compact(&header, b"{}", &signer).unwrap();
        let b = sign_compact(&header, b"{}", &signer).unwrap();
        assert_ne!(a, b);
        for jws in [a, b] {
            let d = UnverifiedJws::decode(&jws, "t+jwt").unwrap();
            d.clone().verify(key.public_key()).unwrap();
            d.verify_with_p256(key.public_key()).unwrap();
        }
    }

    #[test]
    fn header_rules() {
        let key = DeviceKey::generate(&mut OsRng);
        let kid = key.device_id();
        let case = |header: String| {
            UnverifiedJws::decode(&signed_raw(&key, &header, "{}"), "t+jwt").map(|_| ())
        };
        assert_eq!(
            case(format!(r#"{{"alg":"none","typ":"t+jwt","kid":"{kid}"}}"#)),
            Err(JwsError::UnsupportedAlgorithm)
        );
        assert_eq!(
            case(format!(r#"{{"alg":"ES384","typ":"t+jwt","kid":"{kid}"}}"#)),
            Err(JwsError::UnsupportedAlgorithm)
        );
        assert_eq!(
            case(format!(r#"{{"alg":"ES256","typ":"x+jwt","kid":"{kid}"}}"#)),
            Err(JwsError::WrongType { expected: "t+jwt" })
        );
        assert_eq!(
            case(format!(
                r#"{{"alg":"ES256","typ":"t+jwt","kid":"{kid}","crit":["exp"],"exp":1}}"#
            )),
            Err(JwsError::UnsupportedHeader("crit".into()))
        );
        assert_eq!(
            case(format!(
                r#"{{"alg":"ES256","typ":"t+jwt","kid":"{kid}","b64":false}}"#
            )),
            Err(JwsError::UnsupportedHeader("b64".into()))
        );
        assert_eq!(
            case(format!(
                r#"{{"alg":"ES256","typ":"t+jwt","kid":"{kid}","x5u":"https://x"}}"#
            )),
            Err(JwsError::UnsupportedHeader("x5u".into()))
        );
        assert_eq!(
            case(format!(
                r#"{{"alg":"ES256","alg":"none","typ":"t+jwt","kid":"{kid}"}}"#
            )),
            Err(JwsError::Malformed(
                "header members have the wrong type or repeat"
            ))
        );
        assert_eq!(
            case(r#"{"alg":"ES256","typ":"t+jwt"}"#.to_owned()),
            Err(JwsError::KeyReference("neither kid nor jwk present"))
        );
        let jwk = serde_json::to_string(&key.public_key().to_jwk()).unwrap();
        assert_eq!(
            case(format!(
                r#"{{"alg":"ES256","typ":"t+jwt","kid":"{kid}","jwk":{jwk}}}"#
            )),
            Err(JwsError::KeyReference("both kid and jwk present"))
        );
        assert!(case(format!(r#"{{"alg":"ES256","typ":"t+jwt","jwk":{jwk}}}"#)).is_ok());
        assert_eq!(
            case("[1]".into()),
            Err(JwsError::Malformed("header is not a JSON object"))
        );
    }

    #[test]
    fn structure_rules() {
        let key = DeviceKey::generate(&mut OsRng);
        let header = Header::with_kid("t+jwt", key.device_id().as_str());
        let good = sign_compact(&header, b"{}", &key).unwrap();
        let decode = |s: &str| {
            UnverifiedJws::decode(s, "t+jwt")
                .map(|_| ())
                .map_err(|e| e.code())
        };
        assert_eq!(decode(&format!("{good}.")), Err("malformed"));
        assert_eq!(decode(&good.replacen('.', "", 1)), Err("malformed"));
        assert_eq!(decode(&format!("{good}==")), Err("malformed"));
        let (input, _) = good.rsplit_once('.').unwrap();
        assert_eq!(
            decode(&format!("{input}.{}", b64(&[0u8; 63]))),
            Err("malformed")
        );
        assert_eq!(decode(&format!("{input}.")), Err("malformed"));
        assert_eq!(decode(&"a".repeat(MAX_COMPACT_LEN + 1)), Err("malformed"));
        // Standard base64 alphabet ('+', '/') is not base64url.
        assert_eq!(decode(&format!("{input}.++++")), Err("malformed"));
    }

    #[test]
    fn signature_checks() {
        let key = DeviceKey::generate(&mut OsRng);
        let other = DeviceKey::generate(&mut OsRng);
        let header = Header::with_kid("t+jwt", key.device_id().as_str());
        let jws = sign_compact(&header, b"{}", &key).unwrap();
        let d = UnverifiedJws::decode(&jws, "t+jwt").unwrap();
        assert_eq!(
            d.clone().verify(&other.public_key()),
            Err(JwsError::BadSignature)
        );
        assert_eq!(
            d.verify_with_p256(&other.public_key()),
            Err(JwsError::BadSignature)
        );
        // An all-zero signature is invalid for both libraries.
        let (input, _) = jws.rsplit_once('.').unwrap();
        let zero = format!("{input}.{}", b64(&[0u8; 64]));
        let d = UnverifiedJws::decode(&zero, "t+jwt").unwrap();
        assert_eq!(
            d.clone().verify(&key.public_key()),
            Err(JwsError::BadSignature)
        );
        assert_eq!(
            d.verify_with_p256(&key.public_key()),
            Err(JwsError::BadSignature)
        );
    }

    #[test]
    fn der_from_ring_converts_to_fixed_that_verifies() {
        let rng = SystemRandom::new();
        let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &rng,
        )
        .unwrap();
        let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            pkcs8.as_ref(),
            &rng,
        )
        .unwrap();
        let public = pair.public_key().as_ref().to_vec();
        // Keep signing until both shapes have been seen: an integer with its high bit set
        // (33 bytes in DER, leading 0x00) and a short one (< 32 bytes, p = 1/256 each).
        let (mut seen_high, mut seen_short) = (false, false);
        let mut i = 0u32;
        while !(seen_high && seen_short) && i < 20_000 {
            i += 1;
            let msg = i.to_be_bytes();
            let der = pair.sign(&rng, &msg).unwrap();
            let der = der.as_ref();
            let r_len = usize::from(der[3]);
            let s_len = usize::from(der[5 + r_len]);
            seen_high |= r_len == 33 || s_len == 33;
            seen_short |= r_len < 32 || s_len < 32;
            let fixed = der_to_fixed(der).unwrap();
            ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                &public,
            )
            .verify(&msg, &fixed)
            .unwrap();
            assert_eq!(fixed_to_der(&fixed).unwrap(), der);
        }
        assert!(seen_high && seen_short, "no short r/s in {i} signatures");
    }

    #[test]
    fn fixed_to_der_is_accepted_by_ring_asn1() {
        let key = DeviceKey::generate(&mut OsRng);
        let public = key.public_key().to_uncompressed();
        for i in 0..100u32 {
            let msg = i.to_be_bytes();
            let fixed = key.sign(&msg);
            let der = fixed_to_der(&fixed).unwrap();
            ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_ASN1,
                &public[..],
            )
            .verify(&msg, &der)
            .unwrap();
            assert_eq!(der_to_fixed(&der).unwrap(), fixed);
        }
    }

    #[test]
    fn der_edge_cases() {
        // r = 0x80 00..00 (high bit set: DER needs a leading zero), s = 1 (short).
        let mut fixed = [0u8; 64];
        fixed[0] = 0x80;
        fixed[63] = 1;
        let der = fixed_to_der(&fixed).unwrap();
        let mut expected = vec![0x30, 0x26, 0x02, 0x21, 0x00, 0x80];
        expected.extend([0u8; 31]);
        expected.extend([0x02, 0x01, 0x01]);
        assert_eq!(der, expected);
        assert_eq!(der_to_fixed(&der).unwrap(), fixed);

        // r = 1, s = 0x7f: both one byte.
        let der = [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x7f];
        let mut fixed = [0u8; 64];
        fixed[31] = 1;
        fixed[63] = 0x7f;
        assert_eq!(der_to_fixed(&der).unwrap(), fixed);
        assert_eq!(fixed_to_der(&fixed).unwrap(), der);

        let malformed: [&[u8]; 8] = [
            &[],
            &[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01], // truncated
            &[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x7f, 0], // trailing byte
            &[0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x7f], // SET, not SEQUENCE
            &[0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x7f], // r = 0
            &[0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x7f], // negative r
            &[0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x7f], // non-minimal r
            &[0x30, 0x05, 0x02, 0x01, 0x01, 0x04, 0x00], // s not an INTEGER
        ];
        for der in malformed {
            assert_eq!(
                der_to_fixed(der),
                Err(SignatureFormatError::InvalidDer),
                "{der:02x?}"
            );
        }
        // s = n (the group order) is out of range.
        let n = [
            0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2,
            0xfc, 0x63, 0x25, 0x51,
        ];
        let mut fixed = [0u8; 64];
        fixed[31] = 1;
        fixed[32..].copy_from_slice(&n);
        assert_eq!(
            fixed_to_der(&fixed),
            Err(SignatureFormatError::InvalidFixed)
        );
        assert_eq!(
            fixed_to_der(&[0u8; 64]),
            Err(SignatureFormatError::InvalidFixed)
        );
    }
}
