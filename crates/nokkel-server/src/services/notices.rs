//! Notices the server sends a person about their eID, written in the language of their
//! contact-register entry, by e-mail (plain text and HTML alternatives) and, where the
//! notice warrants it, by text message.

use askama::Template;

use super::{Deps, ServiceError};
use crate::i18n::Lang;
use crate::services::outbound::{EmailMessage, Outbound, TextMessage};
use crate::store::{ContactRecord, Store};

/// What happened, that the person is told about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Their e-mail address was saved in the contact register (sent to that address).
    ContactEmail,
    /// They reported a login as not theirs; app logins are paused.
    LoginReported {
        /// The service the login was for.
        service: String,
    },
    /// A device was enrolled and can approve logins.
    DeviceAdded {
        /// Its name, as the person gave it.
        device: String,
    },
    /// A device was deactivated.
    DeviceRemoved {
        /// Its name.
        device: String,
    },
    /// A recovery letter was ordered for them (they have an account).
    RecoveryLetterOrdered,
    /// Their Nøkkel was set up again with a recovery letter: sent to the contact points it
    /// had before, with the page that blocks it if this was not them.
    Recovered {
        /// The lost-phone page (`{issuer}/lost`).
        block_url: String,
    },
    /// Nøkkel is blocked for them: every device revoked, no logins.
    Blocked,
    /// Support lifted a block.
    Unblocked,
    /// A device signed with a counter it had used before (its key looks copied): it was
    /// revoked and app logins are paused.
    CloneSuspected {
        /// Its name.
        device: String,
    },
    /// The eID was moved to a new phone, approved from an old one (sent by e-mail and
    /// text message: a transfer nobody asked for is urgent).
    PhoneMoved {
        /// The new phone's name.
        device: String,
        /// The name of the phone that approved the move.
        old: String,
        /// Whether the old phone was retired.
        retired: bool,
    },
}

impl Notice {
    /// What the outbox and logs call it.
    pub fn purpose(&self) -> &'static str {
        match self {
            Notice::ContactEmail => "contact_confirmation",
            Notice::LoginReported { .. } => "login_reported",
            Notice::DeviceAdded { .. } => "device_added",
            Notice::DeviceRemoved { .. } => "device_removed",
            Notice::RecoveryLetterOrdered => "recovery_letter_ordered",
            Notice::Recovered { .. } => "account_recovered",
            Notice::Blocked => "account_blocked",
            Notice::Unblocked => "account_unblocked",
            Notice::CloneSuspected { .. } => "device_clone_suspected",
            Notice::PhoneMoved { .. } => "phone_moved",
        }
    }

    fn texts(&self, lang: Lang) -> (String, String) {
        let (key, args): (&str, Vec<(&str, String)>) = match self {
            Notice::ContactEmail => ("email-contact", vec![]),
            Notice::LoginReported { service } => {
                ("email-reported", vec![("service", service.clone())])
            }
            Notice::DeviceAdded { device } => {
                ("email-device-added", vec![("device", device.clone())])
            }
            Notice::DeviceRemoved { device } => {
                ("email-device-removed", vec![("device", device.clone())])
            }
            Notice::RecoveryLetterOrdered => ("email-recovery-ordered", vec![]),
            Notice::Recovered { block_url } => {
                ("email-recovered", vec![("url", block_url.clone())])
            }
            Notice::Blocked => ("email-blocked", vec![]),
            Notice::Unblocked => ("email-unblocked", vec![]),
            Notice::CloneSuspected { device } => {
                ("email-clone-suspected", vec![("device", device.clone())])
            }
            Notice::PhoneMoved {
                device,
                old,
                retired,
            } => {
                let args = vec![("device", device.clone()), ("old", old.clone())];
                let body = if *retired {
                    "email-phone-moved-retired-body"
                } else {
                    "email-phone-moved-body"
                };
                return (
                    lang.t("email-phone-moved-subject"),
                    lang.t_args(body, &args),
                );
            }
        };
        (
            lang.t(&format!("{key}-subject")),
            lang.t_args(&format!("{key}-body"), &args),
        )
    }

    /// The text message for this notice, if it has one.
    fn text_message(&self, lang: Lang) -> Option<String> {
        match self {
            Notice::LoginReported { service } => {
                Some(lang.t_args("sms-login-reported", &[("service", service.clone())]))
            }
            Notice::Recovered { block_url } => {
                Some(lang.t_args("sms-recovered", &[("url", block_url.clone())]))
            }
            Notice::Blocked => Some(lang.t("sms-blocked")),
            Notice::CloneSuspected { .. } => Some(lang.t("sms-clone-suspected")),
            Notice::PhoneMoved { .. } => Some(lang.t("sms-phone-moved")),
            _ => None,
        }
    }
}

