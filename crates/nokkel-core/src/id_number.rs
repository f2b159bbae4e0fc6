//! Norwegian identity numbers: fødselsnummer, D-number, H-number and synthetic test numbers.
//!
//! An [`IdNumber`] can only be obtained from [`IdNumber::parse`] (or [`IdNumber::generate`]
//! in tests and demo data), so holding one means it passed every rule below. The rules are
//! written out, with the century table and the differences from other validators, in
//! `docs/IDENTITY-NUMBERS.md`.
//!
//! Layout: `DDMMYYIIIKK` — birth date (day, month, two-digit year), a three-digit individual
//! number and two check digits.
//!
//! - **Check digits.** With weights `3 7 6 1 8 9 4 5 2 1` for `S1` and
//!   `5 4 3 2 7 6 5 4 3 2 1` for `S2`, the classic rule needs `S1 ≡ 0` and `S2 ≡ 0 (mod 11)`.
//!   The rule for numbers issued from 2032 (Skatteetaten, "nytt fødselsnummer fra 2032")
//!   relaxes the first to `S1 mod 11 ∈ {0, 1, 2, 3}`; `S2` is unchanged. Both are accepted.
//! - **Markers.** D-number: day + 40. H-number: month + 40. Synthetic test number (Tenor):
//!   month + 80; synthetic D-number: day + 40 and month + 80. Day + 40 combined with
//!   month + 40 is rejected (not a kind in use).
//! - **Date.** Day and month must form a real calendar date. 29 February is accepted when the
//!   two-digit year is divisible by four; see [`IdNumber::birth_date`] for why 29.02.00 is
//!   accepted even where the individual number points at 1900.

use std::fmt;

use rand_core::RngCore;
use serde::{Deserialize, Serialize, Serializer};
use thiserror::Error;
use time::{Date, Month};

/// Age from which a person may order an activation letter: the ordering rule is "from the
/// calendar year the person turns 13".
pub const MIN_ORDER_AGE: u8 = 13;

/// Weights of the first check sum, over d1..d9 and k1.
const WEIGHTS_1: [u32; 10] = [3, 7, 6, 1, 8, 9, 4, 5, 2, 1];
/// Weights of the second check sum, over d1..d9, k1 and k2.
const WEIGHTS_2: [u32; 11] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2, 1];

/// A valid Norwegian identity number (11 digits).
///
/// `Debug` masks the individual number and check digits, because the full number is
/// personal data; `Display` and [`IdNumber::as_str`] give all 11 digits for the places that
/// need them (the population register, an ID token's `pid` claim).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber {
    digits: String,
    kind: IdKind,
    rule: CheckRule,
}

/// What kind of identity number this is, read from the day and month markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdKind {
    /// Fødselsnummer: the birth date as is.
    Fnr,
    /// D-number (day + 40), for people not registered as residents.
    Dnr,
    /// H-number (month + 40), an auxiliary number used by health services.
    Hnr,
    /// Synthetic test number (month + 80), as issued by Skatteetaten's Tenor test data.
    Synthetic,
    /// Synthetic D-number (day + 40 and month + 80).
    SyntheticDnr,
}

impl IdKind {
    /// Every kind, in declaration order.
    pub const ALL: [IdKind; 5] = [
        IdKind::Fnr,
        IdKind::Dnr,
        IdKind::Hnr,
        IdKind::Synthetic,
        IdKind::SyntheticDnr,
    ];

