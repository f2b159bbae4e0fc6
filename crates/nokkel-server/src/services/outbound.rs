//! The way out of the server: what it sends to people. Services hand a message to
//! `deps.outbound` and know nothing of how it travels. [`StoreOutbox`] fills the slot: it
//! seals each message into the store's outbox, from where the delivery worker
//! (`services::delivery`) sends it through the configured SMS aggregator, SMTP server,
//! print house or push service, and where the demo inbox (`/dev/sms`) reads it.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use nokkel_core::clock::Clock;
use nokkel_core::random::Random;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::i18n::Lang;
use crate::secrets::ServerSecrets;
use crate::store::{Channel, NewMessage, Store, StoreError};

/// A text message to a mobile number. The body may hold a one-time code: it never appears
/// in `Debug` output.
pub struct TextMessage {
    /// E.164 mobile number.
    pub to: String,
    /// What the person reads.
    pub body: String,
    /// Why it is sent (`registration`, `login`, `login_reported`), for the inbox and logs.
    pub purpose: String,
    /// The language it is written in.
    pub lang: Lang,
}

impl fmt::Debug for TextMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TextMessage")
            .field("purpose", &self.purpose)
            .field("body", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// An e-mail: a subject, and the same content as plain text and as HTML.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailMessage {
    /// The address.
    pub to: String,
    /// Why it is sent (`contact_confirmation`, `login_reported`, `device_added`, …).
    pub purpose: String,
    /// The language it is written in.
    #[serde(with = "lang_tag")]
    pub lang: Lang,
    /// The subject line.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part (a whole document).
    pub html: String,
}

impl fmt::Debug for EmailMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailMessage")
            .field("purpose", &self.purpose)
            .field("lang", &self.lang)
            .finish_non_exhaustive()
    }
}

/// An activation letter to print and post. Holds the activation code: never in `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LetterMessage {
    /// The letter's id (the print house's reference and idempotency key).
    pub letter_id: String,
    /// The language it is written in.
    #[serde(with = "lang_tag")]
    pub lang: Lang,
    /// The recipient block as printed in the envelope window: name, then address lines
    /// (`letter::envelope::recipient_lines`), fixed when the letter is ordered.
    pub recipient: Vec<String>,
    /// ISO 3166-1 alpha-2 country of the address.
    pub country: String,
    /// Whether it goes abroad (the print house sorts these apart).
    pub abroad: bool,
    /// The activation code, grouped as printed.
    pub code_grouped: String,
    /// The letter's date (`YYYY-MM-DD`, Norwegian time).
    pub letter_date: String,
    /// The last day the code works (`YYYY-MM-DD`).
    pub valid_until: String,
}

impl fmt::Debug for LetterMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LetterMessage")
            .field("letter_id", &self.letter_id)
            .field("lang", &self.lang)
            .field("abroad", &self.abroad)
            .finish_non_exhaustive()
    }
}

/// A push to one device: the notice to encrypt and the instant after which it is useless
/// (the login's expiry). The device's registration is looked up when it is sent, so a
/// registration cleared or replaced meanwhile is honoured.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushMessage {
    /// The device to wake.
    pub device_id: String,
    /// What the device is told (`nokkel_core::wire::PushNotice`).
    pub notice: nokkel_core::wire::PushNotice,
    /// Not worth delivering after this instant (Unix seconds): the push's TTL ends here.
    pub expires_at: i64,
}

impl fmt::Debug for PushMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushMessage")
            .field("device_id", &self.device_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

mod lang_tag {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::i18n::Lang;

    pub fn serialize<S: Serializer>(lang: &Lang, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(lang.tag())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Lang, D::Error> {
        let tag = String::deserialize(d)?;
        Lang::from_tag(&tag).ok_or_else(|| serde::de::Error::custom("unknown language"))
    }
}

/// Where the server's messages go.
#[async_trait]
pub trait Outbound: Send + Sync {
    /// Queues or sends a text message. `Ok` once it is safely handed over: a failure is the
    /// caller's to report, nothing is lost silently.
    async fn send_text(&self, message: TextMessage) -> Result<(), StoreError>;
    /// Queues or sends an e-mail, on the same terms.
    async fn send_email(&self, message: EmailMessage) -> Result<(), StoreError>;
    /// Queues or sends a letter for printing, on the same terms.
    async fn send_letter(&self, message: LetterMessage) -> Result<(), StoreError>;
    /// Queues or sends a push to a device, on the same terms.
    async fn send_push(&self, message: PushMessage) -> Result<(), StoreError>;
}

/// The outbox in the store: messages sealed with the server's key, sent by the delivery
/// worker, which [`StoreOutbox`] wakes when it queues one.
pub struct StoreOutbox {
    store: Store,
    secrets: Arc<ServerSecrets>,
    random: Arc<dyn Random>,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
}

impl StoreOutbox {
    /// An outbox over `store`, sealing with `secrets`, waking `wake` on each message.
    pub fn new(
        store: Store,
        secrets: Arc<ServerSecrets>,
        random: Arc<dyn Random>,
        clock: Arc<dyn Clock>,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            secrets,
            random,
            clock,
            wake,
        }
    }

    async fn queue(
        &self,
        channel: Channel,
        idempotency_key: String,
        recipient: String,
        body: &[u8],
        purpose: String,
        lang: Lang,
    ) -> Result<(), StoreError> {
        self.store
            .queue_message(&NewMessage {
                channel,
                idempotency_key,
                recipient,
                body_sealed: self.secrets.seal(body, self.random.as_ref()),
                purpose,
                lang: lang.tag().to_owned(),
                created_at: self.clock.unix(),
            })
            .await?;
        self.wake.notify_one();
        Ok(())
    }

    fn new_key(&self, channel: Channel) -> String {
        let mut bytes = [0u8; 16];
        self.random.fill(&mut bytes);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("{channel}-{hex}")
    }
}

/// Serialises a message body for sealing. Plain data structs always serialise.
fn body_json<T: Serialize>(body: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(body).map_err(|e| StoreError::Config(format!("message body: {e}")))
}

#[async_trait]
impl Outbound for StoreOutbox {
    async fn send_text(&self, message: TextMessage) -> Result<(), StoreError> {
        let key = self.new_key(Channel::Sms);
        self.queue(
            Channel::Sms,
            key,
            message.to,
            message.body.as_bytes(),
            message.purpose,
            message.lang,
        )
        .await
    }

    async fn send_email(&self, message: EmailMessage) -> Result<(), StoreError> {
        let key = self.new_key(Channel::Email);
        let body = body_json(&message)?;
        self.queue(
            Channel::Email,
            key,
            message.to,
            &body,
            message.purpose,
            message.lang,
        )
        .await
    }

    async fn send_letter(&self, message: LetterMessage) -> Result<(), StoreError> {
        // The letter id is the key: the print house prints each letter once.
        let key = format!("letter-{}", message.letter_id);
        let body = body_json(&message)?;
        self.queue(
            Channel::Letter,
            key,
            message.letter_id.clone(),
            &body,
            "activation_letter".to_owned(),
            message.lang,
        )
        .await
    }

    async fn send_push(&self, message: PushMessage) -> Result<(), StoreError> {
        let key = self.new_key(Channel::Push);
        let body = body_json(&message)?;
        self.queue(
            Channel::Push,
            key,
            message.device_id,
            &body,
            "login_waiting".to_owned(),
            Lang::default(),
        )
        .await
    }
}
