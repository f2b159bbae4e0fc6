//! Small caches in front of the store for what every login reads and almost never
//! changes: registered clients, and devices.
//!
//! - A client is kept [`CLIENT_TTL_SECONDS`] after it was read, so a change made with
//!   `nokkel admin` (another process) reaches every instance within that time.
//! - A device's parsed key is kept with the exact JWK text it was parsed from; a
//!   different JWK for the same id is parsed afresh.
//! - On a single instance (embedded SQLite) the device record is kept too, for
//!   [`DEVICE_TTL_SECONDS`]: this process makes every change to it (revocation through
//!   [`DeviceCache::forget`], counters through [`DeviceCache::counter_advanced`]). With
//!   several instances (PostgreSQL) the record is read on every use, since another
//!   instance may have revoked the device. Either way the stored counter decides: an
//!   answer is stored only if its counter is above the stored one and the device is not
//!   revoked, in the same transaction.
//!
//! - On a single instance, authorization requests are kept from their creation until
//!   this process finishes them (or they expire): the login pages and the code issue
//!   read them several times per login.
//!
//! All are bounded: when full, a cache starts over empty.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use nokkel_core::keys::{PublicJwk, PublicKey};

use crate::store::{AuthorizationRequestRecord, ClientRecord, DeviceRecord};

/// How long a client read from the store is trusted.
pub const CLIENT_TTL_SECONDS: i64 = 30;
/// Most clients kept.
const MAX_CLIENTS: usize = 10_000;
/// How long a device record is trusted on a single instance.
pub const DEVICE_TTL_SECONDS: i64 = 30;
/// Most devices kept (about 600 bytes each).
const MAX_DEVICES: usize = 200_000;

/// Most unfinished authorization requests kept (about 600 bytes each).
const MAX_REQUESTS: usize = 100_000;

/// The caches [`crate::services::Deps`] holds.
pub struct Caches {
    /// Registered clients by id.
    pub clients: ClientCache,
    /// Devices by id.
    pub devices: DeviceCache,
    /// Unfinished authorization requests by id.
    pub requests: RequestCache,
}

impl Caches {
    /// Empty caches; `single_instance` when this process is the only one writing the
    /// store (embedded SQLite), so device records may be kept.
    pub fn new(single_instance: bool) -> Self {
        Self {
            clients: ClientCache::default(),
            devices: DeviceCache {
                keep_records: single_instance,
                entries: Mutex::default(),
            },
            requests: RequestCache {
                keep: single_instance,
                entries: Mutex::default(),
            },
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each change is one insert or a clear: a panic elsewhere cannot leave it half-done.
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Registered clients, each kept [`CLIENT_TTL_SECONDS`].
#[derive(Default)]
pub struct ClientCache {
    entries: Mutex<HashMap<String, (i64, ClientRecord)>>,
}

impl ClientCache {
    /// Client `id` if it was read less than [`CLIENT_TTL_SECONDS`] before `now`.
    pub fn get(&self, id: &str, now: i64) -> Option<ClientRecord> {
        lock(&self.entries)
            .get(id)
            .filter(|(read_at, _)| now - read_at < CLIENT_TTL_SECONDS)
            .map(|(_, client)| client.clone())
    }

    /// Keeps `client`, read from the store at `now`.
    pub fn put(&self, client: ClientRecord, now: i64) {
        let mut entries = lock(&self.entries);
        if entries.len() >= MAX_CLIENTS {
            entries.clear();
        }
        entries.insert(client.id.clone(), (now, client));
    }
}

/// Devices by id: their parsed public keys, and on a single instance their records.
pub struct DeviceCache {
    keep_records: bool,
    entries: Mutex<HashMap<String, CachedDevice>>,
}

struct CachedDevice {
    record: DeviceRecord,
    key: PublicKey,
    read_at: i64,
}

impl DeviceCache {
    /// Device `id` and its key as kept, if the record may be trusted at `now`.
    pub fn get(&self, id: &str, now: i64) -> Option<(DeviceRecord, PublicKey)> {
        if !self.keep_records {
            return None;
        }
        lock(&self.entries)
            .get(id)
            .filter(|d| now - d.read_at < DEVICE_TTL_SECONDS)
            .map(|d| (d.record.clone(), d.key.clone()))
    }

    /// Keeps `record`, read from the store at `now`, and returns its key: parsed from its
    /// JWK unless that exact JWK was parsed before. `None` when the stored JWK is not a
    /// valid P-256 key.
    pub fn put(&self, record: DeviceRecord, now: i64) -> Option<PublicKey> {
        let key = self.key(&record)?;
        let mut entries = lock(&self.entries);
        if entries.len() >= MAX_DEVICES {
            entries.clear();
        }
        entries.insert(
            record.id.clone(),
            CachedDevice {
                record,
                key: key.clone(),
                read_at: now,
            },
        );
        Some(key)
    }

    /// The key of `record`: as kept if its JWK is the one kept, else parsed.
    pub fn key(&self, record: &DeviceRecord) -> Option<PublicKey> {
        let known = lock(&self.entries)
            .get(&record.id)
            .filter(|d| d.record.public_jwk == record.public_jwk)
            .map(|d| d.key.clone());
        known.or_else(|| {
            let jwk: PublicJwk = serde_json::from_str(&record.public_jwk).ok()?;
            PublicKey::from_jwk(&jwk).ok()
        })
    }

    /// The stored counter of device `id` is now `counter` (this process stored it).
    pub fn counter_advanced(&self, id: &str, counter: i64, now: i64) {
        if let Some(device) = lock(&self.entries).get_mut(id) {
            device.record.counter = counter;
            device.record.last_used_at = Some(now);
        }
    }

    /// Device `id` changed in a way the cache cannot follow (revoked): read it afresh.
    pub fn forget(&self, id: &str) {
        lock(&self.entries).remove(id);
    }
}

/// Unfinished authorization requests, on a single instance (where this process is the
/// only one to finish them).
pub struct RequestCache {
    keep: bool,
    entries: Mutex<HashMap<String, AuthorizationRequestRecord>>,
}

impl RequestCache {
    /// Request `id` as kept (unfinished), if kept.
    pub fn get(&self, id: &str) -> Option<AuthorizationRequestRecord> {
        if !self.keep {
            return None;
        }
        lock(&self.entries).get(id).cloned()
    }

    /// Keeps `request` while it is unfinished.
    pub fn put(&self, request: &AuthorizationRequestRecord) {
        if !self.keep || request.finished_at.is_some() {
            return;
        }
        let mut entries = lock(&self.entries);
        if entries.len() >= MAX_REQUESTS {
            entries.clear();
        }
        entries.insert(request.id.clone(), request.clone());
    }

    /// Forgets requests expired at `now` (nobody finished them).
    pub fn sweep(&self, now: i64) {
        lock(&self.entries).retain(|_, r| r.expires_at > now);
    }

    /// Request `id` was finished (or failed) by this process.
    pub fn forget(&self, id: &str) {
        lock(&self.entries).remove(id);
    }
}
