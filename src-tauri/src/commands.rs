//! The commands the UI invokes. Each is one call into core rules, the platform's user
//! verification, or the [`Authenticator`]; errors reach the UI as `{ code, message }`.

use std::sync::{Arc, Mutex};

use nokkel_core::activation_code::{format_partial, ActivationCode};
use nokkel_core::id_number::{IdNumber, SyntheticPolicy};
use nokkel_core::transfer_code::{self, TransferCode};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use serde::Serialize;
use tauri::{AppHandle, Runtime, State, WebviewWindow};

use crate::authenticator::{
    AccountStatus, Activation, Authenticator, ContactDetails, DeviceStatus, HistoryItem,
    LoginRequest, Outcome, Passcode, TransferApproved, TransferOffer, TransferProgress, UserProof,
    Verification,
};
use crate::error::AppError;
use crate::notify::{self, LoginNotifier};
use crate::prompts::Lang;
use crate::push::{PushRegistrar, PushStatus, Trigger};
use crate::{passcode, verification};

/// What the commands share: the device side and the build's settings.
pub struct AppState {
    /// The device side (real or scripted).
    pub authenticator: Arc<dyn Authenticator>,
    /// A developer build: synthetic identity numbers and the server address setting.
    pub developer: bool,
    /// The scripted authenticator is in use (shown as a banner).
    pub mock: bool,
    /// The server's address; changeable in developer builds only.
    pub server_url: Mutex<String>,
}

/// Facts about this build, for the about screen and developer settings.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    version: &'static str,
    developer: bool,
    mock: bool,
    platform: &'static str,
    /// Only in developer builds.
    server_url: Option<String>,
}

/// The result of checking a complete activation code.
#[derive(Debug, Serialize)]
pub struct CodeCheck {
    /// The code in groups of five (it is the person's own input, shown back to them).
    grouped: String,
}

/// What the platform offers for user verification.
#[derive(Debug, Serialize)]
pub struct BiometricStatus {
    /// Face/finger verification can be used now.
    available: bool,
    /// `face`, `fingerprint` or `none`.
    kind: &'static str,
}

/// New phone: the transfer code to show, as text and as a QR code the old phone can scan.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferCodeView {
    /// Three groups of three (`7KQ-M3X-A9D`).
    code: String,
    /// Until when the old phone can approve (Unix seconds).
    expires_at: i64,
    /// An SVG image of a QR code holding `code`; empty if it could not be made.
    qr_svg: String,
}

impl std::fmt::Debug for TransferCodeView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransferCodeView")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

fn lock_url(state: &AppState) -> String {
    state
        .server_url
        .lock()
        .map(|url| url.clone())
        .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
}

/// Facts about this build.
#[tauri::command]
pub fn app_info(state: State<'_, AppState>) -> AppInfo {
    AppInfo {
        version: env!("CARGO_PKG_VERSION"),
        developer: state.developer,
        mock: state.mock,
        platform: std::env::consts::OS,
        server_url: state.developer.then(|| lock_url(&state)),
    }
}

/// Changes the server address (developer builds only).
#[tauri::command]
pub fn set_server_url(state: State<'_, AppState>, url: String) -> Result<String, AppError> {
    if !state.developer {
        return Err(AppError::new(
            "not_allowed",
            "the server address is fixed in release builds",
        ));
    }
    let url = url.trim().trim_end_matches('/').to_owned();
    if !(url.starts_with("https://") || url.starts_with("http://"))
        || url.contains(char::is_whitespace)
    {
        return Err(AppError::new(
            "invalid_url",
            "the address must start with https:// or http://",
        ));
    }
    match state.server_url.lock() {
        Ok(mut current) => *current = url.clone(),
        Err(poisoned) => *poisoned.into_inner() = url.clone(),
    }
    Ok(url)
}

/// Groups a partly typed activation code as the person types (`abcdef` → `ABCDE-F`).
#[tauri::command]
pub fn format_code(input: &str) -> String {
    format_partial(input)
}

/// Checks a complete activation code: `wrong_length`, `invalid_character`, or `typo` when
/// the check symbol does not match.
#[tauri::command]
pub fn check_code(input: &str) -> Result<CodeCheck, AppError> {
    ActivationCode::parse(input)
        .map(|code| CodeCheck {
            grouped: code.grouped(),
        })
        .map_err(|error| AppError::new(error.code(), error.to_string()))
}

