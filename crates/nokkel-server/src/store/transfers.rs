//! Transfers to a new phone: started by the new phone, made ready by its proof of
//! possession, approved (enrolling it on the old device's account in one transaction) or
//! refused by the old phone. Every step is a conditional update on the state and expiry,
//! so each happens once.

use std::fmt;

use super::devices::insert_device;
use super::{redacted, text_enum, with_pool, DeviceRecord, Store, StoreError};

text_enum! {
    /// Where a transfer stands.
    pub enum TransferState {
        /// Started; the new phone has not proved its key yet.
        Started = "started",
        /// The new phone proved its key; waiting for the old phone.
        Ready = "ready",
        /// Approved: the new device is enrolled.
        Approved = "approved",
        /// Refused by the old phone.
        Refused = "refused",
    }
}

/// One transfer.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TransferRecord {
    /// The new phone's handle.
    pub id: String,
    /// Peppered hash of the transfer code.
    pub code_hash: Vec<u8>,
    /// Where it stands.
    pub state: TransferState,
    /// nokkel-core's `PendingTransfer` (started) or `ReadyTransfer` (after), as JSON.
    pub flow: String,
    /// The new device's id, once it proved its key.
    pub device_id: Option<String>,
    /// The name the new device gave itself.
    pub device_name: Option<String>,
    /// Its platform.
    pub platform: Option<String>,
    /// Its public key as a JWK (JSON text).
    pub public_jwk: Option<String>,
    /// Its user-verification methods (JSON array text).
    pub uv_methods: Option<String>,
    /// The account it was enrolled on (approved) or refused for.
    pub pid: Option<String>,
    /// The device that approved or refused.
    pub old_device_id: Option<String>,
    /// Whether the approving device retired itself.
    pub old_device_retired: bool,
    /// When the new phone started it (unix seconds).
    pub created_at: i64,
    /// When it stops being accepted.
    pub expires_at: i64,
    /// When it was approved or refused.
    pub decided_at: Option<i64>,
}

impl fmt::Debug for TransferRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransferRecord")
            .field("id", &self.id)
            .field("code_hash", &redacted(&self.code_hash))
            .field("state", &self.state)
            .field("device_id", &self.device_id)
            .field("pid", &self.pid)
            .field("old_device_id", &self.old_device_id)
            .field("old_device_retired", &self.old_device_retired)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("decided_at", &self.decided_at)
            .finish_non_exhaustive()
    }
}

/// What [`Store::approve_transfer`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferApproval {
    /// The new device is enrolled, the old device's counter stored (and it revoked if
    /// asked), the transfer approved.
    Approved,
    /// The transfer was not ready and unexpired (decided meanwhile, or expired). Nothing
    /// changed.
    Gone,
    /// The old device is revoked, belongs to someone else, or its counter did not grow.
    /// Nothing changed.
    OldDevice,
    /// The new device's key is enrolled already. Nothing changed.
    DeviceExists,
}

const TRANSFER_COLUMNS: &str = "id, code_hash, state, flow, device_id, device_name, platform, \
     public_jwk, uv_methods, pid, old_device_id, old_device_retired, created_at, expires_at, \
     decided_at";

