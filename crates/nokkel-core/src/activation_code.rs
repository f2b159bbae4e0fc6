//! Activation codes: the 15-character code printed in an activation letter.
//!
//! A code is 15 symbols of Crockford's base32 alphabet (`0-9 A-Z` without `I L O U`):
//! 14 random symbols (70 bits) and one check symbol, shown as three groups of five
//! (`ABCDE-FGHJK-MNPQ7`).
//!
//! # The check symbol
//!
//! Crockford's own check symbol is computed mod 37 and needs five extra symbols (`* ~ $ = U`)
//! that do not belong in a letter people type from. Instead the check symbol is one
//! Reed–Solomon-style parity symbol over GF(32), so it stays inside the 32-symbol alphabet:
//! each symbol's value `s_i` (its index in the alphabet) is an element of GF(2⁵) (polynomial
//! `x⁵ + x² + 1`), position `i` (0–14) has weight `αⁱ` with `α = x`, and a code is valid when
//!
//! ```text
//! Σ αⁱ · s_i = 0   (in GF(32), i = 0..=14)
//! ```
//!
//! The check symbol is `s_14 = α⁻¹⁴ · Σ_{i<14} αⁱ · s_i`. Because GF(32) is a field and the
//! fifteen weights are distinct and non-zero:
//!
//! - a single substitution at position `i` changes the sum by `αⁱ · e` with `e ≠ 0`, which is
//!   never zero: **every single substitution is detected**;
//! - swapping different symbols `a` and `b` at positions `i ≠ j` changes the sum by
//!   `(αⁱ + αʲ) · (a + b)`, never zero: **every transposition is detected**, adjacent or not.
//!
//! The tests check both statements exhaustively over all error patterns (the check is
//! linear, so detection depends only on the error, not on the code).

use std::fmt;

use rand_core::{CryptoRng, CryptoRngCore, RngCore};
use thiserror::Error;

/// Number of symbols in a code.
pub const CODE_LENGTH: usize = 15;
/// Symbols per displayed group.
const GROUP: usize = 5;

/// Crockford's base32 alphabet; a symbol's value is its index.
pub(crate) const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// GF(32) reduction polynomial x⁵ + x² + 1 (primitive, so x generates all 31 non-zero
/// elements).
const POLY: u8 = 0b10_0101;

/// `EXP[i] = αⁱ` for i in 0..31.
pub(crate) const EXP: [u8; 31] = {
    let mut table = [0u8; 31];
    let mut value: u8 = 1;
    let mut i = 0;
    while i < 31 {
        table[i] = value;
        value <<= 1;
        if value & 0b10_0000 != 0 {
            value ^= POLY;
        }
        i += 1;
    }
    table
};

