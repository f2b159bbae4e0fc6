//! User verification: proving the user is present before the device key signs, and the
//! key protection that goes with each method.
//!
//! A [`UserVerifier`] wraps a freshly generated device key for its vault
//! ([`UserVerifier::protect`]) and, when the user proves presence, unwraps it again
//! ([`UserVerifier::unlock`]), reporting the [`UserVerification`] method used — which the
//! signed approval carries. Protected keys start with one byte naming the protection:
//!
//! | byte | protection | verifier |
//! |---|---|---|
//! | `0x00` | none: the 32-byte scalar | [`TestVerifier`] (and the iOS design, where the keychain item itself demands Face ID) |
//! | `0x01` | AES-256-GCM under an Argon2id key derived from the passcode | [`PasscodeVerifier`] |
//! | `0x02` | Android Keystore AES key that requires biometrics | [`crate::mobile::biometric`] (Android) |

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use aes_gcm::aead::{Aead as _, Payload};
use aes_gcm::{Aes256Gcm, KeyInit as _, Nonce};
use argon2::{Algorithm, Argon2, Params, Version};
use nokkel_core::clock::{Clock, SystemClock};
use nokkel_core::keys::DeviceKey;
use nokkel_core::random::{OsRandom, Random};
use nokkel_core::statements::UserVerification;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use zeroize::Zeroizing;

use crate::fsutil::{read_if_exists, write_atomically, FileLock};
use crate::vault::{KeyVault, ProtectedKey, VaultError};

/// Tag of an unprotected key.
pub(crate) const TAG_PLAIN: u8 = 0x00;
/// Tag of a passcode-wrapped key.
pub(crate) const TAG_PASSCODE_V1: u8 = 0x01;
/// Tag of an Android biometric-cipher-wrapped key.
pub(crate) const TAG_ANDROID_BIOMETRIC: u8 = 0x02;

/// Why user verification failed. Never contains the passcode or key material.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The vault holds no device key.
    #[error("no device key in the vault")]
    NoKey,
    /// The vault failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The key is protected differently than this verifier expects.
    #[error("the device key is protected by {0}, not by this verification method")]
    WrongProtection(&'static str),
    /// The passcode is wrong.
    #[error("wrong passcode; {attempts_left} attempts left before a pause")]
    WrongPasscode {
        /// Attempts before the verifier pauses.
        attempts_left: u32,
    },
    /// Too many wrong passcodes: wait.
    #[error("too many wrong passcodes; try again in {retry_after_secs} s")]
    PasscodeLocked {
        /// Seconds until the next attempt is allowed.
        retry_after_secs: i64,
    },
    /// The passcode is too short to protect a key.
    #[error("the passcode must have at least {min} characters")]
    WeakPasscode {
        /// Minimum length.
        min: usize,
    },
    /// The user (or the system) cancelled the prompt: trying again may work.
    #[error("verification cancelled")]
    Cancelled,
    /// The face or finger was shown but not recognised: trying again may work.
    #[error("face or fingerprint not recognised")]
    NotRecognised,
    /// Too many failed attempts: the phone blocks face/finger until its screen lock (PIN,
    /// pattern, password) is used once.
    #[error("face or fingerprint is locked after too many attempts")]
    BiometryLockout,
    /// The phone has no face or fingerprint enrolled (or no screen lock): the person must
    /// add one in the phone's settings.
    #[error("no face or fingerprint is set up on this phone")]
    BiometryNotEnrolled,
    /// The key that protects the device key is gone for good: a fingerprint or face was
    /// added, or the screen lock was removed (Android Keystore key invalidated; iOS
    /// keychain item bound to the previous biometry set). Only starting over helps.
    #[error("the key protecting the device key was invalidated by a change to the phone's biometrics or screen lock")]
    KeyInvalidated,
    /// The platform cannot verify the user (no biometric hardware, plugin missing, ...).
    #[error("user verification unavailable: {0}")]
    Unavailable(String),
    /// The stored key is damaged.
    #[error("protected key is corrupt: {0}")]
    Corrupt(&'static str),
}

impl VerifyError {
    /// A stable code for the app.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoKey => "no_device_key",
            Self::Vault(e) => e.code(),
            Self::WrongProtection(_) => "key_protection_mismatch",
            Self::WrongPasscode { .. } => "wrong_passcode",
            Self::PasscodeLocked { .. } => "passcode_locked",
            Self::WeakPasscode { .. } => "weak_passcode",
            Self::Cancelled => "verification_cancelled",
            Self::NotRecognised => "biometry_not_recognised",
            Self::BiometryLockout => "biometry_lockout",
            Self::BiometryNotEnrolled => "biometry_not_enrolled",
            Self::KeyInvalidated => "key_invalidated",
            Self::Unavailable(_) => "verification_unavailable",
            Self::Corrupt(_) => "key_corrupt",
        }
    }
}

