//! The way out of the server: what it sends to people. Services hand a message to
//! `deps.outbound` and know nothing of how it travels. Today one gateway fills the slot:
//! [`StoreOutbox`], which keeps each message sealed in the store's outbox (read by the demo
//! inbox at `/dev/sms`). Delivering gateways (SMS aggregator, SMTP, print house, push) are
//! other implementations of the same trait.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use nokkel_core::clock::Clock;
use nokkel_core::random::Random;

use crate::secrets::ServerSecrets;
use crate::store::{NewMessage, Store, StoreError};

/// A text message to a mobile number. The body may hold a one-time code: it never appears
/// in `Debug` output.
pub struct TextMessage {
    /// E.164 mobile number.
    pub to: String,
    /// What the person reads.
    pub body: String,
    /// Why it is sent (`registration`, `login`, `login_reported`), for the inbox and logs.
    pub purpose: String,
}

impl fmt::Debug for TextMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TextMessage")
            .field("purpose", &self.purpose)
            .field("body", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Where the server's messages go.
#[async_trait]
pub trait Outbound: Send + Sync {
    /// Queues or sends a text message. `Ok` once it is safely handed over: a failure is the
    /// caller's to report, nothing is lost silently.
    async fn send_text(&self, message: TextMessage) -> Result<(), StoreError>;
}

/// The outbox in the store: messages sealed with the server's key, kept for the demo
/// inbox (and, later, for a delivery worker to pick up).
pub struct StoreOutbox {
    store: Store,
    secrets: Arc<ServerSecrets>,
    random: Arc<dyn Random>,
    clock: Arc<dyn Clock>,
}

impl StoreOutbox {
    /// An outbox over `store`, sealing with `secrets`.
    pub fn new(
        store: Store,
        secrets: Arc<ServerSecrets>,
        random: Arc<dyn Random>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            secrets,
            random,
            clock,
        }
    }
}

#[async_trait]
impl Outbound for StoreOutbox {
    async fn send_text(&self, message: TextMessage) -> Result<(), StoreError> {
        self.store
            .push_sms(&NewMessage {
                recipient: message.to,
                body_sealed: self
                    .secrets
                    .seal(message.body.as_bytes(), self.random.as_ref()),
                purpose: message.purpose,
                created_at: self.clock.unix(),
            })
            .await?;
        Ok(())
    }
}
