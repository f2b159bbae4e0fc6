//! Cross-instance wake-ups: PostgreSQL `NOTIFY`/`LISTEN`. On SQLite (one instance by
//! design) publishing is a no-op and there is no listener.

use sqlx::postgres::PgListener;

use super::{Pool, Store, StoreError};

impl Store {
    /// Tells every instance listening on `channel` that `key` changed (PostgreSQL only).
    pub async fn publish_event(&self, channel: &str, key: &str) -> Result<(), StoreError> {
        if let Pool::Postgres(pool) = &self.pool {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(channel)
                .bind(key)
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    /// A listener on `channel`, or `None` on SQLite.
    pub async fn event_listener(&self, channel: &str) -> Result<Option<PgListener>, StoreError> {
        match &self.pool {
            Pool::Postgres(pool) => {
                let mut listener = PgListener::connect_with(pool).await?;
                listener.listen(channel).await?;
                Ok(Some(listener))
            }
            Pool::Sqlite(_) => Ok(None),
        }
    }
}
