//! The outbox: every message the server sends (text messages, e-mail, letters, pushes), queued
//! here by the services and drained by the delivery worker.
//!
//! Bodies are sealed by the service (they may carry one-time or activation codes); the
//! store keeps the bytes. A message is `queued` until a sender accepts it (`sent`), or
//! until its last try fails (`dead`, for an operator to queue again or `discard`).
//!
//! Sending is at least once. A worker *claims* due messages by setting a lease
//! (`claimed_until_ms`); while the lease runs no other worker takes them. On PostgreSQL
//! the claim skips rows another instance is claiming at that moment (`FOR UPDATE SKIP
//! LOCKED`), so each message is sent by one instance. A worker that dies mid-send leaves
//! its lease to run out (on SQLite, where one process serves, [`Store::release_claims`]
//! frees them at start); the message is then sent again with the same idempotency key, which
//! the peer uses to discard the copy.

use std::fmt;

use super::{redacted, text_enum, with_pool, Pool, Store, StoreError};

text_enum! {
    /// How a message travels.
    pub enum Channel {
        /// A text message to a mobile number.
        Sms = "sms",
        /// An e-mail.
        Email = "email",
        /// A printed letter, through the print house.
        Letter = "letter",
        /// A push to a device (recipient: the device id), through its push service.
        Push = "push",
    }
}

text_enum! {
    /// Where a message stands.
    pub enum OutboxState {
        /// Waiting to be sent (or to be tried again).
        Queued = "queued",
        /// Accepted by the sender's peer.
        Sent = "sent",
        /// Every try failed, or the peer refused it for good: waits for an operator.
        Dead = "dead",
        /// An operator (or the upgrade that introduced delivery) decided not to send it.
        Discarded = "discarded",
    }
}

/// A message to queue.
#[derive(Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// How it travels.
    pub channel: Channel,
    /// Unique per message, stable across retries: the peer discards copies by it.
    pub idempotency_key: String,
    /// E.164 mobile number, e-mail address, or (letters) the letter id.
    pub recipient: String,
    /// The message, sealed by the service.
    pub body_sealed: Vec<u8>,
    /// Why it is sent (`registration_otp`, `login_otp`, `activation_letter`, …).
    pub purpose: String,
    /// The language it is written in (`nb`, `nn`, `en`).
    pub lang: String,
    /// When it was queued (unix seconds).
    pub created_at: i64,
}

/// A message in the outbox.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MessageRecord {
    /// Database-assigned id, increasing.
    pub id: i64,
    /// How it travels.
    pub channel: Channel,
    /// Unique per message, stable across retries.
    pub idempotency_key: String,
    /// E.164 mobile number, e-mail address, or (letters) the letter id.
    pub recipient: String,
    /// The message, sealed by the service.
    pub body_sealed: Vec<u8>,
    /// Why it is sent.
    pub purpose: String,
    /// The language it is written in.
    pub lang: String,
    /// Where it stands.
    pub state: OutboxState,
    /// Tries so far (a claim counts as a try, so a message that crashes its sender ends).
    pub attempts: i64,
    /// Not to be tried before this instant (unix milliseconds).
    pub next_attempt_ms: i64,
    /// A worker's lease on it (unix milliseconds), if claimed.
    pub claimed_until_ms: Option<i64>,
    /// Why the last try failed (never holds the body).
    pub last_error: Option<String>,
    /// When it was queued (unix seconds).
    pub created_at: i64,
    /// When a peer accepted it (unix seconds).
    pub sent_at: Option<i64>,
}

impl fmt::Debug for NewMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewMessage")
            .field("channel", &self.channel)
            .field("recipient", &self.recipient)
            .field("body_sealed", &redacted(&self.body_sealed))
            .field("purpose", &self.purpose)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for MessageRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageRecord")
            .field("id", &self.id)
            .field("channel", &self.channel)
            .field("recipient", &self.recipient)
            .field("body_sealed", &redacted(&self.body_sealed))
            .field("purpose", &self.purpose)
            .field("state", &self.state)
            .field("attempts", &self.attempts)
            .field("last_error", &self.last_error)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// One channel's outbox at a glance, for `/metrics` and the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelStats {
    /// The channel.
    pub channel: Channel,
    /// Messages waiting to be sent.
    pub queued: i64,
    /// When the oldest waiting message was queued (unix seconds).
    pub oldest_queued_at: Option<i64>,
    /// Messages waiting for an operator.
    pub dead: i64,
}

