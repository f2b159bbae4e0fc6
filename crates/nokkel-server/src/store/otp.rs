//! One-time SMS code challenges: hashed code, attempt counting and single-use consume,
//! with the same conditional-update guarantees as activation letters.

use std::fmt;

use super::{redacted, with_pool, AttemptCount, Store, StoreError};

/// One SMS code challenge.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OtpRecord {
    /// Challenge id (made by the service).
    pub id: String,
    /// Identity number of the person challenged.
    pub pid: String,
    /// What the code is for (`registration`, `login`, `contact_mobile`, …).
    pub purpose: String,
    /// HMAC of the code under the server pepper.
    pub code_hash: Vec<u8>,
    /// Wrong codes tried.
    pub attempts: i64,
    /// When it was created (unix seconds).
    pub created_at: i64,
    /// After this instant (unix seconds) the code is refused.
    pub expires_at: i64,
    /// When the code was accepted (unix seconds); it cannot be accepted twice.
    pub consumed_at: Option<i64>,
}

impl fmt::Debug for OtpRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtpRecord")
            .field("id", &self.id)
            .field("pid", &self.pid)
            .field("purpose", &self.purpose)
            .field("code_hash", &redacted(&self.code_hash))
            .field("attempts", &self.attempts)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("consumed_at", &self.consumed_at)
            .finish()
    }
}

const OTP_COLUMNS: &str =
    "id, pid, purpose, code_hash, attempts, created_at, expires_at, consumed_at";

impl Store {
    /// Stores a new challenge. `Conflict` if the id exists, `MissingReference` if the
    /// person is not in the register.
    pub async fn insert_otp(&self, otp: &OtpRecord) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO otp_challenges ({OTP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        );
        with_pool!(self, pool => sqlx::query(&sql)
            .bind(&otp.id)
            .bind(&otp.pid)
            .bind(&otp.purpose)
            .bind(&otp.code_hash)
            .bind(otp.attempts)
            .bind(otp.created_at)
            .bind(otp.expires_at)
            .bind(otp.consumed_at)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// The challenge with this id.
    pub async fn otp(&self, id: &str) -> Result<Option<OtpRecord>, StoreError> {
        let sql = format!("SELECT {OTP_COLUMNS} FROM otp_challenges WHERE id = $1");
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, OtpRecord>(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// The newest challenge for `pid` and `purpose` that is unconsumed, not expired at
    /// `now` and has fewer than `max_attempts` wrong tries.
    pub async fn active_otp_for(
        &self,
        pid: &str,
        purpose: &str,
        now: i64,
        max_attempts: i64,
    ) -> Result<Option<OtpRecord>, StoreError> {
        let sql = format!(
            "SELECT {OTP_COLUMNS} FROM otp_challenges \
             WHERE pid = $1 AND purpose = $2 AND consumed_at IS NULL AND expires_at > $3 \
             AND attempts < $4 ORDER BY created_at DESC, id DESC LIMIT 1"
        );
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, OtpRecord>(&sql)
            .bind(pid)
            .bind(purpose)
            .bind(now)
            .bind(max_attempts)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// Counts a wrong code in one statement; `locked` once `attempts >= max_attempts`
    /// (then [`Store::consume_otp`] with the same limit refuses). `NotFound` if absent.
    pub async fn record_otp_failure(
        &self,
        id: &str,
        max_attempts: i64,
    ) -> Result<AttemptCount, StoreError> {
        let sql = "UPDATE otp_challenges SET attempts = attempts + 1 WHERE id = $1 \
             RETURNING attempts";
        let attempts: i64 = with_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(id)
            .fetch_one(pool)
            .await)?;
        Ok(AttemptCount {
            attempts,
            locked: attempts >= max_attempts,
        })
    }

    /// Marks the challenge consumed if, and only if, it is unconsumed, not expired at
    /// `now` and below `max_attempts` wrong tries. One conditional `UPDATE`: of
    /// concurrent callers exactly one gets `true`.
    pub async fn consume_otp(
        &self,
        id: &str,
        now: i64,
        max_attempts: i64,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE otp_challenges SET consumed_at = $2 \
             WHERE id = $1 AND consumed_at IS NULL AND expires_at > $2 AND attempts < $3";
        let affected = with_pool!(self, pool => sqlx::query(sql)
            .bind(id)
            .bind(now)
            .bind(max_attempts)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(affected == 1)
    }
}
