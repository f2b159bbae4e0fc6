//! The audit log: an append-only record of every security-relevant event.

use super::{with_pool, Store, StoreError};

/// An event to append. `detail` is a JSON object that must never contain secrets
/// (codes, passwords, OTPs, keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    /// When (unix seconds).
    pub at: i64,
    /// Stable event code (`letter_ordered`, `letter_code_failed`, `letter_locked`, …).
    pub event: String,
    /// The person concerned, if known.
    pub pid: Option<String>,
    /// The client's IP address, if the event came from a request.
    pub client_ip: Option<String>,
    /// JSON object text with event-specific detail (`{}` when there is none).
    pub detail: String,
}

/// A logged event.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRecord {
    /// Database-assigned id, increasing in append order.
    pub id: i64,
    /// When (unix seconds).
    pub at: i64,
    /// Stable event code.
    pub event: String,
    /// The person concerned, if known.
    pub pid: Option<String>,
    /// The client's IP address, if any.
    pub client_ip: Option<String>,
    /// JSON object text.
    pub detail: String,
}

const AUDIT_COLUMNS: &str = "id, at, event, pid, client_ip, detail";

/// One audit row, for the direct connection's batches.
pub(super) const INSERT_AUDIT_ROW: &str =
    "INSERT INTO audit_log (at, event, pid, client_ip, detail) VALUES ($1, $2, $3, $4, $5)";

impl Store {
    /// Appends `events` in one transaction, in order.
    pub async fn append_audit_batch(&self, events: &[NewAuditEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        if let Some(direct) = self.direct() {
            // One transaction, one cached single-row statement per event.
            return direct
                .run(|c| {
                    let tx = super::direct::Immediate::begin(c)?;
                    for event in events {
                        let row: [&dyn rusqlite::ToSql; 5] = [
                            &event.at,
                            &event.event,
                            &event.pid,
                            &event.client_ip,
                            &event.detail,
                        ];
                        super::direct::execute(&tx, INSERT_AUDIT_ROW, &row)?;
                    }
                    tx.commit()
                })
                .await;
        }
        with_pool!(self, pool => {
            let mut insert =
                sqlx::QueryBuilder::new("INSERT INTO audit_log (at, event, pid, client_ip, detail) ");
            insert.push_values(events, |mut row, event| {
                row.push_bind(event.at)
                    .push_bind(&event.event)
                    .push_bind(&event.pid)
                    .push_bind(&event.client_ip)
                    .push_bind(&event.detail);
            });
            insert.build().execute(pool).await.map(|_| ())
        })?;
        Ok(())
    }

    pub async fn audit_for(&self, pid: &str) -> Result<Vec<AuditRecord>, StoreError> {
        let sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE pid = $1 ORDER BY id");
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, AuditRecord>(&sql)
            .bind(pid)
            .fetch_all(pool)
            .await)?,
        )
    }

    /// Deletes events recorded before `before` (unix seconds); returns how many.
    pub async fn purge_audit(&self, before: i64) -> Result<u64, StoreError> {
        Ok(
            with_pool!(self, pool => sqlx::query("DELETE FROM audit_log WHERE at < $1")
            .bind(before)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?,
        )
    }

    /// The newest `limit` events, newest first.
    pub async fn recent_audit(&self, limit: i64) -> Result<Vec<AuditRecord>, StoreError> {
        let sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY id DESC LIMIT $1");
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, AuditRecord>(&sql)
            .bind(limit)
            .fetch_all(pool)
            .await)?,
        )
    }
}