    /// The stable short name: `fnr`, `dnr`, `hnr`, `synthetic` or `synthetic-dnr`.
    pub fn as_str(self) -> &'static str {
        match self {
            IdKind::Fnr => "fnr",
            IdKind::Dnr => "dnr",
            IdKind::Hnr => "hnr",
            IdKind::Synthetic => "synthetic",
            IdKind::SyntheticDnr => "synthetic-dnr",
        }
    }

    /// True for test numbers that must never be accepted in production.
    pub fn is_synthetic(self) -> bool {
        matches!(self, IdKind::Synthetic | IdKind::SyntheticDnr)
    }

    /// What is added to the day of month.
    fn day_offset(self) -> u8 {
        match self {
            IdKind::Dnr | IdKind::SyntheticDnr => 40,
            IdKind::Fnr | IdKind::Hnr | IdKind::Synthetic => 0,
        }
    }

    /// What is added to the month.
    fn month_offset(self) -> u8 {
        match self {
            IdKind::Hnr => 40,
            IdKind::Synthetic | IdKind::SyntheticDnr => 80,
            IdKind::Fnr | IdKind::Dnr => 0,
        }
    }
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which check-digit rule a number satisfies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CheckRule {
    /// Both classic mod-11 check digits hold (`S1 ≡ 0`, `S2 ≡ 0`).
    #[serde(rename = "classic")]
    Classic,
    /// Only the rule for numbers issued from 2032 holds (`S1 mod 11 ∈ {1, 2, 3}`, `S2 ≡ 0`).
    #[serde(rename = "2032")]
    Rule2032,
}

impl CheckRule {
    /// The stable short name: `classic` or `2032`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckRule::Classic => "classic",
            CheckRule::Rule2032 => "2032",
        }
    }
}

impl fmt::Display for CheckRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether synthetic test numbers (month + 80) are accepted.
///
/// The default rejects them. Only a server running in a test or demo mode, and tests, may
/// pass [`SyntheticPolicy::Accept`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SyntheticPolicy {
    /// Synthetic numbers are rejected with [`IdNumberError::SyntheticNotAllowed`].
    #[default]
    Reject,
    /// Synthetic numbers are accepted (tests and demo mode only).
    Accept,
}

/// Why a string is not a valid identity number. Messages never contain the number.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdNumberError {
    /// Not 11 digits (after trimming and removing the one allowed space).
    #[error("an identity number has 11 digits, found {found}")]
    Length {
        /// How many characters were found.
        found: usize,
    },
    /// Something other than a digit (or the one allowed space after the sixth digit).
    #[error("an identity number contains only digits")]
    NonDigit,
    /// Neither check-digit rule holds: most likely a typo.
    #[error("the check digits of the identity number do not match (probably a typo)")]
    CheckDigit,
    /// The first six digits are not a possible date (with any D, H or synthetic marker).
    #[error("the first six digits of the identity number are not a possible date")]
    ImpossibleDate,
    /// A synthetic test number where only real numbers are accepted.
    #[error("synthetic test numbers are not accepted here")]
    SyntheticNotAllowed,
}

impl IdNumberError {
    /// A short, stable code for APIs and the `nokkel id check` tool.
    pub fn code(&self) -> &'static str {
        match self {
            IdNumberError::Length { .. } => "length",
            IdNumberError::NonDigit => "non_digit",
            IdNumberError::CheckDigit => "check_digit",
            IdNumberError::ImpossibleDate => "impossible_date",
            IdNumberError::SyntheticNotAllowed => "synthetic_not_allowed",
        }
    }
}

impl IdNumber {
    /// Parses and checks an identity number.
    ///
    /// Surrounding whitespace is trimmed, and a single space between the six date digits and
    /// the five individual/check digits is allowed (`"311299 56715"`), because that is how the
    /// number is commonly printed. No other separators are accepted.
    ///
    /// Errors are reported in this order: non-digit characters, length, impossible date,
    /// check digits, and last a synthetic number under [`SyntheticPolicy::Reject`] (so a
    /// tester learns that an otherwise valid number is synthetic).
    pub fn parse(input: &str, policy: SyntheticPolicy) -> Result<IdNumber, IdNumberError> {
        let trimmed = input.trim();
        let compact: String = match trimmed.split_once(' ') {
            Some((date, rest))
                if date.len() == 6
                    && rest.len() == 5
                    && date.bytes().all(|b| b.is_ascii_digit())
                    && rest.bytes().all(|b| b.is_ascii_digit()) =>
            {
                [date, rest].concat()
            }
            _ => trimmed.to_owned(),
        };
        if !compact.chars().all(|c| c.is_ascii_digit()) {
            return Err(IdNumberError::NonDigit);
        }
        let digits: [u8; 11] = match <[u8; 11]>::try_from(compact.as_bytes()) {
            Ok(bytes) => bytes.map(|b| b - b'0'),
            Err(_) => {
                return Err(IdNumberError::Length {
                    found: compact.len(),
                })
            }
        };
        let kind = decode_kind(&digits).ok_or(IdNumberError::ImpossibleDate)?;
        if !date_possible(&digits, kind) {
            return Err(IdNumberError::ImpossibleDate);
        }
        let rule = check_rule(&digits).ok_or(IdNumberError::CheckDigit)?;
        if kind.is_synthetic() && policy == SyntheticPolicy::Reject {
            return Err(IdNumberError::SyntheticNotAllowed);
        }
        Ok(IdNumber {
            digits: compact,
            kind,
            rule,
        })
    }

