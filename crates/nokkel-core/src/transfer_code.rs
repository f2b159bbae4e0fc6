//! Transfer codes: the short code a new phone shows and the old phone types (or scans) to
//! move a person's eID to the new phone (docs/PROTOCOL.md § Transfer).
//!
//! A code is 9 symbols of Crockford's base32 alphabet (`0-9 A-Z` without `I L O U`):
//! 8 random symbols (40 bits) and one check symbol, shown as three groups of three
//! (`7KQ-M3X-A9D`). The check symbol is the same GF(32) parity symbol as the activation
//! code's ([`crate::activation_code`]), over 9 positions: every single substitution and
//! every transposition is caught before the code reaches the server.
//!
//! 40 bits against an online guesser: the server answers a code only for its 10 minutes
//! and limits lookups per client address, so a guesser with the limit's 30 lookups a
//! minute has a chance of about 300 / 2⁴⁰ per live code.
//!
//! As a QR payload the code is its grouped form: upper-case symbols and `-` fit QR's
//! alphanumeric mode, and [`TransferCode::parse`] reads either form.

use std::fmt;

use rand_core::CryptoRngCore;
use thiserror::Error;

use crate::activation_code::{generate_symbols, group_partial, parse_symbols, Malformed};

/// Number of symbols in a transfer code.
pub const TRANSFER_CODE_LENGTH: usize = 9;
/// Symbols per displayed group.
const GROUP: usize = 3;

/// A well-formed transfer code (right length, alphabet and check symbol).
///
/// Whoever holds it can look the transfer up, so `Debug` is redacted;
/// [`TransferCode::expose_secret`] reads it (to hash it or show it on the new phone).
#[derive(Clone, PartialEq, Eq)]
pub struct TransferCode {
    /// The 9 canonical upper-case symbols.
    symbols: String,
}

/// Why a string is not a valid transfer code. Messages never contain the code.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransferCodeError {
    /// Not 9 symbols once spaces and dashes are removed.
    #[error("a transfer code has 9 characters, found {found}")]
    WrongLength {
        /// How many symbols were found.
        found: usize,
    },
    /// A character outside the code's alphabet.
    #[error("character {} of the transfer code is not allowed", position + 1)]
    InvalidCharacter {
        /// Index of the offending character in the input, in characters from 0.
        position: usize,
    },
    /// The check symbol does not match: almost certainly a typo.
    #[error("the transfer code is not correct; check it for typos")]
    CheckSymbol,
}

impl TransferCodeError {
    /// A short, stable code: `wrong_length`, `invalid_character` or `typo`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::WrongLength { .. } => "wrong_length",
            Self::InvalidCharacter { .. } => "invalid_character",
            Self::CheckSymbol => "typo",
        }
    }
}

impl TransferCode {
    /// A fresh random code: 8 uniformly random symbols (40 bits) and the check symbol.
    pub fn generate<R: CryptoRngCore + ?Sized>(rng: &mut R) -> Self {
        // s_8 = α⁻⁸ · Σ_{i<8} αⁱ · s_i, as for activation codes.
        Self {
            symbols: generate_symbols(rng, TRANSFER_CODE_LENGTH),
        }
    }

    /// Parses a code as typed or scanned: case-insensitive, spaces and dashes ignored,
    /// `O` read as `0` and `I`/`L` as `1`. Errors in this order: the first invalid
    /// character, the length, the check symbol.
    pub fn parse(input: &str) -> Result<Self, TransferCodeError> {
        match parse_symbols(input, TRANSFER_CODE_LENGTH) {
            Ok(symbols) => Ok(Self { symbols }),
            Err(Malformed::InvalidCharacter(position)) => {
                Err(TransferCodeError::InvalidCharacter { position })
            }
            Err(Malformed::WrongLength(found)) => Err(TransferCodeError::WrongLength { found }),
            Err(Malformed::CheckSymbol) => Err(TransferCodeError::CheckSymbol),
        }
    }

    /// The 9 canonical symbols without separators (for hashing).
    pub fn expose_secret(&self) -> &str {
        &self.symbols
    }

