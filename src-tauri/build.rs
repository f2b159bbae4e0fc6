//! Generates the Tauri context (capabilities live in the top-level `capabilities/`
//! folder), sets the mobile-check cfg, keeps the Android app's data out of backups, and
//! sets up push in the generated phone projects.

fn main() {
    // tauri-build only watches its default folder: without this line an edited capability
    // file is silently not rebuilt.
    println!("cargo:rerun-if-changed=../capabilities");
    mobile_check_cfg();
    if let Err(error) = tauri_build::try_build(
        tauri_build::Attributes::new().capabilities_path_pattern("../capabilities/**/*"),
    ) {
        println!("cargo:warning=tauri build script failed: {error:#}");
        std::process::exit(1);
    }
    if let Err(error) = android_backup::exclude() {
        println!("cargo:warning=cannot exclude the app's data from Android backups: {error}");
        std::process::exit(1);
    }
    if let Err(error) = phone_push::write() {
        println!("cargo:warning=cannot set up push in the phone project: {error}");
        std::process::exit(1);
    }
}

#[path = "build/push_alert.rs"]
#[allow(dead_code)]
mod push_alert;

/// Push in the generated phone projects (src-tauri/gen, not in git; docs/MOBILE-PUSH.md):
/// the text of a push alert in each language (iOS `Localizable.strings` for the APNs
/// `loc-key`, Android string resources for an FCM notification), and on iOS the
/// `aps-environment` entitlement without which the phone gives no APNs token. tauri-cli
/// sets the project paths only for phone builds (`TAURI_ANDROID_PROJECT_PATH`,
/// `TAURI_IOS_PROJECT_PATH` with `TAURI_IOS_APP_NAME`, as tauri-plugin's own helpers read).
mod phone_push {
    use std::path::Path;

    use super::push_alert::{self, AlertText};

    const LANGS: [&str; 3] = ["en", "nb", "nn"];

    fn texts() -> std::io::Result<Vec<AlertText>> {
        LANGS
            .iter()
            .map(|&lang| {
                let path = format!("../assets/i18n/{lang}/main.ftl");
                println!("cargo:rerun-if-changed={path}");
                let ftl = std::fs::read_to_string(&path)?;
                push_alert::from_ftl(lang, &ftl).ok_or_else(|| {
                    std::io::Error::other(format!("{path} lacks app-notify-login-title/-body"))
                })
            })
            .collect()
    }

    fn write_if_changed(path: &Path, contents: &str) -> std::io::Result<()> {
        if std::fs::read_to_string(path).is_ok_and(|old| old == contents) {
            return Ok(());
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, contents)
    }

    pub fn write() -> std::io::Result<()> {
        println!("cargo:rerun-if-env-changed=TAURI_ANDROID_PROJECT_PATH");
        println!("cargo:rerun-if-env-changed=TAURI_IOS_PROJECT_PATH");
        println!("cargo:rerun-if-env-changed=TAURI_IOS_APP_NAME");
        if let Some(project) = std::env::var_os("TAURI_ANDROID_PROJECT_PATH") {
            let res = Path::new(&project).join("app/src/main/res");
            for text in texts()? {
                let file = res
                    .join(push_alert::android_values(text.lang))
                    .join("nokkel_push_strings.xml");
                write_if_changed(&file, &push_alert::android_strings(&text))?;
            }
        }
        if let (Some(project), Ok(app)) = (
            std::env::var_os("TAURI_IOS_PROJECT_PATH"),
            std::env::var("TAURI_IOS_APP_NAME"),
        ) {
            let app_dir = Path::new(&project).join(format!("{app}_iOS"));
            for text in texts()? {
                let file = app_dir
                    .join(push_alert::lproj(text.lang))
                    .join("Localizable.strings");
                write_if_changed(&file, &push_alert::localizable_strings(&text))?;
            }
            let entitlements = app_dir.join(format!("{app}_iOS.entitlements"));
            println!("cargo:rerun-if-changed={}", entitlements.display());
            if let Ok(old) = std::fs::read_to_string(&entitlements) {
                if let Some(patched) = push_alert::with_aps_environment(&old) {
                    std::fs::write(&entitlements, patched)?;
                }
            }
        }
        Ok(())
    }
}

