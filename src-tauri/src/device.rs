//! The real device side: `nokkel-client`'s enrol/approve flows with this platform's key
//! vault and user verifiers.
//!
//! | platform | vault | verifier |
//! |---|---|---|
//! | Linux | Secret Service (`NOKKEL_TEST_FILE_VAULT=1`: a file in the app's data folder) | app passcode (Argon2id wraps the key) |
//! | macOS, Windows | a file in the app's data folder | app passcode |
//! | Android | keyring-core's Android store | biometric cipher (`mobile::biometric_cipher`), or app passcode |
//! | iOS | this-device-only keychain item | the item's Face ID / Touch ID prompt, current biometry set only (`mobile::protected_keychain`), or app passcode |

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use nokkel_client::mobile::biometric::PromptText;
use nokkel_client::{
    ClientError, Device, EnrolmentForm, KeyVault, PendingRequest, Platform, TransferOutcome,
    TransferRequest, TransferStarted, UserVerification, UserVerifier,
};
use nokkel_core::push::PushRegistration;
use serde::{Deserialize, Serialize};

use crate::authenticator::{
    AccountStatus, Activation, Authenticator, ContactDetails, DeviceStatus, HistoryItem,
    LoginRequest, Outcome, Passcode, TransferApproved, TransferOffer, TransferProgress,
    TransferShown, UserProof, Verification,
};
use crate::error::AppError;
use crate::prompts::{self, Lang, Purpose};

impl From<ClientError> for AppError {
    fn from(error: ClientError) -> Self {
        // The client's codes are stable (server ApiError codes pass through); its messages
        // never carry secrets.
        AppError::new(error.code(), error.to_string())
    }
}

/// Makes the verifiers this platform offers.
pub trait Verifiers: Send + Sync {
    /// The app-passcode verifier for a passcode just typed.
    fn passcode(&self, passcode: &Passcode) -> Box<dyn UserVerifier>;
    /// The platform's face/finger verifier, if it has one, showing `prompt`.
    fn biometric(&self, prompt: PromptText) -> Result<Box<dyn UserVerifier>, AppError>;
}

/// Desktop: the passcode only, with wrong attempts counted in the data folder.
pub struct DesktopVerifiers {
    attempts_file: PathBuf,
}

impl DesktopVerifiers {
    /// Counts passcode attempts in `attempts_file`.
    pub fn new(attempts_file: PathBuf) -> Self {
        Self { attempts_file }
    }

    /// Counts passcode attempts in the app's data folder (phones).
    pub fn in_data_dir<R: tauri::Runtime>(app: &tauri::AppHandle<R>) -> Self {
        use tauri::Manager;
        let dir = app.path().app_data_dir().unwrap_or_default();
        Self::new(dir.join("passcode-attempts.json"))
    }
}

impl Verifiers for DesktopVerifiers {
    fn passcode(&self, passcode: &Passcode) -> Box<dyn UserVerifier> {
        let attempts = nokkel_client::PasscodeAttempts::in_file(
            self.attempts_file.clone(),
            nokkel_client::verify::system_clock(),
        );
        Box::new(nokkel_client::PasscodeVerifier::new(
            passcode.expose_secret(),
            attempts,
        ))
    }

    fn biometric(&self, _prompt: PromptText) -> Result<Box<dyn UserVerifier>, AppError> {
        Err(AppError::new(
            "verification_unavailable",
            "this device has no face or fingerprint verification",
        ))
    }
}

/// Flags the app keeps next to the client's device state.
#[derive(Debug, Default, Serialize, Deserialize)]
struct AppFlags {
    contact_done: bool,
}

