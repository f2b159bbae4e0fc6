//! The server's own signing keys (login challenges, ID tokens), sealed at rest.

use super::{redacted, with_pool, Store, StoreError};

/// One server signing key.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ServerKeyRecord {
    /// The key id (RFC 7638 thumbprint).
    pub kid: String,
    /// `challenge` or `id_token`.
    pub purpose: String,
    /// The PKCS#8 private key, sealed with the server's sealing key.
    pub key_sealed: Vec<u8>,
    /// When the key was made.
    pub created_at: i64,
    /// From when the key signs (it is published before, so verifiers know it in time).
    pub active_from: i64,
    /// When the key stopped signing; still published for a while after.
    pub retired_at: Option<i64>,
}

impl std::fmt::Debug for ServerKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerKeyRecord")
            .field("kid", &self.kid)
            .field("purpose", &self.purpose)
            .field("key_sealed", &redacted(&self.key_sealed))
            .field("created_at", &self.created_at)
            .field("active_from", &self.active_from)
            .field("retired_at", &self.retired_at)
            .finish()
    }
}

impl Store {
    /// Stores a new key; a key with the same kid already stored is left as it is.
    pub async fn insert_server_key(&self, key: &ServerKeyRecord) -> Result<(), StoreError> {
        let sql = "INSERT INTO server_keys (kid, purpose, key_sealed, created_at, active_from, \
             retired_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kid) DO NOTHING";
        with_pool!(self, pool => sqlx::query(sql)
            .bind(&key.kid)
            .bind(&key.purpose)
            .bind(&key.key_sealed)
            .bind(key.created_at)
            .bind(key.active_from)
            .bind(key.retired_at)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// The keys of `purpose` that are not retired, oldest first (so every instance picks
    /// the same signing key: the oldest one already active).
    pub async fn server_keys(&self, purpose: &str) -> Result<Vec<ServerKeyRecord>, StoreError> {
        let sql = "SELECT kid, purpose, key_sealed, created_at, active_from, retired_at \
             FROM server_keys WHERE purpose = $1 AND retired_at IS NULL \
             ORDER BY active_from, kid";
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, ServerKeyRecord>(sql)
            .bind(purpose)
            .fetch_all(pool)
            .await)?,
        )
    }
}
