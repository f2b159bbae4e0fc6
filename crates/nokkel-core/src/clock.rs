//! Time as an injected dependency: the [`Clock`] trait and its system and fixed implementations.

use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;

/// A source of the current time. Servers use [`SystemClock`]; tests use [`FixedClock`].
pub trait Clock: Send + Sync {
    /// The current time in UTC.
    fn now(&self) -> OffsetDateTime;

    /// The current time as whole seconds since the Unix epoch.
    fn unix(&self) -> i64 {
        self.now().unix_timestamp()
    }
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that stands still until a test moves it. Second resolution.
#[derive(Debug)]
pub struct FixedClock {
    unix: AtomicI64,
}

impl FixedClock {
    /// A clock fixed at `unix` seconds since the epoch.
    pub fn at_unix(unix: i64) -> Self {
        Self {
            unix: AtomicI64::new(unix),
        }
    }

    /// A clock fixed at the given instant.
    pub fn at(instant: OffsetDateTime) -> Self {
        Self::at_unix(instant.unix_timestamp())
    }

    /// Moves the clock forward (or back, with a negative value) by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.unix.fetch_add(seconds, Ordering::SeqCst);
    }

    /// Sets the clock to `unix` seconds since the epoch.
    pub fn set_unix(&self, unix: i64) {
        self.unix.store(unix, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        // Out-of-range values cannot be set through the public API except by a test passing
        // an absurd number; fall back to the epoch rather than panic.
        OffsetDateTime::from_unix_timestamp(self.unix.load(Ordering::SeqCst))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    fn unix(&self) -> i64 {
        self.unix.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let clock = FixedClock::at_unix(1_700_000_000);
        assert_eq!(clock.unix(), 1_700_000_000);
        clock.advance(120);
        assert_eq!(clock.unix(), 1_700_000_120);
        assert_eq!(clock.now().unix_timestamp(), 1_700_000_120);
    }
}