/// The device side over `nokkel-client`.
pub struct ClientAuthenticator {
    home: nokkel_client::Authenticator,
    platform: Platform,
    /// The page's language, for the platform prompt's texts.
    lang: Mutex<Lang>,
    verifiers: Arc<dyn Verifiers>,
    flags_file: PathBuf,
    device: Mutex<Option<Arc<Device>>>,
    /// Verified requests by challenge id, from the last poll: approving needs the verified
    /// challenge itself, never an id from the page.
    pending: Mutex<HashMap<String, PendingRequest>>,
    /// New phone: the transfer it started and waits on (shared with a running wait).
    transfer: Mutex<Option<Arc<TransferStarted>>>,
    /// Old phone: transfers looked up by id; approving signs over the offer the server
    /// gave, never over anything from the page.
    offers: Mutex<HashMap<String, TransferRequest>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Poisoning only follows a panic elsewhere; the data (a handle or a map) stays valid.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The platform this build runs on, as the enrolment statement names it.
pub fn this_platform() -> Platform {
    if cfg!(target_os = "android") {
        Platform::Android
    } else if cfg!(target_os = "ios") {
        Platform::Ios
    } else if cfg!(target_os = "macos") {
        Platform::Macos
    } else if cfg!(target_os = "windows") {
        Platform::Windows
    } else {
        Platform::Linux
    }
}

impl ClientAuthenticator {
    /// A device home in `state_dir` with `vault` and the platform's `verifiers`.
    pub fn new(
        state_dir: PathBuf,
        vault: Arc<dyn KeyVault>,
        verifiers: Arc<dyn Verifiers>,
    ) -> Self {
        Self {
            flags_file: state_dir.join("app-flags.json"),
            home: nokkel_client::Authenticator::new(state_dir, vault),
            platform: this_platform(),
            lang: Mutex::new(Lang::default()),
            verifiers,
            device: Mutex::new(None),
            pending: Mutex::new(HashMap::new()),
            transfer: Mutex::new(None),
            offers: Mutex::new(HashMap::new()),
        }
    }

    fn verifier(
        &self,
        proof: &UserProof,
        purpose: Purpose<'_>,
    ) -> Result<Box<dyn UserVerifier>, AppError> {
        match proof {
            UserProof::Passcode(code) => Ok(self.verifiers.passcode(code)),
            UserProof::Biometric => {
                let lang = *lock(&self.lang);
                self.verifiers.biometric(prompts::prompt(lang, purpose))
            }
        }
    }

    fn device(&self) -> Result<Arc<Device>, AppError> {
        lock(&self.device)
            .clone()
            .ok_or_else(|| AppError::new("locked", "open the app with your passcode first"))
    }

    fn flags(&self) -> AppFlags {
        std::fs::read(&self.flags_file)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    fn save_flags(&self, flags: &AppFlags) -> Result<(), AppError> {
        let bytes = serde_json::to_vec(flags)
            .map_err(|e| AppError::new("state", format!("app flags: {e}")))?;
        std::fs::write(&self.flags_file, bytes)
            .map_err(|e| AppError::new("state", format!("app flags: {e}")))
    }

    /// Unlocks on a blocking thread: the verifier derives a key (Argon2id) or shows a
    /// platform prompt.
    async fn open(&self, verifier: Box<dyn UserVerifier>) -> Result<(), AppError> {
        let home = self.home.clone();
        let device = tauri::async_runtime::spawn_blocking(move || home.unlock(verifier.as_ref()))
            .await
            .map_err(|e| AppError::new("internal", e.to_string()))??;
        *lock(&self.device) = Some(Arc::new(device));
        Ok(())
    }

    fn forget_request(&self, challenge_id: &str) {
        lock(&self.pending).remove(challenge_id);
    }

    /// Drops everything held for this session after the device was removed here.
    fn forget_session(&self) {
        *lock(&self.device) = None;
        lock(&self.pending).clear();
        lock(&self.offers).clear();
        *lock(&self.transfer) = None;
        let _ = std::fs::remove_file(&self.flags_file);
    }

    /// The looked-up transfer `transfer_id`, or `unknown_transfer` as the server says it.
    fn offer(&self, transfer_id: &str) -> Result<TransferRequest, AppError> {
        lock(&self.offers)
            .get(transfer_id)
            .cloned()
            .ok_or_else(|| AppError::new("unknown_transfer", "no such transfer was looked up"))
    }

    /// Ends the wait for `started` unless a newer transfer replaced it meanwhile.
    fn end_transfer(&self, started: &Arc<TransferStarted>) {
        let mut current = lock(&self.transfer);
        if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, started)) {
            *current = None;
        }
    }
}