/// What an operator asks to see.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxFilter {
    /// Only messages in this state.
    pub state: Option<OutboxState>,
    /// Only messages on this channel.
    pub channel: Option<Channel>,
}

const COLUMNS: &str = "id, channel, idempotency_key, recipient, body_sealed, purpose, lang, \
     state, attempts, next_attempt_ms, claimed_until_ms, last_error, created_at, sent_at";

impl Store {
    /// Queues a message, due at once; returns its id. `Conflict` if the idempotency key
    /// is taken.
    pub async fn queue_message(&self, message: &NewMessage) -> Result<i64, StoreError> {
        let sql = "INSERT INTO outbox (channel, idempotency_key, recipient, body_sealed, \
             purpose, lang, state, attempts, next_attempt_ms, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'queued', 0, $7, $8) RETURNING id";
        let id: i64 = with_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(message.channel)
            .bind(&message.idempotency_key)
            .bind(&message.recipient)
            .bind(&message.body_sealed)
            .bind(&message.purpose)
            .bind(&message.lang)
            .bind(message.created_at.saturating_mul(1000))
            .bind(message.created_at)
            .fetch_one(pool)
            .await)?;
        Ok(id)
    }

    /// `limit` messages on `channel`, newest first, after skipping the `offset` newest
    /// (the demo inbox).
    pub async fn messages_page(
        &self,
        channel: Channel,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM outbox WHERE channel = $1 ORDER BY id DESC LIMIT $2 OFFSET $3"
        );
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, MessageRecord>(&sql)
            .bind(channel)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await)?,
        )
    }

    /// Claims up to `limit` messages on `channel` that are due at `now_ms` and not leased,
    /// oldest first, leasing them until `lease_until_ms` and counting a try on each.
    pub async fn claim_due_messages(
        &self,
        channel: Channel,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        // Rows another instance is claiming right now are skipped, not waited for.
        let lock = match self.pool {
            Pool::Sqlite(_) => "",
            Pool::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "UPDATE outbox SET claimed_until_ms = $1, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM outbox WHERE channel = $2 AND state = 'queued' \
             AND next_attempt_ms <= $3 AND (claimed_until_ms IS NULL OR claimed_until_ms <= $3) \
             ORDER BY id LIMIT $4{lock}) RETURNING {COLUMNS}"
        );
        let mut claimed = with_pool!(self, pool => sqlx::query_as::<_, MessageRecord>(&sql)
            .bind(lease_until_ms)
            .bind(channel)
            .bind(now_ms)
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        claimed.sort_by_key(|m| m.id);
        Ok(claimed)
    }

    /// Records that a peer accepted message `id`.
    pub async fn mark_message_sent(&self, id: i64, now: i64) -> Result<(), StoreError> {
        let sql = "UPDATE outbox SET state = 'sent', sent_at = $2, claimed_until_ms = NULL, \
             last_error = NULL WHERE id = $1";
        with_pool!(self, pool => sqlx::query(sql)
            .bind(id)
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Records a failed try of a queued message: it is due again at `next_attempt_ms`, or,
    /// with `None`, dead. `error` says why, without the body.
    pub async fn mark_message_failed(
        &self,
        id: i64,
        next_attempt_ms: Option<i64>,
        error: &str,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE outbox SET state = $2, next_attempt_ms = COALESCE($3, next_attempt_ms), \
             claimed_until_ms = NULL, last_error = $4 WHERE id = $1 AND state = 'queued'";
        let state = match next_attempt_ms {
            Some(_) => OutboxState::Queued,
            None => OutboxState::Dead,
        };
        with_pool!(self, pool => sqlx::query(sql)
            .bind(id)
            .bind(state)
            .bind(next_attempt_ms)
            .bind(error)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Frees every lease. Only for a store one process serves (SQLite), at its start: a
    /// lease left then belongs to a process that is gone. Returns how many were freed.
    pub async fn release_claims(&self) -> Result<u64, StoreError> {
        let sql = "UPDATE outbox SET claimed_until_ms = NULL \
             WHERE state = 'queued' AND claimed_until_ms IS NOT NULL";
        Ok(with_pool!(self, pool => sqlx::query(sql)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?)
    }

    /// Message `id`, if it exists.
    pub async fn outbox_message(&self, id: i64) -> Result<Option<MessageRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM outbox WHERE id = $1");
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, MessageRecord>(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// Up to `limit` messages matching `filter`, oldest first.
    pub async fn outbox_list(
        &self,
        filter: OutboxFilter,
        limit: i64,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM outbox WHERE ($1 IS NULL OR state = $1) \
             AND ($2 IS NULL OR channel = $2) ORDER BY id LIMIT $3"
        );
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, MessageRecord>(&sql)
            .bind(filter.state.map(OutboxState::as_str))
            .bind(filter.channel.map(Channel::as_str))
            .bind(limit)
            .fetch_all(pool)
            .await)?,
        )
    }

    /// Queues message `id` again, due at `now_ms` with its tries reset, if it is dead or
    /// discarded. Returns whether it was.
    pub async fn requeue_message(&self, id: i64, now_ms: i64) -> Result<bool, StoreError> {
        let sql = "UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_ms = $2, \
             claimed_until_ms = NULL WHERE id = $1 AND state IN ('dead', 'discarded')";
        let done = with_pool!(self, pool => sqlx::query(sql)
            .bind(id)
            .bind(now_ms)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Queues every dead message (on `channel`, if given) again; returns how many.
    pub async fn requeue_dead_messages(
        &self,
        channel: Option<Channel>,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let sql = "UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_ms = $2, \
             claimed_until_ms = NULL WHERE state = 'dead' AND ($1 IS NULL OR channel = $1)";
        let done = with_pool!(self, pool => sqlx::query(sql)
            .bind(channel.map(Channel::as_str))
            .bind(now_ms)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done)
    }

    /// Decides not to send message `id` (queued or dead). Returns whether it was.
    pub async fn discard_message(&self, id: i64) -> Result<bool, StoreError> {
        let sql = "UPDATE outbox SET state = 'discarded', claimed_until_ms = NULL \
             WHERE id = $1 AND state IN ('queued', 'dead')";
        let done = with_pool!(self, pool => sqlx::query(sql)
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Deletes sent and discarded messages queued before `before` (unix seconds); dead
    /// and queued ones stay. Returns how many went.
    pub async fn purge_outbox(&self, before: i64) -> Result<u64, StoreError> {
        let sql = "DELETE FROM outbox WHERE state IN ('sent', 'discarded') AND created_at < $1";
        Ok(with_pool!(self, pool => sqlx::query(sql)
            .bind(before)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?)
    }

    /// Every channel's queued and dead counts and oldest queued message.
    pub async fn outbox_stats(&self) -> Result<Vec<ChannelStats>, StoreError> {
        let sql = "SELECT channel, \
             SUM(CASE WHEN state = 'queued' THEN 1 ELSE 0 END), \
             MIN(CASE WHEN state = 'queued' THEN created_at END), \
             SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END) \
             FROM outbox WHERE state IN ('queued', 'dead') GROUP BY channel";
        let rows: Vec<(Channel, i64, Option<i64>, i64)> =
            with_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await)?;
        Ok(Channel::ALL
            .iter()
            .map(|&channel| {
                let row = rows.iter().find(|r| r.0 == channel);
                ChannelStats {
                    channel,
                    queued: row.map_or(0, |r| r.1),
                    oldest_queued_at: row.and_then(|r| r.2),
                    dead: row.map_or(0, |r| r.3),
                }
            })
            .collect())
    }
}
