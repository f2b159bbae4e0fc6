//! The server's signing keys: loaded from the store (sealed at rest), created on first
//! start. Devices pin the challenge key at enrolment; relying parties fetch ID-token keys
//! as JWKS.

use nokkel_core::keys::ServerKey;
use ring::rand::SystemRandom;

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
    /// Signs ID tokens.
    pub id_token: ServerKey,
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
            id_token: active_key(store, secrets, random, PURPOSE_ID_TOKEN, now).await?,
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
    let ring_random = SystemRandom::new();
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
