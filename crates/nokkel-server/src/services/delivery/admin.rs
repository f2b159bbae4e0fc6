//! What an operator does with the outbox (`nokkel admin outbox`): look, queue dead
//! messages again, discard. Every change is audited. Nothing here opens a body, and
//! recipients are shown masked.

use serde_json::json;

use crate::store::{
    Channel, MessageRecord, NewAuditEvent, OutboxFilter, OutboxState, Store, StoreError,
};

/// A message as an operator sees it: everything but the body, the recipient masked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MessageView {
    /// Outbox id.
    pub id: i64,
    /// How it travels.
    pub channel: Channel,
    /// Where it stands.
    pub state: OutboxState,
    /// The recipient, masked (`+47 *****567`, `i***@example.no`, or the letter id).
    pub recipient: String,
    /// Why it is sent.
    pub purpose: String,
    /// Its language.
    pub lang: String,
    /// Tries so far.
    pub attempts: i64,
    /// Next try (unix milliseconds), while queued.
    pub next_attempt_ms: Option<i64>,
    /// Why the last try failed.
    pub last_error: Option<String>,
    /// Its idempotency key.
    pub idempotency_key: String,
    /// Queued at (unix seconds).
    pub created_at: i64,
    /// Sent at (unix seconds).
    pub sent_at: Option<i64>,
}

/// Masks a recipient for display: enough to tell messages apart, not to contact anyone.
pub fn mask_recipient(channel: Channel, recipient: &str) -> String {
    match channel {
        Channel::Sms => {
            let digits: Vec<char> = recipient.chars().collect();
            let keep_end = 3.min(digits.len());
            let keep_start = 3.min(digits.len() - keep_end);
            let hidden = digits.len() - keep_start - keep_end;
            format!(
                "{}{}{}",
                digits[..keep_start].iter().collect::<String>(),
                "*".repeat(hidden),
                digits[digits.len() - keep_end..].iter().collect::<String>()
            )
        }
        Channel::Email => match recipient.split_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            None => "***".to_owned(),
        },
        Channel::Letter | Channel::Push => recipient.to_owned(),
    }
}

impl From<MessageRecord> for MessageView {
    fn from(m: MessageRecord) -> Self {
        Self {
            id: m.id,
            channel: m.channel,
            state: m.state,
            recipient: mask_recipient(m.channel, &m.recipient),
            purpose: m.purpose,
            lang: m.lang,
            attempts: m.attempts,
            next_attempt_ms: (m.state == OutboxState::Queued).then_some(m.next_attempt_ms),
            last_error: m.last_error,
            idempotency_key: m.idempotency_key,
            created_at: m.created_at,
            sent_at: m.sent_at,
        }
    }
}

/// Up to `limit` messages matching `filter`, oldest first.
pub async fn list(
    store: &Store,
    filter: OutboxFilter,
    limit: i64,
) -> Result<Vec<MessageView>, StoreError> {
    Ok(store
        .outbox_list(filter, limit.clamp(1, 10_000))
        .await?
        .into_iter()
        .map(MessageView::from)
        .collect())
}

/// Message `id`.
pub async fn show(store: &Store, id: i64) -> Result<Option<MessageView>, StoreError> {
    Ok(store.outbox_message(id).await?.map(MessageView::from))
}

/// Which messages to queue again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// One message (dead or discarded).
    One(i64),
    /// Every dead message, on one channel or all.
    AllDead(Option<Channel>),
}

/// Queues messages again, due at `now` (unix seconds) with their tries reset. Returns
/// how many.
pub async fn retry(store: &Store, which: Retry, now: i64) -> Result<u64, StoreError> {
    let now_ms = now.saturating_mul(1000);
    let count = match which {
        Retry::One(id) => u64::from(store.requeue_message(id, now_ms).await?),
        Retry::AllDead(channel) => store.requeue_dead_messages(channel, now_ms).await?,
    };
    let detail = match which {
        Retry::One(id) => json!({ "id": id, "count": count }),
        Retry::AllDead(channel) => {
            json!({ "channel": channel.map(Channel::as_str), "count": count })
        }
    };
    audit(store, "outbox_retried", detail, now).await?;
    Ok(count)
}

/// Decides not to send message `id`. Returns whether it was queued or dead.
pub async fn discard(store: &Store, id: i64, now: i64) -> Result<bool, StoreError> {
    let done = store.discard_message(id).await?;
    if done {
        audit(store, "outbox_discarded", json!({ "id": id }), now).await?;
    }
    Ok(done)
}

async fn audit(
    store: &Store,
    event: &str,
    detail: serde_json::Value,
    now: i64,
) -> Result<(), StoreError> {
    store
        .append_audit_batch(&[NewAuditEvent {
            at: now,
            event: event.to_owned(),
            pid: None,
            client_ip: None,
            detail: detail.to_string(),
        }])
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_are_masked() {
        assert_eq!(mask_recipient(Channel::Sms, "+4791234567"), "+47*****567");
        assert_eq!(mask_recipient(Channel::Sms, "+46"), "+46");
        assert_eq!(
            mask_recipient(Channel::Email, "ingrid@example.no"),
            "i***@example.no"
        );
        assert_eq!(mask_recipient(Channel::Letter, "abc123"), "abc123");
    }
}
