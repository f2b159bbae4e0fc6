//! Number matching: the 2-digit number the browser shows and the three choices the app
//! offers, derived deterministically from a 32-byte seed.
//!
//! Derivation (docs/PROTOCOL.md, "Number matching"): a byte stream
//! `HMAC-SHA256(seed, "nokkel-number-match-v1" || i)` for block `i = 0, 1, ...` (one byte);
//! uniform draws take two bytes big-endian and reject values at or above the largest multiple
//! of the range. Number = 10 + draw(90); then two decoys by the same draw, skipping repeats;
//! then the position of the number among the three = draw(3); decoys fill the other places
//! in the order drawn.

use hmac::{Hmac, Mac as _};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

const LABEL: &[u8] = b"nokkel-number-match-v1";

/// The number to match and the three choices the app shows (one of them is the number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberMatch {
    number: u8,
    choices: [u8; 3],
}

impl NumberMatch {
    /// Derives the number and choices from a seed.
    pub fn derive(seed: &[u8; 32]) -> Self {
        let mut stream = ByteStream::new(seed);
        let number = 10 + stream.uniform(90) as u8;
        let mut decoys = [0u8; 2];
        let mut found = 0;
        while found < 2 {
            let candidate = 10 + stream.uniform(90) as u8;
            if candidate != number && !decoys[..found].contains(&candidate) {
                decoys[found] = candidate;
                found += 1;
            }
        }
        let position = stream.uniform(3) as usize;
        let mut choices = [0u8; 3];
        let mut rest = decoys.into_iter();
        for (i, slot) in choices.iter_mut().enumerate() {
            *slot = if i == position {
                number
            } else {
                // Two decoys for exactly two places.
                rest.next().unwrap_or(number)
            };
        }
        Self { number, choices }
    }

    /// Draws a fresh seed and derives from it; returns the seed too, for audit or replay.
    pub fn generate<R: CryptoRngCore + ?Sized>(rng: &mut R) -> ([u8; 32], Self) {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        (seed, Self::derive(&seed))
    }

    /// The number the browser shows (10–99).
    pub fn number(&self) -> u8 {
        self.number
    }

    /// The three distinct choices in the order the app shows them.
    pub fn choices(&self) -> [u8; 3] {
        self.choices
    }
}

/// Checks the shape of choices received from elsewhere: three distinct numbers 10–99.
pub fn valid_choices(choices: &[u8; 3]) -> bool {
    choices.iter().all(|c| (10..=99).contains(c))
        && choices[0] != choices[1]
        && choices[0] != choices[2]
        && choices[1] != choices[2]
}

struct ByteStream {
    seed: [u8; 32],
    block: [u8; 32],
    block_index: u8,
    offset: usize,
}

impl ByteStream {
    fn new(seed: &[u8; 32]) -> Self {
        let mut stream = Self {
            seed: *seed,
            block: [0; 32],
            block_index: 0,
            offset: 0,
        };
        stream.block = stream.compute_block(0);
        stream
    }

    fn compute_block(&self, index: u8) -> [u8; 32] {
        // HMAC accepts keys of any length, so this cannot fail; the fallback keeps the
        // no-panic rule without changing the output for any real seed.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.seed) else {
            return [0; 32];
        };
        mac.update(LABEL);
        mac.update(&[index]);
        mac.finalize().into_bytes().into()
    }

    fn byte(&mut self) -> u8 {
        if self.offset == 32 {
            self.block_index = self.block_index.wrapping_add(1);
            self.block = self.compute_block(self.block_index);
            self.offset = 0;
        }
        let b = self.block[self.offset];
        self.offset += 1;
        b
    }

    /// Uniform in `0..range` by rejection sampling over 16-bit values.
    fn uniform(&mut self, range: u32) -> u32 {
        let limit = 65536 - (65536 % range);
        loop {
            let value = u32::from(self.byte()) << 8 | u32::from(self.byte());
            if value < limit {
                return value % range;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn always_three_distinct_two_digit_choices_containing_the_number(seed in any::<[u8; 32]>()) {
            let m = NumberMatch::derive(&seed);
            prop_assert!(valid_choices(&m.choices()));
            prop_assert!(m.choices().contains(&m.number()));
            prop_assert!((10..=99).contains(&m.number()));
            prop_assert_eq!(NumberMatch::derive(&seed), m);
        }
    }

    #[test]
    fn roughly_uniform() {
        // 90,000 seeds: each number expected 1,000 times; each position 30,000 times.
        let mut counts = [0u32; 100];
        let mut positions = [0u32; 3];
        for i in 0u32..90_000 {
            let mut seed = [0u8; 32];
            seed[..4].copy_from_slice(&i.to_le_bytes());
            let m = NumberMatch::derive(&seed);
            counts[usize::from(m.number())] += 1;
            let pos = m.choices().iter().position(|c| *c == m.number()).unwrap();
            positions[pos] += 1;
        }
        assert!(counts[..10].iter().all(|c| *c == 0));
        // ±20 % is more than 6 standard deviations (sd ≈ 31.5) away.
        for (n, c) in counts.iter().enumerate().skip(10) {
            assert!((800..=1200).contains(c), "number {n} drawn {c} times");
        }
        for p in positions {
            assert!((29_000..=31_000).contains(&p), "position drawn {p} times");
        }
    }

    #[test]
    fn choices_shape_check() {
        assert!(valid_choices(&[10, 55, 99]));
        assert!(!valid_choices(&[10, 10, 99]));
        assert!(!valid_choices(&[9, 10, 99]));
        assert!(!valid_choices(&[10, 11, 100]));
    }
}