/// A device key the user just unlocked, and how they proved presence.
pub struct UnlockedKey {
    key: DeviceKey,
    method: UserVerification,
}

impl UnlockedKey {
    /// Pairs a key with the verification method that released it.
    pub fn new(key: DeviceKey, method: UserVerification) -> Self {
        Self { key, method }
    }
    /// The device key.
    pub fn key(&self) -> &DeviceKey {
        &self.key
    }
    /// The verification method used.
    pub fn method(&self) -> UserVerification {
        self.method
    }
    pub(crate) fn into_key(self) -> DeviceKey {
        self.key
    }
}

impl std::fmt::Debug for UnlockedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnlockedKey")
            .field("key", &self.key)
            .field("method", &self.method)
            .finish()
    }
}

/// Proves the user's presence and guards the device key.
///
/// Calls may block while a prompt is shown: call the flows that use a verifier from an
/// async command on a multi-threaded runtime (Tauri's default).
pub trait UserVerifier: Send + Sync {
    /// The method this verifier normally uses (listed in the enrolment statement).
    fn method(&self) -> UserVerification;
    /// Protects a freshly generated key for storage in a vault.
    fn protect(&self, key: &DeviceKey) -> Result<ProtectedKey, VerifyError>;
    /// Asks the user to prove presence and returns the key from `vault`, unwrapped.
    /// `reason` is shown in the platform prompt where there is one.
    fn unlock(&self, vault: &dyn KeyVault, reason: &str) -> Result<UnlockedKey, VerifyError>;
}

pub(crate) fn load(vault: &dyn KeyVault) -> Result<ProtectedKey, VerifyError> {
    vault.load()?.ok_or(VerifyError::NoKey)
}

pub(crate) fn protection_name(tag: Option<&u8>) -> &'static str {
    match tag {
        Some(&TAG_PLAIN) => "nothing (test key)",
        Some(&TAG_PASSCODE_V1) => "a passcode",
        Some(&TAG_ANDROID_BIOMETRIC) => "Android biometrics",
        _ => "an unknown method",
    }
}

/// The plain form: tag + 32-byte scalar.
pub(crate) fn plain(key: &DeviceKey) -> ProtectedKey {
    let mut bytes = Vec::with_capacity(33);
    bytes.push(TAG_PLAIN);
    bytes.extend_from_slice(key.to_secret_bytes().as_ref());
    ProtectedKey::from_bytes(bytes)
}

pub(crate) fn from_plain(protected: &ProtectedKey) -> Result<DeviceKey, VerifyError> {
    match protected.as_bytes().split_first() {
        Some((&TAG_PLAIN, scalar)) => {
            DeviceKey::from_secret_bytes(scalar).map_err(|_| VerifyError::Corrupt("bad scalar"))
        }
        other => Err(VerifyError::WrongProtection(protection_name(
            other.map(|(tag, _)| tag),
        ))),
    }
}

/// No verification at all: always says yes and reports `none_test`. Only demo and test
/// servers accept approvals made with it. The key is stored unprotected.
#[derive(Debug)]
pub struct TestVerifier {
    _private: (),
}

impl TestVerifier {
    /// The always-yes verifier. The name says it: never use it for a real person.
    pub fn danger_always_yes() -> Self {
        Self { _private: () }
    }
}

impl UserVerifier for TestVerifier {
    fn method(&self) -> UserVerification {
        UserVerification::NoneTest
    }

    fn protect(&self, key: &DeviceKey) -> Result<ProtectedKey, VerifyError> {
        Ok(plain(key))
    }

