//! The texts of the platform's face/finger prompt in the person's language, read from the
//! app's Fluent files (`assets/i18n/*/main.ftl`, keys `app-prompt-*`), so the prompt speaks
//! the language the page speaks (the page reports it with `set_language`).
//!
//! Only single-line messages with at most one placeable (`{ $service }` or `{ $device }`) are
//! used here; a missing message falls back to English, then to its id, never to a panic.

use nokkel_client::mobile::biometric::PromptText;
use serde::Deserialize;

const NB: &str = include_str!("../../assets/i18n/nb/main.ftl");
const NN: &str = include_str!("../../assets/i18n/nn/main.ftl");
const EN: &str = include_str!("../../assets/i18n/en/main.ftl");

/// The page's language.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Norwegian Bokmål (the default, as in the page).
    #[default]
    Nb,
    /// Norwegian Nynorsk.
    Nn,
    /// English.
    En,
}

/// Why the prompt is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose<'a> {
    /// Protecting a new device key (activation).
    Enrol,
    /// Opening the app.
    Unlock,
    /// Approving a login to `service`.
    Approve {
        /// The relying party's display name, from the verified challenge.
        service: &'a str,
    },
    /// Changing the contact register.
    Contact,
    /// Deactivating this device.
    Deactivate,
    /// Resuming app logins after a pause.
    Resume,
    /// Approving the move to the new phone named `device`.
    Transfer {
        /// The new phone's name, as it gave it.
        device: &'a str,
    },
}

fn source(lang: Lang) -> &'static str {
    match lang {
        Lang::Nb => NB,
        Lang::Nn => NN,
        Lang::En => EN,
    }
}

/// The value of the single-line message `id` in `source`.
fn message<'s>(source: &'s str, id: &str) -> Option<&'s str> {
    source.lines().find_map(|line| {
        let value = line.strip_prefix(id)?.trim_start().strip_prefix('=')?;
        Some(value.trim())
    })
}

/// The single-line message `id` in `lang` (English, then the id, when missing).
pub(crate) fn text(lang: Lang, id: &str) -> String {
    message(source(lang), id)
        .or_else(|| message(EN, id))
        .unwrap_or(id)
        .to_owned()
}

/// The prompt for `purpose` in `lang`.
pub fn prompt(lang: Lang, purpose: Purpose<'_>) -> PromptText {
    let reason = match purpose {
        Purpose::Enrol => text(lang, "app-prompt-reason-enrol"),
        Purpose::Unlock => text(lang, "app-prompt-reason-unlock"),
        Purpose::Approve { service } => {
            text(lang, "app-prompt-reason-approve").replace("{ $service }", service)
        }
        Purpose::Contact => text(lang, "app-prompt-reason-contact"),
        Purpose::Deactivate => text(lang, "app-prompt-reason-deactivate"),
        Purpose::Resume => text(lang, "app-prompt-reason-resume"),
        Purpose::Transfer { device } => {
            text(lang, "app-prompt-reason-transfer").replace("{ $device }", device)
        }
    };
    PromptText {
        title: text(lang, "app-prompt-title"),
        reason,
        cancel: text(lang, "cancel"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_every_prompt_text() {
        for lang in [Lang::Nb, Lang::Nn, Lang::En] {
            for id in [
                "app-prompt-title",
                "app-prompt-reason-enrol",
                "app-prompt-reason-unlock",
                "app-prompt-reason-approve",
                "app-prompt-reason-contact",
                "app-prompt-reason-deactivate",
                "app-prompt-reason-resume",
                "app-prompt-reason-transfer",
                "cancel",
            ] {
                assert!(message(source(lang), id).is_some(), "{lang:?} lacks {id}");
            }
        }
    }

    #[test]
    fn prompts_speak_the_pages_language_and_name_the_service() {
        let nb = prompt(Lang::Nb, Purpose::Approve { service: "NAV" });
        assert_eq!(nb.cancel, "Avbryt");
        assert!(nb.reason.contains("NAV"), "{}", nb.reason);
        assert!(!nb.reason.contains('{'), "{}", nb.reason);
        let en = prompt(Lang::En, Purpose::Unlock);
        assert_eq!(en.cancel, "Cancel");
        assert_ne!(en.reason, prompt(Lang::Nn, Purpose::Unlock).reason);
        let moving = prompt(
            Lang::Nn,
            Purpose::Transfer {
                device: "Ny telefon",
            },
        );
        assert!(moving.reason.contains("Ny telefon"), "{}", moving.reason);
        assert!(!moving.reason.contains('{'), "{}", moving.reason);
    }

    #[test]
    fn a_missing_message_falls_back_without_panicking() {
        assert_eq!(message("a = 1\nab = 2", "ab"), Some("2"));
        assert_eq!(message("a-b = 1", "a"), None);
        assert_eq!(text(Lang::Nb, "no-such-message"), "no-such-message");
    }
}
