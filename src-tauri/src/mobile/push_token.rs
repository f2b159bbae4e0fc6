//! The phone's push token (FCM on Android, APNs on iOS), through tauri-plugin-notifications.
//!
//! Relies on tauri-plugin-notifications 0.4.6 with its `push-notifications` feature and
//! without its default `notify-rust` feature (a mobile-only dependency: on the desktop the
//! app keeps its own notifier, `notify.rs`). Read in that version:
//!
//! - `Notifications::register_for_push_notifications()` (`src/mobile.rs`) runs the native
//!   `registerForPushNotifications`. Android (`NotificationPlugin.kt`): asks for
//!   `POST_NOTIFICATIONS` (Android 13+) unless granted, rejects when refused, else returns
//!   `FirebaseMessaging.getInstance().token`: the FCM registration token. iOS
//!   (`NotificationPlugin.swift`): asks for alert/sound/badge authorisation, then calls
//!   `registerForRemoteNotifications` *whether or not the person agreed*, and returns the
//!   APNs device token as lower-case hex (`AppDelegateSwizzler.swift`), or fails after 10 s.
//!   So after a token the permission is read again (`permission_state()`, native
//!   `checkPermissions`): only `Granted` counts, anything else is [`TokenAnswer::Refused`].
//! - The token changes when FCM rotates it (`onNewToken`) or iOS hands out a new one; the
//!   plugin then emits `push-token` to the page, which calls `push_sync` with
//!   `token_changed`, and this module asks again (Android returns the new cached token).
//! - A push or a tap reaches the page as plugin events (`push-message`, `notification`,
//!   `notificationClicked`), never Rust: the page then polls `pending_request`
//!   (`ui/src/lib/push.ts`). Their payload is not read.
//! - The APNs environment is not reported by the plugin: it follows the `aps-environment`
//!   entitlement, which Xcode sets from the provisioning profile. A debug build is signed
//!   for development (sandbox), a release build for distribution (production).
//!
//! `plugin_shim::notifications` stands in for the crate in the host check (its whole
//! `Notifications` type is `#[cfg(mobile)]`).

use std::sync::Arc;

use async_trait::async_trait;
#[cfg(any(target_os = "ios", nokkel_mobile_check = "ios"))]
use nokkel_core::push::ApnsEnvironment;
use nokkel_core::push::PushRegistration;
use tauri::plugin::PermissionState;
use tauri::{AppHandle, Builder, Runtime};

#[cfg(not(mobile))]
use super::plugin_shim::notifications as tauri_plugin_notifications;
use crate::push::{PushTokens, TokenAnswer};
use tauri_plugin_notifications::NotificationsExt;

/// Registers the notifications plugin (its page-facing commands are limited by
/// `capabilities/mobile.json` to listening for its events).
pub fn register<R: Runtime>(builder: Builder<R>) -> Builder<R> {
    builder.plugin(tauri_plugin_notifications::init())
}

/// The platform's token through the plugin.
pub struct PluginPushTokens<R: Runtime> {
    app: AppHandle<R>,
}

impl<R: Runtime> PluginPushTokens<R> {
    /// Asks through `app`'s notifications plugin.
    pub fn new(app: AppHandle<R>) -> Self {
        Self { app }
    }
}

#[async_trait]
impl<R: Runtime> PushTokens for PluginPushTokens<R> {
    async fn token(&self) -> TokenAnswer {
        let notifications = self.app.notifications();
        let token = notifications.register_for_push_notifications().await;
        let permission = notifications.permission_state().await;
        match (token, permission) {
            (_, Ok(state)) if state != PermissionState::Granted => TokenAnswer::Refused,
            (Ok(token), _) => match registration(&token) {
                Ok(registration) => TokenAnswer::Token(registration),
                Err(error) => TokenAnswer::Failed(error.to_string()),
            },
            // The plugin's messages name no token ("Failed to get FCM token: …").
            (Err(error), _) => TokenAnswer::Failed(error.to_string()),
        }
    }
}

/// Android: an FCM registration token.
#[cfg(any(target_os = "android", nokkel_mobile_check = "android"))]
fn registration(token: &str) -> Result<PushRegistration, nokkel_core::push::PushError> {
    PushRegistration::fcm(token)
}

/// iOS: an APNs device token, for the environment this build is signed for.
#[cfg(all(
    any(target_os = "ios", nokkel_mobile_check = "ios"),
    not(any(target_os = "android", nokkel_mobile_check = "android"))
))]
fn registration(token: &str) -> Result<PushRegistration, nokkel_core::push::PushError> {
    PushRegistration::apns(token, apns_environment())
}

/// Debug builds are signed with a development profile (`aps-environment` `development`,
/// Apple's sandbox); release builds with a distribution profile (`production`).
#[cfg(any(target_os = "ios", nokkel_mobile_check = "ios"))]
pub fn apns_environment() -> ApnsEnvironment {
    if cfg!(debug_assertions) {
        ApnsEnvironment::Sandbox
    } else {
        ApnsEnvironment::Production
    }
}

/// The token source for the app's [`crate::push::PushRegistrar`].
pub fn tokens<R: Runtime>(app: AppHandle<R>) -> Arc<dyn PushTokens> {
    Arc::new(PluginPushTokens::new(app))
}
