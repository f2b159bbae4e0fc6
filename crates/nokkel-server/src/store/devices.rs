//! Devices: the authenticator keys of app users, with the signature counter that must grow.

use super::direct::all;
use super::{with_pool, Store, StoreError};

/// One enrolled device.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeviceRecord {
    /// The device id: the RFC 7638 thumbprint of its public key.
    pub id: String,
    /// The account holder.
    pub pid: String,
    /// The public key as a JWK (JSON text).
    pub public_jwk: String,
    /// The name the user gave the device.
    pub name: String,
    /// `android`, `ios`, `desktop` or `cli` as the device declared.
    pub platform: String,
    /// The user-verification methods the device declared (JSON array text).
    pub uv_methods: String,
    /// The highest signature counter seen.
    pub counter: i64,
    /// When the device was enrolled (unix seconds).
    pub created_at: i64,
    /// When the device last signed something accepted.
    pub last_used_at: Option<i64>,
    /// When the device was revoked; revoked devices are refused.
    pub revoked_at: Option<i64>,
}

const DEVICE_COLUMNS: &str = "id, pid, public_jwk, name, platform, uv_methods, counter, \
     created_at, last_used_at, revoked_at";

impl DeviceRecord {
    /// Reads a row of [`DEVICE_COLUMNS`] on the direct connection.
    fn from_direct(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            pid: row.get(1)?,
            public_jwk: row.get(2)?,
            name: row.get(3)?,
            platform: row.get(4)?,
            uv_methods: row.get(5)?,
            counter: row.get(6)?,
            created_at: row.get(7)?,
            last_used_at: row.get(8)?,
            revoked_at: row.get(9)?,
        })
    }
}

impl Store {
    /// The device with id `id`, revoked or not.
    pub async fn device(&self, id: &str) -> Result<Option<DeviceRecord>, StoreError> {
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1");
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, DeviceRecord>(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// All devices of `pid`, newest first.
    pub async fn devices_for(&self, pid: &str) -> Result<Vec<DeviceRecord>, StoreError> {
        let sql = format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE pid = $1 ORDER BY created_at DESC, id"
        );
        if let Some(direct) = self.direct() {
            return direct
                .run(|c| all(c, &sql, &[&pid], DeviceRecord::from_direct))
                .await;
        }
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, DeviceRecord>(&sql)
            .bind(pid)
            .fetch_all(pool)
            .await)?,
        )
    }

    /// Revokes a device of `pid`; `false` if there is no such active device.
    pub async fn revoke_device(&self, pid: &str, id: &str, now: i64) -> Result<bool, StoreError> {
        let sql = "UPDATE devices SET revoked_at = $3 \
             WHERE id = $1 AND pid = $2 AND revoked_at IS NULL";
        let affected = with_pool!(self, pool => sqlx::query(sql)
            .bind(id)
            .bind(pid)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(affected == 1)
    }

    /// Raises device `id`'s counter to `counter` if that is greater than the stored one
    /// and the device is not revoked; `false` when nothing moved (a replayed or cloned
    /// statement, or a revoked device).
    pub async fn advance_device_counter(
        &self,
        id: &str,
        counter: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let affected = with_pool!(self, pool => sqlx::query(super::logins::ADVANCE_COUNTER_SQL)
            .bind(id)
            .bind(counter)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(affected == 1)
    }
}

/// Inserts `$device` (a [`DeviceRecord`]) on `$executor`, a connection or transaction of
/// either driver: registration and transfer enrol a device inside their own transactions.
/// A device id enrolled already is [`StoreError::Conflict`].
macro_rules! insert_device {
    ($executor:expr, $device:expr) => {{
        let device: &crate::store::DeviceRecord = $device;
        sqlx::query(
            "INSERT INTO devices (id, pid, public_jwk, name, platform, uv_methods, counter, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&device.id)
        .bind(&device.pid)
        .bind(&device.public_jwk)
        .bind(&device.name)
        .bind(&device.platform)
        .bind(&device.uv_methods)
        .bind(device.counter)
        .bind(device.created_at)
        .execute($executor)
        .await
        .map(|_| ())
        .map_err(crate::store::StoreError::from)
    }};
}
pub(super) use insert_device;
