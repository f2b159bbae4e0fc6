//! Property tests for activation codes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use nokkel_core::activation_code::{format_partial, ActivationCode, ActivationCodeError};
use proptest::prelude::*;
use rand::{rngs::StdRng, SeedableRng};

const ALPHABET: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn any_code() -> impl Strategy<Value = ActivationCode> {
    any::<u64>().prop_map(|seed| ActivationCode::generate(&mut StdRng::seed_from_u64(seed)))
}

/// How a user might type one canonical symbol.
fn typed(symbol: char, choice: u8) -> String {
    let spelled = match (symbol, choice % 4) {
        ('0', 1) => 'O',
        ('0', 2) => 'o',
        ('1', 1) => 'I',
        ('1', 2) => 'l',
        ('1', 3) => 'L',
        (c, 3) => c.to_ascii_lowercase(),
        (c, _) => c,
    };
    let separator = match choice / 4 % 8 {
        0 => " ",
        1 => "-",
        2 => " - ",
        _ => "",
    };
    format!("{spelled}{separator}")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn generate_then_parse_roundtrips(code in any_code()) {
        prop_assert_eq!(ActivationCode::parse(code.expose_secret()), Ok(code.clone()));
        prop_assert_eq!(ActivationCode::parse(&code.grouped()), Ok(code.clone()));
        prop_assert_eq!(code.expose_secret().len(), 15);
        prop_assert!(code.expose_secret().chars().all(|c| ALPHABET.contains(c)));
    }

    #[test]
    fn typed_variants_parse_to_the_same_code(code in any_code(), choices in prop::collection::vec(any::<u8>(), 15)) {
        let typed: String = code.expose_secret().chars().zip(&choices).map(|(c, &k)| typed(c, k)).collect();
        prop_assert_eq!(ActivationCode::parse(&typed), Ok(code.clone()));
        prop_assert_eq!(ActivationCode::parse(&code.grouped().to_lowercase()), Ok(code.clone()));
        prop_assert_eq!(format_partial(&typed), code.grouped());
    }

    #[test]
    fn every_single_substitution_is_detected(code in any_code(), position in 0usize..15, offset in 1usize..32) {
        let mut symbols: Vec<char> = code.expose_secret().chars().collect();
        let index = ALPHABET.find(symbols[position]).unwrap();
        symbols[position] = ALPHABET.as_bytes()[(index + offset) % 32] as char;
        let typo: String = symbols.into_iter().collect();
        prop_assert_eq!(ActivationCode::parse(&typo), Err(ActivationCodeError::CheckSymbol));
    }

    #[test]
    fn every_adjacent_transposition_is_detected(code in any_code(), position in 0usize..14) {
        let mut symbols: Vec<char> = code.expose_secret().chars().collect();
        prop_assume!(symbols[position] != symbols[position + 1]);
        symbols.swap(position, position + 1);
        let swapped: String = symbols.into_iter().collect();
        prop_assert_eq!(ActivationCode::parse(&swapped), Err(ActivationCodeError::CheckSymbol));
    }

    /// Exhaustive for each drawn code: all 15 × 31 substitutions and 14 adjacent swaps.
    #[test]
    fn all_typos_of_a_code_are_detected(code in any_code()) {
        let symbols: Vec<char> = code.expose_secret().chars().collect();
        for position in 0..15 {
            for replacement in ALPHABET.chars().filter(|&c| c != symbols[position]) {
                let mut typo = symbols.clone();
                typo[position] = replacement;
                let typo: String = typo.into_iter().collect();
                prop_assert_eq!(ActivationCode::parse(&typo), Err(ActivationCodeError::CheckSymbol));
            }
            if position < 14 && symbols[position] != symbols[position + 1] {
                let mut swapped = symbols.clone();
                swapped.swap(position, position + 1);
                let swapped: String = swapped.into_iter().collect();
                prop_assert_eq!(ActivationCode::parse(&swapped), Err(ActivationCodeError::CheckSymbol));
            }
        }
    }

    #[test]
    fn parse_and_format_never_panic_and_never_leak(input in "\\PC{0,30}") {
        if let Err(e) = ActivationCode::parse(&input) {
            let trimmed = input.trim();
            if trimmed.chars().count() >= 5 {
                prop_assert!(!e.to_string().contains(trimmed));
            }
        }
        let shown = format_partial(&input);
        prop_assert!(shown.len() <= 17);
        prop_assert!(shown.chars().all(|c| c == '-' || ALPHABET.contains(c)));
        prop_assert!(!shown.ends_with('-'));
    }
}