/// Checks an identity number: `length`, `non_digit`, `impossible_date`, `check_digit`, or
/// `synthetic_not_allowed` (synthetic test numbers are accepted in developer builds only).
#[tauri::command]
pub fn check_pid(state: State<'_, AppState>, input: &str) -> Result<(), AppError> {
    pid_rule(input, state.developer)
}

fn pid_rule(input: &str, developer: bool) -> Result<(), AppError> {
    let policy = if developer {
        SyntheticPolicy::Accept
    } else {
        SyntheticPolicy::Reject
    };
    IdNumber::parse(input, policy)
        .map(|_| ())
        .map_err(|error| AppError::new(error.code(), error.to_string()))
}

/// Whether face/finger verification is available (desktop Linux: never).
#[tauri::command]
pub async fn biometric_status<R: Runtime>(app: AppHandle<R>) -> Result<BiometricStatus, AppError> {
    let status = verification::biometric_status(app).await;
    Ok(BiometricStatus {
        available: status.available,
        kind: status.kind,
    })
}

/// Whether the app is activated.
#[tauri::command]
pub async fn device_status(state: State<'_, AppState>) -> Result<DeviceStatus, AppError> {
    state.authenticator.status().await
}

/// The proof to hand the device side: the passcode if one was typed, else the platform's
/// face/finger verifier (which shows its own prompt; on desktop there is none).
fn proof(passcode: Option<Passcode>) -> UserProof {
    match passcode {
        Some(code) => UserProof::Passcode(code),
        None => UserProof::Biometric,
    }
}

/// The proof that protects a new device key: a new passcode (checked against the app's
/// rules), or the platform's face/finger verifier.
fn new_key_proof(method: Verification, passcode: Option<Passcode>) -> Result<UserProof, AppError> {
    match (method, passcode) {
        (Verification::Passcode, Some(code)) => {
            passcode::check_new(code.expose_secret())?;
            Ok(UserProof::Passcode(code))
        }
        (Verification::Passcode, None) => {
            Err(AppError::new("passcode_format", "a passcode is required"))
        }
        (Verification::Biometric, _) => Ok(UserProof::Biometric),
    }
}

/// Activates the app with the letter's code, protecting the new device key with the chosen
/// verification: `passcode` for the app passcode (checked against the app's rules), or
/// `biometric`.
#[tauri::command]
pub async fn enrol(
    state: State<'_, AppState>,
    activation: Activation,
    method: Verification,
    passcode: Option<Passcode>,
) -> Result<DeviceStatus, AppError> {
    pid_rule(&activation.pid, state.developer)?;
    check_code(&activation.code)?;
    let name = device_name_rule(&activation.device_name)?;
    let proof = new_key_proof(method, passcode)?;
    let server = lock_url(&state);
    state
        .authenticator
        .enrol(
            Activation {
                device_name: name,
                ..activation
            },
            proof,
            &server,
        )
        .await
}

/// Opens the activated app for this session (passcode, or the platform prompt).
#[tauri::command]
pub async fn unlock(
    state: State<'_, AppState>,
    passcode: Option<Passcode>,
) -> Result<DeviceStatus, AppError> {
    state.authenticator.unlock(proof(passcode)).await
}

/// Registers contact details. Never changes the contact register without user
/// verification: the verifier proves the person's presence for this change.
#[tauri::command]
pub async fn save_contact(
    state: State<'_, AppState>,
    contact: ContactDetails,
    passcode: Option<Passcode>,
) -> Result<DeviceStatus, AppError> {
    state
        .authenticator
        .save_contact(contact, proof(passcode))
        .await
}

/// The pending login, waiting up to `wait` seconds (at most 30) for one. A new one while
/// the window is out of sight also shows a system notification ([`notify`]), which is
/// withdrawn once a poll finds that login no longer waiting.
#[tauri::command]
pub async fn pending_request<R: Runtime>(
    window: WebviewWindow<R>,
    state: State<'_, AppState>,
    notifier: State<'_, LoginNotifier>,
    wait: Option<u32>,
) -> Result<Option<LoginRequest>, AppError> {
    let request = state
        .authenticator
        .pending_request(wait.unwrap_or(0).min(30))
        .await?;
    // Withdraws a notification for a login that no longer waits; a failure is no error.
    let _ = notifier
        .requests_now(request.as_ref().map(|r| r.challenge_id.as_str()))
        .await;
    if let Some(request) = &request {
        let view = notify::WindowView {
            visible: window.is_visible().unwrap_or(false),
            minimized: window.is_minimized().unwrap_or(false),
            focused: window.is_focused().unwrap_or(false),
        };
        let bring_forward = Box::new(move || {
            let _ = window.unminimize();
            let _ = window.show();
            let _ = window.set_focus();
        });
        // No notification server, or a refusal, is no error for the page.
        let _ = notifier
            .request_seen(&request.challenge_id, view, bring_forward)
            .await;
    }
    Ok(request)
}