/// `LOG[v] = i` with `αⁱ = v`, for non-zero v (`LOG[0]` is unused).
const LOG: [u8; 32] = {
    let mut table = [0u8; 32];
    let mut i = 0;
    while i < 31 {
        table[EXP[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Product in GF(32).
pub(crate) fn gf_mul(a: u8, b: u8) -> u8 {
    if a == 0 || b == 0 {
        return 0;
    }
    EXP[(usize::from(LOG[usize::from(a)]) + usize::from(LOG[usize::from(b)])) % 31]
}

/// `Σ αⁱ · s_i` over the given symbol values (positions from 0).
pub(crate) fn syndrome(values: &[u8]) -> u8 {
    values
        .iter()
        .enumerate()
        .fold(0, |acc, (i, &s)| acc ^ gf_mul(EXP[i % 31], s))
}

/// The check symbol value after the `random` symbol values: `α⁻ⁿ · Σ αⁱ · s_i` for
/// `n = random.len()` (for an activation code α⁻¹⁴ = α¹⁷).
fn check_value(random: &[u8]) -> u8 {
    gf_mul(syndrome(random), EXP[(31 - random.len() % 31) % 31])
}

/// Fresh canonical symbols for a code of `length` (at most 31) symbols: `length - 1`
/// uniformly random ones and the check symbol. Shared with transfer codes.
pub(crate) fn generate_symbols<R: CryptoRngCore + ?Sized>(rng: &mut R, length: usize) -> String {
    let mut values = vec![0u8; length];
    rng.fill_bytes(&mut values[..length - 1]);
    // 256 is a multiple of 32, so the low five bits of a uniform byte are uniform.
    for value in &mut values[..length - 1] {
        *value &= 0b1_1111;
    }
    values[length - 1] = check_value(&values[..length - 1]);
    symbols(&values)
}

/// Why input is not a code of the length asked for (each code type names it in its own
/// error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Malformed {
    /// The character at this position (in characters from 0) is not in the alphabet.
    InvalidCharacter(usize),
    /// This many symbols, not the length asked for.
    WrongLength(usize),
    /// The check symbol does not match.
    CheckSymbol,
}

/// Canonical symbols of a code of `length` as a user typed or scanned it: case-insensitive,
/// separators ignored, Crockford's look-alikes read as digits. Errors in this order: the
/// first invalid character, the length, the check symbol. Shared with transfer codes.
pub(crate) fn parse_symbols(input: &str, length: usize) -> Result<String, Malformed> {
    let mut values = Vec::with_capacity(length);
    for (position, c) in input.chars().enumerate() {
        if is_separator(c) {
            continue;
        }
        values.push(symbol_value(c).ok_or(Malformed::InvalidCharacter(position))?);
    }
    if values.len() != length {
        return Err(Malformed::WrongLength(values.len()));
    }
    if syndrome(&values) != 0 {
        return Err(Malformed::CheckSymbol);
    }
    Ok(symbols(&values))
}

/// The alphabet's symbols for `values`.
fn symbols(values: &[u8]) -> String {
    values
        .iter()
        .map(|&v| char::from(ALPHABET[usize::from(v & 0b1_1111)]))
        .collect()
}

/// The value of a symbol as a user may type it: case-insensitive, `O` read as `0`, `I` and
/// `L` as `1`. `None` for anything else (including `U`).
pub(crate) fn symbol_value(c: char) -> Option<u8> {
    let c = match c.to_ascii_uppercase() {
        'O' => '0',
        'I' | 'L' => '1',
        other => other,
    };
    let byte = u8::try_from(c).ok()?;
    ALPHABET
        .iter()
        .position(|&a| a == byte)
        .and_then(|p| u8::try_from(p).ok())
}

/// Characters users put between groups; they carry no meaning.
pub(crate) fn is_separator(c: char) -> bool {
    c == '-' || c.is_whitespace()
}

/// A well-formed activation code (right length, alphabet and check symbol).
///
/// It is a secret: `Debug` is redacted, there is no `Display`, and
/// [`ActivationCode::expose_secret`] is the one way to read it (to hash it, print it in the
/// letter, or encode it in the letter's QR code).
#[derive(Clone, PartialEq, Eq)]
pub struct ActivationCode {
    /// The 15 canonical upper-case symbols.
    symbols: String,
}

/// Why a string is not a valid activation code. Messages never contain the code.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ActivationCodeError {
    /// Not 15 symbols once spaces and dashes are removed.
    #[error("an activation code has 15 characters, found {found}")]
    WrongLength {
        /// How many symbols were found (spaces and dashes not counted).
        found: usize,
    },
    /// A character outside the code's alphabet.
    #[error("character {} of the activation code is not allowed", position + 1)]
    InvalidCharacter {
        /// Index of the offending character in the input, counted in characters from 0
        /// (spaces and dashes included), so a form can highlight it.
        position: usize,
    },
    /// The check symbol does not match: almost certainly a typo.
    #[error("the activation code is not correct; check it for typos")]
    CheckSymbol,
}

impl ActivationCodeError {
    /// A short, stable code for APIs and the app: `wrong_length`, `invalid_character` or
    /// `typo`.
    pub fn code(&self) -> &'static str {
        match self {
            ActivationCodeError::WrongLength { .. } => "wrong_length",
            ActivationCodeError::InvalidCharacter { .. } => "invalid_character",
            ActivationCodeError::CheckSymbol => "typo",
        }
    }
}

impl ActivationCode {
    /// A fresh random code: 14 uniformly random symbols (70 bits) and the check symbol.
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Self {
        Self {
            symbols: generate_symbols(rng, CODE_LENGTH),
        }
    }

    /// Parses a code as a user typed it.
    ///
    /// Case-insensitive; spaces, other whitespace and dashes are ignored anywhere; `O` is read
    /// as `0` and `I`/`L` as `1` (Crockford's rule). `U` and every other character are
    /// invalid. Errors are reported in this order: the first invalid character, then the
    /// length, then the check symbol.
    pub fn parse(input: &str) -> Result<Self, ActivationCodeError> {
        match parse_symbols(input, CODE_LENGTH) {
            Ok(symbols) => Ok(Self { symbols }),
            Err(Malformed::InvalidCharacter(position)) => {
                Err(ActivationCodeError::InvalidCharacter { position })
            }
            Err(Malformed::WrongLength(found)) => Err(ActivationCodeError::WrongLength { found }),
            Err(Malformed::CheckSymbol) => Err(ActivationCodeError::CheckSymbol),
        }
    }

    /// The 15 canonical upper-case symbols without separators, e.g. for hashing.
    pub fn expose_secret(&self) -> &str {
        &self.symbols
    }

    /// The code in three groups of five joined by dashes: `ABCDE-FGHJK-MNPQ7`.
    pub fn grouped(&self) -> String {
        format_partial(&self.symbols)
    }
}

impl fmt::Debug for ActivationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ActivationCode(***)")
    }
}

