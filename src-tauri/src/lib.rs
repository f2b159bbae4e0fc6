//! The Nøkkel authenticator app: Tauri shell, commands and platform code.
//!
//! All behaviour sits behind [`authenticator::Authenticator`]: [`device::ClientAuthenticator`]
//! over `nokkel-client` in real use, [`mock::MockAuthenticator`] under `NOKKEL_TEST_MOCK=1`.
//! The commands are thin and testable with Tauri's mock runtime. Mobile-only code lives in
//! `mobile`: compiled for Android and iOS, and type-checked on the Linux host under
//! `nokkel_mobile_check` (scripts/mobile-check.sh).
#![forbid(unsafe_code)]

pub mod authenticator;
pub mod commands;
pub mod device;
pub mod error;
pub mod mock;
pub mod notify;
pub mod passcode;
pub mod prompts;
pub mod push;
pub mod verification;

#[cfg(any(mobile, nokkel_mobile_check = "android", nokkel_mobile_check = "ios"))]
pub mod mobile;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use nokkel_core::clock::SystemClock;
use tauri::{AppHandle, Builder, Manager, Runtime};

use crate::authenticator::Authenticator;
use crate::commands::AppState;
use crate::error::AppError;

/// The server a developer build talks to unless told otherwise (`nokkel serve --demo`).
pub const DEFAULT_DEV_SERVER: &str = "http://127.0.0.1:8080";
/// The production server (release builds cannot change it).
pub const PRODUCTION_SERVER: &str = "https://id.nokkel.no";

/// Adds the app's plugins and commands to a builder (the tests use it with Tauri's mock
/// runtime and `manage` their own [`AppState`] and [`notify::LoginNotifier`]).
pub fn setup<R: Runtime>(builder: Builder<R>) -> Builder<R> {
    let builder = builder.plugin(tauri_plugin_biometric::init());
    #[cfg(mobile)]
    let builder = mobile::qr_scan::register(builder);
    #[cfg(mobile)]
    let builder = mobile::push_token::register(builder);
    builder.invoke_handler(tauri::generate_handler![
        commands::app_info,
        commands::set_server_url,
        commands::format_code,
        commands::check_code,
        commands::check_pid,
        commands::biometric_status,
        commands::device_status,
        commands::enrol,
        commands::unlock,
        commands::save_contact,
        commands::pending_request,
        commands::approve,
        commands::deny,
        commands::history,
        commands::deactivate,
        commands::account_status,
        commands::resume_logins,
        commands::set_language,
        commands::reset_device,
        commands::format_transfer_code,
        commands::transfer_start,
        commands::transfer_wait,
        commands::transfer_lookup,
        commands::transfer_approve,
        commands::transfer_refuse,
        commands::push_status,
        commands::push_sync,
        commands::set_push_enabled,
    ])
}

/// A `NOKKEL_TEST_*` switch set to `1`. Read by debug builds only: a release build a
/// citizen installs ignores them, so no environment can swap in the scripted authenticator
/// or move the device key out of the keyring.
fn test_switch(name: &str) -> bool {
    cfg!(debug_assertions) && std::env::var(name).is_ok_and(|v| v == "1")
}

/// The state for this process: the scripted authenticator under `NOKKEL_TEST_MOCK=1`, else
/// `nokkel-client` with its state in the app's data folder.
pub fn app_state<R: Runtime>(app: &AppHandle<R>) -> Result<AppState, AppError> {
    let developer = cfg!(debug_assertions);
    let mock = test_switch("NOKKEL_TEST_MOCK");
    let server_url = if developer {
        std::env::var("NOKKEL_TEST_SERVER_URL").unwrap_or_else(|_| DEFAULT_DEV_SERVER.to_owned())
    } else {
        PRODUCTION_SERVER.to_owned()
    };
    let authenticator: Arc<dyn Authenticator> = if mock {
        Arc::new(mock::MockAuthenticator::new(Arc::new(SystemClock)))
    } else {
        Arc::new(platform_authenticator(app, &state_dir(app)?)?)
    };
    Ok(AppState {
        authenticator,
        developer,
        mock,
        server_url: Mutex::new(server_url),
    })
}

/// The folder of the device state (created if missing): the app's data folder, or
/// `NOKKEL_TEST_STATE_DIR` in developer builds.
fn state_dir<R: Runtime>(app: &AppHandle<R>) -> Result<PathBuf, AppError> {
    let dir = match std::env::var_os("NOKKEL_TEST_STATE_DIR") {
        Some(dir) if cfg!(debug_assertions) => dir.into(),
        _ => app
            .path()
            .app_data_dir()
            .map_err(|e| AppError::new("state", format!("no data folder: {e}")))?,
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| AppError::new("state", format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir)
}

/// Push registration for this process: the phone's push service through the notifications
/// plugin on Android and iOS, none on the desktop; its record in the state folder (in
/// memory under the scripted authenticator).
pub fn push_registrar<R: Runtime>(
    app: &AppHandle<R>,
    state: &AppState,
) -> Result<push::PushRegistrar, AppError> {
    let file = if state.mock {
        None
    } else {
        Some(state_dir(app)?.join("push.json"))
    };
    #[cfg(mobile)]
    let tokens = mobile::push_token::tokens(app.clone());
    #[cfg(not(mobile))]
    let tokens: Arc<dyn push::PushTokens> = Arc::new(push::NoPushTokens);
    Ok(push::PushRegistrar::new(file, tokens))
}

/// Desktop: the OS keyring where there is one (Linux Secret Service), else a file; the key
/// is wrapped by the passcode either way.
#[cfg(desktop)]
fn platform_authenticator<R: Runtime>(
    _app: &AppHandle<R>,
    dir: &Path,
) -> Result<device::ClientAuthenticator, AppError> {
    use nokkel_client::{FileVault, KeyVault};

    let file_vault = || -> Arc<dyn KeyVault> { Arc::new(FileVault::new(dir.join("device-key"))) };
    #[cfg(target_os = "linux")]
    let vault: Arc<dyn KeyVault> = if test_switch("NOKKEL_TEST_FILE_VAULT") {
        file_vault()
    } else {
        Arc::new(
            nokkel_client::KeyringVault::secret_service("no.nokkel.app", "device-key")
                .map_err(|e| AppError::new(e.code(), e.to_string()))?,
        )
    };
    #[cfg(not(target_os = "linux"))]
    let vault = file_vault();
    let verifiers = Arc::new(device::DesktopVerifiers::new(
        dir.join("passcode-attempts.json"),
    ));
    Ok(device::ClientAuthenticator::new(
        dir.to_path_buf(),
        vault,
        verifiers,
    ))
}

#[cfg(mobile)]
fn platform_authenticator<R: Runtime>(
    app: &AppHandle<R>,
    dir: &Path,
) -> Result<device::ClientAuthenticator, AppError> {
    let keys = mobile::vault_and_verifiers(app.clone())?;
    Ok(device::ClientAuthenticator::new(
        dir.to_path_buf(),
        keys.vault,
        keys.verifiers,
    ))
}

/// Starts the app (desktop `main` and the mobile entry point).
#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    let app = setup(tauri::Builder::default())
        .manage(notify::LoginNotifier::for_platform())
        .setup(|app| {
            let state = app_state(app.handle())?;
            app.manage(push_registrar(app.handle(), &state)?);
            app.manage(state);
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(error) = app {
        eprintln!("Nøkkel could not start: {error}");
        std::process::exit(1);
    }
}
