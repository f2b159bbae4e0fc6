//! A system notification when a login waits and the app is out of sight (issue 11).
//!
//! The page long-polls `pending_request`; each request it gets back passes through
//! [`LoginNotifier::request_seen`]. The rule ([`should_notify`]): a request id not seen before,
//! while the window is hidden, minimised or not focused, gets one notification; a request
//! already seen (the next poll, or the page showing it again) never gets a second one.
//!
//! Once that request is no longer waiting (answered here or elsewhere, expired, or replaced
//! by another), the next poll withdraws the notification ([`LoginNotifier::requests_now`]),
//! so a message tray does not keep offering a login that is gone.
//!
//! The text is the same for every login and says nothing about it (no service, browser,
//! place or number): a notification can be read on a locked screen by anyone. Clicking it
//! (where the notification server offers actions) brings the window forward; opening the
//! app any other way shows the request too, because the page already holds it.
//!
//! Desktop Linux sends it over D-Bus to `org.freedesktop.Notifications` (what
//! tauri-plugin-notification's desktop side does through notify-rust; that plugin is not in
//! the offline registry, zbus already is). There is no permission to ask for there; a
//! missing or refusing notification server only means no notification. Other platforms
//! get [`NoNotifications`] for now.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use crate::prompts::{self, Lang};

/// How the app's window looks now, as far as the rule cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowView {
    /// Shown (not hidden to the tray or never shown).
    pub visible: bool,
    /// Minimised.
    pub minimized: bool,
    /// Has the keyboard focus.
    pub focused: bool,
}

impl WindowView {
    /// The person is looking at the app: shown, not minimised and focused.
    pub fn in_sight(self) -> bool {
        self.visible && !self.minimized && self.focused
    }
}

/// The rule: notify for a request id not seen before, when the window is out of sight.
pub fn should_notify(last_seen: Option<&str>, request_id: &str, window: WindowView) -> bool {
    last_seen != Some(request_id) && !window.in_sight()
}

/// The notification's title and body in `lang`: the same for every login (nothing about it).
pub fn login_waiting_text(lang: Lang) -> (String, String) {
    (
        prompts::text(lang, "app-notify-login-title"),
        prompts::text(lang, "app-notify-login-body"),
    )
}

/// Called when the person clicks the notification.
pub type OnClick = Box<dyn FnOnce() + Send>;

/// The notification server's id for a notification it shows.
pub type ShownId = u32;

/// Where notifications go (the platform's notification server, or nowhere).
#[async_trait]
pub trait NotificationSink: Send + Sync {
    /// Shows one notification; `on_click` runs if the person clicks it (where supported).
    /// Returns its id once it is shown (or the failure); waiting for the click happens in the
    /// background.
    async fn show(&self, title: &str, body: &str, on_click: OnClick) -> Result<ShownId, String>;

    /// Withdraws notification `id` (gone already, e.g. dismissed, is no error).
    async fn close(&self, id: ShownId) -> Result<(), String>;
}

/// No notification server (platforms without one here, and the tests' default).
pub struct NoNotifications;

#[async_trait]
impl NotificationSink for NoNotifications {
    async fn show(&self, _title: &str, _body: &str, _on_click: OnClick) -> Result<ShownId, String> {
        Err("notifications are not supported here".to_owned())
    }

    async fn close(&self, _id: ShownId) -> Result<(), String> {
        Ok(())
    }
}