/// Normalises partial user input for display while typing.
///
/// Upper-cases, maps look-alikes (`O`→`0`, `I`/`L`→`1`), drops separators and characters
/// that can never be part of a code (such as `U`), keeps at most 15 symbols and joins groups
/// of five with `-`. A trailing dash is never added: `"abcde"` gives `"ABCDE"`, `"abcdef"`
/// gives `"ABCDE-F"`. Used by the app's input field; the result still has to pass
/// [`ActivationCode::parse`].
pub fn format_partial(input: &str) -> String {
    group_partial(input, CODE_LENGTH, GROUP)
}

/// [`format_partial`] for a code of `length` symbols shown in groups of `group`. Shared
/// with transfer codes.
pub(crate) fn group_partial(input: &str, length: usize, group: usize) -> String {
    let mut out = String::with_capacity(length + length / group);
    let symbols = input
        .chars()
        .filter_map(symbol_value)
        .take(length)
        .map(|v| char::from(ALPHABET[usize::from(v)]));
    for (i, symbol) in symbols.enumerate() {
        if i > 0 && i % group == 0 {
            out.push('-');
        }
        out.push(symbol);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    fn code(seed: u64) -> ActivationCode {
        ActivationCode::generate(&mut StdRng::seed_from_u64(seed))
    }

    fn values(code: &ActivationCode) -> Vec<u8> {
        code.expose_secret()
            .chars()
            .map(|c| symbol_value(c).unwrap())
            .collect()
    }

    fn from_values_unchecked(values: &[u8]) -> String {
        values
            .iter()
            .map(|&v| char::from(ALPHABET[usize::from(v)]))
            .collect()
    }

    #[test]
    fn field_tables_are_consistent() {
        // α generates every non-zero element exactly once (the polynomial is primitive).
        let mut seen = [false; 32];
        for &e in &EXP {
            assert!(!seen[usize::from(e)]);
            seen[usize::from(e)] = true;
        }
        assert!(!seen[0]);
        // Multiplication is associative, commutative and has inverses.
        for a in 1..32u8 {
            assert!((1..32u8).any(|b| gf_mul(a, b) == 1));
            for b in 0..32u8 {
                assert_eq!(gf_mul(a, b), gf_mul(b, a));
                assert_eq!(gf_mul(a, 1), a);
                for c in 0..32u8 {
                    assert_eq!(gf_mul(gf_mul(a, b), c), gf_mul(a, gf_mul(b, c)));
                    // Distributive over addition (xor).
                    assert_eq!(gf_mul(a, b ^ c), gf_mul(a, b) ^ gf_mul(a, c));
                }
            }
        }
    }

    #[test]
    fn every_single_substitution_pattern_is_detected() {
        for position in 0..CODE_LENGTH {
            for error in 1..32u8 {
                let mut pattern = [0u8; CODE_LENGTH];
                pattern[position] = error;
                assert_ne!(syndrome(&pattern), 0, "position {position} error {error}");
            }
        }
    }

    #[test]
    fn every_transposition_pattern_is_detected() {
        // Swapping a and b at positions i and j adds a+b at both positions.
        for i in 0..CODE_LENGTH {
            for j in i + 1..CODE_LENGTH {
                for error in 1..32u8 {
                    let mut pattern = [0u8; CODE_LENGTH];
                    pattern[i] = error;
                    pattern[j] = error;
                    assert_ne!(syndrome(&pattern), 0, "positions {i},{j}");
                }
            }
        }
    }

    #[test]
    fn every_substitution_and_adjacent_swap_of_real_codes_is_caught() {
        for seed in 0..20 {
            let code = code(seed);
            let original = values(&code);
            assert_eq!(
                ActivationCode::parse(code.expose_secret()),
                Ok(code.clone())
            );
            for position in 0..CODE_LENGTH {
                for replacement in 0..32u8 {
                    if replacement == original[position] {
                        continue;
                    }
                    let mut typo = original.clone();
                    typo[position] = replacement;
                    assert_eq!(
                        ActivationCode::parse(&from_values_unchecked(&typo)),
                        Err(ActivationCodeError::CheckSymbol)
                    );
                }
                if position + 1 < CODE_LENGTH && original[position] != original[position + 1] {
                    let mut swapped = original.clone();
                    swapped.swap(position, position + 1);
                    assert_eq!(
                        ActivationCode::parse(&from_values_unchecked(&swapped)),
                        Err(ActivationCodeError::CheckSymbol)
                    );
                }
            }
        }
    }

    #[test]
    fn generated_codes_have_the_documented_shape() {
        let code = code(1);
        let canonical = code.expose_secret();
        assert_eq!(canonical.len(), 15);
        assert!(canonical.bytes().all(|b| ALPHABET.contains(&b)));
        let grouped = code.grouped();
        assert_eq!(grouped.len(), 17);
        assert_eq!(grouped.replace('-', ""), canonical);
        assert_eq!(&grouped[5..6], "-");
        assert_eq!(&grouped[11..12], "-");
        assert_ne!(code.expose_secret(), self::code(2).expose_secret());
    }

    #[test]
    fn parsing_is_tolerant() {
        let code = code(3);
        let canonical = code.expose_secret().to_owned();
        let variants = [
            code.grouped(),
            canonical.to_lowercase(),
            code.grouped().to_lowercase(),
            format!("  {}  ", code.grouped().replace('-', " ")),
            canonical.replace('0', "o").replace('1', "l"),
            canonical.replace('0', "O").replace('1', "I"),
            canonical.chars().flat_map(|c| [c, '-']).collect(),
        ];
        for variant in variants {
            assert_eq!(ActivationCode::parse(&variant), Ok(code.clone()));
        }
    }

    #[test]
    fn errors_are_told_apart_and_never_contain_the_code() {
        let code = code(4);
        let canonical = code.expose_secret();
        let cases = [
            (
                canonical[..14].to_owned(),
                ActivationCodeError::WrongLength { found: 14 },
            ),
            (
                format!("{canonical}0"),
                ActivationCodeError::WrongLength { found: 16 },
            ),
            (String::new(), ActivationCodeError::WrongLength { found: 0 }),
            (
                format!("{}U{}", &canonical[..3], &canonical[4..]),
                ActivationCodeError::InvalidCharacter { position: 3 },
            ),
            (
                format!("{}-{}!", &canonical[..5], &canonical[5..14]),
                ActivationCodeError::InvalidCharacter { position: 15 },
            ),
            (
                format!("ø{}", &canonical[1..]),
                ActivationCodeError::InvalidCharacter { position: 0 },
            ),
        ];
        for (input, expected) in cases {
            let err = ActivationCode::parse(&input).unwrap_err();
            assert_eq!(err, expected, "{input}");
            assert!(!err.to_string().contains(&canonical[..5]));
        }
        let mut typo = values(&code);
        typo[7] ^= 1;
        let err = ActivationCode::parse(&from_values_unchecked(&typo)).unwrap_err();
        assert_eq!(err, ActivationCodeError::CheckSymbol);
        assert_eq!(err.code(), "typo");
        assert_eq!(
            ActivationCodeError::WrongLength { found: 1 }.code(),
            "wrong_length"
        );
        assert_eq!(
            ActivationCodeError::InvalidCharacter { position: 1 }.code(),
            "invalid_character"
        );
        assert_eq!(
            ActivationCodeError::InvalidCharacter { position: 1 }.to_string(),
            "character 2 of the activation code is not allowed"
        );
    }

    #[test]
    fn debug_is_redacted() {
        let code = code(5);
        let debug = format!("{code:?}");
        assert_eq!(debug, "ActivationCode(***)");
        assert!(!format!("{:?}", Some(code.clone())).contains(code.expose_secret()));
    }

    #[test]
    fn format_partial_groups_while_typing() {
        assert_eq!(format_partial(""), "");
        assert_eq!(format_partial("abcde"), "ABCDE");
        assert_eq!(format_partial("abcdef"), "ABCDE-F");
        assert_eq!(format_partial("ab cd-ef"), "ABCDE-F");
        assert_eq!(format_partial("oil"), "011");
        assert_eq!(format_partial("AuB!"), "AB");
        assert_eq!(
            format_partial("abcdefghjkmnpqrstvwxyz"),
            "ABCDE-FGHJK-MNPQR"
        );
        let code = code(6);
        assert_eq!(format_partial(code.expose_secret()), code.grouped());
        assert_eq!(
            format_partial(&code.grouped().to_lowercase()),
            code.grouped()
        );
    }
}