/// Approves a login with the picked number. Never signs without user verification: the
/// verifier proves the person's presence and unwraps the key afresh for this approval.
#[tauri::command]
pub async fn approve(
    state: State<'_, AppState>,
    challenge_id: String,
    number: u8,
    passcode: Option<Passcode>,
) -> Result<Outcome, AppError> {
    state
        .authenticator
        .approve(&challenge_id, number, proof(passcode))
        .await
}

/// Refuses a login; `report` is "this wasn't me".
#[tauri::command]
pub async fn deny(
    state: State<'_, AppState>,
    challenge_id: String,
    report: bool,
) -> Result<Outcome, AppError> {
    state.authenticator.deny(&challenge_id, report).await
}

/// Recent logins, newest first.
#[tauri::command]
pub async fn history(state: State<'_, AppState>) -> Result<Vec<HistoryItem>, AppError> {
    state.authenticator.history().await
}

/// Revokes this device, after user verification, and deletes its key. The server drops
/// its push registration with it.
#[tauri::command]
pub async fn deactivate(
    state: State<'_, AppState>,
    push: State<'_, PushRegistrar>,
    passcode: Option<Passcode>,
) -> Result<DeviceStatus, AppError> {
    let status = state.authenticator.deactivate(proof(passcode)).await?;
    push.forget();
    Ok(status)
}

/// Whether logging in with the app is paused (asks the server; needs the app opened).
#[tauri::command]
pub async fn account_status(state: State<'_, AppState>) -> Result<AccountStatus, AppError> {
    state.authenticator.account().await
}

/// Resumes app logins paused after "this wasn't me" or a suspected copy. Never without
/// user verification: the verifier proves the person's presence for this change.
#[tauri::command]
pub async fn resume_logins(
    state: State<'_, AppState>,
    passcode: Option<Passcode>,
) -> Result<AccountStatus, AppError> {
    state.authenticator.resume_logins(proof(passcode)).await
}

/// The page's language (`nb`, `nn`, `en`), so the phone's face/finger prompt speaks it.
#[tauri::command]
pub fn set_language(state: State<'_, AppState>, notifier: State<'_, LoginNotifier>, lang: Lang) {
    state.authenticator.set_language(lang);
    notifier.set_language(lang);
}

/// Starts over on this phone after `key_invalidated`: deletes the local state and key
/// (the server cannot be told without the key); the app then offers activation.
#[tauri::command]
pub async fn reset_device(
    state: State<'_, AppState>,
    push: State<'_, PushRegistrar>,
) -> Result<DeviceStatus, AppError> {
    let status = state.authenticator.reset_here().await?;
    push.forget();
    Ok(status)
}

/// Whether the server wakes this phone when a login waits, and the person's setting.
#[tauri::command]
pub fn push_status(push: State<'_, PushRegistrar>) -> PushStatus {
    push.status()
}

/// Registers this phone for push wake-ups, or clears its registration, as the rule in
/// [`crate::push`] says: after the device is opened (`start`) and when the platform says
/// the token changed (`token_changed`). Asks for permission to notify the first time.
#[tauri::command]
pub async fn push_sync(
    state: State<'_, AppState>,
    push: State<'_, PushRegistrar>,
    trigger: Trigger,
) -> Result<PushStatus, AppError> {
    push.sync(state.authenticator.as_ref(), trigger).await
}

/// Turns push wake-ups on or off (the Settings screen) and tells the server at once.
#[tauri::command]
pub async fn set_push_enabled(
    state: State<'_, AppState>,
    push: State<'_, PushRegistrar>,
    enabled: bool,
) -> Result<PushStatus, AppError> {
    push.set_enabled(state.authenticator.as_ref(), enabled)
        .await
}

/// Groups a partly typed transfer code as the person types (`7kqm` → `7KQ-M`).
#[tauri::command]
pub fn format_transfer_code(input: &str) -> String {
    transfer_code::format_partial(input)
}

