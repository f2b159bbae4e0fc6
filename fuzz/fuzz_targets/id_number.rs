//! Fuzzes `IdNumber::parse`: any string must give `Ok` or `Err`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nokkel_core::id_number::{IdNumber, SyntheticPolicy};

fuzz_target!(|input: &str| {
    let _ = IdNumber::parse(input, SyntheticPolicy::Accept).map(|n| n.birth_date());
});
