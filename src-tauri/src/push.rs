//! Push wake-ups: when the phone (re)registers its push token with the server, and what it
//! sends (issue 11).
//!
//! The platform gives a token ([`PushTokens`]: FCM on Android, APNs on iOS through
//! `mobile::push_token`; none on the desktop). [`next_step`] is the rule that turns the
//! person's setting, the platform's answer and what was last sent into one step: send the
//! registration (`PUT /api/v1/push`), clear it (`DELETE /api/v1/push`) or do nothing.
//! [`PushRegistrar`] runs it against the [`Authenticator`] and remembers, in `push.json` in
//! the app's data folder, the setting (on unless the person turned it off) and a SHA-256
//! fingerprint of the registration the server last accepted: the token itself is never
//! written to disk, and a failed clear (offline) is tried again at the next start.
//!
//! A push only says that a login waits; the page then asks for the pending request as it
//! always does (`pending_request`), so the push payload is never read, let alone trusted.
//! Refused notifications are not an error: the app keeps long-polling while it is open.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use nokkel_core::push::PushRegistration;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::authenticator::Authenticator;
use crate::error::AppError;

/// How long the platform may take to give a token (iOS gives up after 10 s itself; a
/// Firebase without network can wait for ever).
pub const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);

/// What the platform answered when asked for a push token (after asking the person for
/// permission to notify, the first time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenAnswer {
    /// A token, already checked and in the form the server takes.
    Token(PushRegistration),
    /// The person refused notifications (now or earlier, in the system settings).
    Refused,
    /// This build cannot receive pushes (the desktop).
    Unsupported,
    /// The platform could not give a token now (no Google Play services, no network, no
    /// Firebase configuration in the build, a timeout). Not the person's doing.
    Failed(String),
}

/// Gives this phone's push token.
#[async_trait]
pub trait PushTokens: Send + Sync {
    /// Asks the person for permission to notify if it was never asked, and returns the
    /// platform's current token.
    async fn token(&self) -> TokenAnswer;
}

/// No push service (the desktop, and the scripted authenticator).
pub struct NoPushTokens;

#[async_trait]
impl PushTokens for NoPushTokens {
    async fn token(&self) -> TokenAnswer {
        TokenAnswer::Unsupported
    }
}

/// Why the app (re)registers now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The app was opened, activated, moved here, or push was turned on: send the token
    /// even if it was sent before (the server may have dropped it since, after a push
    /// service called it gone).
    Start,
    /// The platform says the token may have changed: send it only if it did.
    TokenChanged,
}

/// A SHA-256 fingerprint of a registration as sent (kind, token, environment): enough to
/// tell a changed token from the same one, without keeping the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// The fingerprint of `registration`.
    pub fn of(registration: &PushRegistration) -> Self {
        // The wire form names the kind and, for APNs, the environment: a token moved to the
        // other environment is a change.
        let wire = serde_json::to_vec(registration).unwrap_or_default();
        Self(URL_SAFE_NO_PAD.encode(Sha256::digest(&wire)))
    }
}

/// One step towards the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushStep {
    /// `PUT /api/v1/push` with this registration.
    Send(PushRegistration),
    /// `DELETE /api/v1/push`: the server holds a registration it should no longer use.
    Clear,
    /// Nothing to tell the server.
    Nothing,
}

/// The rule. `enabled` is the person's setting; `answer` is the platform's answer (`None`
/// when it was not asked: push is off); `sent` is what the server last accepted from here.
///
/// - Push off, or notifications refused: clear what the server has, if anything.
/// - A token: send it at a [`Trigger::Start`], else only when it differs from `sent`.
/// - No push here, or the platform failed: nothing (what was sent may still be good; the
///   next start asks again).
pub fn next_step(
    trigger: Trigger,
    enabled: bool,
    answer: Option<TokenAnswer>,
    sent: Option<&Fingerprint>,
) -> PushStep {
    let clear = || {
        if sent.is_some() {
            PushStep::Clear
        } else {
            PushStep::Nothing
        }
    };
    if !enabled {
        return clear();
    }
    match answer {
        Some(TokenAnswer::Token(registration)) => {
            let unchanged = sent == Some(&Fingerprint::of(&registration));
            if trigger == Trigger::TokenChanged && unchanged {
                PushStep::Nothing
            } else {
                PushStep::Send(registration)
            }
        }
        Some(TokenAnswer::Refused) => clear(),
        Some(TokenAnswer::Unsupported | TokenAnswer::Failed(_)) | None => PushStep::Nothing,
    }
}

