//! The server's secrets: a master key from a file, and the keys derived from it for hashing
//! activation codes and one-time codes (HMAC peppers) and for sealing outbox contents
//! (AES-256-GCM). Nothing here implements `Debug` with key material.

use std::io::Write;
use std::path::Path;

use nokkel_core::random::Random;
use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, NONCE_LEN};
use ring::{hkdf, hmac};
use thiserror::Error;

/// Why the secrets could not be loaded or a sealed value not opened.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SecretsError {
    /// The key file could not be read or created.
    #[error("cannot use secret key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key file does not hold 64 hex digits.
    #[error("secret key file {path} must hold 64 hexadecimal digits")]
    Malformed {
        /// The file.
        path: String,
    },
    /// A sealed value was tampered with or sealed under another key.
    #[error("sealed value cannot be opened")]
    Unseal,
}

/// Reads 32 bytes written as 64 hex digits from `path`, creating the file (mode 0600)
/// with fresh random bytes if it does not exist.
pub fn load_or_create_key(path: &Path, random: &dyn Random) -> Result<[u8; 32], SecretsError> {
    let shown = path.display().to_string();
    let io = |source| SecretsError::Io {
        path: shown.clone(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => parse_hex32(text.trim()).ok_or_else(|| SecretsError::Malformed {
            path: shown.clone(),
        }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            random.fill(&mut key);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(path).map_err(io)?;
            file.write_all(hex(&key).as_bytes()).map_err(io)?;
            file.sync_all().map_err(io)?;
            Ok(key)
        }
        Err(err) => Err(io(err)),
    }
}

/// Keys derived from the master secret.
pub struct ServerSecrets {
    code_pepper: hmac::Key,
    otp_pepper: hmac::Key,
    token_pepper: hmac::Key,
    client_secret_pepper: hmac::Key,
    sealing: LessSafeKey,
}

impl std::fmt::Debug for ServerSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerSecrets(***)")
    }
}

struct KeyLen(usize);

impl hkdf::KeyType for KeyLen {
    fn len(&self) -> usize {
        self.0
    }
}

fn derive(prk: &hkdf::Prk, label: &[u8]) -> Result<[u8; 32], SecretsError> {
    let mut out = [0u8; 32];
    let info = [label];
    prk.expand(&info, KeyLen(32))
        .and_then(|okm| okm.fill(&mut out))
        .map_err(|_| SecretsError::Unseal)?;
    Ok(out)
}

