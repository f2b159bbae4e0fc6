//! Push registrations: at most one per device (FCM token, APNs device token or Web Push
//! subscription), sealed by the service; the store keeps the bytes and the kind.
//!
//! A revoked device keeps none: migration 0009's trigger deletes the registration in the
//! statement that revokes the device, whichever path revokes it, and [`Store::set_push_registration`]
//! writes only for an active device.

use std::fmt;

use super::{redacted, with_pool, Store, StoreError};

/// One device's push registration.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PushRegistrationRecord {
    /// The device it wakes.
    pub device_id: String,
    /// `fcm`, `apns` or `web_push`.
    pub kind: String,
    /// The registration (JSON), sealed by the service.
    pub registration_sealed: Vec<u8>,
    /// When it was first set (unix seconds).
    pub created_at: i64,
    /// When it was last set or replaced (unix seconds).
    pub updated_at: i64,
}

impl fmt::Debug for PushRegistrationRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushRegistrationRecord")
            .field("device_id", &self.device_id)
            .field("kind", &self.kind)
            .field("registration_sealed", &redacted(&self.registration_sealed))
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

const PUSH_COLUMNS: &str = "device_id, kind, registration_sealed, created_at, updated_at";

impl Store {
    /// Sets or replaces the push registration of `device_id`; `false` (nothing written)
    /// when the device is revoked or unknown.
    pub async fn set_push_registration(
        &self,
        device_id: &str,
        kind: &str,
        registration_sealed: &[u8],
        now: i64,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "INSERT INTO push_registrations ({PUSH_COLUMNS}) \
             SELECT id, $2, $3, $4, $4 FROM devices WHERE id = $1 AND revoked_at IS NULL \
             ON CONFLICT (device_id) DO UPDATE SET kind = excluded.kind, \
             registration_sealed = excluded.registration_sealed, updated_at = excluded.updated_at"
        );
        let written = with_pool!(self, pool => sqlx::query(&sql)
            .bind(device_id)
            .bind(kind)
            .bind(registration_sealed)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(written == 1)
    }

    /// Removes the push registration of `device_id`; `false` when it had none.
    pub async fn clear_push_registration(&self, device_id: &str) -> Result<bool, StoreError> {
        let sql = "DELETE FROM push_registrations WHERE device_id = $1";
        let removed = with_pool!(self, pool => sqlx::query(sql)
            .bind(device_id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(removed > 0)
    }

    /// Removes the push registration of `device_id` if it is still `registration_sealed`
    /// (a push service said it is gone; a registration set since is kept). `false` when
    /// nothing was removed.
    pub async fn clear_push_registration_if(
        &self,
        device_id: &str,
        registration_sealed: &[u8],
    ) -> Result<bool, StoreError> {
        let sql =
            "DELETE FROM push_registrations WHERE device_id = $1 AND registration_sealed = $2";
        let removed = with_pool!(self, pool => sqlx::query(sql)
            .bind(device_id)
            .bind(registration_sealed)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(removed > 0)
    }

    /// The push registration of `device_id`, if it has one.
    pub async fn push_registration(
        &self,
        device_id: &str,
    ) -> Result<Option<PushRegistrationRecord>, StoreError> {
        let sql = format!("SELECT {PUSH_COLUMNS} FROM push_registrations WHERE device_id = $1");
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, PushRegistrationRecord>(&sql)
            .bind(device_id)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// The push registrations of `pid`'s active devices, by device id.
    pub async fn push_registrations_for(
        &self,
        pid: &str,
    ) -> Result<Vec<PushRegistrationRecord>, StoreError> {
        let sql = "SELECT p.device_id, p.kind, p.registration_sealed, p.created_at, \
             p.updated_at FROM push_registrations p JOIN devices d ON d.id = p.device_id \
             WHERE d.pid = $1 AND d.revoked_at IS NULL ORDER BY p.device_id";
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, PushRegistrationRecord>(sql)
            .bind(pid)
            .fetch_all(pool)
            .await)?,
        )
    }
}