/// The request ids seen and the page's language; managed as Tauri state.
pub struct LoginNotifier {
    last_seen: Mutex<Option<String>>,
    /// The notification on screen and the request it is for.
    shown: Mutex<Option<(String, ShownId)>>,
    lang: Mutex<Lang>,
    sink: Arc<dyn NotificationSink>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LoginNotifier {
    /// A notifier sending to `sink`.
    pub fn new(sink: Arc<dyn NotificationSink>) -> Self {
        Self {
            last_seen: Mutex::new(None),
            shown: Mutex::new(None),
            lang: Mutex::new(Lang::default()),
            sink,
        }
    }

    /// The platform's notifications: D-Bus on desktop Linux, none elsewhere.
    pub fn for_platform() -> Self {
        #[cfg(all(desktop, target_os = "linux"))]
        let sink: Arc<dyn NotificationSink> = Arc::new(dbus::DbusNotifications);
        #[cfg(not(all(desktop, target_os = "linux")))]
        let sink: Arc<dyn NotificationSink> = Arc::new(NoNotifications);
        Self::new(sink)
    }

    /// The page's language, for the notification's text.
    pub fn set_language(&self, lang: Lang) {
        *lock(&self.lang) = lang;
    }

    /// Records that the page got request `request_id` while the window looked like `window`;
    /// shows the notification if the rule says so. `Ok(true)` when one was shown. A failure
    /// (no notification server) is returned for the caller to ignore; nothing else changes.
    pub async fn request_seen(
        &self,
        request_id: &str,
        window: WindowView,
        on_click: OnClick,
    ) -> Result<bool, String> {
        {
            let mut last_seen = lock(&self.last_seen);
            let notify = should_notify(last_seen.as_deref(), request_id, window);
            *last_seen = Some(request_id.to_owned());
            if !notify {
                return Ok(false);
            }
        }
        let lang = *lock(&self.lang);
        let (title, body) = login_waiting_text(lang);
        let id = self.sink.show(&title, &body, on_click).await?;
        *lock(&self.shown) = Some((request_id.to_owned(), id));
        Ok(true)
    }

    /// Called with what the page's poll found waiting (`None`: nothing): a notification shown
    /// for any other request is withdrawn. `Ok(true)` when one was.
    pub async fn requests_now(&self, waiting: Option<&str>) -> Result<bool, String> {
        let gone = {
            let mut shown = lock(&self.shown);
            match shown.as_ref() {
                Some((request, _)) if Some(request.as_str()) != waiting => shown.take(),
                _ => None,
            }
        };
        match gone {
            Some((_, id)) => self.sink.close(id).await.map(|()| true),
            None => Ok(false),
        }
    }
}

/// `org.freedesktop.Notifications` on the session bus.
#[cfg(all(desktop, target_os = "linux"))]
mod dbus {
    use std::collections::HashMap;
    use std::time::Duration;

    use async_trait::async_trait;
    use futures_util::StreamExt;
    use zbus::zvariant::Value;
    use zbus::{Connection, Proxy};

    use super::{NotificationSink, OnClick, ShownId};

    const DESTINATION: &str = "org.freedesktop.Notifications";
    const PATH: &str = "/org/freedesktop/Notifications";
    /// How long a click is listened for: the longest a login waits for an answer.
    const CLICK_WINDOW: Duration = Duration::from_secs(5 * 60);

    pub struct DbusNotifications;

    /// `org.freedesktop.Notifications` on a new session-bus connection (the proxy keeps it).
    async fn notification_server() -> Result<Proxy<'static>, String> {
        let connection = Connection::session()
            .await
            .map_err(|e| format!("no session bus: {e}"))?;
        Proxy::new(&connection, DESTINATION, PATH, DESTINATION)
            .await
            .map_err(|e| format!("no notification server: {e}"))
    }

    #[async_trait]
    impl NotificationSink for DbusNotifications {
        async fn show(
            &self,
            title: &str,
            body: &str,
            on_click: OnClick,
        ) -> Result<ShownId, String> {
            let proxy = notification_server().await?;
            // Subscribed before the call so a quick click is not missed.
            let mut clicks = proxy
                .receive_signal("ActionInvoked")
                .await
                .map_err(|e| format!("no notification signals: {e}"))?;
            let mut hints: HashMap<&str, Value<'_>> = HashMap::new();
            hints.insert("urgency", Value::U8(1));
            hints.insert("category", Value::from("im.received"));
            let id: u32 = proxy
                .call(
                    "Notify",
                    &(
                        "Nøkkel",
                        0u32,
                        "",
                        title,
                        body,
                        vec!["default", title],
                        hints,
                        -1i32,
                    ),
                )
                .await
                .map_err(|e| format!("notification refused: {e}"))?;
            tauri::async_runtime::spawn(async move {
                let clicked = async {
                    while let Some(message) = clicks.next().await {
                        if let Ok((clicked_id, _action)) =
                            message.body().deserialize::<(u32, String)>()
                        {
                            if clicked_id == id {
                                return true;
                            }
                        }
                    }
                    false
                };
                if let Ok(true) = tokio::time::timeout(CLICK_WINDOW, clicked).await {
                    on_click();
                }
                // The proxy holds the bus connection until the click window ends.
                drop(proxy);
            });
            Ok(id)
        }

