//! P-256 keys: the device's signing key, the server's signing keys, public keys as JWK and
//! SPKI, and the RFC 7638 thumbprint that names a key (the device id, the server's `kid`).
//!
//! Two libraries on purpose: devices sign with `p256` (pure Rust, deterministic RFC 6979
//! signatures, so test vectors reproduce byte for byte); the server signs and verifies with
//! `ring`, which is several times faster (see REFERENCE.md).

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::elliptic_curve::sec1::{FromEncodedPoint as _, ToEncodedPoint as _};
use p256::pkcs8::{DecodePublicKey as _, EncodePrivateKey as _, EncodePublicKey as _};
use rand_core::CryptoRngCore;
use ring::signature::KeyPair as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use thiserror::Error;
use zeroize::{Zeroize as _, Zeroizing};

/// Why a key could not be read, made or used. Never contains key material.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// A private key's bytes are not a valid P-256 scalar (wrong length, zero, or ≥ n).
    #[error("private key is not a valid P-256 key")]
    InvalidPrivateKey,
    /// A public key is not a point on P-256 or is encoded wrongly.
    #[error("public key is not a valid P-256 point: {0}")]
    InvalidPublicKey(&'static str),
    /// A JWK is not an EC P-256 public key in the form this protocol uses.
    #[error("JWK is not a P-256 public key: {0}")]
    InvalidJwk(&'static str),
    /// A device id is not a base64url SHA-256 thumbprint.
    #[error("device id is not a 43-character base64url thumbprint")]
    InvalidDeviceId,
    /// A PKCS#8 document was rejected by ring.
    #[error("PKCS#8 private key rejected: {0}")]
    InvalidPkcs8(String),
    /// The random number generator failed (ring reports no detail).
    #[error("random number generator failed")]
    Rng,
}

/// A device's P-256 signing key. Lives only in the device's key vault.
///
/// Signatures are deterministic (RFC 6979): signing the same message twice gives the same
/// bytes, which makes test vectors reproducible.
pub struct DeviceKey {
    inner: p256::ecdsa::SigningKey,
}

impl DeviceKey {
    /// Generates a fresh key from a cryptographic RNG.
    pub fn generate<R: CryptoRngCore + ?Sized>(rng: &mut R) -> Self {
        Self {
            inner: p256::ecdsa::SigningKey::random(&mut AsRng(rng)),
        }
    }

    /// Reads the 32-byte big-endian private scalar, as a vault stores it.
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        // p256 would left-pad shorter input; a vault always holds exactly 32 bytes, so
        // anything else is corruption.
        if bytes.len() != 32 {
            return Err(KeyError::InvalidPrivateKey);
        }
        p256::ecdsa::SigningKey::from_slice(bytes)
            .map(|inner| Self { inner })
            .map_err(|_| KeyError::InvalidPrivateKey)
    }

    /// The 32-byte private scalar for a vault; wiped from memory when dropped.
    pub fn to_secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        let mut bytes = self.inner.to_bytes();
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&bytes);
        bytes.zeroize();
        out
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_p256(p256::PublicKey::from(self.inner.verifying_key()))
    }

    /// The device id: the RFC 7638 thumbprint of the public key.
    pub fn device_id(&self) -> DeviceId {
        self.public_key().device_id()
    }

    /// Signs `message` with ECDSA P-256 / SHA-256 and returns the fixed 64-byte `r || s` form
    /// used by JWS. Deterministic (RFC 6979).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let signature: p256::ecdsa::Signature = self.inner.sign(message);
        let mut out = [0u8; 64];
        out.copy_from_slice(&signature.to_bytes());
        out
    }
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceKey")
            .field("device_id", &self.device_id().as_str())
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Adapts `&mut dyn CryptoRngCore`-style callers to the sized RNG `p256` wants.
struct AsRng<'a, R: CryptoRngCore + ?Sized>(&'a mut R);

impl<R: CryptoRngCore + ?Sized> rand_core::RngCore for AsRng<'_, R> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.try_fill_bytes(dest)
    }
}

