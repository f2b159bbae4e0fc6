//! The text a phone shows for a push (issue 11), written into the generated phone projects
//! by `build.rs` and unit-tested from `src/push.rs` (this file is included in both).
//!
//! The server's APNs alert carries only the localisation key [`APNS_LOC_KEY`]; iOS looks
//! it up in the app's `Localizable.strings`, one per `*.lproj`. Android resolves an FCM
//! notification's `title_loc_key` / `body_loc_key` to the string resources
//! [`ANDROID_TITLE`] and [`ANDROID_BODY`] (`res/values*/`). The texts are the desktop
//! notification's (`app-notify-login-title` / `-body` in `assets/i18n/*/main.ftl`), so all
//! platforms say the same and nothing about the login.

// A build script cannot use nokkel-core cheaply; `src/push.rs` tests that these equal
// `nokkel_core::push::{APNS_ALERT_LOC_KEY, ANDROID_TITLE_KEY, ANDROID_BODY_KEY}`, which the
// server sends.

/// The APNs alert's `loc-key`.
pub const APNS_LOC_KEY: &str = "LOGIN_WAITING";
/// The Android string resource for the title.
pub const ANDROID_TITLE: &str = "nokkel_login_waiting_title";
/// The Android string resource for the body.
pub const ANDROID_BODY: &str = "nokkel_login_waiting_body";

/// One language's texts, from its Fluent file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertText {
    /// The app's language code (`nb`, `nn`, `en`).
    pub lang: &'static str,
    /// "Nøkkel: a login is waiting".
    pub title: String,
    /// "Open the app to answer.".
    pub body: String,
}

/// Reads the title and body from a Fluent file (single-line messages, as the app writes
/// them). `None` if either is missing.
pub fn from_ftl(lang: &'static str, ftl: &str) -> Option<AlertText> {
    let message = |id: &str| {
        ftl.lines().find_map(|line| {
            let (key, value) = line.split_once(" = ")?;
            (key.trim() == id).then(|| value.trim().to_owned())
        })
    };
    Some(AlertText {
        lang,
        title: message("app-notify-login-title")?,
        body: message("app-notify-login-body")?,
    })
}

/// The `*.lproj` folder name for a language (iOS uses `nb` for Norwegian Bokmål).
pub fn lproj(lang: &str) -> String {
    format!("{lang}.lproj")
}

/// `Localizable.strings` for one language: the alert's text for [`APNS_LOC_KEY`]. iOS
/// shows one text for a `loc-key` alert, so title and body go together as two sentences.
pub fn localizable_strings(text: &AlertText) -> String {
    let escape = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        "/* Written by src-tauri/build.rs from assets/i18n/{lang}/main.ftl. */\n\"{key}\" = \"{title}. {body}\";\n",
        lang = text.lang,
        key = APNS_LOC_KEY,
        title = escape(&text.title),
        body = escape(&text.body),
    )
}

/// The Android `res/values*` folder for a language (`values` holds the English default).
pub fn android_values(lang: &str) -> String {
    if lang == "en" {
        "values".to_owned()
    } else {
        format!("values-{lang}")
    }
}

/// An Android string resource file with the title and body.
pub fn android_strings(text: &AlertText) -> String {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('\\', "\\\\")
            .replace('\'', "\\'")
            .replace('"', "\\\"")
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!-- Written by src-tauri/build.rs from assets/i18n/{lang}/main.ftl. -->\n<resources>\n    <string name=\"{ANDROID_TITLE}\">{title}</string>\n    <string name=\"{ANDROID_BODY}\">{body}</string>\n</resources>\n",
        lang = text.lang,
        title = escape(&text.title),
        body = escape(&text.body),
    )
}

/// An iOS entitlements plist with `aps-environment` added (`development`: Xcode sets
/// `production` itself when it signs for distribution). `None` if it is already there or
/// the file has no closing `</dict>`.
pub fn with_aps_environment(entitlements: &str) -> Option<String> {
    const KEY: &str = "\t<key>aps-environment</key>\n\t<string>development</string>\n";
    if entitlements.contains("<key>aps-environment</key>") {
        return None;
    }
    if entitlements.contains("<dict/>") {
        return Some(entitlements.replacen("<dict/>", &format!("<dict>\n{KEY}</dict>"), 1));
    }
    let end = entitlements.rfind("</dict>")?;
    let mut patched = entitlements.to_owned();
    patched.insert_str(end, KEY);
    Some(patched)
}
