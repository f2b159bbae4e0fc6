//! Fuzzes `ActivationCode::parse` and `format_partial`: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nokkel_core::activation_code::{format_partial, ActivationCode};

fuzz_target!(|input: &str| {
    let _ = (ActivationCode::parse(input), format_partial(input));
});