impl Store {
    /// Stores a started transfer.
    pub async fn insert_transfer(&self, transfer: &TransferRecord) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO transfers ({TRANSFER_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        );
        with_pool!(self, pool => sqlx::query(&sql)
            .bind(&transfer.id)
            .bind(&transfer.code_hash)
            .bind(transfer.state)
            .bind(&transfer.flow)
            .bind(&transfer.device_id)
            .bind(&transfer.device_name)
            .bind(&transfer.platform)
            .bind(&transfer.public_jwk)
            .bind(&transfer.uv_methods)
            .bind(&transfer.pid)
            .bind(&transfer.old_device_id)
            .bind(transfer.old_device_retired)
            .bind(transfer.created_at)
            .bind(transfer.expires_at)
            .bind(transfer.decided_at)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Deletes transfers that expired at or before `expired_before`, whatever their state
    /// (the audit log keeps what happened). Returns how many.
    pub async fn purge_transfers(&self, expired_before: i64) -> Result<u64, StoreError> {
        Ok(
            with_pool!(self, pool => sqlx::query("DELETE FROM transfers WHERE expires_at <= $1")
            .bind(expired_before)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?,
        )
    }

    /// The transfer `id`, whatever its state.
    pub async fn transfer(&self, id: &str) -> Result<Option<TransferRecord>, StoreError> {
        let sql = format!("SELECT {TRANSFER_COLUMNS} FROM transfers WHERE id = $1");
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, TransferRecord>(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// The ready, unexpired transfer whose code hashes to `code_hash`, if any.
    pub async fn ready_transfer_by_code(
        &self,
        code_hash: &[u8],
        now: i64,
    ) -> Result<Option<TransferRecord>, StoreError> {
        let sql = format!(
            "SELECT {TRANSFER_COLUMNS} FROM transfers \
             WHERE code_hash = $1 AND state = 'ready' AND expires_at >= $2 \
             ORDER BY created_at DESC LIMIT 1"
        );
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, TransferRecord>(&sql)
            .bind(code_hash)
            .bind(now)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// Started → ready with the new device's proven key and description (`flow` becomes
    /// the ready transfer). `false` if it was not started and unexpired.
    pub async fn ready_transfer(
        &self,
        id: &str,
        flow: &str,
        device: &DeviceRecord,
        now: i64,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE transfers SET state = 'ready', flow = $2, device_id = $3, \
             device_name = $4, platform = $5, public_jwk = $6, uv_methods = $7 \
             WHERE id = $1 AND state = 'started' AND expires_at >= $8";
        let affected = with_pool!(self, pool => sqlx::query(sql)
            .bind(id)
            .bind(flow)
            .bind(&device.id)
            .bind(&device.name)
            .bind(&device.platform)
            .bind(&device.public_jwk)
            .bind(&device.uv_methods)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(affected == 1)
    }

    /// Ready → refused by `old_device_id` of `pid`. `false` if it was not ready and
    /// unexpired.
    pub async fn refuse_transfer(
        &self,
        id: &str,
        pid: &str,
        old_device_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE transfers SET state = 'refused', pid = $2, old_device_id = $3, \
             decided_at = $4 WHERE id = $1 AND state = 'ready' AND expires_at >= $4";
        let affected = with_pool!(self, pool => sqlx::query(sql)
            .bind(id)
            .bind(pid)
            .bind(old_device_id)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(affected == 1)
    }

    /// Ready → approved, in one transaction: the transfer is decided, the old device's
    /// counter raised to `old_counter` (and the device revoked with `retire`), and
    /// `device` (the new one, with `device.pid` the old device's person) enrolled.
    pub async fn approve_transfer(
        &self,
        id: &str,
        old_device_id: &str,
        old_counter: i64,
        retire: bool,
        device: &DeviceRecord,
        now: i64,
    ) -> Result<TransferApproval, StoreError> {
        let decide = "UPDATE transfers SET state = 'approved', pid = $2, old_device_id = $3, \
             old_device_retired = $4, decided_at = $5 \
             WHERE id = $1 AND state = 'ready' AND expires_at >= $5";
        let advance = "UPDATE devices SET counter = $2, last_used_at = $3, \
             revoked_at = CASE WHEN $4 THEN $3 ELSE revoked_at END \
             WHERE id = $1 AND pid = $5 AND counter < $2 AND revoked_at IS NULL";
        with_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            let decided = sqlx::query(decide)
                .bind(id)
                .bind(&device.pid)
                .bind(old_device_id)
                .bind(retire)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if decided != 1 {
                tx.rollback().await?;
                return Ok(TransferApproval::Gone);
            }
            let advanced = sqlx::query(advance)
                .bind(old_device_id)
                .bind(old_counter)
                .bind(now)
                .bind(retire)
                .bind(&device.pid)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if advanced != 1 {
                tx.rollback().await?;
                return Ok(TransferApproval::OldDevice);
            }
            match insert_device!(&mut *tx, device) {
                Ok(_) => {}
                Err(StoreError::Conflict) => {
                    tx.rollback().await?;
                    return Ok(TransferApproval::DeviceExists);
                }
                Err(other) => return Err(other),
            }
            tx.commit().await?;
            Ok(TransferApproval::Approved)
        }
        .await)
    }
}