/// `NOKKEL_MOBILE_CHECK=android|ios` sets `nokkel_mobile_check`, which compiles the phone
/// modules on the Linux host (scripts/mobile-check.sh). Same rule as nokkel-client's.
fn mobile_check_cfg() {
    println!("cargo:rerun-if-env-changed=NOKKEL_MOBILE_CHECK");
    println!("cargo:rustc-check-cfg=cfg(nokkel_mobile_check, values(\"android\", \"ios\"))");
    match std::env::var("NOKKEL_MOBILE_CHECK").as_deref() {
        Ok(variant @ ("android" | "ios")) => {
            println!("cargo:rustc-cfg=nokkel_mobile_check=\"{variant}\"");
        }
        Ok("") | Err(_) => {}
        Ok(other) => {
            println!("cargo:warning=NOKKEL_MOBILE_CHECK={other:?} is neither android nor ios");
            std::process::exit(1);
        }
    }
}

/// Android: no cloud backup and no device-to-device transfer of the app's data. A restore
/// would bring back the device state and the keyring store's SharedPreferences without
/// the Keystore keys that decrypt them (Keystore keys never leave the phone), stranding
/// the person. The manifest is generated by `tauri android init` (src-tauri/gen/android,
/// not in git), so it is patched here on every Android build, where tauri-cli sets
/// `TAURI_ANDROID_PROJECT_PATH` (as tauri-build's own manifest updates rely on).
mod android_backup {
    use std::path::Path;

    /// Attributes for `<application>`: `allowBackup` stops Auto Backup (and adb backup);
    /// `dataExtractionRules` (Android 12+) also excludes device-to-device transfer.
    const ATTRIBUTES: &str = concat!(
        "android:allowBackup=\"false\" android:fullBackupContent=\"false\" ",
        "android:dataExtractionRules=\"@xml/nokkel_data_extraction_rules\""
    );
    const RULES: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<!-- Written by src-tauri/build.rs: nothing of Nøkkel's is backed up or transferred. -->
<data-extraction-rules>
    <cloud-backup>
        <exclude domain="root" />
        <exclude domain="file" />
        <exclude domain="database" />
        <exclude domain="sharedpref" />
        <exclude domain="external" />
    </cloud-backup>
    <device-transfer>
        <exclude domain="root" />
        <exclude domain="file" />
        <exclude domain="database" />
        <exclude domain="sharedpref" />
        <exclude domain="external" />
    </device-transfer>
</data-extraction-rules>
"#;

    pub fn exclude() -> std::io::Result<()> {
        let Some(project) = std::env::var_os("TAURI_ANDROID_PROJECT_PATH") else {
            return Ok(());
        };
        let main = Path::new(&project).join("app/src/main");
        let manifest_path = main.join("AndroidManifest.xml");
        println!("cargo:rerun-if-changed={}", manifest_path.display());
        let Ok(manifest) = std::fs::read_to_string(&manifest_path) else {
            return Ok(());
        };
        std::fs::create_dir_all(main.join("res/xml"))?;
        std::fs::write(main.join("res/xml/nokkel_data_extraction_rules.xml"), RULES)?;
        if manifest.contains("android:allowBackup") {
            if !manifest.contains("android:allowBackup=\"false\"") {
                return Err(std::io::Error::other(
                    "AndroidManifest.xml sets android:allowBackup to something else than false",
                ));
            }
            return Ok(());
        }
        let patched = manifest.replacen("<application", &format!("<application {ATTRIBUTES}"), 1);
        if patched == manifest {
            return Err(std::io::Error::other(
                "no <application> in AndroidManifest.xml",
            ));
        }
        std::fs::write(&manifest_path, patched)
    }
}