/// Errors after which a looked-up transfer cannot be answered again.
fn transfer_is_over(code: &str) -> bool {
    matches!(code, "unknown_transfer" | "expired" | "device_exists")
}

/// Errors after which the login request cannot be answered again.
fn request_is_over(code: &str) -> bool {
    matches!(
        code,
        "wrong_number" | "expired" | "challenge_taken" | "no_pending_challenge"
    )
}

#[async_trait]
impl Authenticator for ClientAuthenticator {
    async fn status(&self) -> Result<DeviceStatus, AppError> {
        let local = self.home.status()?;
        Ok(match local {
            None => DeviceStatus {
                enrolled: false,
                device_name: None,
                verification: None,
                contact_done: false,
                unlocked: false,
            },
            Some(s) => DeviceStatus {
                enrolled: true,
                device_name: Some(s.name),
                verification: Some(if s.uv_methods.contains(&UserVerification::Passcode) {
                    Verification::Passcode
                } else {
                    Verification::Biometric
                }),
                contact_done: self.flags().contact_done,
                unlocked: lock(&self.device).is_some(),
            },
        })
    }

    async fn enrol(
        &self,
        activation: Activation,
        proof: UserProof,
        server: &str,
    ) -> Result<DeviceStatus, AppError> {
        let verifier = self.verifier(&proof, Purpose::Enrol)?;
        let form = EnrolmentForm {
            server,
            pid: &activation.pid,
            activation_code: &activation.code,
            name: &activation.device_name,
            platform: self.platform,
        };
        self.home.enrol(&form, verifier.as_ref()).await?;
        self.save_flags(&AppFlags::default())?;
        // Opening right after enrolment shows the prompt again (the key must be unwrapped).
        let verifier = self.verifier(&proof, Purpose::Unlock)?;
        self.open(verifier).await?;
        self.status().await
    }

    async fn unlock(&self, proof: UserProof) -> Result<DeviceStatus, AppError> {
        let verifier = self.verifier(&proof, Purpose::Unlock)?;
        self.open(verifier).await?;
        self.status().await
    }

