//! The password policy for SMS users (NIST SP 800-63B §5.1.1): at least 8 characters,
//! up to 128 accepted, any characters, no composition rules, and a check against commonly
//! used and easily guessed passwords (zxcvbn's frequency lists and pattern matching).
//! Passwords are stored as Argon2id PHC strings.

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Argon2, PasswordHash, PasswordVerifier};
use nokkel_core::random::Random;
use thiserror::Error;

/// Shortest password accepted.
pub const MIN_LENGTH: usize = 8;
/// Longest password accepted (NIST asks for at least 64).
pub const MAX_LENGTH: usize = 128;

/// Why a password was refused. Never carries the password.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasswordProblem {
    /// Fewer than [`MIN_LENGTH`] characters.
    #[error("too short")]
    TooShort,
    /// More than [`MAX_LENGTH`] characters.
    #[error("too long")]
    TooLong,
    /// On a list of common passwords or trivially guessable.
    #[error("too common")]
    TooCommon,
    /// The repeated password differs.
    #[error("passwords differ")]
    Mismatch,
}

impl PasswordProblem {
    /// The translation key suffix (`error-password-…`).
    pub fn key(&self) -> &'static str {
        match self {
            PasswordProblem::TooShort => "error-password-short",
            PasswordProblem::TooLong => "error-password-long",
            PasswordProblem::TooCommon => "error-password-common",
            PasswordProblem::Mismatch => "error-password-mismatch",
        }
    }
}

/// Checks a new password against the policy. `context` holds words that must not make up
/// the password (the person's names, identity number).
pub fn check(password: &str, repeated: &str, context: &[&str]) -> Result<(), PasswordProblem> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(PasswordProblem::TooShort);
    }
    if length > MAX_LENGTH {
        return Err(PasswordProblem::TooLong);
    }
    // Score 0–1 means "too guessable": on a common-password list, a dictionary word with
    // trivial changes, a keyboard pattern, or built from the person's own data.
    if zxcvbn::zxcvbn(password, context).score() < zxcvbn::Score::Two {
        return Err(PasswordProblem::TooCommon);
    }
    if password != repeated {
        return Err(PasswordProblem::Mismatch);
    }
    Ok(())
}

/// A fresh 16-byte salt from `random`.
pub fn salt(random: &dyn Random) -> Option<SaltString> {
    let mut bytes = [0u8; 16];
    random.fill(&mut bytes);
    SaltString::encode_b64(&bytes).ok()
}

/// Hashes a password with Argon2id (the crate's defaults follow OWASP's recommendation)
/// and the given salt (see [`salt`]).
pub fn hash(password: &str, salt: &SaltString) -> Option<String> {
    Argon2::default()
        .hash_password(password.as_bytes(), salt)
        .ok()
        .map(|h| h.to_string())
}

/// Checks a password against a stored PHC string.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_accepts_long_passphrases_and_refuses_weak_ones() {
        assert_eq!(check("kort", "kort", &[]), Err(PasswordProblem::TooShort));
        assert_eq!(
            check("password1", "password1", &[]),
            Err(PasswordProblem::TooCommon)
        );
        assert_eq!(
            check("qwertyuiop", "qwertyuiop", &[]),
            Err(PasswordProblem::TooCommon)
        );
        assert_eq!(
            check("Nordmann1990", "Nordmann1990", &["Kari", "Nordmann"]),
            Err(PasswordProblem::TooCommon)
        );
        let long = "x".repeat(129);
        assert_eq!(check(&long, &long, &[]), Err(PasswordProblem::TooLong));
        assert_eq!(
            check("blåbær syltetøy fjelltur", "blåbær syltetøy fjelltur", &[]),
            Ok(())
        );
        assert_eq!(
            check("blåbær syltetøy fjelltur", "blåbær syltetøy", &[]),
            Err(PasswordProblem::Mismatch)
        );
    }

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let random = nokkel_core::random::SeededRandom::new(7);
        let a = hash("blåbær syltetøy fjelltur", &salt(&random).unwrap()).unwrap();
        let b = hash("blåbær syltetøy fjelltur", &salt(&random).unwrap()).unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "salted");
        assert!(verify("blåbær syltetøy fjelltur", &a));
        assert!(!verify("blåbær syltetøy fjelltu", &a));
        assert!(!verify("anything", "not a phc string"));
    }
}