impl<R: CryptoRngCore + ?Sized> rand_core::CryptoRng for AsRng<'_, R> {}

/// A valid P-256 public key.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    point: p256::PublicKey,
    /// SEC1 uncompressed form (`04 || x || y`), the form ring verifies with.
    uncompressed: [u8; 65],
}

impl PublicKey {
    fn from_p256(point: p256::PublicKey) -> Self {
        let encoded = point.to_encoded_point(false);
        let mut uncompressed = [0u8; 65];
        uncompressed.copy_from_slice(encoded.as_bytes());
        Self {
            point,
            uncompressed,
        }
    }

    /// Reads a public key from its JWK form. Rejects anything but an EC P-256 public key
    /// with 32-byte coordinates that lie on the curve.
    pub fn from_jwk(jwk: &PublicJwk) -> Result<Self, KeyError> {
        if jwk.kty != "EC" {
            return Err(KeyError::InvalidJwk("kty must be \"EC\""));
        }
        if jwk.crv != "P-256" {
            return Err(KeyError::InvalidJwk("crv must be \"P-256\""));
        }
        let x = decode_coordinate(&jwk.x).ok_or(KeyError::InvalidJwk("x is not 32 bytes"))?;
        let y = decode_coordinate(&jwk.y).ok_or(KeyError::InvalidJwk("y is not 32 bytes"))?;
        let encoded = p256::EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
        Option::<p256::PublicKey>::from(p256::PublicKey::from_encoded_point(&encoded))
            .map(Self::from_p256)
            .ok_or(KeyError::InvalidJwk("point is not on P-256"))
    }

    /// The JWK form: `{"kty":"EC","crv":"P-256","x":..,"y":..}`.
    pub fn to_jwk(&self) -> PublicJwk {
        PublicJwk {
            kty: "EC".to_owned(),
            crv: "P-256".to_owned(),
            x: URL_SAFE_NO_PAD.encode(&self.uncompressed[1..33]),
            y: URL_SAFE_NO_PAD.encode(&self.uncompressed[33..65]),
        }
    }

    /// Reads a DER SubjectPublicKeyInfo (what Android's keystore and OpenSSL export).
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        p256::PublicKey::from_public_key_der(der)
            .map(Self::from_p256)
            .map_err(|_| KeyError::InvalidPublicKey("not a P-256 SubjectPublicKeyInfo"))
    }

    /// The DER SubjectPublicKeyInfo encoding.
    pub fn to_spki_der(&self) -> Result<Vec<u8>, KeyError> {
        self.point
            .to_public_key_der()
            .map(|doc| doc.as_bytes().to_vec())
            .map_err(|_| KeyError::InvalidPublicKey("SPKI encoding failed"))
    }

    /// Reads a SEC1 point (uncompressed `04||x||y` or compressed).
    pub fn from_sec1_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        p256::PublicKey::from_sec1_bytes(bytes)
            .map(Self::from_p256)
            .map_err(|_| KeyError::InvalidPublicKey("not a SEC1 P-256 point"))
    }

    /// The SEC1 uncompressed encoding `04 || x || y` (65 bytes).
    pub fn to_uncompressed(&self) -> [u8; 65] {
        self.uncompressed
    }

    /// The RFC 7638 JWK thumbprint: base64url (no padding) of SHA-256 over
    /// `{"crv":"P-256","kty":"EC","x":"..","y":".."}` (members in this order, no spaces).
    pub fn thumbprint(&self) -> String {
        let jwk = self.to_jwk();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk.x, jwk.y
        );
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }

    /// The device id of a device holding the matching private key (= [`Self::thumbprint`]).
    pub fn device_id(&self) -> DeviceId {
        DeviceId(self.thumbprint())
    }

    pub(crate) fn p256_verifying_key(&self) -> p256::ecdsa::VerifyingKey {
        p256::ecdsa::VerifyingKey::from(&self.point)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("thumbprint", &self.thumbprint())
            .finish()
    }
}