    async fn save_contact(
        &self,
        contact: ContactDetails,
        proof: UserProof,
    ) -> Result<DeviceStatus, AppError> {
        let mobile = contact
            .mobile
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty());
        let email = contact
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty());
        if mobile.is_some() || email.is_some() {
            // Saving replaces the contact register entry and confirms it as current.
            let verifier = self.verifier(&proof, Purpose::Contact)?;
            self.device()?
                .update_contact(mobile, email, verifier.as_ref())
                .await?;
        }
        self.save_flags(&AppFlags { contact_done: true })?;
        self.status().await
    }

    async fn pending_request(&self, wait_secs: u32) -> Result<Option<LoginRequest>, AppError> {
        let device = self.device()?;
        let found = device
            .pending(Duration::from_secs(u64::from(wait_secs)))
            .await?;
        Ok(found.map(|request| {
            let d = request.details();
            lock(&self.pending).insert(d.challenge_id.clone(), request);
            LoginRequest {
                challenge_id: d.challenge_id,
                service: d.service,
                started_at: d.requested_at,
                expires_at: d.expires_at,
                browser: d.browser,
                os: d.os,
                place: d.place,
                choices: d.choices,
            }
        }))
    }

    async fn approve(
        &self,
        challenge_id: &str,
        number: u8,
        proof: UserProof,
    ) -> Result<Outcome, AppError> {
        let device = self.device()?;
        let request = lock(&self.pending)
            .get(challenge_id)
            .cloned()
            .ok_or_else(|| AppError::new("no_pending_challenge", "no such pending login"))?;
        let service = request.details().service;
        let verifier = self.verifier(&proof, Purpose::Approve { service: &service })?;
        match device.approve(request, number, verifier.as_ref()).await {
            Ok(_) => {
                self.forget_request(challenge_id);
                Ok(Outcome::Approved)
            }
            Err(error) => {
                let error = AppError::from(error);
                if request_is_over(&error.code) {
                    self.forget_request(challenge_id);
                }
                Err(error)
            }
        }
    }

    async fn deny(&self, challenge_id: &str, report: bool) -> Result<Outcome, AppError> {
        let device = self.device()?;
        let request = lock(&self.pending)
            .get(challenge_id)
            .cloned()
            .ok_or_else(|| AppError::new("no_pending_challenge", "no such pending login"))?;
        let answer = device.deny(request, report).await;
        if answer.is_ok() {
            self.forget_request(challenge_id);
        }
        answer?;
        Ok(if report {
            Outcome::Reported
        } else {
            Outcome::Denied
        })
    }

    async fn history(&self) -> Result<Vec<HistoryItem>, AppError> {
        let device = self.device()?;
        let entries = device.history(50).await?;
        Ok(entries
            .into_iter()
            .map(|e| HistoryItem {
                at: e.at,
                service: e.service,
                browser: e.browser,
                os: e.os,
                place: e.place,
                outcome: serde_json::to_value(e.outcome)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "unknown".into()),
            })
            .collect())
    }

    async fn deactivate(&self, proof: UserProof) -> Result<DeviceStatus, AppError> {
        let device = self.device()?;
        let verifier = self.verifier(&proof, Purpose::Deactivate)?;
        match device.revoke(device.device_id(), verifier.as_ref()).await {
            // Already revoked elsewhere (or just now, as a suspected copy): delete it here
            // all the same.
            Ok(()) => {}
            Err(e) if matches!(e.code(), "device_revoked" | "device_clone_suspected") => {}
            Err(e) => return Err(e.into()),
        }
        self.forget_session();
        self.home.forget()?;
        self.status().await
    }

    async fn account(&self) -> Result<AccountStatus, AppError> {
        let paused = self.device()?.app_logins_paused().await?;
        Ok(AccountStatus {
            app_logins_paused: paused,
        })
    }

    async fn resume_logins(&self, proof: UserProof) -> Result<AccountStatus, AppError> {
        let device = self.device()?;
        let verifier = self.verifier(&proof, Purpose::Resume)?;
        let paused = device.resume_app_logins(verifier.as_ref()).await?;
        Ok(AccountStatus {
            app_logins_paused: paused,
        })
    }

    async fn start_transfer(
        &self,
        device_name: String,
        proof: UserProof,
        server: &str,
    ) -> Result<TransferShown, AppError> {
        let verifier = self.verifier(&proof, Purpose::Enrol)?;
        let started = self
            .home
            .start_transfer(server, &device_name, self.platform, verifier.as_ref())
            .await?;
        let shown = TransferShown {
            code: started.code(),
            expires_at: started.expires_at(),
        };
        *lock(&self.transfer) = Some(Arc::new(started));
        Ok(shown)
    }

    async fn wait_transfer(&self, wait_secs: u32) -> Result<TransferProgress, AppError> {
        let started = lock(&self.transfer)
            .clone()
            .ok_or_else(|| AppError::new("no_transfer", "no move was started on this phone"))?;
        let outcome = self
            .home
            .wait_for_transfer(&started, Duration::from_secs(u64::from(wait_secs.min(30))))
            .await?;
        let progress = match outcome {
            TransferOutcome::Waiting => return Ok(TransferProgress::Waiting),
            TransferOutcome::Approved(_) => {
                // The person's contact register came along with the account.
                self.save_flags(&AppFlags { contact_done: true })?;
                TransferProgress::Enrolled {
                    device: self.status().await?,
                }
            }
            TransferOutcome::Refused => TransferProgress::Refused,
            TransferOutcome::Expired => TransferProgress::Expired,
        };
        self.end_transfer(&started);
        Ok(progress)
    }

    async fn lookup_transfer(&self, code: &str) -> Result<TransferOffer, AppError> {
        let device = self.device()?;
        let request = device.lookup_transfer(code).await?;
        let offer = TransferOffer {
            transfer_id: request.transfer_id.clone(),
            device_name: request.device_name.clone(),
            platform: serde_json::to_value(request.platform)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "unknown".into()),
            started_at: request.started_at,
            expires_at: request.expires_at,
        };
        lock(&self.offers).insert(request.transfer_id.clone(), request);
        Ok(offer)
    }

    async fn approve_transfer(
        &self,
        transfer_id: &str,
        retire: bool,
        proof: UserProof,
    ) -> Result<TransferApproved, AppError> {
        let device = self.device()?;
        let request = self.offer(transfer_id)?;
        let verifier = self.verifier(
            &proof,
            Purpose::Transfer {
                device: &request.device_name,
            },
        )?;
        match device
            .approve_transfer(&request, retire, verifier.as_ref())
            .await
        {
            Ok(answer) => {
                lock(&self.offers).remove(transfer_id);
                if answer.old_device_retired {
                    // The client has deleted this phone's key and state; drop the rest.
                    self.forget_session();
                }
                Ok(TransferApproved {
                    retired: answer.old_device_retired,
                    device: self.status().await?,
                })
            }
            Err(error) => {
                let error = AppError::from(error);
                if transfer_is_over(&error.code) {
                    lock(&self.offers).remove(transfer_id);
                }
                Err(error)
            }
        }
    }

    async fn refuse_transfer(&self, transfer_id: &str) -> Result<(), AppError> {
        let device = self.device()?;
        let request = self.offer(transfer_id)?;
        let answer = device.refuse_transfer(&request).await;
        if answer.is_ok() || answer.as_ref().is_err_and(|e| transfer_is_over(e.code())) {
            lock(&self.offers).remove(transfer_id);
        }
        answer?;
        Ok(())
    }

    async fn set_push(&self, registration: PushRegistration) -> Result<(), AppError> {
        self.device()?.set_push(registration).await?;
        Ok(())
    }

    async fn clear_push(&self) -> Result<(), AppError> {
        Ok(self.device()?.clear_push().await?)
    }

    fn set_language(&self, lang: Lang) {
        *lock(&self.lang) = lang;
    }

    async fn reset_here(&self) -> Result<DeviceStatus, AppError> {
        self.forget_session();
        self.home.reset_here()?;
        self.status().await
    }
}

