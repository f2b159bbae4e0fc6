//! The Nøkkel authenticator app: Tauri shell, commands and platform code.
//!
//! All behaviour sits behind [`authenticator::Authenticator`]; the commands are thin and
//! testable with Tauri's mock runtime. Mobile-only code lives in [`mobile`].
#![forbid(unsafe_code)]

pub mod authenticator;
pub mod commands;
pub mod error;
pub mod mock;
pub mod passcode;
pub mod verification;

#[cfg(mobile)]
pub mod mobile;

use std::sync::{Arc, Mutex};

use nokkel_core::clock::SystemClock;
use tauri::{Builder, Runtime};

use crate::authenticator::Authenticator;
use crate::commands::AppState;

/// The server a developer build talks to unless told otherwise (`nokkel serve --demo`).
pub const DEFAULT_DEV_SERVER: &str = "http://127.0.0.1:8080";

/// Adds the app's plugins, commands and state to a builder (also used by the tests with
/// Tauri's mock runtime).
pub fn setup<R: Runtime>(builder: Builder<R>, state: AppState) -> Builder<R> {
    let builder = builder.plugin(tauri_plugin_biometric::init()).manage(state);
    #[cfg(mobile)]
    let builder = mobile::qr_scan::register(builder);
    builder.invoke_handler(tauri::generate_handler![
        commands::app_info,
        commands::set_server_url,
        commands::format_code,
        commands::check_code,
        commands::check_pid,
        commands::biometric_status,
        commands::device_status,
        commands::enrol,
        commands::set_up_verification,
        commands::save_contact,
        commands::pending_request,
        commands::approve,
        commands::deny,
        commands::history,
        commands::rename_device,
        commands::deactivate,
    ])
}

/// The state for this process: the scripted authenticator under `NOKKEL_TEST_MOCK=1`.
pub fn app_state() -> AppState {
    let developer = cfg!(debug_assertions);
    let mock = std::env::var("NOKKEL_TEST_MOCK").is_ok_and(|v| v == "1");
    let server_url = std::env::var("NOKKEL_TEST_SERVER_URL")
        .ok()
        .filter(|_| developer)
        .unwrap_or_else(|| DEFAULT_DEV_SERVER.to_owned());
    let authenticator: Arc<dyn Authenticator> = if mock {
        Arc::new(mock::MockAuthenticator::new(Arc::new(SystemClock)))
    } else {
        Arc::new(mock::NotConnected)
    };
    AppState {
        authenticator,
        developer,
        mock,
        server_url: Mutex::new(server_url),
    }
}

/// Starts the app (desktop `main` and the mobile entry point).
#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    let app = setup(tauri::Builder::default(), app_state()).run(tauri::generate_context!());
    if let Err(error) = app {
        eprintln!("Nøkkel could not start: {error}");
        std::process::exit(1);
    }
}
