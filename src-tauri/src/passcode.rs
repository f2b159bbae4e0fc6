//! Rules for a new app passcode (desktop, or where biometrics are unavailable).
//!
//! The passcode only unlocks the device key on this device (an Argon2id-derived key wraps
//! it), so six digits suffice, but the obvious ones are refused.

use crate::error::AppError;

/// Shortest accepted passcode.
pub const MIN_DIGITS: usize = 6;
/// Longest accepted passcode.
pub const MAX_DIGITS: usize = 12;

/// Checks a new passcode: `passcode_format` (not 6–12 digits) or `weak_passcode` (one digit
/// repeated, or a run such as 123456 / 987654).
pub fn check_new(digits: &str) -> Result<(), AppError> {
    let bytes = digits.as_bytes();
    if !(MIN_DIGITS..=MAX_DIGITS).contains(&bytes.len()) || !bytes.iter().all(u8::is_ascii_digit) {
        return Err(AppError::new(
            "passcode_format",
            "a passcode has 6 to 12 digits",
        ));
    }
    let steps: Vec<i16> = bytes
        .windows(2)
        .map(|w| i16::from(w[1]) - i16::from(w[0]))
        .collect();
    let constant_step = steps.iter().all(|&s| s == steps[0]);
    if constant_step && steps[0].abs() <= 1 {
        return Err(AppError::new(
            "weak_passcode",
            "the passcode is too easy to guess",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_six_to_twelve_unpredictable_digits() {
        assert!(check_new("583920").is_ok());
        assert!(check_new("583920583920").is_ok());
        assert!(check_new("135791").is_ok(), "step 2 is not an obvious run");
    }

    #[test]
    fn refuses_wrong_shape() {
        for bad in ["", "12345", "5839205839201", "58392a", "583 920"] {
            assert_eq!(
                check_new(bad).unwrap_err().code,
                "passcode_format",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn refuses_repeats_and_runs() {
        for weak in ["000000", "111111", "123456", "987654", "23456789"] {
            assert_eq!(check_new(weak).unwrap_err().code, "weak_passcode", "{weak}");
        }
    }
}