    fn unlock(&self, vault: &dyn KeyVault, _reason: &str) -> Result<UnlockedKey, VerifyError> {
        let key = from_plain(&load(vault)?)?;
        Ok(UnlockedKey::new(key, UserVerification::NoneTest))
    }
}

// ---------------------------------------------------------------------------------------
// Passcode
// ---------------------------------------------------------------------------------------

/// Shortest passcode accepted when protecting a key.
pub const MIN_PASSCODE_CHARS: usize = 6;
/// Wrong passcodes allowed before the verifier starts pausing.
pub const FREE_PASSCODE_ATTEMPTS: u32 = 5;
/// First pause after the free attempts, doubled for each further failure.
pub const FIRST_PAUSE_SECS: i64 = 30;
/// Longest pause.
pub const MAX_PAUSE_SECS: i64 = 3600;

/// Argon2id cost (OWASP's recommended minimum: 19 MiB, 2 passes, 1 lane).
const ARGON2_M_KIB: u32 = 19 * 1024;
const ARGON2_T: u32 = 2;
const ARGON2_P: u32 = 1;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 12;
/// tag + m + t + p + salt + nonce.
const HEADER_LEN: usize = 1 + 4 + 4 + 4 + SALT_LEN + NONCE_LEN;
/// Upper bounds on costs read from a stored key, so a corrupt file cannot make us
/// allocate gigabytes.
const MAX_M_KIB: u32 = 1024 * 1024;
const MAX_T: u32 = 16;
const MAX_P: u32 = 8;

#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize)]
struct AttemptRecord {
    failures: u32,
    locked_until: i64,
}

/// Counts wrong passcodes, persisted (so restarting the app does not reset the count),
/// and imposes growing pauses after [`FREE_PASSCODE_ATTEMPTS`].
#[derive(Clone)]
pub struct PasscodeAttempts {
    file: Option<PathBuf>,
    memory: Arc<Mutex<AttemptRecord>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for PasscodeAttempts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasscodeAttempts")
            .field("file", &self.file)
            .finish()
    }
}

impl PasscodeAttempts {
    /// Attempts recorded in `file` (JSON, written atomically).
    pub fn in_file(file: impl Into<PathBuf>, clock: Arc<dyn Clock>) -> Self {
        Self {
            file: Some(file.into()),
            memory: Arc::default(),
            clock,
        }
    }

    /// Attempts kept in memory only (tests).
    pub fn in_memory(clock: Arc<dyn Clock>) -> Self {
        Self {
            file: None,
            memory: Arc::default(),
            clock,
        }
    }

    fn read(&self) -> Result<AttemptRecord, VerifyError> {
        match &self.file {
            None => Ok(*self.memory.lock().unwrap_or_else(|p| p.into_inner())),
            Some(path) => match read_if_exists(path) {
                Ok(Some(bytes)) => serde_json::from_slice(&bytes)
                    .map_err(|_| VerifyError::Corrupt("passcode attempt record unreadable")),
                Ok(None) => Ok(AttemptRecord::default()),
                Err(e) => Err(VaultError::Io(e.to_string()).into()),
            },
        }
    }

    fn write(&self, record: AttemptRecord) -> Result<(), VerifyError> {
        match &self.file {
            None => {
                *self.memory.lock().unwrap_or_else(|p| p.into_inner()) = record;
                Ok(())
            }
            Some(path) => {
                let bytes = serde_json::to_vec(&record)
                    .map_err(|_| VerifyError::Corrupt("attempt record"))?;
                write_atomically(path, &bytes).map_err(|e| VaultError::Io(e.to_string()).into())
            }
        }
    }