        async fn close(&self, id: ShownId) -> Result<(), String> {
            let proxy = notification_server().await?;
            proxy
                .call::<_, _, ()>("CloseNotification", &(id,))
                .await
                .map_err(|e| format!("notification not withdrawn: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HIDDEN: WindowView = WindowView {
        visible: false,
        minimized: false,
        focused: false,
    };
    const MINIMISED: WindowView = WindowView {
        visible: true,
        minimized: true,
        focused: false,
    };
    const BEHIND: WindowView = WindowView {
        visible: true,
        minimized: false,
        focused: false,
    };
    const IN_SIGHT: WindowView = WindowView {
        visible: true,
        minimized: false,
        focused: true,
    };

    #[test]
    fn a_new_request_notifies_only_when_the_window_is_out_of_sight() {
        for window in [HIDDEN, MINIMISED, BEHIND] {
            assert!(should_notify(None, "c1", window), "{window:?}");
            assert!(should_notify(Some("c0"), "c1", window), "{window:?}");
        }
        assert!(!should_notify(None, "c1", IN_SIGHT));
    }

    #[test]
    fn a_request_already_seen_never_notifies_again() {
        for window in [HIDDEN, MINIMISED, BEHIND, IN_SIGHT] {
            assert!(!should_notify(Some("c1"), "c1", window), "{window:?}");
        }
    }

    #[test]
    fn the_text_names_no_login_detail_in_any_language() {
        for lang in [Lang::Nb, Lang::Nn, Lang::En] {
            let (title, body) = login_waiting_text(lang);
            for text in [&title, &body] {
                assert!(!text.starts_with("app-notify"), "{lang:?} lacks {text}");
                assert!(!text.contains('{'), "{text}");
                assert!(!text.chars().any(|c| c.is_ascii_digit()), "{text}");
            }
            assert!(title.contains("Nøkkel"), "{title}");
        }
        assert_ne!(login_waiting_text(Lang::Nb), login_waiting_text(Lang::En));
        assert_ne!(login_waiting_text(Lang::Nb), login_waiting_text(Lang::Nn));
    }

    /// Records what it is asked to show (ids 1, 2, …) and to withdraw.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<(String, String)>>, Mutex<Vec<ShownId>>);

    #[async_trait]
    impl NotificationSink for Recorder {
        async fn show(
            &self,
            title: &str,
            body: &str,
            _on_click: OnClick,
        ) -> Result<ShownId, String> {
            let mut shown = lock(&self.0);
            shown.push((title.to_owned(), body.to_owned()));
            Ok(ShownId::try_from(shown.len()).unwrap_or(ShownId::MAX))
        }

        async fn close(&self, id: ShownId) -> Result<(), String> {
            lock(&self.1).push(id);
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_notification_is_withdrawn_once_its_login_no_longer_waits() {
        let recorder = Arc::new(Recorder::default());
        let notifier = LoginNotifier::new(recorder.clone());
        let click = || -> OnClick { Box::new(|| ()) };
        assert_eq!(notifier.requests_now(None).await, Ok(false));
        assert_eq!(notifier.request_seen("c1", HIDDEN, click()).await, Ok(true));
        // Still waiting: it stays.
        assert_eq!(notifier.requests_now(Some("c1")).await, Ok(false));
        assert!(lock(&recorder.1).is_empty());
        // Answered (nothing waits): withdrawn, once.
        assert_eq!(notifier.requests_now(None).await, Ok(true));
        assert_eq!(notifier.requests_now(None).await, Ok(false));
        assert_eq!(*lock(&recorder.1), [1]);
        // Replaced by another login: the old one's is withdrawn, the new one shown.
        assert_eq!(notifier.request_seen("c2", HIDDEN, click()).await, Ok(true));
        assert_eq!(notifier.requests_now(Some("c3")).await, Ok(true));
        assert_eq!(notifier.request_seen("c3", HIDDEN, click()).await, Ok(true));
        assert_eq!(*lock(&recorder.1), [1, 2]);
    }

    #[tokio::test]
    async fn one_notification_per_request_in_the_pages_language() {
        let recorder = Arc::new(Recorder::default());
        let notifier = LoginNotifier::new(recorder.clone());
        notifier.set_language(Lang::En);
        let click = || -> OnClick { Box::new(|| ()) };
        assert_eq!(notifier.request_seen("c1", HIDDEN, click()).await, Ok(true));
        // The next poll returns the same request: no second notification.
        assert_eq!(
            notifier.request_seen("c1", HIDDEN, click()).await,
            Ok(false)
        );
        // Seen while in sight: hiding the window afterwards does not notify for it.
        assert_eq!(
            notifier.request_seen("c2", IN_SIGHT, click()).await,
            Ok(false)
        );
        assert_eq!(
            notifier.request_seen("c2", MINIMISED, click()).await,
            Ok(false)
        );
        assert_eq!(
            notifier.request_seen("c3", MINIMISED, click()).await,
            Ok(true)
        );
        let shown = lock(&recorder.0).clone();
        assert_eq!(shown.len(), 2);
        assert_eq!(shown[0], login_waiting_text(Lang::En));
    }

    #[tokio::test]
    async fn without_a_notification_server_nothing_breaks() {
        let notifier = LoginNotifier::new(Arc::new(NoNotifications));
        let result = notifier.request_seen("c1", HIDDEN, Box::new(|| ())).await;
        assert!(result.is_err());
        // Still counted as seen: the next poll does not try again.
        assert_eq!(
            notifier.request_seen("c1", HIDDEN, Box::new(|| ())).await,
            Ok(false)
        );
    }
}