#[cfg(test)]
mod tests {
    use nokkel_client::mobile::biometric::{
        AndroidBiometricVerifier, BiometricCipher, PluginRejection,
    };
    use nokkel_client::{FileVault, ProtectedKey, VaultError};
    use nokkel_core::keys::DeviceKey;
    use rand::{rngs::StdRng, SeedableRng};
    use zeroize::Zeroizing;

    use super::*;

    /// Answers like tauri-plugin-biometric: "encrypts" by reversing, or rejects with `code`.
    struct Plugin(Option<&'static str>);

    impl BiometricCipher for Plugin {
        fn encrypt(&self, _: &PromptText, text: &str) -> Result<String, PluginRejection> {
            match self.0 {
                Some(code) => Err(PluginRejection::with_code(code)),
                None => Ok(text.chars().rev().collect()),
            }
        }
        fn decrypt(
            &self,
            prompt: &PromptText,
            text: &str,
        ) -> Result<Zeroizing<String>, PluginRejection> {
            self.encrypt(prompt, text).map(Zeroizing::new)
        }
    }

    fn message_ids(ftl: &str) -> Vec<&str> {
        ftl.lines()
            .filter_map(|l| l.split_once(" = ").map(|(id, _)| id))
            .collect()
    }

    #[test]
    fn each_plugin_rejection_reaches_the_page_as_its_own_code_with_its_own_message() {
        let dir = tempfile::tempdir().unwrap();
        let vault = FileVault::new(dir.path().join("device-key"));
        let key = DeviceKey::generate(&mut StdRng::seed_from_u64(13));
        vault
            .store(
                &AndroidBiometricVerifier::new(Plugin(None))
                    .protect(&key)
                    .unwrap(),
            )
            .unwrap();
        let messages = [
            include_str!("../../assets/i18n/nb/main.ftl"),
            include_str!("../../assets/i18n/nn/main.ftl"),
            include_str!("../../assets/i18n/en/main.ftl"),
        ]
        .map(message_ids);
        let cases = [
            ("userCancel", "verification_cancelled"),
            ("authenticationFailed", "biometry_not_recognised"),
            ("biometryLockout", "biometry_lockout"),
            ("biometryNotEnrolled", "biometry_not_enrolled"),
            ("", "key_invalidated"),
            ("biometryNotAvailable", "verification_unavailable"),
        ];
        for (plugin_code, app_code) in cases {
            let verifier = AndroidBiometricVerifier::new(Plugin(Some(plugin_code)));
            let error = verifier.unlock(&vault, "Open Nøkkel").unwrap_err();
            let shown = AppError::from(ClientError::from(error));
            assert_eq!(shown.code, app_code, "plugin code {plugin_code:?}");
            // The page has a message (and, for key_invalidated, a screen) per code.
            for ids in &messages {
                assert!(ids.contains(&format!("app-error-{app_code}").as_str()));
            }
        }
    }

    /// A vault whose store cannot even delete (e.g. a restored, undecryptable one).
    struct BrokenVault;

    impl KeyVault for BrokenVault {
        fn store(&self, _: &ProtectedKey) -> Result<(), VaultError> {
            Err(VaultError::Unavailable("broken".into()))
        }
        fn load(&self) -> Result<Option<ProtectedKey>, VaultError> {
            Err(VaultError::Unavailable("broken".into()))
        }
        fn delete(&self) -> Result<(), VaultError> {
            Err(VaultError::Unavailable("broken".into()))
        }
    }

    #[tokio::test]
    async fn starting_over_always_ends_at_a_fresh_activation_even_when_the_key_store_fails() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("app-flags.json"),
            br#"{"contact_done":true}"#,
        )
        .unwrap();
        let authenticator = ClientAuthenticator::new(
            dir.path().to_path_buf(),
            Arc::new(BrokenVault),
            Arc::new(DesktopVerifiers::new(dir.path().join("attempts.json"))),
        );
        let status = authenticator.reset_here().await.unwrap();
        assert!(!status.enrolled);
        assert!(!status.contact_done);
        assert!(!dir.path().join("app-flags.json").exists());
    }

    #[test]
    fn the_prompt_follows_the_page_language() {
        struct Spy(Mutex<Vec<PromptText>>);
        impl Verifiers for Spy {
            fn passcode(&self, passcode: &Passcode) -> Box<dyn UserVerifier> {
                DesktopVerifiers::new("unused".into()).passcode(passcode)
            }
            fn biometric(&self, prompt: PromptText) -> Result<Box<dyn UserVerifier>, AppError> {
                lock(&self.0).push(prompt);
                Err(AppError::new("verification_unavailable", "spy"))
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let spy = Arc::new(Spy(Mutex::default()));
        let authenticator = ClientAuthenticator::new(
            dir.path().to_path_buf(),
            Arc::new(FileVault::new(dir.path().join("k"))),
            spy.clone(),
        );
        authenticator.set_language(Lang::Nn);
        let _ = authenticator.verifier(&UserProof::Biometric, Purpose::Approve { service: "NAV" });
        let prompts = lock(&spy.0);
        assert_eq!(prompts[0].reason, "Stadfest innlogginga til NAV");
        assert_eq!(prompts[0].cancel, "Avbryt");
    }
}