#[derive(Template)]
#[template(path = "email.html")]
struct EmailHtml<'a> {
    lang: &'a str,
    subject: &'a str,
    greeting: &'a str,
    body: &'a str,
    footer: &'a str,
}

/// The e-mail for `notice` to `to`, in `lang`, greeting `name` when known.
pub fn email(notice: &Notice, lang: Lang, to: &str, name: Option<&str>) -> EmailMessage {
    let (subject, body) = notice.texts(lang);
    compose(lang, notice.purpose(), subject, &body, to, name)
}

/// The e-mail carrying the one-time code that blocks Nøkkel (the lost-phone page). Not a
/// [`Notice`]: notices are `Debug`, and a code must never be printed.
pub fn block_code_email(lang: Lang, to: &str, name: Option<&str>, code: &str) -> EmailMessage {
    let subject = lang.t("email-block-code-subject");
    let body = lang.t_args("email-block-code-body", &[("code", code.to_owned())]);
    compose(lang, "block_code", subject, &body, to, name)
}

fn compose(
    lang: Lang,
    purpose: &str,
    subject: String,
    body: &str,
    to: &str,
    name: Option<&str>,
) -> EmailMessage {
    let greeting = match name {
        Some(name) => lang.t_args("email-greeting", &[("name", name.to_owned())]),
        None => lang.t("email-greeting-anonymous"),
    };
    let footer = lang.t("email-footer");
    let text = format!("{greeting}\n\n{body}\n\n-- \n{footer}\n");
    let html = EmailHtml {
        lang: lang.tag(),
        subject: &subject,
        greeting: &greeting,
        body,
        footer: &footer,
    }
    .render()
    .unwrap_or_else(|err| {
        // The template has no fallible parts; should it fail, the text part still goes.
        tracing::error!(error = %err, "e-mail HTML could not be rendered");
        String::new()
    });
    EmailMessage {
        to: to.to_owned(),
        purpose: purpose.to_owned(),
        lang,
        subject,
        text,
        html,
    }
}

/// The language of a contact-register entry.
pub fn contact_lang(contact: &ContactRecord) -> Lang {
    Lang::from_tag(&contact.lang).unwrap_or_default()
}

/// Tells `pid` about `notice` through the contact register: by e-mail if they have an
/// address, and by text message if the notice has one and they have a mobile number.
/// Queued in the outbox; the delivery worker sends them.
pub async fn notify(deps: &Deps, pid: &str, notice: Notice) -> Result<(), ServiceError> {
    notify_through(&deps.store, deps.outbound.as_ref(), pid, notice).await
}

/// [`notify`] for a caller holding only the store and an outbound gateway (the operator's
/// command line).
pub async fn notify_through(
    store: &Store,
    outbound: &dyn Outbound,
    pid: &str,
    notice: Notice,
) -> Result<(), ServiceError> {
    let Some(contact) = store.contact(pid).await? else {
        return Ok(());
    };
    notify_contact_through(store, outbound, &contact, notice).await
}

/// Tells the holder of contact-register entry `contact` — as it is given, which may be how
/// it was before a change — about `notice`.
pub async fn notify_contact(
    deps: &Deps,
    contact: &ContactRecord,
    notice: Notice,
) -> Result<(), ServiceError> {
    notify_contact_through(&deps.store, deps.outbound.as_ref(), contact, notice).await
}