    /// Runs one attempt: refuses while paused, records the outcome. The whole
    /// read-check-write runs under a file lock so two processes cannot both get a free try.
    fn attempt<T>(&self, check: impl FnOnce() -> Result<T, VerifyError>) -> Result<T, VerifyError> {
        let _lock = match &self.file {
            Some(path) => Some(
                FileLock::acquire(path)
                    .map_err(|e| VerifyError::from(VaultError::Io(e.to_string())))?,
            ),
            None => None,
        };
        let now = self.clock.unix();
        let mut record = self.read()?;
        if now < record.locked_until {
            return Err(VerifyError::PasscodeLocked {
                retry_after_secs: record.locked_until - now,
            });
        }
        match check() {
            Ok(value) => {
                self.write(AttemptRecord::default())?;
                Ok(value)
            }
            Err(VerifyError::WrongPasscode { .. }) => {
                record.failures = record.failures.saturating_add(1);
                if record.failures >= FREE_PASSCODE_ATTEMPTS {
                    let doublings = (record.failures - FREE_PASSCODE_ATTEMPTS).min(16);
                    let pause = (FIRST_PAUSE_SECS << doublings).min(MAX_PAUSE_SECS);
                    record.locked_until = now.saturating_add(pause);
                }
                self.write(record)?;
                Err(VerifyError::WrongPasscode {
                    attempts_left: FREE_PASSCODE_ATTEMPTS.saturating_sub(record.failures),
                })
            }
            Err(other) => Err(other),
        }
    }
}

/// The desktop verifier: the app's own passcode. An Argon2id key derived from it wraps
/// the device key with AES-256-GCM; only the right passcode unwraps it, so the key in the
/// OS keyring is useless without it. Wrong attempts are counted by [`PasscodeAttempts`].
pub struct PasscodeVerifier {
    passcode: Zeroizing<String>,
    attempts: PasscodeAttempts,
    random: Arc<dyn Random>,
}

impl std::fmt::Debug for PasscodeVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasscodeVerifier")
            .field("passcode", &"<redacted>")
            .finish()
    }
}

impl PasscodeVerifier {
    /// A verifier for the passcode the user just typed.
    pub fn new(passcode: &str, attempts: PasscodeAttempts) -> Self {
        Self {
            passcode: Zeroizing::new(passcode.to_owned()),
            attempts,
            random: Arc::new(OsRandom),
        }
    }

    /// Uses `random` for salts and nonces (tests).
    pub fn with_random(mut self, random: Arc<dyn Random>) -> Self {
        self.random = random;
        self
    }

    fn derive(
        &self,
        salt: &[u8],
        m: u32,
        t: u32,
        p: u32,
    ) -> Result<Zeroizing<[u8; 32]>, VerifyError> {
        let params = Params::new(m, t, p, Some(32))
            .map_err(|_| VerifyError::Corrupt("bad Argon2 parameters"))?;
        let mut out = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(self.passcode.as_bytes(), salt, out.as_mut())
            .map_err(|_| VerifyError::Corrupt("Argon2 failed"))?;
        Ok(out)
    }
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    bytes
        .get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_be_bytes)
}

impl UserVerifier for PasscodeVerifier {
    fn method(&self) -> UserVerification {
        UserVerification::Passcode
    }

