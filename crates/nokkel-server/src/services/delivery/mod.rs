//! The delivery worker: drains the outbox through the configured senders.
//!
//! One worker per server process. It wakes when a service queues a message (and every
//! `poll_interval_ms` besides, for retries, other instances' messages and an operator's
//! `nokkel admin outbox retry`), then per channel with a sender: claims due messages
//! (a lease, see `store::outbox`), opens their sealed bodies, hands them to the sender a
//! few at a time, and records each result. A failed try is retried after an exponential
//! backoff with jitter; after `max_attempts` tries, or at once when the peer refuses the
//! message for good, the message is dead-lettered for an operator.
//!
//! Delivery is at least once: a crash between a peer accepting a message and the store
//! recording it sends it again, with the same idempotency key, which the peer uses to
//! discard the copy. Bodies are opened only here, just before sending, and never logged.

pub mod admin;
pub mod apns;
pub mod email;
pub mod fcm;
pub mod letters;
pub mod push;
pub mod sms;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream::{self, StreamExt};
use nokkel_core::clock::Clock;
use nokkel_core::random::Random;
use thiserror::Error;
use tokio::sync::Notify;

use crate::config::DeliveryConfig;
use crate::i18n::Lang;
use crate::metrics::{OUTBOX_FAILED, OUTBOX_SENT};
use crate::secrets::ServerSecrets;
use crate::store::{Channel, MessageRecord, Store, StoreError};

/// Messages claimed at once per channel (letters: the sender's batch size).
const CLAIM_BATCH: i64 = 50;

/// A message ready to send: the outbox row with its body opened.
pub struct Outgoing {
    /// The outbox id.
    pub id: i64,
    /// Unique per message, stable across retries: the peer discards copies by it.
    pub idempotency_key: String,
    /// E.164 number, e-mail address, or letter id.
    pub recipient: String,
    /// Why it is sent.
    pub purpose: String,
    /// The language it is written in.
    pub lang: Lang,
    /// The opened body (a text message's text; JSON for e-mail and letters).
    pub body: Vec<u8>,
    /// Which try this is (1 for the first).
    pub attempt: i64,
}

impl fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outgoing")
            .field("id", &self.id)
            .field("purpose", &self.purpose)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

/// Why a send failed. The text goes to the outbox row and the operator: it must never
/// hold the message body or a secret.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SendError {
    /// Worth trying again later (peer down, timeout, 5xx, 4xx SMTP codes).
    #[error("{0}")]
    Transient(String),
    /// The peer refused the message for good (bad number, 5xx SMTP code, 4xx HTTP).
    #[error("{0}")]
    Permanent(String),
}

/// One way out: SMS aggregator, SMTP server, print house, push service.
#[async_trait]
pub trait Sender: Send + Sync {
    /// The channel it serves.
    fn channel(&self) -> Channel;
    /// How many messages it takes at once: letters go in batches, others one by one.
    fn batch_size(&self) -> usize {
        1
    }
    /// Sends `batch` (at most `batch_size` messages) and gives one result per message,
    /// in order.
    async fn send(&self, batch: &[Outgoing]) -> Vec<Result<(), SendError>>;
}

/// The delay before try `attempt + 1` after `attempt` failed tries: `base · 2^(attempt-1)`
/// capped at `max`, of which a random half is taken off ("equal jitter"), so that
/// messages failing together do not come back together.
pub fn backoff_ms(config: &DeliveryConfig, attempt: i64, random: &dyn Random) -> u64 {
    let exponent = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let full = config
        .retry_base_ms
        .saturating_mul(1u64 << exponent)
        .min(config.retry_max_ms)
        .max(1);
    let mut bytes = [0u8; 8];
    random.fill(&mut bytes);
    let half = full / 2;
    half + u64::from_le_bytes(bytes) % (full - half + 1)
}

/// The outbox's drain. Cheap to share; [`Worker::run`] is the loop.
pub struct Worker {
    store: Store,
    secrets: Arc<ServerSecrets>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    config: DeliveryConfig,
    senders: HashMap<Channel, Arc<dyn Sender>>,
    wake: Arc<Notify>,
}