async fn notify_contact_through(
    store: &Store,
    outbound: &dyn Outbound,
    contact: &ContactRecord,
    notice: Notice,
) -> Result<(), ServiceError> {
    let pid = contact.pid.as_str();
    let lang = contact_lang(contact);
    if let (Some(mobile), Some(body)) = (&contact.mobile, notice.text_message(lang)) {
        outbound
            .send_text(TextMessage {
                to: mobile.clone(),
                body,
                purpose: notice.purpose().to_owned(),
                lang,
            })
            .await?;
    }
    if let Some(address) = &contact.email {
        let name = store
            .person(pid)
            .await?
            .map(|p| format!("{} {}", p.given_name, p.family_name));
        outbound
            .send_email(email(&notice, lang, address, name.as_deref()))
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use nokkel_core::sms::{SmsEncoding, SmsLength};

    use super::*;

    #[test]
    fn every_notice_has_its_texts_in_every_language() {
        let notices = [
            Notice::ContactEmail,
            Notice::LoginReported {
                service: "Skatteetaten".into(),
            },
            Notice::DeviceAdded {
                device: "Ingrids iPhone".into(),
            },
            Notice::DeviceRemoved {
                device: "Ingrids iPhone".into(),
            },
            Notice::RecoveryLetterOrdered,
            Notice::Recovered {
                block_url: "https://nokkel.example.no/lost".into(),
            },
            Notice::Blocked,
            Notice::Unblocked,
            Notice::CloneSuspected {
                device: "Ingrids iPhone".into(),
            },
            Notice::PhoneMoved {
                device: "Ingrids Pixel".into(),
                old: "Ingrids iPhone".into(),
                retired: true,
            },
            Notice::PhoneMoved {
                device: "Ingrids Pixel".into(),
                old: "Ingrids iPhone".into(),
                retired: false,
            },
        ];
        for lang in Lang::ALL {
            for notice in &notices {
                let mail = email(notice, lang, "ingrid@example.no", Some("Ingrid Sæther"));
                assert!(!mail.subject.starts_with("email-"), "{lang:?} {notice:?}");
                assert!(!mail.text.contains("email-"), "{lang:?} {notice:?}");
                assert!(mail.text.contains("Ingrid Sæther"));
                assert!(mail
                    .html
                    .contains(&format!("<html lang=\"{}\">", lang.tag())));
                assert!(mail.html.contains(&mail.subject));
            }
        }
    }

    #[test]
    fn html_escapes_what_the_person_typed() {
        let mail = email(
            &Notice::DeviceAdded {
                device: "<script>x</script>".into(),
            },
            Lang::En,
            "a@example.no",
            None,
        );
        assert!(!mail.html.contains("<script>"), "{}", mail.html);
        assert!(mail.text.contains("<script>x</script>"));
    }

    #[test]
    fn text_messages_fit_one_gsm7_segment() {
        // The longest service name a client may register is 64 characters; real names
        // are far shorter, so measure with a long one (40) that the texts must still fit.
        let service = "Statens vegvesen – Førerkort og kjøretøy"
            .replace('–', "-")
            .chars()
            .take(40)
            .collect::<String>();
        for lang in Lang::ALL {
            let texts = [
                lang.t_args("sms-otp", &[("code", "123456".to_owned())]),
                lang.t_args("sms-login-reported", &[("service", service.clone())]),
                // An issuer URL of 40 characters: https://innlogging.nokkel.kommune.no
                lang.t_args(
                    "sms-recovered",
                    &[(
                        "url",
                        "https://innlogging.nokkel.kommune.no/lost".to_owned(),
                    )],
                ),
                lang.t("sms-blocked"),
                lang.t("sms-clone-suspected"),
                lang.t("sms-phone-moved"),
            ];
            for text in texts {
                let length = SmsLength::of(&text);
                assert_eq!(length.encoding, SmsEncoding::Gsm7, "{lang:?}: {text}");
                assert_eq!(length.segments, 1, "{lang:?}: {text} ({length:?})");
            }
        }
    }
}