    /// The 11 digits.
    pub fn as_str(&self) -> &str {
        &self.digits
    }

    /// The kind of number (fødselsnummer, D-number, ...).
    pub fn kind(&self) -> IdKind {
        self.kind
    }

    /// [`CheckRule::Classic`] if both classic check digits hold, else [`CheckRule::Rule2032`].
    pub fn rule(&self) -> CheckRule {
        self.rule
    }

    /// The birth date, where the number tells it.
    ///
    /// The century comes from the individual number (digits 7–9) and the two-digit year:
    ///
    /// | individual number | two-digit year | birth year |
    /// |---|---|---|
    /// | 000–499 | 00–99 | 1900–1999 |
    /// | 500–749 | 54–99 | 1854–1899 |
    /// | 500–999 | 00–39 | 2000–2039 |
    /// | 900–999 | 40–99 | 1940–1999 |
    ///
    /// Returns `None` when:
    /// - the number follows the 2032 rule ([`CheckRule::Rule2032`]): from 2032 the individual
    ///   number no longer tells the century;
    /// - the individual number and year fit no row above (500–749 with year 40–53, 750–899
    ///   with year 40–99);
    /// - the date does not exist in the derived century. This happens only for 29.02.00 with
    ///   individual number 000–499: 29 February 1900 never existed, so the number cannot be
    ///   a pre-2032 number; it can only be a post-2032 number that happens to satisfy the
    ///   classic rule (a quarter of them do), whose century is unknown — it may well be
    ///   29 February 2000. Such numbers are therefore valid, with no birth date.
    ///
    /// Numbers issued from 2032 may satisfy the classic rule by chance, so for people born
    /// after about 2032 even a `Some` here can name the wrong century; use the population
    /// register's birth date where it matters.
    pub fn birth_date(&self) -> Option<Date> {
        if self.rule != CheckRule::Classic {
            return None;
        }
        let d = self.digit_array();
        let (day, month, yy) = date_fields(&d, self.kind);
        let individual = u16::from(d[6]) * 100 + u16::from(d[7]) * 10 + u16::from(d[8]);
        let year = century(individual, yy)? + i32::from(yy);
        Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
    }

    /// The number for logs: the first six digits followed by `*****`.
    pub fn masked(&self) -> String {
        format!("{}*****", self.digits.get(..6).unwrap_or_default())
    }

