//! Activation letters: the hashed code, its sealed copy for the printing outbox, and
//! the single-use, lock-after-N-failures state machine enforced by conditional updates.

use std::fmt;

use super::{redacted, text_enum, with_pool, Store, StoreError};

text_enum! {
    /// Where an activation letter stands. Only a pending letter's code registers; every
    /// other state is final (the moves are conditional `UPDATE`s in this module).
    pub enum LetterState {
        /// Sent, not yet used: the only state in which the code can register.
        Pending = "pending",
        /// The code registered an account.
        Used = "used",
        /// Too many wrong codes were tried.
        Locked = "locked",
        /// Replaced or withdrawn.
        Revoked = "revoked",
    }
}

/// One activation letter.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LetterRecord {
    /// Letter id (a ULID or UUID made by the service).
    pub id: String,
    /// Identity number of the addressee.
    pub pid: String,
    /// HMAC-SHA256 of the activation code under the server pepper.
    pub code_hash: Vec<u8>,
    /// The activation code sealed for the printing outbox.
    pub code_sealed: Vec<u8>,
    /// Whether the person had an account when it was ordered: registering with it
    /// replaces their devices or password.
    pub recovery: bool,
    /// Where it stands.
    pub state: LetterState,
    /// Wrong codes tried against this letter.
    pub failed_attempts: i64,
    /// When the letter was ordered (unix seconds).
    pub created_at: i64,
    /// After this instant (unix seconds) the code no longer registers.
    pub expires_at: i64,
    /// Expected delivery date, ISO 8601 (`YYYY-MM-DD`).
    pub delivered_by: String,
    /// Whether the letter goes to an address abroad.
    pub abroad: bool,
    /// When the code registered an account (unix seconds).
    pub used_at: Option<i64>,
}

impl fmt::Debug for LetterRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LetterRecord")
            .field("id", &self.id)
            .field("pid", &self.pid)
            .field("code_hash", &redacted(&self.code_hash))
            .field("code_sealed", &redacted(&self.code_sealed))
            .field("recovery", &self.recovery)
            .field("state", &self.state)
            .field("failed_attempts", &self.failed_attempts)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("delivered_by", &self.delivered_by)
            .field("abroad", &self.abroad)
            .field("used_at", &self.used_at)
            .finish()
    }
}

/// The result of counting a wrong code (letters and OTP challenges).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptCount {
    /// Wrong attempts so far, including this one.
    pub attempts: i64,
    /// Whether the letter or challenge is now locked (`attempts >= max_attempts`).
    pub locked: bool,
}

const LETTER_COLUMNS: &str = "id, pid, code_hash, code_sealed, recovery, state, failed_attempts, \
     created_at, expires_at, delivered_by, abroad, used_at";

impl Store {
    /// Stores a new letter (its `state`, attempts and `used_at` are taken as given;
    /// normally `pending`, 0 and `None`). `Conflict` if the id exists,
    /// `MissingReference` if the person is not in the register.
    pub async fn insert_letter(&self, letter: &LetterRecord) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO letters ({LETTER_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        );
        with_pool!(self, pool => sqlx::query(&sql)
            .bind(&letter.id)
            .bind(&letter.pid)
            .bind(&letter.code_hash)
            .bind(&letter.code_sealed)
            .bind(letter.recovery)
            .bind(letter.state)
            .bind(letter.failed_attempts)
            .bind(letter.created_at)
            .bind(letter.expires_at)
            .bind(&letter.delivered_by)
            .bind(letter.abroad)
            .bind(letter.used_at)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// The letter with this id.
    pub async fn letter(&self, id: &str) -> Result<Option<LetterRecord>, StoreError> {
        let sql = format!("SELECT {LETTER_COLUMNS} FROM letters WHERE id = $1");
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, LetterRecord>(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// The newest letter for `pid` that is pending and not expired at `now`.
    pub async fn active_letter_for(
        &self,
        pid: &str,
        now: i64,
    ) -> Result<Option<LetterRecord>, StoreError> {
        let sql = format!(
            "SELECT {LETTER_COLUMNS} FROM letters \
             WHERE pid = $1 AND state = 'pending' AND expires_at > $2 \
             ORDER BY created_at DESC, id DESC LIMIT 1"
        );
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, LetterRecord>(&sql)
            .bind(pid)
            .bind(now)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// Every letter ever sent to `pid`, newest first.
    pub async fn letters_for(&self, pid: &str) -> Result<Vec<LetterRecord>, StoreError> {
        let sql = format!(
            "SELECT {LETTER_COLUMNS} FROM letters WHERE pid = $1 \
             ORDER BY created_at DESC, id DESC"
        );
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, LetterRecord>(&sql)
            .bind(pid)
            .fetch_all(pool)
            .await)?,
        )
    }

    /// Counts a wrong code against a letter in one statement, locking a pending
    /// letter when the count reaches `max_attempts`. Concurrent failures each count.
    /// `NotFound` if there is no such letter.
    pub async fn record_failed_attempt(
        &self,
        letter_id: &str,
        max_attempts: i64,
    ) -> Result<AttemptCount, StoreError> {
        // Both dialects evaluate every SET expression against the old row, hence `+ 1`
        // in the CASE.
        let sql = "UPDATE letters SET failed_attempts = failed_attempts + 1, \
             state = CASE WHEN state = 'pending' AND failed_attempts + 1 >= $2 \
                          THEN 'locked' ELSE state END \
             WHERE id = $1 RETURNING failed_attempts, state";
        let (attempts, state): (i64, LetterState) = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(letter_id)
            .bind(max_attempts)
            .fetch_one(pool)
            .await)?;
        Ok(AttemptCount {
            attempts,
            locked: state == LetterState::Locked,
        })
    }

    /// Marks the letter used if, and only if, it is pending and not expired at `now`.
    /// A single conditional `UPDATE`: of concurrent callers exactly one gets `true`.
    pub async fn consume_letter(&self, letter_id: &str, now: i64) -> Result<bool, StoreError> {
        let sql = "UPDATE letters SET state = 'used', used_at = $2 \
             WHERE id = $1 AND state = 'pending' AND expires_at > $2";
        let result = with_pool!(self, pool => sqlx::query(sql)
            .bind(letter_id)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(result == 1)
    }

    /// Revokes every pending letter of `pid` (used when a new letter replaces them).
    /// Returns how many were revoked.
    pub async fn revoke_letters_for(&self, pid: &str) -> Result<u64, StoreError> {
        let sql = "UPDATE letters SET state = 'revoked' WHERE pid = $1 AND state = 'pending'";
        Ok(with_pool!(self, pool => sqlx::query(sql)
            .bind(pid)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?)
    }

    /// `limit` letters of all people, newest first, after skipping the `offset` newest
    /// (printing outbox and the demo inbox).
    pub async fn letters_outbox(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<LetterRecord>, StoreError> {
        let sql = format!(
            "SELECT {LETTER_COLUMNS} FROM letters ORDER BY created_at DESC, id DESC \
             LIMIT $1 OFFSET $2"
        );
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, LetterRecord>(&sql)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await)?,
        )
    }
}
