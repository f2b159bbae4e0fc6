//! Small caches in front of the store for what every login reads and almost never
//! changes: registered clients, and devices' parsed public keys.
//!
//! - A client is kept [`CLIENT_TTL_SECONDS`] after it was read, so a change made with
//!   `nokkel admin` (another process) reaches every instance within that time.
//! - A device's parsed key is kept with the exact JWK text it was parsed from; the device
//!   row is still read on every use (revocation and counter are never cached), and a
//!   different JWK for the same id is parsed afresh.
//!
//! Both are bounded: when full, a cache starts over empty.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use nokkel_core::keys::{PublicJwk, PublicKey};

use crate::store::{ClientRecord, DeviceRecord};

/// How long a client read from the store is trusted.
pub const CLIENT_TTL_SECONDS: i64 = 30;
/// Most clients kept.
const MAX_CLIENTS: usize = 10_000;
/// Most device keys kept (about 200 bytes each).
const MAX_DEVICE_KEYS: usize = 200_000;

/// The caches [`crate::services::Deps`] holds.
#[derive(Default)]
pub struct Caches {
    /// Registered clients by id.
    pub clients: ClientCache,
    /// Devices' parsed public keys by device id.
    pub device_keys: DeviceKeyCache,
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

/// Devices' public keys, parsed once per JWK.
#[derive(Default)]
pub struct DeviceKeyCache {
    entries: Mutex<HashMap<String, (String, PublicKey)>>,
}

impl DeviceKeyCache {
    /// The public key of `device`, parsed from its JWK unless that exact JWK was parsed
    /// before. `None` when the stored JWK is not a valid P-256 key.
    pub fn key(&self, device: &DeviceRecord) -> Option<PublicKey> {
        if let Some((jwk, key)) = lock(&self.entries).get(&device.id) {
            if *jwk == device.public_jwk {
                return Some(key.clone());
            }
        }
        let jwk: PublicJwk = serde_json::from_str(&device.public_jwk).ok()?;
        let key = PublicKey::from_jwk(&jwk).ok()?;
        let mut entries = lock(&self.entries);
        if entries.len() >= MAX_DEVICE_KEYS {
            entries.clear();
        }
        entries.insert(device.id.clone(), (device.public_jwk.clone(), key.clone()));
        Some(key)
    }
}