/// New phone: starts moving the person's Nøkkel here from their old phone. The new device
/// key is protected as by `enrol` (`passcode` or `biometric`); the answer is the code to show.
#[tauri::command]
pub async fn transfer_start(
    state: State<'_, AppState>,
    device_name: String,
    method: Verification,
    passcode: Option<Passcode>,
) -> Result<TransferCodeView, AppError> {
    let name = device_name_rule(&device_name)?;
    let proof = new_key_proof(method, passcode)?;
    let server = lock_url(&state);
    let shown = state
        .authenticator
        .start_transfer(name, proof, &server)
        .await?;
    Ok(TransferCodeView {
        qr_svg: qr_svg(&shown.code),
        code: shown.code,
        expires_at: shown.expires_at,
    })
}

/// New phone: waits up to `wait` seconds (at most 30) for the old phone's answer.
#[tauri::command]
pub async fn transfer_wait(
    state: State<'_, AppState>,
    wait: Option<u32>,
) -> Result<TransferProgress, AppError> {
    state
        .authenticator
        .wait_transfer(wait.unwrap_or(0).min(30))
        .await
}

/// Old phone: the new phone behind a typed or scanned code. A typo is caught here by the
/// check symbol (`wrong_length`, `invalid_character`, `typo`) before the server is asked.
#[tauri::command]
pub async fn transfer_lookup(
    state: State<'_, AppState>,
    code: String,
) -> Result<TransferOffer, AppError> {
    let code = TransferCode::parse(&code)
        .map_err(|error| AppError::new(error.code(), error.to_string()))?;
    state.authenticator.lookup_transfer(&code.grouped()).await
}

/// Old phone: approves the move to the looked-up new phone. Never signs without user
/// verification; `retire` removes this phone from the person's Nøkkel at the same time.
#[tauri::command]
pub async fn transfer_approve(
    state: State<'_, AppState>,
    push: State<'_, PushRegistrar>,
    transfer_id: String,
    retire: bool,
    passcode: Option<Passcode>,
) -> Result<TransferApproved, AppError> {
    let approved = state
        .authenticator
        .approve_transfer(&transfer_id, retire, proof(passcode))
        .await?;
    if approved.retired {
        push.forget();
    }
    Ok(approved)
}

/// Old phone: refuses the move (the person does not recognise the new phone).
#[tauri::command]
pub async fn transfer_refuse(
    state: State<'_, AppState>,
    transfer_id: String,
) -> Result<(), AppError> {
    state.authenticator.refuse_transfer(&transfer_id).await
}

/// A QR code holding `text` as an SVG image (the page shows it next to the code in text).
/// Low error correction is enough on a screen and keeps the modules large.
fn qr_svg(text: &str) -> String {
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::L)
        .map(|code| {
            code.render::<svg::Color<'_>>()
                .quiet_zone(true)
                .min_dimensions(200, 200)
                .build()
        })
        .unwrap_or_default()
}

/// A device name: trimmed, 1–64 characters, no control characters.
fn device_name_rule(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    let length = name.chars().count();
    if length == 0 || length > 64 || name.chars().any(char::is_control) {
        return Err(AppError::new(
            "invalid_device_name",
            "a device name has 1 to 64 characters",
        ));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_numbers_only_in_developer_builds() {
        // 14838514058 is a synthetic (month + 80) number from the demo population.
        assert!(pid_rule("14838514058", true).is_ok());
        assert_eq!(
            pid_rule("14838514058", false).unwrap_err().code,
            "synthetic_not_allowed"
        );
        assert!(pid_rule("31129956715", false).is_ok());
        assert_eq!(
            pid_rule("31129956716", true).unwrap_err().code,
            "check_digit"
        );
    }

    #[test]
    fn the_transfer_code_is_a_qr_image_without_the_code_in_clear() {
        let svg = qr_svg("7KQ-M3X-A9D");
        assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("</svg>"));
        assert!(!svg.contains("7KQ"));
    }

    #[test]
    fn device_names_are_trimmed_and_bounded() {
        assert_eq!(device_name_rule("  Kari's phone ").unwrap(), "Kari's phone");
        for bad in ["", "   ", "a\u{7}b", &"x".repeat(65)] {
            assert_eq!(
                device_name_rule(bad).unwrap_err().code,
                "invalid_device_name"
            );
        }
    }
}