/// Where pushes stand, as the Settings screen says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PushState {
    /// The server wakes this phone when a login waits.
    On,
    /// The person turned pushes off in Nøkkel.
    Off,
    /// The person refused notifications (in the system's prompt or settings).
    Refused,
    /// This build or phone cannot receive pushes now (desktop; no push service).
    Unavailable,
    /// Not asked yet in this session.
    Unknown,
}

/// The setting and where pushes stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PushStatus {
    /// The person's setting (on by default).
    pub enabled: bool,
    /// Where pushes stand.
    pub state: PushState,
}

/// What `push.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PushRecord {
    #[serde(default = "on")]
    enabled: bool,
    #[serde(default)]
    sent: Option<Fingerprint>,
}

fn on() -> bool {
    true
}

impl Default for PushRecord {
    fn default() -> Self {
        Self {
            enabled: true,
            sent: None,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs [`next_step`] for this phone; managed as Tauri state.
pub struct PushRegistrar {
    file: Option<PathBuf>,
    tokens: Arc<dyn PushTokens>,
    record: Mutex<PushRecord>,
    state: Mutex<PushState>,
    /// One registration at a time: a start and a token change must not race.
    running: tokio::sync::Mutex<()>,
}

impl PushRegistrar {
    /// A registrar keeping its record in `file` (`None`: in memory only, for the scripted
    /// authenticator) and asking `tokens` for the token.
    pub fn new(file: Option<PathBuf>, tokens: Arc<dyn PushTokens>) -> Self {
        let record = file
            .as_ref()
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Self {
            file,
            tokens,
            record: Mutex::new(record),
            state: Mutex::new(PushState::Unknown),
            running: tokio::sync::Mutex::new(()),
        }
    }

    /// The setting and where pushes stand (as of the last registration in this session).
    pub fn status(&self) -> PushStatus {
        let enabled = lock(&self.record).enabled;
        PushStatus {
            enabled,
            state: if enabled {
                *lock(&self.state)
            } else {
                PushState::Off
            },
        }
    }

    /// Registers (or clears) as the rule says. Needs the device opened (the calls carry a
    /// request proof). A refused permission is a state, not an error; a failed server call
    /// is an error and changes nothing recorded, so the next start tries again.
    pub async fn sync(
        &self,
        device: &dyn Authenticator,
        trigger: Trigger,
    ) -> Result<PushStatus, AppError> {
        let _running = self.running.lock().await;
        let PushRecord { enabled, sent } = lock(&self.record).clone();
        let answer = if enabled {
            Some(
                tokio::time::timeout(TOKEN_TIMEOUT, self.tokens.token())
                    .await
                    .unwrap_or_else(|_| TokenAnswer::Failed("no token in time".into())),
            )
        } else {
            None
        };
        let state = match &answer {
            None => PushState::Off,
            Some(TokenAnswer::Token(_)) => PushState::On,
            Some(TokenAnswer::Refused) => PushState::Refused,
            Some(TokenAnswer::Unsupported | TokenAnswer::Failed(_)) => PushState::Unavailable,
        };
        match next_step(trigger, enabled, answer, sent.as_ref()) {
            PushStep::Send(registration) => {
                let fingerprint = Fingerprint::of(&registration);
                device.set_push(registration).await?;
                self.save(|r| r.sent = Some(fingerprint))?;
            }
            PushStep::Clear => {
                device.clear_push().await?;
                self.save(|r| r.sent = None)?;
            }
            PushStep::Nothing => {}
        }
        *lock(&self.state) = state;
        Ok(self.status())
    }

    /// Turns pushes on or off, then registers or clears at once. The setting is kept even
    /// when the server cannot be reached (the next start tries again).
    pub async fn set_enabled(
        &self,
        device: &dyn Authenticator,
        enabled: bool,
    ) -> Result<PushStatus, AppError> {
        self.save(|r| r.enabled = enabled)?;
        self.sync(device, Trigger::Start).await
    }

    /// The device was removed (deactivated, retired by a move, or started over here): the
    /// server has dropped its registration with it. The setting stays.
    pub fn forget(&self) {
        let _ = self.save(|r| r.sent = None);
        *lock(&self.state) = PushState::Unknown;
    }

    fn save(&self, change: impl FnOnce(&mut PushRecord)) -> Result<(), AppError> {
        let mut record = lock(&self.record);
        change(&mut record);
        let Some(file) = &self.file else {
            return Ok(());
        };
        let bytes = serde_json::to_vec(&*record)
            .map_err(|e| AppError::new("state", format!("push record: {e}")))?;
        // Atomic: a crash mid-write must not turn a person's "off" back on.
        nokkel_client::write_atomically(file, &bytes)
            .map_err(|e| AppError::new("state", format!("push record: {e}")))
    }
}

/// What `build.rs` writes into the phone projects (tested here; build scripts have no tests).
#[cfg(test)]
#[path = "../build/push_alert.rs"]
mod push_alert;

#[cfg(test)]
mod tests {
    use nokkel_core::push::ApnsEnvironment;

    use super::*;

    fn fcm(token: &str) -> PushRegistration {
        PushRegistration::fcm(token).unwrap()
    }

    fn apns(environment: ApnsEnvironment) -> PushRegistration {
        PushRegistration::apns(&"ab".repeat(32), environment).unwrap()
    }

    #[test]
    fn a_start_always_sends_the_token_so_a_dropped_registration_comes_back() {
        let token = fcm("token-1");
        let sent = Fingerprint::of(&token);
        for sent in [None, Some(&sent)] {
            assert_eq!(
                next_step(
                    Trigger::Start,
                    true,
                    Some(TokenAnswer::Token(token.clone())),
                    sent
                ),
                PushStep::Send(token.clone())
            );
        }
    }

    #[test]
    fn a_token_event_sends_only_a_changed_token() {
        let old = Fingerprint::of(&fcm("token-1"));
        let same = Some(TokenAnswer::Token(fcm("token-1")));
        assert_eq!(
            next_step(Trigger::TokenChanged, true, same, Some(&old)),
            PushStep::Nothing
        );
        let new = fcm("token-2");
        assert_eq!(
            next_step(
                Trigger::TokenChanged,
                true,
                Some(TokenAnswer::Token(new.clone())),
                Some(&old)
            ),
            PushStep::Send(new)
        );
    }

    #[test]
    fn the_same_apns_token_in_the_other_environment_is_a_change() {
        let sandbox = Fingerprint::of(&apns(ApnsEnvironment::Sandbox));
        let production = apns(ApnsEnvironment::Production);
        assert_eq!(
            next_step(
                Trigger::TokenChanged,
                true,
                Some(TokenAnswer::Token(production.clone())),
                Some(&sandbox)
            ),
            PushStep::Send(production)
        );
    }

    #[test]
    fn off_or_refused_clears_only_what_the_server_has() {
        let sent = Fingerprint::of(&fcm("token-1"));
        for trigger in [Trigger::Start, Trigger::TokenChanged] {
            assert_eq!(
                next_step(trigger, false, None, Some(&sent)),
                PushStep::Clear
            );
            assert_eq!(next_step(trigger, false, None, None), PushStep::Nothing);
            assert_eq!(
                next_step(trigger, true, Some(TokenAnswer::Refused), Some(&sent)),
                PushStep::Clear
            );
            assert_eq!(
                next_step(trigger, true, Some(TokenAnswer::Refused), None),
                PushStep::Nothing
            );
        }
        // Turned off: a token the platform still offers is not sent.
        assert_eq!(
            next_step(
                Trigger::Start,
                false,
                Some(TokenAnswer::Token(fcm("token-1"))),
                None
            ),
            PushStep::Nothing
        );
    }

    #[test]
    fn no_push_service_or_a_platform_failure_leaves_the_server_alone() {
        let sent = Fingerprint::of(&fcm("token-1"));
        for answer in [
            TokenAnswer::Unsupported,
            TokenAnswer::Failed("no Google Play services".into()),
        ] {
            for sent in [None, Some(&sent)] {
                assert_eq!(
                    next_step(Trigger::Start, true, Some(answer.clone()), sent),
                    PushStep::Nothing
                );
            }
        }
    }

    #[test]
    fn the_fingerprint_does_not_show_the_token() {
        let token = "bk3RNwTe3H0:CI2k_HHwgIpoDKCIZvvDMExUdFQ3P1";
        let fingerprint = serde_json::to_string(&Fingerprint::of(&fcm(token))).unwrap();
        assert!(!fingerprint.contains("bk3RNwTe3H0"), "{fingerprint}");
        assert_ne!(Fingerprint::of(&fcm(token)), Fingerprint::of(&fcm("other")));
    }

    #[test]
    fn the_record_keeps_the_setting_and_defaults_to_on() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("push.json");
        let registrar = PushRegistrar::new(Some(file.clone()), Arc::new(NoPushTokens));
        assert!(registrar.status().enabled);
        registrar.save(|r| r.enabled = false).unwrap();
        let again = PushRegistrar::new(Some(file.clone()), Arc::new(NoPushTokens));
        assert_eq!(
            again.status(),
            PushStatus {
                enabled: false,
                state: PushState::Off
            }
        );
        // A damaged file is read as the default, not an error.
        std::fs::write(&file, b"{not json").unwrap();
        assert!(
            PushRegistrar::new(Some(file), Arc::new(NoPushTokens))
                .status()
                .enabled
        );
    }

    mod phone_texts {
        use super::super::push_alert::*;

        #[test]
        fn the_keys_are_the_ones_the_server_names() {
            assert_eq!(APNS_LOC_KEY, nokkel_core::push::APNS_ALERT_LOC_KEY);
            assert_eq!(ANDROID_TITLE, nokkel_core::push::ANDROID_TITLE_KEY);
            assert_eq!(ANDROID_BODY, nokkel_core::push::ANDROID_BODY_KEY);
        }

        fn texts() -> Vec<AlertText> {
            [
                ("en", include_str!("../../assets/i18n/en/main.ftl")),
                ("nb", include_str!("../../assets/i18n/nb/main.ftl")),
                ("nn", include_str!("../../assets/i18n/nn/main.ftl")),
            ]
            .into_iter()
            .map(|(lang, ftl)| from_ftl(lang, ftl).unwrap())
            .collect()
        }

        #[test]
        fn every_language_has_the_alert_text_and_it_names_no_login() {
            let texts = texts();
            assert_eq!(texts[1].title, "Nøkkel: en innlogging venter");
            for text in &texts {
                for s in [&text.title, &text.body] {
                    assert!(!s.is_empty() && !s.contains('{'), "{s}");
                    assert!(!s.chars().any(|c| c.is_ascii_digit()), "{s}");
                }
            }
        }

        #[test]
        fn ios_looks_up_the_servers_loc_key_in_each_language() {
            for text in texts() {
                let strings = localizable_strings(&text);
                let line = format!("\"LOGIN_WAITING\" = \"{}. {}\";", text.title, text.body);
                assert!(strings.contains(&line), "{strings}");
            }
            assert_eq!(lproj("nb"), "nb.lproj");
            let quoted = AlertText {
                lang: "en",
                title: r#"Say "hi""#.into(),
                body: r"back\slash".into(),
            };
            assert!(localizable_strings(&quoted).contains(r#""Say \"hi\". back\\slash";"#));
        }

        #[test]
        fn android_gets_escaped_string_resources_with_english_as_the_default() {
            let en = &texts()[0];
            let xml = android_strings(en);
            assert!(xml.contains(&format!(
                "<string name=\"nokkel_login_waiting_title\">{}</string>",
                en.title
            )));
            assert_eq!(android_values("en"), "values");
            assert_eq!(android_values("nn"), "values-nn");
            let tricky = AlertText {
                lang: "en",
                title: "Kari's <b> & co".into(),
                body: "x".into(),
            };
            assert!(android_strings(&tricky).contains(r"Kari\'s &lt;b&gt; &amp; co"));
        }

        #[test]
        fn the_entitlement_is_added_once() {
            let generated = "<?xml version=\"1.0\"?>\n<plist version=\"1.0\">\n<dict/>\n</plist>\n";
            let patched = with_aps_environment(generated).unwrap();
            assert!(patched.contains(
                "<dict>\n\t<key>aps-environment</key>\n\t<string>development</string>\n</dict>"
            ));
            assert_eq!(with_aps_environment(&patched), None);
            let full = "<plist>\n<dict>\n\t<key>a</key>\n\t<true/>\n</dict>\n</plist>\n";
            let patched = with_aps_environment(full).unwrap();
            assert!(patched.contains("<true/>\n\t<key>aps-environment</key>"));
            assert!(patched.ends_with("</dict>\n</plist>\n"));
            assert_eq!(with_aps_environment("<plist></plist>"), None);
        }
    }
}
