//! E-mail through an SMTP submission server with `lettre`: STARTTLS (or implicit TLS)
//! that must succeed, AUTH when configured, and a multipart/alternative message (plain
//! text and HTML) with `Content-Language`. The idempotency key is the `Message-ID`, by
//! which mail systems recognise a copy.

use std::time::Duration;

use async_trait::async_trait;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::sms::{is_loopback, read_secret};
use super::{Outgoing, SendError, Sender};
use crate::config::{SmtpConfig, SmtpTls};
use crate::services::outbound::EmailMessage;
use crate::store::Channel;

/// Sends e-mail through the configured SMTP server.
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The domain part of our Message-IDs.
    id_domain: String,
}

/// `Content-Language` (RFC 3282): the language the message is written in.
#[derive(Debug, Clone)]
struct ContentLanguage(String);

impl Header for ContentLanguage {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Content-Language")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

impl SmtpSender {
    /// A sender for `config`; fails with a readable reason on bad settings.
    pub fn new(config: &SmtpConfig) -> Result<Self, String> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| format!("smtp.from {:?} is not an address: {e}", config.from))?;
        let tls = match config.tls {
            SmtpTls::None if is_loopback(&config.host) => Tls::None,
            SmtpTls::None => return Err("smtp.tls = \"none\" is only allowed to loopback".into()),
            SmtpTls::Starttls => Tls::Required(tls_parameters(config)?),
            SmtpTls::Tls => Tls::Wrapper(tls_parameters(config)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(config.timeout_seconds.max(1))));
        match (&config.username, &config.password_file) {
            (Some(user), Some(file)) => {
                let password = read_secret(file, "smtp.password_file")?;
                builder = builder.credentials(Credentials::new(user.clone(), password));
            }
            (None, None) => {}
            _ => return Err("smtp.username and smtp.password_file go together".into()),
        }
        Ok(Self {
            transport: builder.build(),
            id_domain: from.email.domain().to_owned(),
            from,
        })
    }

    fn message(&self, message: &Outgoing) -> Result<Message, SendError> {
        let email: EmailMessage = serde_json::from_slice(&message.body)
            .map_err(|e| SendError::Permanent(format!("unreadable e-mail body: {e}")))?;
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|_| SendError::Permanent("recipient is not an e-mail address".into()))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject)
            .message_id(Some(format!(
                "<{}@{}>",
                message.idempotency_key, self.id_domain
            )))
            .header(ContentLanguage(email.lang.tag().to_owned()))
            .multipart(MultiPart::alternative_plain_html(email.text, email.html))
            .map_err(|e| SendError::Permanent(format!("cannot build the e-mail: {e}")))
    }
}

fn tls_parameters(config: &SmtpConfig) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(config.host.clone());
    if let Some(file) = &config.ca_file {
        let pem = std::fs::read(file)
            .map_err(|e| format!("cannot read smtp.ca_file {}: {e}", file.display()))?;
        let cert = Certificate::from_pem(&pem).map_err(|e| {
            format!(
                "smtp.ca_file {} is not a PEM certificate: {e}",
                file.display()
            )
        })?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build_rustls()
        .map_err(|e| format!("SMTP TLS settings: {e}"))
}

#[async_trait]
impl Sender for SmtpSender {
    fn channel(&self) -> Channel {
        Channel::Email
    }

    async fn send(&self, batch: &[Outgoing]) -> Vec<Result<(), SendError>> {
        let mut results = Vec::with_capacity(batch.len());
        for message in batch {
            let result = match self.message(message) {
                Ok(email) => self.transport.send(email).await.map(|_| ()).map_err(|e| {
                    let reason = format!("SMTP: {e}");
                    if e.is_permanent() {
                        SendError::Permanent(reason)
                    } else {
                        SendError::Transient(reason)
                    }
                }),
                Err(err) => Err(err),
            };
            results.push(result);
        }
        results
    }
}
