//! Mobile numbers: parsed and normalised to E.164 with libphonenumber's metadata, so that
//! the app's contact screen and the server's order form accept exactly the same input.

use phonenumber::{country, Mode, PhoneNumber, Type};
use thiserror::Error;

/// Calling codes offered first in forms (Norway is the default), as ISO region and code.
pub const COMMON_REGIONS: [(&str, u16); 13] = [
    ("NO", 47),
    ("SE", 46),
    ("DK", 45),
    ("FI", 358),
    ("IS", 354),
    ("DE", 49),
    ("GB", 44),
    ("PL", 48),
    ("LT", 370),
    ("NL", 31),
    ("ES", 34),
    ("FR", 33),
    ("US", 1),
];

/// A valid mobile number in E.164 form (`+4791234567`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MobileNumber {
    e164: String,
}

/// Why input is not a mobile number.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PhoneError {
    /// Nothing was entered.
    #[error("no mobile number given")]
    Empty,
    /// Not a valid telephone number for its country.
    #[error("not a valid telephone number")]
    Invalid,
    /// A valid number, but a landline or special number rather than a mobile.
    #[error("not a mobile number")]
    NotMobile,
}

impl PhoneError {
    /// A short stable code for APIs and translations.
    pub fn code(&self) -> &'static str {
        match self {
            PhoneError::Empty => "empty",
            PhoneError::Invalid => "invalid",
            PhoneError::NotMobile => "not_mobile",
        }
    }
}

impl MobileNumber {
    /// Parses `input` as a mobile number. A number starting with `+` or `00` carries its own
    /// country; otherwise `calling_code` (e.g. `47` or `+47`) says which country it is in.
    pub fn parse(calling_code: &str, input: &str) -> Result<MobileNumber, PhoneError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(PhoneError::Empty);
        }
        let international = if let Some(rest) = input.strip_prefix("00") {
            Some(format!("+{rest}"))
        } else if input.starts_with('+') {
            Some(input.to_owned())
        } else {
            None
        };
        let parsed = match international {
            Some(full) => phonenumber::parse(None, full),
            None => {
                let code = calling_code.trim().trim_start_matches('+');
                if code.is_empty() || !code.chars().all(|c| c.is_ascii_digit()) {
                    return Err(PhoneError::Invalid);
                }
                if code == "47" {
                    phonenumber::parse(Some(country::Id::NO), input)
                } else {
                    phonenumber::parse(None, format!("+{code}{input}"))
                }
            }
        }
        .map_err(|_| PhoneError::Invalid)?;
        Self::from_parsed(&parsed)
    }

    /// Parses a number already in E.164 form.
    pub fn parse_e164(input: &str) -> Result<MobileNumber, PhoneError> {
        if !input.starts_with('+') {
            return Err(PhoneError::Invalid);
        }
        Self::parse("", input)
    }

    fn from_parsed(number: &PhoneNumber) -> Result<MobileNumber, PhoneError> {
        if !phonenumber::is_valid(number) {
            return Err(PhoneError::Invalid);
        }
        match number.number_type(&phonenumber::metadata::DATABASE) {
            // Some numbering plans (e.g. North America) cannot tell mobiles from landlines.
            Type::Mobile | Type::FixedLineOrMobile => Ok(MobileNumber {
                e164: number.format().mode(Mode::E164).to_string(),
            }),
            _ => Err(PhoneError::NotMobile),
        }
    }

    /// The number in E.164 form.
    pub fn e164(&self) -> &str {
        &self.e164
    }

    /// The number with all but the last three digits hidden, for receipts and screens that
    /// confirm where a code went (`+47 ***** 567`).
    pub fn masked(&self) -> String {
        let digits = self.e164.trim_start_matches('+');
        let keep = digits.len().saturating_sub(3);
        let (head, tail) = digits.split_at(keep);
        let code_len = match phonenumber::parse(None, &self.e164) {
            Ok(n) => n.code().value().to_string().len(),
            Err(_) => 0,
        };
        let hidden = head.len().saturating_sub(code_len);
        format!(
            "+{} {} {}",
            head.get(..code_len).unwrap_or_default(),
            "*".repeat(hidden),
            tail
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norwegian_mobiles_in_common_spellings() {
        for input in ["91234567", "912 34 567", "+47 912 34 567", "004791234567"] {
            let number = MobileNumber::parse("47", input).unwrap();
            assert_eq!(number.e164(), "+4791234567", "{input}");
        }
        assert_eq!(
            MobileNumber::parse("+47", "41234567").unwrap().e164(),
            "+4741234567"
        );
    }

    #[test]
    fn other_countries_by_calling_code_or_plus() {
        assert_eq!(
            MobileNumber::parse("46", "070-123 45 67").unwrap().e164(),
            "+46701234567"
        );
        assert_eq!(
            MobileNumber::parse("47", "+46701234567").unwrap().e164(),
            "+46701234567"
        );
    }

    #[test]
    fn landlines_and_nonsense_are_refused_with_reasons() {
        assert_eq!(
            MobileNumber::parse("47", "22 22 22 22"),
            Err(PhoneError::NotMobile)
        );
        assert_eq!(MobileNumber::parse("47", "123"), Err(PhoneError::Invalid));
        assert_eq!(MobileNumber::parse("47", "  "), Err(PhoneError::Empty));
        assert_eq!(MobileNumber::parse("4x", "912"), Err(PhoneError::Invalid));
        assert_eq!(
            MobileNumber::parse_e164("91234567"),
            Err(PhoneError::Invalid)
        );
    }

    #[test]
    fn masked_shows_country_and_last_three_digits() {
        let number = MobileNumber::parse("47", "91234567").unwrap();
        assert_eq!(number.masked(), "+47 ***** 567");
    }
}