    /// Three groups of three joined by dashes (`7KQ-M3X-A9D`): what the new phone shows,
    /// and the QR payload.
    pub fn grouped(&self) -> String {
        format_partial(&self.symbols)
    }
}

impl fmt::Debug for TransferCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TransferCode(***)")
    }
}

/// Upper-cases, maps look-alikes (`O`→`0`, `I`/`L`→`1`), drops separators and characters
/// that can never be part of a code, keeps at most 9 symbols and joins groups of three with
/// `-`, without a trailing dash: `"7kqm"` gives `"7KQ-M"`. Used by the app's input field as
/// the person types; the result still has to pass [`TransferCode::parse`].
pub fn format_partial(input: &str) -> String {
    group_partial(input, TRANSFER_CODE_LENGTH, GROUP)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation_code::{symbol_value, ALPHABET};
    use rand::{rngs::StdRng, SeedableRng};

    fn values(code: &TransferCode) -> Vec<u8> {
        code.expose_secret()
            .chars()
            .map(|c| symbol_value(c).unwrap())
            .collect()
    }

    fn text(values: &[u8]) -> String {
        values
            .iter()
            .map(|&v| char::from(ALPHABET[usize::from(v)]))
            .collect()
    }

    #[test]
    fn generated_codes_parse_in_every_form() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..200 {
            let code = TransferCode::generate(&mut rng);
            assert_eq!(code.expose_secret().len(), 9);
            let grouped = code.grouped();
            assert_eq!(grouped.len(), 11);
            assert_eq!(grouped.as_bytes()[3], b'-');
            assert_eq!(TransferCode::parse(&grouped).unwrap(), code);
            assert_eq!(
                TransferCode::parse(&grouped.to_lowercase().replace('-', " ")).unwrap(),
                code
            );
        }
    }

    #[test]
    fn every_substitution_and_transposition_is_caught() {
        let mut rng = StdRng::seed_from_u64(11);
        for _ in 0..20 {
            let original = values(&TransferCode::generate(&mut rng));
            for i in 0..TRANSFER_CODE_LENGTH {
                for e in 1..32u8 {
                    let mut v = original.clone();
                    v[i] ^= e;
                    assert_eq!(
                        TransferCode::parse(&text(&v)).unwrap_err(),
                        TransferCodeError::CheckSymbol
                    );
                }
                for j in i + 1..TRANSFER_CODE_LENGTH {
                    if original[i] != original[j] {
                        let mut v = original.clone();
                        v.swap(i, j);
                        assert_eq!(
                            TransferCode::parse(&text(&v)).unwrap_err(),
                            TransferCodeError::CheckSymbol
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn wrong_input_says_what_is_wrong_without_the_code() {
        assert_eq!(
            TransferCode::parse("ABC-DEF").unwrap_err(),
            TransferCodeError::WrongLength { found: 6 }
        );
        assert_eq!(
            TransferCode::parse("ABC-DEU-GHJ").unwrap_err(),
            TransferCodeError::InvalidCharacter { position: 6 }
        );
        let code = TransferCode::generate(&mut StdRng::seed_from_u64(1));
        assert_eq!(format!("{code:?}"), "TransferCode(***)");
    }

    #[test]
    fn a_partly_typed_code_is_grouped_as_typed() {
        assert_eq!(format_partial(""), "");
        assert_eq!(format_partial("7kq"), "7KQ");
        assert_eq!(format_partial("7kqm"), "7KQ-M");
        assert_eq!(format_partial(" 7kq-m3x a9d"), "7KQ-M3X-A9D");
        // Look-alikes are read as the symbols they resemble; impossible characters vanish;
        // nothing beyond nine symbols is kept.
        assert_eq!(format_partial("oiLu!"), "011");
        assert_eq!(format_partial("7KQM3XA9D123"), "7KQ-M3X-A9D");
        let code = TransferCode::generate(&mut StdRng::seed_from_u64(3));
        assert_eq!(format_partial(code.expose_secret()), code.grouped());
    }
}