    fn protect(&self, key: &DeviceKey) -> Result<ProtectedKey, VerifyError> {
        if self.passcode.chars().count() < MIN_PASSCODE_CHARS {
            return Err(VerifyError::WeakPasscode {
                min: MIN_PASSCODE_CHARS,
            });
        }
        let mut salt = [0u8; SALT_LEN];
        let mut nonce = [0u8; NONCE_LEN];
        self.random.fill(&mut salt);
        self.random.fill(&mut nonce);
        let mut header = Vec::with_capacity(HEADER_LEN + 48);
        header.push(TAG_PASSCODE_V1);
        header.extend_from_slice(&ARGON2_M_KIB.to_be_bytes());
        header.extend_from_slice(&ARGON2_T.to_be_bytes());
        header.extend_from_slice(&ARGON2_P.to_be_bytes());
        header.extend_from_slice(&salt);
        header.extend_from_slice(&nonce);
        let wrapping = self.derive(&salt, ARGON2_M_KIB, ARGON2_T, ARGON2_P)?;
        let cipher = Aes256Gcm::new_from_slice(wrapping.as_ref())
            .map_err(|_| VerifyError::Corrupt("AES key length"))?;
        let secret = key.to_secret_bytes();
        // The header is authenticated too, so nobody can lower the Argon2 cost in place.
        let sealed = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: secret.as_ref(),
                    aad: &header,
                },
            )
            .map_err(|_| VerifyError::Corrupt("AES-GCM failed"))?;
        header.extend_from_slice(&sealed);
        Ok(ProtectedKey::from_bytes(header))
    }

    fn unlock(&self, vault: &dyn KeyVault, _reason: &str) -> Result<UnlockedKey, VerifyError> {
        let protected = load(vault)?;
        let bytes = protected.as_bytes();
        if bytes.first() != Some(&TAG_PASSCODE_V1) {
            return Err(VerifyError::WrongProtection(protection_name(bytes.first())));
        }
        if bytes.len() != HEADER_LEN + 32 + 16 {
            return Err(VerifyError::Corrupt("wrong length"));
        }
        let (m, t, p) = match (be_u32(bytes, 1), be_u32(bytes, 5), be_u32(bytes, 9)) {
            (Some(m), Some(t), Some(p)) if m <= MAX_M_KIB && t <= MAX_T && p <= MAX_P => (m, t, p),
            _ => return Err(VerifyError::Corrupt("Argon2 parameters out of range")),
        };
        let (header, sealed) = bytes.split_at(HEADER_LEN);
        let salt = &header[13..13 + SALT_LEN];
        let nonce: [u8; NONCE_LEN] = header[13 + SALT_LEN..]
            .try_into()
            .map_err(|_| VerifyError::Corrupt("nonce"))?;
        self.attempts.attempt(|| {
            let wrapping = self.derive(salt, m, t, p)?;
            let cipher = Aes256Gcm::new_from_slice(wrapping.as_ref())
                .map_err(|_| VerifyError::Corrupt("AES key length"))?;
            let secret = Zeroizing::new(
                cipher
                    .decrypt(
                        &Nonce::from(nonce),
                        Payload {
                            msg: sealed,
                            aad: header,
                        },
                    )
                    // AES-GCM cannot tell a wrong key from a damaged file; a damaged file
                    // is far less likely than a typo.
                    .map_err(|_| VerifyError::WrongPasscode { attempts_left: 0 })?,
            );
            let key = DeviceKey::from_secret_bytes(&secret)
                .map_err(|_| VerifyError::Corrupt("bad scalar"))?;
            Ok(UnlockedKey::new(key, UserVerification::Passcode))
        })
    }
}

