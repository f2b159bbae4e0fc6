//! User accounts: one per person, SMS or app user, active or blocked.

use std::fmt;

use super::direct::optional;
use super::{text_enum, with_pool, Store, StoreError};

text_enum! {
    /// How the account holder logs in.
    pub enum AccountKind {
        /// Password + SMS one-time code.
        Sms = "sms",
        /// Authenticator app.
        App = "app",
    }
}

text_enum! {
    /// Whether the account may log in.
    pub enum AccountStatus {
        /// May log in.
        Active = "active",
        /// May not log in until unblocked (`blocked_reason` says why).
        Blocked = "blocked",
    }
}

/// A user account.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AccountRecord {
    /// Identity number of the account holder.
    pub pid: String,
    /// How they log in.
    pub kind: AccountKind,
    /// Argon2id PHC string (SMS users), made by the service.
    pub password_hash: Option<String>,
    /// Whether they may log in.
    pub status: AccountStatus,
    /// Why the account is blocked (a short code), if it is.
    pub blocked_reason: Option<String>,
    /// When the account was created (unix seconds).
    pub created_at: i64,
    /// Last change (unix seconds).
    pub updated_at: i64,
}

impl fmt::Debug for AccountRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountRecord")
            .field("pid", &self.pid)
            .field("kind", &self.kind)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<redacted>"),
            )
            .field("status", &self.status)
            .field("blocked_reason", &self.blocked_reason)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// Inserts an account; binds the columns in the order of [`AccountRecord`]'s fields.
pub(super) const INSERT_ACCOUNT: &str = "INSERT INTO accounts (pid, kind, password_hash, status, \
     blocked_reason, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";

const ACCOUNT_COLUMNS: &str =
    "pid, kind, password_hash, status, blocked_reason, created_at, updated_at";

impl AccountRecord {
    /// Reads a row of [`ACCOUNT_COLUMNS`] on the direct connection.
    fn from_direct(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            pid: row.get(0)?,
            kind: row.get(1)?,
            password_hash: row.get(2)?,
            status: row.get(3)?,
            blocked_reason: row.get(4)?,
            created_at: row.get(5)?,
            updated_at: row.get(6)?,
        })
    }
}

impl Store {
    /// Creates an account. `Conflict` if the person already has one,
    /// `MissingReference` if the person is not in the register.
    pub async fn create_account(&self, account: &AccountRecord) -> Result<(), StoreError> {
        with_pool!(self, pool => sqlx::query(INSERT_ACCOUNT)
            .bind(&account.pid)
            .bind(account.kind)
            .bind(&account.password_hash)
            .bind(account.status)
            .bind(&account.blocked_reason)
            .bind(account.created_at)
            .bind(account.updated_at)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// The account of `pid`, if any.
    pub async fn account(&self, pid: &str) -> Result<Option<AccountRecord>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE pid = $1");
        if let Some(direct) = self.direct() {
            return direct
                .run(|c| optional(c, &sql, &[&pid], AccountRecord::from_direct))
                .await;
        }
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, AccountRecord>(&sql)
            .bind(pid)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// Sets the account's status and reason.
    /// `NotFound` if there is no account.
    pub async fn set_account_status(
        &self,
        pid: &str,
        status: AccountStatus,
        blocked_reason: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE accounts SET status = $2, blocked_reason = $3, updated_at = $4 \
             WHERE pid = $1";
        let affected = with_pool!(self, pool => sqlx::query(sql)
            .bind(pid)
            .bind(status)
            .bind(blocked_reason)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        if affected == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Blocks `pid`'s account with `reason` and, when `revoke_devices`, revokes every
    /// active device of theirs, in one transaction. Returns the revoked devices' ids, or
    /// `None` when there is no account.
    pub async fn block_account(
        &self,
        pid: &str,
        reason: &str,
        revoke_devices: bool,
        now: i64,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let block = "UPDATE accounts SET status = 'blocked', blocked_reason = $2, \
             updated_at = $3 WHERE pid = $1";
        let revoke = "UPDATE devices SET revoked_at = $2 \
             WHERE pid = $1 AND revoked_at IS NULL RETURNING id";
        with_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            let blocked = sqlx::query(block)
                .bind(pid)
                .bind(reason)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if blocked == 0 {
                tx.rollback().await?;
                return Ok(None);
            }
            let revoked: Vec<String> = if revoke_devices {
                sqlx::query_scalar(revoke)
                    .bind(pid)
                    .bind(now)
                    .fetch_all(&mut *tx)
                    .await?
            } else {
                Vec::new()
            };
            tx.commit().await?;
            Ok(Some(revoked))
        }
        .await)
    }

    /// Replaces the password hash (Argon2 PHC string). `NotFound` if there is no account.
    pub async fn set_password_hash(
        &self,
        pid: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE accounts SET password_hash = $2, updated_at = $3 WHERE pid = $1";
        let affected = with_pool!(self, pool => sqlx::query(sql)
            .bind(pid)
            .bind(password_hash)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        if affected == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