impl Worker {
    /// A worker over `store` with `senders` (channels without one are left queued).
    pub fn new(
        store: Store,
        secrets: Arc<ServerSecrets>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        config: DeliveryConfig,
        senders: Vec<Arc<dyn Sender>>,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            secrets,
            clock,
            random,
            config,
            senders: senders.into_iter().map(|s| (s.channel(), s)).collect(),
            wake,
        }
    }

    /// The channels this worker sends.
    pub fn channels(&self) -> Vec<Channel> {
        let mut channels: Vec<Channel> = self.senders.keys().copied().collect();
        channels.sort_by_key(|c| c.as_str());
        channels
    }

    /// Runs until the task is dropped: a round whenever woken or every poll interval.
    pub async fn run(self: Arc<Self>) {
        if self.senders.is_empty() {
            return;
        }
        let poll = Duration::from_millis(self.config.poll_interval_ms.max(10));
        loop {
            match self.round().await {
                // Something was sent or failed: there may be more due at once.
                Ok(true) => continue,
                Ok(false) => {}
                Err(err) => tracing::error!(error = %err, "delivery round failed"),
            }
            let _ = tokio::time::timeout(poll, self.wake.notified()).await;
        }
    }

    /// One pass over every channel. Returns whether any message was handled.
    pub async fn round(&self) -> Result<bool, StoreError> {
        let mut handled = false;
        for channel in self.channels() {
            if let Some(sender) = self.senders.get(&channel) {
                handled |= self.drain_once(channel, sender.as_ref()).await?;
            }
        }
        Ok(handled)
    }

    async fn drain_once(&self, channel: Channel, sender: &dyn Sender) -> Result<bool, StoreError> {
        let now_ms = self.now_ms();
        let lease_ms =
            i64::try_from(self.config.lease_seconds.saturating_mul(1000)).unwrap_or(i64::MAX / 2);
        let batch = sender.batch_size().max(1);
        let limit = CLAIM_BATCH.max(i64::try_from(batch).unwrap_or(CLAIM_BATCH));
        let claimed = self
            .store
            .claim_due_messages(channel, now_ms, now_ms.saturating_add(lease_ms), limit)
            .await?;
        if claimed.is_empty() {
            return Ok(false);
        }
        let mut ready = Vec::with_capacity(claimed.len());
        for record in claimed {
            match self.open(record) {
                Ok(outgoing) => ready.push(outgoing),
                Err((id, attempts, error)) => {
                    // A body this server cannot open (key changed?) will never open.
                    self.record(channel, id, attempts, Err(SendError::Permanent(error)))
                        .await?;
                }
            }
        }
        // Each result is recorded as soon as its send returns, so a crash leaves at most
        // the messages in flight to be sent again.
        let recorded: Vec<Result<(), StoreError>> = stream::iter(chunk(ready, batch))
            .map(|chunk| async move {
                let mut results = sender.send(&chunk).await.into_iter();
                for message in chunk {
                    let result = results.next().unwrap_or_else(|| {
                        Err(SendError::Transient("sender gave no result".to_owned()))
                    });
                    self.record(channel, message.id, message.attempt, result)
                        .await?;
                }
                Ok(())
            })
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        recorded.into_iter().collect::<Result<(), StoreError>>()?;
        Ok(true)
    }

    fn open(&self, record: MessageRecord) -> Result<Outgoing, (i64, i64, String)> {
        let body = self.secrets.open(&record.body_sealed).map_err(|_| {
            (
                record.id,
                record.attempts,
                "body cannot be unsealed".to_owned(),
            )
        })?;
        Ok(Outgoing {
            id: record.id,
            idempotency_key: record.idempotency_key,
            recipient: record.recipient,
            purpose: record.purpose,
            lang: Lang::from_tag(&record.lang).unwrap_or_default(),
            body,
            attempt: record.attempts,
        })
    }

    async fn record(
        &self,
        channel: Channel,
        id: i64,
        attempt: i64,
        result: Result<(), SendError>,
    ) -> Result<(), StoreError> {
        let outbox = channel.as_str();
        match result {
            Ok(()) => {
                metrics::counter!(OUTBOX_SENT, "outbox" => outbox).increment(1);
                self.store.mark_message_sent(id, self.clock.unix()).await
            }
            Err(error) => {
                let give_up = matches!(error, SendError::Permanent(_))
                    || attempt >= i64::from(self.config.max_attempts);
                let next = (!give_up).then(|| {
                    let delay = backoff_ms(&self.config, attempt, self.random.as_ref());
                    self.now_ms()
                        .saturating_add(i64::try_from(delay).unwrap_or(i64::MAX / 2))
                });
                let result = if give_up { "dead" } else { "retry" };
                metrics::counter!(OUTBOX_FAILED, "outbox" => outbox, "result" => result)
                    .increment(1);
                let text = error.to_string();
                if give_up {
                    tracing::warn!(id, outbox, attempt, error = %text, "message dead-lettered");
                } else {
                    tracing::info!(id, outbox, attempt, error = %text, "send failed; will retry");
                }
                self.store
                    .mark_message_failed(id, next, &truncate(&text, 500))
                    .await
            }
        }
    }

    fn now_ms(&self) -> i64 {
        i64::try_from(self.clock.now().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    }
}

fn chunk(items: Vec<Outgoing>, size: usize) -> Vec<Vec<Outgoing>> {
    let mut chunks = Vec::new();
    let mut current = Vec::with_capacity(size);
    for item in items {
        current.push(item);
        if current.len() == size {
            chunks.push(std::mem::replace(&mut current, Vec::with_capacity(size)));
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use nokkel_core::random::SeededRandom;

    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let config = DeliveryConfig {
            retry_base_ms: 1_000,
            retry_max_ms: 60_000,
            ..DeliveryConfig::default()
        };
        let random = SeededRandom::new(7);
        for attempt in 1..=12 {
            let full = (1_000u64 << (attempt - 1)).min(60_000);
            for _ in 0..50 {
                let delay = backoff_ms(&config, attempt, &random);
                assert!(
                    delay >= full / 2 && delay <= full,
                    "attempt {attempt}: {delay} not in {}..={full}",
                    full / 2
                );
            }
        }
        // Jitter really varies.
        let delays: std::collections::HashSet<u64> =
            (0..20).map(|_| backoff_ms(&config, 3, &random)).collect();
        assert!(delays.len() > 5, "{delays:?}");
    }

    #[test]
    fn errors_are_cut_short() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("æøåæøå", 3), "æøå…");
    }
}
