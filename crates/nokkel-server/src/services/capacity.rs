//! Ceilings on what strangers can make one instance hold: open login event streams (each
//! a connection held for up to two minutes) and authorization requests started (each a
//! stored row for 15 minutes and an audit event). Counted in this process's memory — they
//! protect the instance, and a restart that forgets them forgets the connections too.
//!
//! Per-address limits on authorization requests live with the other rate limits
//! (`services/oidc/authorize.rs`); here are the per-instance totals and the concurrent
//! stream counts, which a rate window cannot express.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::config::Config;

/// The per-instance ceilings, built from the configuration at start-up.
pub struct Capacity {
    streams: Arc<Mutex<Streams>>,
    streams_per_address: usize,
    streams_total: usize,
    authorizations: Mutex<Window>,
    authorizations_per_10_min: u64,
}

#[derive(Default)]
struct Streams {
    /// Address key → open streams.
    by_address: HashMap<String, usize>,
    total: usize,
}

/// A fixed ten-minute window's count.
#[derive(Default)]
struct Window {
    start: i64,
    count: u64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Counters stay consistent across a panic elsewhere (each change is one step).
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// An open event stream's place, given back when dropped (the stream ends or its client
/// goes away).
pub struct StreamTicket {
    streams: Arc<Mutex<Streams>>,
    address: String,
}

impl Drop for StreamTicket {
    fn drop(&mut self) {
        let mut streams = lock(&self.streams);
        streams.total = streams.total.saturating_sub(1);
        if let Some(open) = streams.by_address.get_mut(&self.address) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                streams.by_address.remove(&self.address);
            }
        }
    }
}

impl Capacity {
    /// The ceilings `config` sets.
    pub fn new(config: &Config) -> Self {
        Self {
            streams: Arc::default(),
            streams_per_address: config.event_streams_per_address as usize,
            streams_total: config.event_streams_total as usize,
            authorizations: Mutex::default(),
            authorizations_per_10_min: u64::from(config.authorizations_per_10_min),
        }
    }

    /// A place for one more event stream from `address` (an address key), or `None` when
    /// that address or the instance holds as many as allowed.
    pub fn open_stream(&self, address: &str) -> Option<StreamTicket> {
        let mut streams = lock(&self.streams);
        let from_address = streams.by_address.get(address).copied().unwrap_or(0);
        let refused = if from_address >= self.streams_per_address {
            "events-ip"
        } else if streams.total >= self.streams_total {
            "events-all"
        } else {
            ""
        };
        if !refused.is_empty() {
            metrics::counter!(crate::metrics::RATE_LIMITED, "limit" => refused).increment(1);
            return None;
        }
        streams.total += 1;
        *streams.by_address.entry(address.to_owned()).or_insert(0) += 1;
        Some(StreamTicket {
            streams: self.streams.clone(),
            address: address.to_owned(),
        })
    }

    /// How many event streams are open on this instance.
    pub fn open_streams(&self) -> usize {
        lock(&self.streams).total
    }

    /// Counts one authorization request at `now` (unix seconds); `false` when this instance
    /// has taken as many as allowed in the current ten minutes.
    pub fn take_authorization(&self, now: i64) -> bool {
        let start = now - now.rem_euclid(600);
        let mut window = lock(&self.authorizations);
        if window.start != start {
            *window = Window { start, count: 0 };
        }
        if window.count >= self.authorizations_per_10_min {
            metrics::counter!(crate::metrics::RATE_LIMITED, "limit" => "authorize-all")
                .increment(1);
            return false;
        }
        window.count += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capacity(per_address: u32, total: u32, authorizations: u32) -> Capacity {
        Capacity::new(&Config {
            event_streams_per_address: per_address,
            event_streams_total: total,
            authorizations_per_10_min: authorizations,
            ..Config::default()
        })
    }

    #[test]
    fn streams_are_capped_per_address_and_in_all_and_given_back() {
        let capacity = capacity(2, 3, 1);
        let a1 = capacity.open_stream("a").unwrap();
        let _a2 = capacity.open_stream("a").unwrap();
        assert!(capacity.open_stream("a").is_none(), "per address");
        let _b1 = capacity.open_stream("b").unwrap();
        assert!(capacity.open_stream("c").is_none(), "in all");
        drop(a1);
        assert_eq!(capacity.open_streams(), 2);
        assert!(capacity.open_stream("c").is_some());
    }

    #[test]
    fn authorizations_are_capped_per_window() {
        let capacity = capacity(1, 1, 2);
        assert!(capacity.take_authorization(1_200));
        assert!(capacity.take_authorization(1_799));
        assert!(!capacity.take_authorization(1_799));
        assert!(capacity.take_authorization(1_800), "a new window");
    }
}