fn decode_coordinate(text: &str) -> Option<[u8; 32]> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    bytes.try_into().ok()
}

/// A public key as a JSON Web Key (RFC 7517), exactly the members this protocol uses.
///
/// This is the unchecked wire form; turn it into a [`PublicKey`] with
/// [`PublicKey::from_jwk`] before use. Unknown members (including a private `d`) are
/// rejected when deserializing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicJwk {
    /// Key type, always `"EC"`.
    pub kty: String,
    /// Curve, always `"P-256"`.
    pub crv: String,
    /// The x coordinate, base64url without padding, 32 bytes.
    pub x: String,
    /// The y coordinate, base64url without padding, 32 bytes.
    pub y: String,
}

/// A device's id: the RFC 7638 thumbprint of its public key (43 base64url characters).
///
/// Because the id is derived from the key, a statement signed by a key can only ever name
/// that key's own device.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeviceId(String);

impl DeviceId {
    /// Checks the shape (43 base64url characters decoding to 32 bytes).
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        match URL_SAFE_NO_PAD.decode(text) {
            Ok(bytes) if bytes.len() == 32 && text.len() == 43 => Ok(Self(text.to_owned())),
            _ => Err(KeyError::InvalidDeviceId),
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for DeviceId {
    type Error = KeyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<DeviceId> for String {
    fn from(value: DeviceId) -> Self {
        value.0
    }
}

/// One of the server's ES256 signing keys (login challenges, ID tokens), held by `ring`.
pub struct ServerKey {
    pair: ring::signature::EcdsaKeyPair,
    pkcs8: Zeroizing<Vec<u8>>,
    public: PublicKey,
    kid: String,
}

impl ServerKey {
    /// Generates a new key.
    pub fn generate(rng: &dyn ring::rand::SecureRandom) -> Result<Self, KeyError> {
        let doc = ring::signature::EcdsaKeyPair::generate_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            rng,
        )
        .map_err(|_| KeyError::Rng)?;
        Self::from_pkcs8(doc.as_ref(), rng)
    }

    /// Reads a PKCS#8 v1/v2 DER private key (as [`Self::to_pkcs8_der`] writes it).
    pub fn from_pkcs8(der: &[u8], rng: &dyn ring::rand::SecureRandom) -> Result<Self, KeyError> {
        let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            der,
            rng,
        )
        .map_err(|e| KeyError::InvalidPkcs8(e.to_string()))?;
        let public = PublicKey::from_sec1_bytes(pair.public_key().as_ref())?;
        let kid = public.thumbprint();
        Ok(Self {
            pair,
            pkcs8: Zeroizing::new(der.to_vec()),
            public,
            kid,
        })
    }

    /// Reads a raw 32-byte private scalar (the JWK `d`), e.g. a test vector's key.
    pub fn from_secret_bytes(
        bytes: &[u8],
        rng: &dyn ring::rand::SecureRandom,
    ) -> Result<Self, KeyError> {
        if bytes.len() != 32 {
            return Err(KeyError::InvalidPrivateKey);
        }
        let secret = p256::SecretKey::from_slice(bytes).map_err(|_| KeyError::InvalidPrivateKey)?;
        let doc = secret
            .to_pkcs8_der()
            .map_err(|_| KeyError::InvalidPrivateKey)?;
        Self::from_pkcs8(doc.as_bytes(), rng)
    }

    /// The PKCS#8 DER document to store (encrypted or in a secret store); wiped on drop.
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        self.pkcs8.clone()
    }