    /// Generates a valid classic-rule number of the given kind for a birth date.
    ///
    /// The individual number is drawn from the range that encodes the birth year's century
    /// (see [`IdNumber::birth_date`]), so `birth_date()` gives `birth_date` back for years
    /// 1854–2039. Outside those years no individual number encodes the century; the number
    /// is still valid but `birth_date()` will not return the date given. Individual numbers
    /// whose check digit would be 10 are skipped.
    ///
    /// For tests and demo data only: real numbers are issued by the population register, and
    /// this neither avoids numbers already in use nor follows the register's allocation.
    pub fn generate(birth_date: Date, kind: IdKind, rng: &mut impl RngCore) -> IdNumber {
        let year = birth_date.year();
        let ranges: &[(u16, u16)] = match year {
            1854..=1899 => &[(500, 749)],
            1900..=1939 => &[(0, 499)],
            1940..=1999 => &[(0, 499), (900, 999)],
            2000..=2039 => &[(500, 999)],
            _ => &[(0, 999)],
        };
        let total: u32 = ranges.iter().map(|(lo, hi)| u32::from(hi - lo + 1)).sum();
        let mut pick = rng.next_u32() % total;
        let mut individual = 0;
        for (lo, hi) in ranges {
            let size = u32::from(hi - lo + 1);
            if pick < size {
                // `pick < size <= 1000`, so it fits in u16.
                individual = lo + pick as u16;
                break;
            }
            pick -= size;
        }
        let day = birth_date.day() + kind.day_offset();
        let month = u8::from(birth_date.month()) + kind.month_offset();
        let yy = year.rem_euclid(100) as u8;
        let mut d = [
            day / 10,
            day % 10,
            month / 10,
            month % 10,
            yy / 10,
            yy % 10,
            (individual / 100) as u8,
            (individual / 10 % 10) as u8,
            (individual % 10) as u8,
            0,
            0,
        ];
        // Every range starts and ends on a multiple of ten, so changing only the last
        // individual digit keeps the century. Of the ten values of d9 at most one makes k1 = 10
        // and at most one makes k2 = 10 (both sums move by a unit mod 11 per step of d9, see
        // `every_individual_decade_has_eight_usable_numbers`), so this loop ends within ten
        // steps.
        loop {
            if let Some((k1, k2)) = classic_check_digits(&d) {
                d[9] = k1;
                d[10] = k2;
                let digits: String = d.iter().map(|n| char::from(b'0' + n)).collect();
                return IdNumber {
                    digits,
                    kind,
                    rule: CheckRule::Classic,
                };
            }
            d[8] = (d[8] + 1) % 10;
        }
    }

    fn digit_array(&self) -> [u8; 11] {
        let mut d = [0u8; 11];
        for (slot, b) in d.iter_mut().zip(self.digits.bytes()) {
            *slot = b - b'0';
        }
        d
    }
}

/// True if a person born on `birth_date` turns `age` in calendar year `year` or earlier.
///
/// The ordering rule counts calendar years, not birthdays: someone born on 31 December 2013
/// may order from 1 January 2026.
pub fn turns_age_by_year(birth_date: Date, age: u8, year: i32) -> bool {
    birth_date.year() + i32::from(age) <= year
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IdNumber").field(&self.masked()).finish()
    }
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.digits)
    }
}

impl Serialize for IdNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.digits)
    }
}

/// The kind from the day and month markers, or `None` if the markers are not a known
/// combination (or the digits cannot be a day or month at all).
fn decode_kind(d: &[u8; 11]) -> Option<IdKind> {
    let day = d[0] * 10 + d[1];
    let month = d[2] * 10 + d[3];
    let d_marked = match day {
        1..=31 => false,
        41..=71 => true,
        _ => return None,
    };
    match (d_marked, month) {
        (false, 1..=12) => Some(IdKind::Fnr),
        (true, 1..=12) => Some(IdKind::Dnr),
        (false, 41..=52) => Some(IdKind::Hnr),
        (false, 81..=92) => Some(IdKind::Synthetic),
        (true, 81..=92) => Some(IdKind::SyntheticDnr),
        _ => None,
    }
}

/// Day, month and two-digit year with the kind's markers removed.
fn date_fields(d: &[u8; 11], kind: IdKind) -> (u8, u8, u8) {
    let day = (d[0] * 10 + d[1]).saturating_sub(kind.day_offset());
    let month = (d[2] * 10 + d[3]).saturating_sub(kind.month_offset());
    (day, month, d[4] * 10 + d[5])
}

/// Whether day and month exist in some year ending in the two digits. Only 29 February
/// depends on the year: it is accepted when the two digits are divisible by four, since then
/// 19yy or 20yy (2000 for 00) is a leap year. See [`IdNumber::birth_date`].
fn date_possible(d: &[u8; 11], kind: IdKind) -> bool {
    let (day, month, yy) = date_fields(d, kind);
    let Ok(month) = Month::try_from(month) else {
        return false;
    };
    let leap_candidate = if yy % 4 == 0 { 2000 } else { 2001 };
    day >= 1 && day <= month.length(leap_candidate)
}

