//! Fixed-window rate-limit counters shared by every server instance using the store.

use super::direct::optional;
use super::{with_pool, Store, StoreError};

/// The state of one counter after a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateCount {
    /// Hits in this window, including this one.
    pub count: i64,
    /// Whether this hit is within the limit (`count <= limit`).
    pub allowed: bool,
}

impl Store {
    /// Counts one hit on `key` in the window starting at `window_start` (unix seconds,
    /// chosen by the caller, e.g. `now - now % 3600`), atomically: one
    /// `INSERT … ON CONFLICT DO UPDATE … RETURNING`, so concurrent hits on any number
    /// of instances are all counted.
    pub async fn hit(
        &self,
        key: &str,
        window_start: i64,
        limit: i64,
    ) -> Result<RateCount, StoreError> {
        let sql = "INSERT INTO rate_limits (key, window_start, hits) VALUES ($1, $2, 1) \
             ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_limits.hits + 1 \
             RETURNING hits";
        let count: i64 = with_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(key)
            .bind(window_start)
            .fetch_one(pool)
            .await)?;
        Ok(RateCount {
            count,
            allowed: count <= limit,
        })
    }

    /// The hits counted on `key` in the window starting at `window_start` (0 if none),
    /// without counting one.
    pub async fn hits(&self, key: &str, window_start: i64) -> Result<i64, StoreError> {
        let sql = "SELECT hits FROM rate_limits WHERE key = $1 AND window_start = $2";
        if let Some(direct) = self.direct() {
            let hits = direct
                .run(|c| optional(c, sql, &[&key, &window_start], |r| r.get(0)))
                .await?;
            return Ok(hits.unwrap_or(0));
        }
        let hits: Option<i64> = with_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(key)
            .bind(window_start)
            .fetch_optional(pool)
            .await)?;
        Ok(hits.unwrap_or(0))
    }

    /// Deletes counters of windows that started before `before`; returns how many.
    pub async fn prune_rate_limits(&self, before: i64) -> Result<u64, StoreError> {
        Ok(
            with_pool!(self, pool => sqlx::query("DELETE FROM rate_limits WHERE window_start < $1")
            .bind(before)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?,
        )
    }
}