    /// The public key, which devices pin at enrolment and relying parties fetch as JWKS.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The key id: the public key's RFC 7638 thumbprint.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs `message` (ES256, fixed 64-byte `r || s`). Randomised, so the RNG is passed in.
    pub fn sign(
        &self,
        rng: &dyn ring::rand::SecureRandom,
        message: &[u8],
    ) -> Result<[u8; 64], KeyError> {
        let signature = self.pair.sign(rng, message).map_err(|_| KeyError::Rng)?;
        signature.as_ref().try_into().map_err(|_| {
            KeyError::InvalidPkcs8("ring returned a signature that is not 64 bytes".to_owned())
        })
    }
}

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerKey")
            .field("kid", &self.kid)
            .field("private", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::OsRng;

    #[test]
    fn rfc7638_thumbprint_of_the_rfc_7517_example_key() {
        // RFC 7517 appendix A.1 P-256 example key; thumbprint computed independently with
        // jwcrypto (`JWK(...).thumbprint()`), see docs/vectors/keys.json for more.
        let jwk = PublicJwk {
            kty: "EC".into(),
            crv: "P-256".into(),
            x: "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4".into(),
            y: "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM".into(),
        };
        let key = PublicKey::from_jwk(&jwk).unwrap();
        assert_eq!(key.to_jwk(), jwk);
        assert_eq!(
            key.thumbprint(),
            "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s"
        );
    }

    #[test]
    fn secret_bytes_round_trip_and_debug_hides_them() {
        let key = DeviceKey::generate(&mut OsRng);
        let secret = key.to_secret_bytes();
        let again = DeviceKey::from_secret_bytes(secret.as_ref()).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        let debug = format!("{key:?}");
        assert!(debug.contains("<redacted>"));
        let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!debug.contains(&hex));
    }

    #[test]
    fn rejects_bad_private_scalars() {
        assert_eq!(
            DeviceKey::from_secret_bytes(&[0u8; 32]).unwrap_err(),
            KeyError::InvalidPrivateKey
        );
        assert_eq!(
            DeviceKey::from_secret_bytes(&[0xffu8; 32]).unwrap_err(),
            KeyError::InvalidPrivateKey
        );
        assert!(DeviceKey::from_secret_bytes(&[1u8; 31]).is_err());
    }

    #[test]
    fn spki_round_trip() {
        let key = DeviceKey::generate(&mut OsRng).public_key();
        let der = key.to_spki_der().unwrap();
        assert_eq!(der.len(), 91);
        assert_eq!(PublicKey::from_spki_der(&der).unwrap(), key);
        assert!(PublicKey::from_spki_der(&der[..90]).is_err());
    }

    #[test]
    fn jwk_must_be_a_p256_point() {
        let mut jwk = DeviceKey::generate(&mut OsRng).public_key().to_jwk();
        jwk.crv = "P-384".into();
        assert!(PublicKey::from_jwk(&jwk).is_err());
        jwk.crv = "P-256".into();
        jwk.y = jwk.x.clone();
        assert_eq!(
            PublicKey::from_jwk(&jwk).unwrap_err(),
            KeyError::InvalidJwk("point is not on P-256")
        );
        let with_private = r#"{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"c"}"#;
        assert!(serde_json::from_str::<PublicJwk>(with_private).is_err());
    }

    #[test]
    fn device_id_is_a_thumbprint_shape() {
        let key = DeviceKey::generate(&mut OsRng);
        let id = key.device_id();
        assert_eq!(DeviceId::parse(id.as_str()).unwrap(), id);
        assert!(DeviceId::parse("short").is_err());
        assert!(DeviceId::parse(&format!("{}=", &id.as_str()[..42])).is_err());
    }

    #[test]
    fn server_key_pkcs8_round_trip_and_agrees_with_p256_public_key() {
        let rng = ring::rand::SystemRandom::new();
        let key = ServerKey::generate(&rng).unwrap();
        let again = ServerKey::from_pkcs8(&key.to_pkcs8_der(), &rng).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        assert_eq!(key.kid(), key.public_key().thumbprint());
        assert!(!format!("{key:?}").contains("pkcs8"));

        let device = DeviceKey::generate(&mut OsRng);
        let as_server =
            ServerKey::from_secret_bytes(device.to_secret_bytes().as_ref(), &rng).unwrap();
        assert_eq!(as_server.public_key(), &device.public_key());
    }
}