/// The first year of the century the individual number encodes for a two-digit year.
fn century(individual: u16, yy: u8) -> Option<i32> {
    match (individual, yy) {
        (0..=499, _) => Some(1900),
        (500..=749, 54..=99) => Some(1800),
        (500..=999, 0..=39) => Some(2000),
        (900..=999, 40..=99) => Some(1900),
        _ => None,
    }
}

fn weighted_sum(digits: &[u8], weights: &[u32]) -> u32 {
    digits
        .iter()
        .zip(weights)
        .map(|(d, w)| u32::from(*d) * w)
        .sum()
}

/// Which rule the check digits satisfy, if any.
fn check_rule(d: &[u8; 11]) -> Option<CheckRule> {
    let s1 = weighted_sum(&d[..10], &WEIGHTS_1) % 11;
    let s2 = weighted_sum(d, &WEIGHTS_2) % 11;
    match (s1, s2) {
        (0, 0) => Some(CheckRule::Classic),
        (1..=3, 0) => Some(CheckRule::Rule2032),
        _ => None,
    }
}

/// The classic check digits for d1..d9, or `None` if either would be 10.
fn classic_check_digits(d: &[u8; 11]) -> Option<(u8, u8)> {
    let k1 = (11 - weighted_sum(&d[..9], &WEIGHTS_1[..9]) % 11) % 11;
    if k1 == 10 {
        return None;
    }
    let mut first_ten = [0u8; 10];
    first_ten[..9].copy_from_slice(&d[..9]);
    first_ten[9] = k1 as u8;
    let k2 = (11 - weighted_sum(&first_ten, &WEIGHTS_2[..10]) % 11) % 11;
    if k2 == 10 {
        return None;
    }
    Some((k1 as u8, k2 as u8))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn parse(s: &str) -> Result<IdNumber, IdNumberError> {
        IdNumber::parse(s, SyntheticPolicy::Reject)
    }

    fn parse_any(s: &str) -> Result<IdNumber, IdNumberError> {
        IdNumber::parse(s, SyntheticPolicy::Accept)
    }

    /// Completes ten digits with the second check digit; `None` if it would be 10.
    fn with_k2(first_ten: &str) -> Option<String> {
        let d: Vec<u8> = first_ten.bytes().map(|b| b - b'0').collect();
        let k2 = (11 - weighted_sum(&d, &WEIGHTS_2[..10]) % 11) % 11;
        (k2 < 10).then(|| format!("{first_ten}{k2}"))
    }

    /// A number starting with `first_eight` whose S1 mod 11 is `rest`, trying each last
    /// individual digit in turn.
    fn find(first_eight: &str, rest: u32) -> String {
        (0..=9)
            .find_map(|d9| with_rest(&format!("{first_eight}{d9}"), rest))
            .unwrap()
    }

    /// A number with the given first nine digits whose S1 mod 11 is `rest`, if one exists.
    fn with_rest(first_nine: &str, rest: u32) -> Option<String> {
        let d: Vec<u8> = first_nine.bytes().map(|b| b - b'0').collect();
        let partial = weighted_sum(&d, &WEIGHTS_1[..9]);
        let k1 = (11 + rest - partial % 11) % 11;
        if k1 == 10 {
            return None;
        }
        with_k2(&format!("{first_nine}{k1}"))
    }

    #[test]
    fn reference_example_is_a_classic_fnr_born_1899() {
        // Individual number 567 with year 99 encodes the 1800s.
        let n = parse("31129956715").unwrap();
        assert_eq!(n.kind(), IdKind::Fnr);
        assert_eq!(n.rule(), CheckRule::Classic);
        assert_eq!(n.birth_date(), Some(date!(1899 - 12 - 31)));
        assert_eq!(n.as_str(), "31129956715");
        assert_eq!(n.to_string(), "31129956715");
    }

    #[test]
    fn whitespace_and_one_space_after_the_date_are_accepted() {
        let expected = parse("31129956715").unwrap();
        assert_eq!(parse("  31129956715\n").unwrap(), expected);
        assert_eq!(parse("311299 56715").unwrap(), expected);
        assert_eq!(parse("\t311299 56715 ").unwrap(), expected);
        assert_eq!(parse("3112 9956715"), Err(IdNumberError::NonDigit));
        assert_eq!(parse("311299  56715"), Err(IdNumberError::NonDigit));
        assert_eq!(parse("311299-56715"), Err(IdNumberError::NonDigit));
    }

    #[test]
    fn length_and_non_digit_errors() {
        assert_eq!(parse(""), Err(IdNumberError::Length { found: 0 }));
        assert_eq!(
            parse("3112995671"),
            Err(IdNumberError::Length { found: 10 })
        );
        assert_eq!(
            parse("311299567150"),
            Err(IdNumberError::Length { found: 12 })
        );
        assert_eq!(parse("3112995671x"), Err(IdNumberError::NonDigit));
        assert_eq!(parse("3112995671٥"), Err(IdNumberError::NonDigit));
        assert_eq!(parse("+4731129956"), Err(IdNumberError::NonDigit));
    }

    #[test]
    fn check_digit_errors() {
        assert_eq!(parse("31129956716"), Err(IdNumberError::CheckDigit));
        // S1 mod 11 = 4 is outside both rules.
        let n = with_rest("311299567", 4).unwrap();
        assert_eq!(parse(&n), Err(IdNumberError::CheckDigit));
    }

    #[test]
    fn rule_2032_numbers_are_valid_without_birth_date() {
        let mut seen = 0;
        for rest in 1..=3 {
            if let Some(s) = with_rest("311299567", rest) {
                let n = parse(&s).unwrap();
                assert_eq!(n.rule(), CheckRule::Rule2032, "{s}");
                assert_eq!(n.kind(), IdKind::Fnr);
                assert_eq!(n.birth_date(), None);
                seen += 1;
            }
        }
        assert!(seen >= 2);
        // A 2032-rule number with a wrong second check digit is still rejected.
        let s = with_rest("311299567", 1).unwrap();
        let mut bad = s.into_bytes();
        bad[10] = b'0' + (bad[10] - b'0' + 1) % 10;
        assert_eq!(
            parse(std::str::from_utf8(&bad).unwrap()),
            Err(IdNumberError::CheckDigit)
        );
    }

    #[test]
    fn d_numbers_add_forty_to_the_day() {
        let n = find("71019912", 0);
        let n = parse(&n).unwrap();
        assert_eq!(n.kind(), IdKind::Dnr);
        assert_eq!(n.birth_date(), Some(date!(1999 - 01 - 31)));
        let over = find("72019912", 0);
        assert_eq!(parse(&over), Err(IdNumberError::ImpossibleDate));
        let zero = find("40019912", 0);
        assert_eq!(parse(&zero), Err(IdNumberError::ImpossibleDate));
    }

    #[test]
    fn h_numbers_add_forty_to_the_month() {
        let n = parse(&find("01528512", 0)).unwrap();
        assert_eq!(n.kind(), IdKind::Hnr);
        assert_eq!(n.birth_date(), Some(date!(1985 - 12 - 01)));
        let bad = find("01538512", 0);
        assert_eq!(parse(&bad), Err(IdNumberError::ImpossibleDate));
        // D and H markers together are not a kind in use.
        let dh = find("41428512", 0);
        assert_eq!(parse_any(&dh), Err(IdNumberError::ImpossibleDate));
    }

    #[test]
    fn synthetic_numbers_need_the_accept_policy() {
        let s = find("01828512", 0);
        assert_eq!(parse(&s), Err(IdNumberError::SyntheticNotAllowed));
        assert_eq!(
            IdNumber::parse(&s, SyntheticPolicy::default()),
            Err(IdNumberError::SyntheticNotAllowed)
        );
        let n = parse_any(&s).unwrap();
        assert_eq!(n.kind(), IdKind::Synthetic);
        assert_eq!(n.birth_date(), Some(date!(1985 - 02 - 01)));

        let sd = find("41828512", 0);
        assert_eq!(parse(&sd), Err(IdNumberError::SyntheticNotAllowed));
        let n = parse_any(&sd).unwrap();
        assert_eq!(n.kind(), IdKind::SyntheticDnr);
        assert_eq!(n.birth_date(), Some(date!(1985 - 02 - 01)));

        // A synthetic number with a typo reports the typo, not the policy.
        let mut typo = s.into_bytes();
        typo[10] = b'0' + (typo[10] - b'0' + 1) % 10;
        assert_eq!(
            parse(std::str::from_utf8(&typo).unwrap()),
            Err(IdNumberError::CheckDigit)
        );
        let month_93 = find("01938512", 0);
        assert_eq!(parse_any(&month_93), Err(IdNumberError::ImpossibleDate));
    }

    #[test]
    fn impossible_dates_are_rejected() {
        for first_nine in [
            "001299567", // day 0
            "321299567", // day 32
            "310499567", // 31 April
            "300299567", // 30 February
            "290201567", // 29 February 1901
            "150099567", // month 0
            "151399567", // month 13
            "152099567", // month 20
            "156099567", // month 60
            "811299567", // day 81: FH-numbers are not accepted
        ] {
            let s = find(&first_nine[..8], 0);
            assert_eq!(parse_any(&s), Err(IdNumberError::ImpossibleDate), "{s}");
        }
    }

    #[test]
    fn twenty_ninth_of_february() {
        // 2004 (individual 500–999, year < 40) is a leap year.
        let n = parse(&find("29020456", 0)).unwrap();
        assert_eq!(n.birth_date(), Some(date!(2004 - 02 - 29)));
        // 2000 is a leap year.
        let n = parse(&find("29020056", 0)).unwrap();
        assert_eq!(n.birth_date(), Some(date!(2000 - 02 - 29)));
        // 1900 was not: a classic number 29.02.00 with individual 000–499 can only be a
        // post-2032 number, valid but without a known century.
        let n = parse(&find("29020012", 0)).unwrap();
        assert_eq!(n.rule(), CheckRule::Classic);
        assert_eq!(n.birth_date(), None);
        // Unknown century (2032 rule): 29.02.00 is accepted, 29.02.01 is not.
        let s = find("29020012", 2);
        assert_eq!(parse(&s).unwrap().rule(), CheckRule::Rule2032);
        let s = find("29020112", 2);
        assert_eq!(parse(&s), Err(IdNumberError::ImpossibleDate));
    }

    #[test]
    fn century_table() {
        let cases = [
            ("010199", "123", Some(1999)),
            ("010100", "499", Some(1900)),
            ("010154", "500", Some(1854)),
            ("010199", "749", Some(1899)),
            ("010153", "600", None), // 500–749 with year 40–53
            ("010100", "500", Some(2000)),
            ("010139", "999", Some(2039)),
            ("010140", "900", Some(1940)),
            ("010140", "800", None), // 750–899 with year ≥ 40
            ("010199", "750", None),
        ];
        for (date_part, individual, year) in cases {
            let s = find(&format!("{date_part}{}", &individual[..2]), 0);
            let n = parse(&s).unwrap();
            assert_eq!(n.birth_date().map(|d| d.year()), year, "{s}");
        }
    }

    #[test]
    fn errors_have_stable_codes_and_never_echo_the_number() {
        let inputs = [
            "31129956716",
            "3112995671",
            "3112995671x",
            "32129956715",
            "01828512345",
        ];
        for input in inputs {
            let err = parse(input).unwrap_err();
            let message = err.to_string();
            assert!(!message.contains(input), "{message}");
            assert!(!message.contains(&input[..6]), "{message}");
            assert!(!err.code().is_empty());
        }
        let codes: Vec<&str> = [
            IdNumberError::Length { found: 3 },
            IdNumberError::NonDigit,
            IdNumberError::CheckDigit,
            IdNumberError::ImpossibleDate,
            IdNumberError::SyntheticNotAllowed,
        ]
        .iter()
        .map(IdNumberError::code)
        .collect();
        assert_eq!(
            codes,
            [
                "length",
                "non_digit",
                "check_digit",
                "impossible_date",
                "synthetic_not_allowed"
            ]
        );
    }

    #[test]
    fn debug_is_masked_and_serde_uses_strings() {
        let n = parse("31129956715").unwrap();
        assert_eq!(format!("{n:?}"), "IdNumber(\"311299*****\")");
        assert_eq!(n.masked(), "311299*****");
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"31129956715\"");
        assert_eq!(
            serde_json::to_string(&IdKind::SyntheticDnr).unwrap(),
            "\"synthetic-dnr\""
        );
        assert_eq!(
            serde_json::to_string(&CheckRule::Rule2032).unwrap(),
            "\"2032\""
        );
        for kind in IdKind::ALL {
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.as_str())
            );
        }
        assert_eq!(CheckRule::Classic.as_str(), "classic");
    }

    #[test]
    fn turning_thirteen_counts_calendar_years() {
        let born = date!(2013 - 12 - 31);
        assert!(!turns_age_by_year(born, MIN_ORDER_AGE, 2025));
        assert!(turns_age_by_year(born, MIN_ORDER_AGE, 2026));
        assert!(turns_age_by_year(date!(2013 - 01 - 01), 13, 2026));
        assert!(turns_age_by_year(born, MIN_ORDER_AGE, 2040));
        assert!(!turns_age_by_year(date!(2014 - 01 - 01), 13, 2026));
    }

    #[test]
    fn every_individual_decade_has_eight_usable_numbers() {
        // generate() relies on this: for any first eight digits, at least eight of the ten
        // values of d9 give check digits below 10. Only d1..d8 mod 11 sums matter, so it is
        // enough to try every pair of partial sums.
        for p1 in 0..11u32 {
            for p2 in 0..11u32 {
                let usable = (0..10u32)
                    .filter(|d9| {
                        let k1 = (11 - (p1 + 2 * d9) % 11) % 11;
                        let k2 = (11 - (p2 + 3 * d9 + 2 * k1) % 11) % 11;
                        k1 < 10 && k2 < 10
                    })
                    .count();
                assert!(usable >= 8, "p1={p1} p2={p2}: {usable}");
            }
        }
    }

    #[test]
    fn generate_gives_valid_numbers_in_the_right_century() {
        use rand::{rngs::StdRng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(7);
        for date in [
            date!(1854 - 01 - 01),
            date!(1899 - 12 - 31),
            date!(1900 - 03 - 01),
            date!(1955 - 06 - 15),
            date!(2000 - 02 - 29),
            date!(2039 - 12 - 31),
        ] {
            for kind in IdKind::ALL {
                for _ in 0..50 {
                    let n = IdNumber::generate(date, kind, &mut rng);
                    let parsed = parse_any(n.as_str()).unwrap();
                    assert_eq!(parsed, n);
                    assert_eq!(n.kind(), kind);
                    assert_eq!(n.rule(), CheckRule::Classic);
                    assert_eq!(n.birth_date(), Some(date));
                }
            }
        }
        // Outside 1854–2039 the number is valid but cannot carry the century.
        let n = IdNumber::generate(date!(1820 - 05 - 05), IdKind::Fnr, &mut rng);
        assert!(parse(n.as_str()).is_ok());
        assert_ne!(n.birth_date(), Some(date!(1820 - 05 - 05)));
    }

    #[test]
    fn generate_terminates_with_a_stuck_rng() {
        struct Stuck;
        impl RngCore for Stuck {
            fn next_u32(&mut self) -> u32 {
                0
            }
            fn next_u64(&mut self) -> u64 {
                0
            }
            fn fill_bytes(&mut self, dest: &mut [u8]) {
                dest.fill(0);
            }
            fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
                dest.fill(0);
                Ok(())
            }
        }
        let mut day = date!(1970 - 01 - 01);
        while day.year() < 1972 {
            for kind in IdKind::ALL {
                let n = IdNumber::generate(day, kind, &mut Stuck);
                assert_eq!(n.birth_date(), Some(day));
            }
            day = day.next_day().unwrap();
        }
    }
}
