//! SMS and e-mail outboxes. Bodies are sealed by the service (they may carry one-time
//! codes); the store keeps the bytes and hands them to the senders or the demo inbox.

use std::fmt;

use super::{redacted, with_pool, Store, StoreError};

/// A message to queue.
#[derive(Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Recipient: E.164 mobile number (SMS) or e-mail address.
    pub recipient: String,
    /// The message body, sealed by the service.
    pub body_sealed: Vec<u8>,
    /// Why it is sent (`registration_otp`, `login_otp`, …), for the inbox and metrics.
    pub purpose: String,
    /// When it was queued (unix seconds).
    pub created_at: i64,
}

/// A queued message.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MessageRecord {
    /// Database-assigned id, increasing.
    pub id: i64,
    /// Recipient: E.164 mobile number (SMS) or e-mail address.
    pub recipient: String,
    /// The message body, sealed by the service.
    pub body_sealed: Vec<u8>,
    /// Why it is sent.
    pub purpose: String,
    /// When it was queued (unix seconds).
    pub created_at: i64,
}

impl fmt::Debug for NewMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewMessage")
            .field("recipient", &self.recipient)
            .field("body_sealed", &redacted(&self.body_sealed))
            .field("purpose", &self.purpose)
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl fmt::Debug for MessageRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageRecord")
            .field("id", &self.id)
            .field("recipient", &self.recipient)
            .field("body_sealed", &redacted(&self.body_sealed))
            .field("purpose", &self.purpose)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// Table names are fixed strings chosen here, never user input.
const SMS: &str = "sms_outbox";
const EMAIL: &str = "email_outbox";

impl Store {
    /// Queues an SMS; returns its id.
    pub async fn push_sms(&self, message: &NewMessage) -> Result<i64, StoreError> {
        self.push_message(SMS, message).await
    }

    /// The newest `limit` queued SMS, newest first.
    pub async fn sms_outbox(&self, limit: i64) -> Result<Vec<MessageRecord>, StoreError> {
        self.messages(SMS, limit, 0).await
    }

    /// `limit` queued text messages, newest first, after skipping the `offset` newest.
    pub async fn sms_outbox_page(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        self.messages(SMS, limit, offset).await
    }

    /// Queues an e-mail; returns its id.
    pub async fn push_email(&self, message: &NewMessage) -> Result<i64, StoreError> {
        self.push_message(EMAIL, message).await
    }

    /// The newest `limit` queued e-mails, newest first.
    pub async fn email_outbox(&self, limit: i64) -> Result<Vec<MessageRecord>, StoreError> {
        self.messages(EMAIL, limit, 0).await
    }

    /// How many text messages and e-mails the outboxes hold.
    pub async fn outbox_sizes(&self) -> Result<(i64, i64), StoreError> {
        let count = |table: &str| format!("SELECT COUNT(*) FROM {table}");
        let (sms, email) = (count(SMS), count(EMAIL));
        let sms =
            with_pool!(self, pool => sqlx::query_scalar::<_, i64>(&sms).fetch_one(pool).await)?;
        let email =
            with_pool!(self, pool => sqlx::query_scalar::<_, i64>(&email).fetch_one(pool).await)?;
        Ok((sms, email))
    }

    async fn push_message(&self, table: &str, message: &NewMessage) -> Result<i64, StoreError> {
        let sql = format!(
            "INSERT INTO {table} (recipient, body_sealed, purpose, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING id"
        );
        let id: i64 = with_pool!(self, pool => sqlx::query_scalar(&sql)
            .bind(&message.recipient)
            .bind(&message.body_sealed)
            .bind(&message.purpose)
            .bind(message.created_at)
            .fetch_one(pool)
            .await)?;
        Ok(id)
    }

    async fn messages(
        &self,
        table: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let sql = format!(
            "SELECT id, recipient, body_sealed, purpose, created_at FROM {table} \
             ORDER BY id DESC LIMIT $1 OFFSET $2"
        );
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, MessageRecord>(&sql)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await)?,
        )
    }
}
