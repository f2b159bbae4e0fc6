#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The keyring vault against a real Secret Service (gnome-keyring), headless: the test
//! re-runs itself inside `dbus-run-session` with an unlocked `gnome-keyring-daemon`, so it
//! needs no desktop session (CI runs as root without one). It fails — never skips — when
//! the tools or the service are missing.
//!
//! Needs: `apt-get install dbus gnome-keyring` (scripts/setup.sh installs both).

#[cfg(target_os = "linux")]
mod linux {
    use std::process::Command;
    use std::sync::Arc;

    use nokkel_client::verify::PasscodeAttempts;
    use nokkel_client::{
        KeyVault, KeyringVault, PasscodeVerifier, ProtectedKey, UserVerification, UserVerifier,
    };
    use nokkel_core::clock::{Clock, SystemClock};
    use nokkel_core::keys::DeviceKey;

    const ENV_INSIDE: &str = "NOKKEL_TEST_INSIDE_DBUS_SESSION";
    const INSTALL: &str = "install them with: apt-get install dbus gnome-keyring \
                           (scripts/setup.sh does this)";

    fn on_path(tool: &str) -> bool {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    fn round_trip() {
        let user = format!("test-{}", std::process::id());
        let vault = KeyringVault::secret_service("nokkel-test", &user)
            .unwrap_or_else(|e| panic!("the Secret Service cannot be reached ({e}); {INSTALL}"));
        vault.delete().unwrap();
        assert_eq!(vault.load().unwrap(), None);

        // Raw bytes survive exactly, including a zero byte and high bytes.
        let raw = ProtectedKey::from_bytes(vec![0, 1, 2, 0xFF, 0x80, 0]);
        vault.store(&raw).unwrap();
        assert_eq!(vault.load().unwrap().as_ref(), Some(&raw));

        // The desktop design: a passcode-wrapped device key in the OS keyring.
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let verifier =
            PasscodeVerifier::new("kodeord-123", PasscodeAttempts::in_memory(clock.clone()));
        let key = DeviceKey::generate(&mut rand_core::OsRng);
        vault.store(&verifier.protect(&key).unwrap()).unwrap();
        let unlocked = verifier.unlock(&vault, "test").unwrap();
        assert_eq!(unlocked.key().device_id(), key.device_id());
        assert_eq!(unlocked.method(), UserVerification::Passcode);
        let wrong = PasscodeVerifier::new("feil-kode-9", PasscodeAttempts::in_memory(clock));
        assert_eq!(
            wrong.unlock(&vault, "test").unwrap_err().code(),
            "wrong_passcode"
        );

        // A second vault object (a new process, say) sees the same entry.
        let again = KeyringVault::secret_service("nokkel-test", &user).unwrap();
        assert!(again.load().unwrap().is_some());
        vault.delete().unwrap();
        assert_eq!(again.load().unwrap(), None);
        vault.delete().unwrap();
    }

    #[test]
    fn secret_service_vault_stores_loads_and_deletes_headless() {
        if std::env::var_os(ENV_INSIDE).is_some() {
            round_trip();
            return;
        }
        for tool in ["dbus-run-session", "gnome-keyring-daemon"] {
            assert!(on_path(tool), "{tool} is missing; {INSTALL}");
        }
        let exe = std::env::current_exe().unwrap();
        // A private session bus, an unlocked keyring daemon on it, then this very test.
        let script = r#"echo nokkel-test-pw | gnome-keyring-daemon --components=secrets --unlock --daemonize >/dev/null || exit 97
exec "$0" "$@""#;
        let output = Command::new("dbus-run-session")
            .args(["--", "sh", "-c", script])
            .arg(&exe)
            .args([
                "--exact",
                "linux::secret_service_vault_stores_loads_and_deletes_headless",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ENV_INSIDE, "1")
            .output()
            .unwrap_or_else(|e| panic!("cannot run dbus-run-session: {e}; {INSTALL}"));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_ne!(
            output.status.code(),
            Some(97),
            "gnome-keyring-daemon did not start; {INSTALL}\n{stderr}"
        );
        assert!(
            output.status.success(),
            "the Secret Service round trip failed:\n{stdout}\n{stderr}"
        );
        assert!(
            stdout.contains("1 passed"),
            "the inner test did not run:\n{stdout}\n{stderr}"
        );
    }
}
