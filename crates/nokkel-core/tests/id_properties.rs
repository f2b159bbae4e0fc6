//! Property tests for identity numbers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use nokkel_core::id_number::{CheckRule, IdKind, IdNumber, IdNumberError, SyntheticPolicy};
use proptest::prelude::*;
use rand::{rngs::StdRng, SeedableRng};
use time::{Date, Duration, Month};

fn any_kind() -> impl Strategy<Value = IdKind> {
    prop::sample::select(IdKind::ALL.to_vec())
}

/// Birth dates whose century an individual number can encode.
fn encodable_date() -> impl Strategy<Value = Date> {
    let first = Date::from_calendar_date(1854, Month::January, 1).unwrap();
    let last = Date::from_calendar_date(2039, Month::December, 31).unwrap();
    (0..=(last - first).whole_days()).prop_map(move |days| first + Duration::days(days))
}

fn generated() -> impl Strategy<Value = (IdNumber, Date, IdKind)> {
    (encodable_date(), any_kind(), any::<u64>()).prop_map(|(date, kind, seed)| {
        let n = IdNumber::generate(date, kind, &mut StdRng::seed_from_u64(seed));
        (n, date, kind)
    })
}

/// The same number with S1 mod 11 = `rest` (2032 rule), if the check digits allow it.
fn under_2032_rule(n: &IdNumber, rest: u32) -> Option<String> {
    let d: Vec<u32> = n.as_str().bytes().map(|b| u32::from(b - b'0')).collect();
    let p1: u32 = d[..9]
        .iter()
        .zip([3, 7, 6, 1, 8, 9, 4, 5, 2])
        .map(|(a, w)| a * w)
        .sum();
    let k1 = (11 + rest - p1 % 11) % 11;
    let p2: u32 = d[..9]
        .iter()
        .zip([5, 4, 3, 2, 7, 6, 5, 4, 3])
        .map(|(a, w)| a * w)
        .sum::<u32>()
        + 2 * k1;
    let k2 = (11 - p2 % 11) % 11;
    (k1 < 10 && k2 < 10).then(|| format!("{}{k1}{k2}", &n.as_str()[..9]))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn generate_then_parse_roundtrips_for_every_kind((n, date, kind) in generated()) {
        let parsed = IdNumber::parse(n.as_str(), SyntheticPolicy::Accept).unwrap();
        prop_assert_eq!(&parsed, &n);
        prop_assert_eq!(parsed.kind(), kind);
        prop_assert_eq!(parsed.rule(), CheckRule::Classic);
        prop_assert_eq!(parsed.birth_date(), Some(date));
        let strict = IdNumber::parse(n.as_str(), SyntheticPolicy::Reject);
        if kind.is_synthetic() {
            prop_assert_eq!(strict, Err(IdNumberError::SyntheticNotAllowed));
        } else {
            prop_assert_eq!(strict, Ok(n));
        }
    }

    #[test]
    fn printed_forms_parse_to_the_same_number((n, _, _) in generated(), pad in "[ \t\n]{0,3}") {
        let s = n.as_str();
        let spaced = format!("{pad}{} {}{pad}", &s[..6], &s[6..]);
        prop_assert_eq!(IdNumber::parse(&spaced, SyntheticPolicy::Accept), Ok(n));
    }

    /// Both check sums weigh every position with a weight that is non-zero mod 11, so a
    /// single changed digit always breaks S2 (and so both rules): the number is rejected.
    #[test]
    fn any_single_digit_change_is_rejected(
        (n, _, _) in generated(),
        rest in 0u32..=3,
        position in 0usize..11,
        delta in 1u8..10,
    ) {
        let base = under_2032_rule(&n, rest).unwrap_or_else(|| n.as_str().to_owned());
        let original = IdNumber::parse(&base, SyntheticPolicy::Accept).unwrap();
        let mut bytes = base.into_bytes();
        bytes[position] = b'0' + (bytes[position] - b'0' + delta) % 10;
        let changed = String::from_utf8(bytes).unwrap();
        let result = IdNumber::parse(&changed, SyntheticPolicy::Accept);
        prop_assert!(
            matches!(result, Err(IdNumberError::CheckDigit | IdNumberError::ImpossibleDate)),
            "{:?} -> {changed}: {result:?}", original
        );
    }

    #[test]
    fn rule_2032_variants_keep_kind_and_lose_the_birth_date((n, _, kind) in generated(), rest in 1u32..=3) {
        if let Some(s) = under_2032_rule(&n, rest) {
            let m = IdNumber::parse(&s, SyntheticPolicy::Accept).unwrap();
            prop_assert_eq!(m.rule(), CheckRule::Rule2032);
            prop_assert_eq!(m.kind(), kind);
            prop_assert_eq!(m.birth_date(), None);
        }
    }

    #[test]
    fn parse_never_panics_and_never_leaks_the_input(input in "\\PC{0,20}|[0-9 ]{9,13}") {
        match IdNumber::parse(&input, SyntheticPolicy::Accept) {
            Ok(n) => {
                prop_assert_eq!(n.as_str().len(), 11);
                let debug = format!("{:?}", n);
                prop_assert!(!debug.contains(n.as_str()));
                prop_assert_eq!(n.masked().len(), 11);
            }
            Err(e) => {
                let trimmed = input.trim();
                if trimmed.len() >= 6 {
                    prop_assert!(!e.to_string().contains(trimmed));
                }
                prop_assert!(!e.code().is_empty());
            }
        }
    }
}
