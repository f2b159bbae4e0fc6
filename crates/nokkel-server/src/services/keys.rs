//! The server's signing keys: loaded from the store (sealed at rest), created on first
//! start. Devices pin the challenge key at enrolment; relying parties fetch ID-token keys
//! as JWKS.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use nokkel_core::keys::ServerKey;
use nokkel_core::random::ring_random;

use crate::secrets::ServerSecrets;
use crate::store::{ServerKeyRecord, Store, StoreError};

/// Purpose of the key that signs login challenges.
pub const PURPOSE_CHALLENGE: &str = "challenge";
/// Purpose of the keys that sign ID tokens.
pub const PURPOSE_ID_TOKEN: &str = "id_token";

/// The keys the server signs with.
#[derive(Debug)]
pub struct ServerKeys {
    /// Signs login challenges; its public half is pinned by every device.
    pub challenge: ServerKey,
    /// Signs ID tokens; rotates (see [`rotate_id_token_key`]).
    pub id_tokens: KeyRing,
}

impl ServerKeys {
    /// Loads the active keys, creating any that do not exist yet.
    pub async fn load_or_create(
        store: &Store,
        secrets: &ServerSecrets,
        random: &dyn nokkel_core::random::Random,
        now: i64,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            challenge: active_key(store, secrets, random, PURPOSE_CHALLENGE, now).await?,
            id_tokens: {
                // Creates the first key if there is none.
                active_key(store, secrets, random, PURPOSE_ID_TOKEN, now).await?;
                let ring = KeyRing::new(PURPOSE_ID_TOKEN);
                ring.reload(store, secrets, now).await?;
                ring
            },
        })
    }
}

async fn active_key(
    store: &Store,
    secrets: &ServerSecrets,
    random: &dyn nokkel_core::random::Random,
    purpose: &str,
    now: i64,
) -> Result<ServerKey, StoreError> {
    let ring_random = ring_random();
    let unusable = |what: &str| StoreError::Config(format!("server {purpose} key {what}"));
    if store.server_keys(purpose).await?.is_empty() {
        let key = ServerKey::generate(&ring_random).map_err(|_| unusable("generation failed"))?;
        store
            .insert_server_key(&ServerKeyRecord {
                kid: key.kid().to_owned(),
                purpose: purpose.to_owned(),
                key_sealed: secrets.seal(&key.to_pkcs8_der(), random),
                created_at: now,
                active_from: now,
                retired_at: None,
            })
            .await?;
    }
    // Re-read rather than use the key just made: when several instances start at once,
    // all settle on the same (oldest active) key.
    let records = store.server_keys(purpose).await?;
    let record = records
        .iter()
        .find(|r| r.active_from <= now)
        .or(records.first())
        .ok_or_else(|| unusable("missing"))?;
    let der = secrets.open(&record.key_sealed).map_err(|_| {
        unusable("cannot be unsealed: is secret.key the one the keys were made with?")
    })?;
    ServerKey::from_pkcs8(&der, &ring_random).map_err(|_| unusable("is not a valid PKCS#8 key"))
}

/// How long a key ring trusts its copy of the key list before reading the store again.
/// Rotation publishes new keys well ahead of this (see [`rotate_id_token_key`]), so every
/// instance knows a key before it starts signing.
pub const KEY_RING_REFRESH_SECONDS: i64 = 60;

/// The default time between publishing a rotated ID-token key and signing with it: relying
/// parties that cache the JWKS for up to a day still know the key when it first signs.
pub const DEFAULT_PUBLISH_AHEAD_SECONDS: i64 = 24 * 60 * 60;

/// One published key and the time it starts signing.
#[derive(Debug, Clone)]
pub struct RingKey {
    /// The key.
    pub key: Arc<ServerKey>,
    /// From when it signs (unix seconds); published before.
    pub active_from: i64,
}

#[derive(Debug, Default)]
struct RingState {
    loaded_at: Option<i64>,
    /// By kid, so a reload unseals only keys it has not seen.
    keys: BTreeMap<String, RingKey>,
}

/// The keys of one purpose that are published (not retired), cached from the store.
///
/// Signing uses the newest key whose `active_from` has passed; verifiers get all of them,
/// including keys that will sign only later. The cache is refreshed from the store every
/// [`KEY_RING_REFRESH_SECONDS`], so a key rotated by `nokkel admin keys rotate` (another
/// process) reaches every running instance.
#[derive(Debug)]
pub struct KeyRing {
    purpose: &'static str,
    state: RwLock<RingState>,
}

