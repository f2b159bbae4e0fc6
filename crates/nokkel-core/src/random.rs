//! Randomness as an injected dependency: the [`Random`] trait, the operating system's
//! generator, and a seeded generator for tests.

use std::sync::Mutex;

use rand_core::{CryptoRng, OsRng, RngCore, SeedableRng};

/// A source of cryptographically secure random bytes, shared across threads.
pub trait Random: Send + Sync {
    /// Fills `dest` with random bytes.
    fn fill(&self, dest: &mut [u8]);

    /// An [`RngCore`] + [`CryptoRng`] view for APIs that take a generator.
    fn rng(&self) -> RandomRng<'_>
    where
        Self: Sized,
    {
        RandomRng(self)
    }
}

/// The operating system's generator (getrandom). Production code uses this.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, dest: &mut [u8]) {
        OsRng.fill_bytes(dest);
    }
}

/// A deterministic generator (ChaCha20) for tests and reproducible benchmarks.
/// Never use it where secrets are made for real users.
#[derive(Debug)]
pub struct SeededRandom(Mutex<rand_chacha::ChaCha20Rng>);

impl SeededRandom {
    /// A generator whose whole output is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        Self(Mutex::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed)))
    }
}

impl Random for SeededRandom {
    fn fill(&self, dest: &mut [u8]) {
        // A poisoned lock only means another test thread panicked mid-draw; the generator
        // state is still a valid ChaCha state, so keep using it.
        let mut rng = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        rng.fill_bytes(dest);
    }
}

/// Adapts any `&dyn Random` to [`RngCore`] + [`CryptoRng`].
pub struct RandomRng<'a>(&'a dyn Random);

impl<'a> RandomRng<'a> {
    /// Wraps a shared random source.
    pub fn new(random: &'a dyn Random) -> Self {
        Self(random)
    }
}

impl RngCore for RandomRng<'_> {
    fn next_u32(&mut self) -> u32 {
        let mut buf = [0u8; 4];
        self.0.fill(&mut buf);
        u32::from_le_bytes(buf)
    }

    fn next_u64(&mut self) -> u64 {
        let mut buf = [0u8; 8];
        self.0.fill(&mut buf);
        u64::from_le_bytes(buf)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill(dest);
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.fill(dest);
        Ok(())
    }
}

// Both implementations draw from cryptographically secure generators.
impl CryptoRng for RandomRng<'_> {}

/// ring's randomness, for ring's own operations (ECDSA signing nonces, key generation and
/// loading). ring accepts only its sealed `SecureRandom`, which reads the operating
/// system's generator, so it cannot be seeded: this is the one place a `SystemRandom` is
/// made (clippy's `disallowed-methods` stops others), and even a test that seeds [`Random`]
/// signs with fresh nonces — which changes no outcome a test can observe.
#[allow(clippy::disallowed_methods)]
pub fn ring_random() -> ring::rand::SystemRandom {
    ring::rand::SystemRandom::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_random_is_reproducible_and_seed_dependent() {
        let (a, b, c) = (
            SeededRandom::new(7),
            SeededRandom::new(7),
            SeededRandom::new(8),
        );
        let mut x = [0u8; 32];
        let mut y = [0u8; 32];
        let mut z = [0u8; 32];
        a.fill(&mut x);
        b.fill(&mut y);
        c.fill(&mut z);
        assert_eq!(x, y);
        assert_ne!(x, z);
    }

    #[test]
    fn os_random_fills_different_bytes_each_time() {
        let mut x = [0u8; 32];
        let mut y = [0u8; 32];
        OsRandom.fill(&mut x);
        OsRandom.fill(&mut y);
        assert_ne!(x, y);
        assert_ne!(RandomRng::new(&OsRandom).next_u64(), 0);
    }
}