impl ServerSecrets {
    /// Derives all keys from a 32-byte master secret.
    pub fn from_master(master: &[u8; 32]) -> Result<Self, SecretsError> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"nokkel-server-v1").extract(master);
        let sealing = UnboundKey::new(&aead::AES_256_GCM, &derive(&prk, b"outbox-sealing")?)
            .map_err(|_| SecretsError::Unseal)?;
        Ok(Self {
            code_pepper: hmac::Key::new(hmac::HMAC_SHA256, &derive(&prk, b"activation-code")?),
            otp_pepper: hmac::Key::new(hmac::HMAC_SHA256, &derive(&prk, b"one-time-code")?),
            token_pepper: hmac::Key::new(hmac::HMAC_SHA256, &derive(&prk, b"session-token")?),
            client_secret_pepper: hmac::Key::new(
                hmac::HMAC_SHA256,
                &derive(&prk, b"oauth-client-secret")?,
            ),
            sealing: LessSafeKey::new(sealing),
        })
    }

    /// Reads the master secret from `path`, creating it (mode 0600) with fresh random bytes
    /// if it does not exist.
    pub fn load_or_create(path: &Path, random: &dyn Random) -> Result<Self, SecretsError> {
        Self::from_master(&load_or_create_key(path, random)?)
    }

    /// The peppered hash under which an activation code is stored.
    pub fn code_hash(&self, canonical_code: &str) -> Vec<u8> {
        hmac::sign(&self.code_pepper, canonical_code.as_bytes())
            .as_ref()
            .to_vec()
    }

    /// The peppered hash under which a one-time SMS code is stored; bound to its challenge
    /// so the same digits hash differently each time.
    pub fn otp_hash(&self, challenge_id: &str, code: &str) -> Vec<u8> {
        let mut ctx = hmac::Context::with_key(&self.otp_pepper);
        ctx.update(challenge_id.as_bytes());
        ctx.update(b"\0");
        ctx.update(code.as_bytes());
        ctx.sign().as_ref().to_vec()
    }

    /// The hash under which a random session token is stored, so a database dump does not
    /// yield usable sessions.
    pub fn token_hash(&self, token: &str) -> Vec<u8> {
        hmac::sign(&self.token_pepper, token.as_bytes())
            .as_ref()
            .to_vec()
    }

    /// The peppered hash under which an OAuth client's secret is stored, bound to the
    /// client id. A keyed hash rather than Argon2: secrets are checked on every token
    /// request (Argon2 would cap logins at tens per second per core), generated secrets
    /// carry 256 bits, and a database dump without the master secret yields nothing.
    pub fn client_secret_hash(&self, client_id: &str, secret: &str) -> Vec<u8> {
        let mut ctx = hmac::Context::with_key(&self.client_secret_pepper);
        ctx.update(client_id.as_bytes());
        ctx.update(b"\0");
        ctx.update(secret.as_bytes());
        ctx.sign().as_ref().to_vec()
    }

    /// Encrypts `plaintext` (nonce ‖ ciphertext ‖ tag) for an outbox.
    pub fn seal(&self, plaintext: &[u8], random: &dyn Random) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        random.fill(&mut nonce);
        let mut buf = plaintext.to_vec();
        // AES-GCM sealing only fails for inputs beyond 2^36 bytes; outbox items are tiny.
        if self
            .sealing
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf)
            .is_err()
        {
            return Vec::new();
        }
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        out
    }

    /// Decrypts a value made by [`ServerSecrets::seal`].
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, SecretsError> {
        if sealed.len() < NONCE_LEN {
            return Err(SecretsError::Unseal);
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SecretsError::Unseal)?;
        let mut buf = rest.to_vec();
        let plain = self
            .sealing
            .open_in_place(nonce, Aad::empty(), &mut buf)
            .map_err(|_| SecretsError::Unseal)?;
        Ok(plain.to_vec())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_hex32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nokkel_core::random::SeededRandom;

    #[test]
    fn seal_and_open_roundtrip_and_detect_tampering() {
        let secrets = ServerSecrets::from_master(&[7; 32]).unwrap();
        let random = SeededRandom::new(1);
        let sealed = secrets.seal(b"ABCDE-FGHJK-MNPQ7", &random);
        assert!(!sealed.windows(5).any(|w| w == b"ABCDE"));
        assert_eq!(secrets.open(&sealed).unwrap(), b"ABCDE-FGHJK-MNPQ7");
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(secrets.open(&tampered).is_err());
        let other = ServerSecrets::from_master(&[8; 32]).unwrap();
        assert!(other.open(&sealed).is_err());
    }

    #[test]
    fn hashes_depend_on_master_and_purpose() {
        let a = ServerSecrets::from_master(&[1; 32]).unwrap();
        let b = ServerSecrets::from_master(&[2; 32]).unwrap();
        assert_eq!(a.code_hash("X"), a.code_hash("X"));
        assert_ne!(a.code_hash("X"), b.code_hash("X"));
        assert_ne!(a.code_hash("X"), a.token_hash("X"));
        assert_ne!(a.otp_hash("c1", "123456"), a.otp_hash("c2", "123456"));
    }

    #[test]
    fn key_file_is_created_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("secret.key");
        let first = ServerSecrets::load_or_create(&path, &SeededRandom::new(3)).unwrap();
        let second = ServerSecrets::load_or_create(&path, &SeededRandom::new(4)).unwrap();
        assert_eq!(first.code_hash("A"), second.code_hash("A"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "not hex").unwrap();
        assert!(matches!(
            ServerSecrets::load_or_create(&path, &SeededRandom::new(3)),
            Err(SecretsError::Malformed { .. })
        ));
    }
}