impl KeyRing {
    /// An empty ring for `purpose`; fill it with [`KeyRing::reload`].
    pub fn new(purpose: &'static str) -> Self {
        Self {
            purpose,
            state: RwLock::new(RingState::default()),
        }
    }

    /// Reads the published keys from the store now.
    pub async fn reload(
        &self,
        store: &Store,
        secrets: &ServerSecrets,
        now: i64,
    ) -> Result<(), StoreError> {
        let records = store.server_keys(self.purpose).await?;
        let known: Vec<String> = self.read().keys.keys().cloned().collect();
        let ring_random = ring_random();
        let mut keys = BTreeMap::new();
        for record in records {
            if let Some(existing) = self.read().keys.get(&record.kid) {
                keys.insert(
                    record.kid.clone(),
                    RingKey {
                        key: existing.key.clone(),
                        active_from: record.active_from,
                    },
                );
                continue;
            }
            let unusable =
                |what: &str| StoreError::Config(format!("server {} key {what}", self.purpose));
            let der = secrets.open(&record.key_sealed).map_err(|_| {
                unusable("cannot be unsealed: is secret.key the one the keys were made with?")
            })?;
            let key = ServerKey::from_pkcs8(&der, &ring_random)
                .map_err(|_| unusable("is not a valid PKCS#8 key"))?;
            keys.insert(
                record.kid.clone(),
                RingKey {
                    key: Arc::new(key),
                    active_from: record.active_from,
                },
            );
        }
        let added = keys.keys().filter(|k| !known.contains(k)).count();
        if added > 0 && !known.is_empty() {
            tracing::info!(purpose = self.purpose, added, "new signing keys published");
        }
        let mut state = self.write();
        state.keys = keys;
        state.loaded_at = Some(now);
        Ok(())
    }

    async fn refresh_if_stale(
        &self,
        store: &Store,
        secrets: &ServerSecrets,
        now: i64,
    ) -> Result<(), StoreError> {
        let stale = match self.read().loaded_at {
            None => true,
            // A clock that went back also counts as stale.
            Some(at) => now < at || now - at >= KEY_RING_REFRESH_SECONDS,
        };
        if stale {
            self.reload(store, secrets, now).await?;
        }
        Ok(())
    }

    /// The key that signs at `now`: the newest whose `active_from` has passed.
    pub async fn signing_key(
        &self,
        store: &Store,
        secrets: &ServerSecrets,
        now: i64,
    ) -> Result<Arc<ServerKey>, StoreError> {
        self.refresh_if_stale(store, secrets, now).await?;
        self.read()
            .keys
            .values()
            .filter(|k| k.active_from <= now)
            .max_by_key(|k| (k.active_from, k.key.kid().to_owned()))
            .map(|k| k.key.clone())
            .ok_or_else(|| StoreError::Config(format!("no active server {} key", self.purpose)))
    }

    /// Every published key (active or not yet), oldest first, read fresh from the store so
    /// that a rotation shows at once.
    pub async fn published(
        &self,
        store: &Store,
        secrets: &ServerSecrets,
        now: i64,
    ) -> Result<Vec<RingKey>, StoreError> {
        self.reload(store, secrets, now).await?;
        let mut keys: Vec<RingKey> = self.read().keys.values().cloned().collect();
        keys.sort_by_key(|k| (k.active_from, k.key.kid().to_owned()));
        Ok(keys)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, RingState> {
        // A poisoned lock only means a panic elsewhere while holding it; the map inside
        // is always whole (it is replaced in one assignment).
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, RingState> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Creates a new ID-token signing key that is published at once and signs from
/// `now + publish_ahead` on. Returns its kid. Old keys stay published until retired.
pub async fn rotate_id_token_key(
    store: &Store,
    secrets: &ServerSecrets,
    random: &dyn nokkel_core::random::Random,
    now: i64,
    publish_ahead: i64,
) -> Result<String, StoreError> {
    let key = ServerKey::generate(&ring_random())
        .map_err(|_| StoreError::Config("server id_token key generation failed".to_owned()))?;
    store
        .insert_server_key(&ServerKeyRecord {
            kid: key.kid().to_owned(),
            purpose: PURPOSE_ID_TOKEN.to_owned(),
            key_sealed: secrets.seal(&key.to_pkcs8_der(), random),
            created_at: now,
            active_from: now + publish_ahead.max(0),
            retired_at: None,
        })
        .await?;
    Ok(key.kid().to_owned())
}