/// The system clock as a shared [`Clock`], for [`PasscodeAttempts`] outside tests.
pub fn system_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::FileVault;
    use nokkel_core::clock::FixedClock;
    use nokkel_core::random::RandomRng;
    use nokkel_core::random::SeededRandom;

    fn key(seed: u64) -> DeviceKey {
        let random = SeededRandom::new(seed);
        DeviceKey::generate(&mut RandomRng::new(&random))
    }

    fn vault_with(protected: &ProtectedKey) -> (tempfile::TempDir, FileVault) {
        let dir = tempfile::tempdir().unwrap();
        let vault = FileVault::new(dir.path().join("device.key"));
        vault.store(protected).unwrap();
        (dir, vault)
    }

    #[test]
    fn test_verifier_round_trips_and_reports_none_test() {
        let verifier = TestVerifier::danger_always_yes();
        let k = key(1);
        let (_dir, vault) = vault_with(&verifier.protect(&k).unwrap());
        let unlocked = verifier.unlock(&vault, "approve").unwrap();
        assert_eq!(unlocked.key().device_id(), k.device_id());
        assert_eq!(unlocked.method(), UserVerification::NoneTest);
        assert_eq!(verifier.method(), UserVerification::NoneTest);
    }

    #[test]
    fn passcode_wraps_the_key_and_only_the_right_passcode_unwraps_it() {
        let clock: Arc<dyn Clock> = Arc::new(FixedClock::at_unix(1_800_000_000));
        let attempts = PasscodeAttempts::in_memory(clock);
        let right = PasscodeVerifier::new("correct horse", attempts.clone())
            .with_random(Arc::new(SeededRandom::new(3)));
        let k = key(2);
        let protected = right.protect(&k).unwrap();
        assert_eq!(protected.as_bytes()[0], TAG_PASSCODE_V1);
        assert!(
            !protected
                .as_bytes()
                .windows(32)
                .any(|w| w == k.to_secret_bytes().as_ref()),
            "the scalar is not stored in clear"
        );
        let (_dir, vault) = vault_with(&protected);
        let unlocked = right.unlock(&vault, "approve").unwrap();
        assert_eq!(unlocked.key().device_id(), k.device_id());
        assert_eq!(unlocked.method(), UserVerification::Passcode);

        let wrong = PasscodeVerifier::new("correct horsf", attempts);
        let err = wrong.unlock(&vault, "approve").unwrap_err();
        assert_eq!(err.code(), "wrong_passcode");
        assert!(err.to_string().contains("4 attempts left"), "{err}");
        assert!(!format!("{wrong:?}").contains("horsf"));
        // The test verifier refuses a passcode-protected key, clearly.
        let err = TestVerifier::danger_always_yes()
            .unlock(&vault, "x")
            .unwrap_err();
        assert_eq!(err.code(), "key_protection_mismatch");
        assert!(err.to_string().contains("passcode"), "{err}");
    }

    #[test]
    fn tampered_header_is_refused() {
        let clock: Arc<dyn Clock> = Arc::new(FixedClock::at_unix(0));
        let verifier = PasscodeVerifier::new("123456", PasscodeAttempts::in_memory(clock));
        let protected = verifier.protect(&key(4)).unwrap();
        let mut bytes = protected.as_bytes().to_vec();
        // Lower the stored Argon2 cost: authenticated as AAD, so decryption fails.
        bytes[8] ^= 1;
        let (_dir, vault) = vault_with(&ProtectedKey::from_bytes(bytes));
        assert!(verifier.unlock(&vault, "x").is_err());
    }

    #[test]
    fn short_passcodes_cannot_protect_a_key() {
        let clock: Arc<dyn Clock> = Arc::new(FixedClock::at_unix(0));
        let verifier = PasscodeVerifier::new("12345", PasscodeAttempts::in_memory(clock));
        assert_eq!(
            verifier.protect(&key(5)).unwrap_err().code(),
            "weak_passcode"
        );
    }

    #[test]
    fn wrong_passcodes_pause_and_the_count_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let fixed = Arc::new(FixedClock::at_unix(1_800_000_000));
        let clock: Arc<dyn Clock> = fixed.clone();
        let file = dir.path().join("attempts.json");
        let right =
            PasscodeVerifier::new("123456", PasscodeAttempts::in_file(&file, clock.clone()));
        let (_vdir, vault) = vault_with(&right.protect(&key(6)).unwrap());
        for expected_left in (0..FREE_PASSCODE_ATTEMPTS).rev() {
            // A new verifier each time, as the app makes one per typed passcode.
            let wrong =
                PasscodeVerifier::new("654321", PasscodeAttempts::in_file(&file, clock.clone()));
            match wrong.unlock(&vault, "x").unwrap_err() {
                VerifyError::WrongPasscode { attempts_left } => {
                    assert_eq!(attempts_left, expected_left)
                }
                other => panic!("{other:?}"),
            }
        }
        // Paused now: even the right passcode waits, and says how long.
        let right =
            PasscodeVerifier::new("123456", PasscodeAttempts::in_file(&file, clock.clone()));
        match right.unlock(&vault, "x").unwrap_err() {
            VerifyError::PasscodeLocked { retry_after_secs } => {
                assert_eq!(retry_after_secs, FIRST_PAUSE_SECS)
            }
            other => panic!("{other:?}"),
        }
        fixed.advance(FIRST_PAUSE_SECS);
        // One more wrong one doubles the pause.
        let wrong =
            PasscodeVerifier::new("000000", PasscodeAttempts::in_file(&file, clock.clone()));
        assert_eq!(
            wrong.unlock(&vault, "x").unwrap_err().code(),
            "wrong_passcode"
        );
        match right.unlock(&vault, "x").unwrap_err() {
            VerifyError::PasscodeLocked { retry_after_secs } => {
                assert_eq!(retry_after_secs, 2 * FIRST_PAUSE_SECS)
            }
            other => panic!("{other:?}"),
        }
        fixed.advance(2 * FIRST_PAUSE_SECS);
        assert!(right.unlock(&vault, "x").is_ok());
        // Success resets the count.
        let wrong = PasscodeVerifier::new("000000", PasscodeAttempts::in_file(&file, clock));
        match wrong.unlock(&vault, "x").unwrap_err() {
            VerifyError::WrongPasscode { attempts_left } => {
                assert_eq!(attempts_left, FREE_PASSCODE_ATTEMPTS - 1)
            }
            other => panic!("{other:?}"),
        }
    }
}
