#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `nokkel device` as a tester uses it: the built binary against a real
//! `nokkel serve --demo` on a free port with its own data directory.

mod device_support;

use device_support::*;
use serde_json::Value;

#[test]
fn enrol_with_the_letter_then_status_devices_history_and_deactivate() {
    let server = DemoServer::start();
    let code = server.order_letter(ADULT);
    let state = tempfile::tempdir().unwrap();

    let out = device(
        &state,
        &[
            "enrol",
            "--server",
            &server.url,
            "--pid",
            ADULT,
            "--code",
            &code,
            "--name",
            "Testers laptop",
            "--json",
        ],
    );
    assert_eq!(out.exit, 0, "{out}");
    let enrolled: Value = serde_json::from_str(&out.stdout).unwrap();
    let device_id = enrolled["device_id"].as_str().unwrap().to_owned();
    assert_eq!(enrolled["issuer"], server.url.as_str());
    assert!(
        !out.stdout.contains(&code) && !out.stderr.contains(&code),
        "the code is never echoed"
    );
    assert_eq!(server.letter_state(ADULT), "used");

    // The key file is private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(state.path().join("device.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let out = device(&state, &["status", "--json"]);
    assert_eq!(out.exit, 0, "{out}");
    let status: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(status["device_id"], device_id.as_str());
    assert_eq!(status["name"], "Testers laptop");
    assert_eq!(status["counter"], 0);

    let out = device(&state, &["devices", "--json"]);
    assert_eq!(out.exit, 0, "{out}");
    let devices: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(devices["devices"].as_array().unwrap().len(), 1);
    assert_eq!(devices["devices"][0]["device_id"], device_id.as_str());
    assert_eq!(devices["devices"][0]["this_device"], true);
    assert_eq!(devices["devices"][0]["platform"], "software");

    let out = device(&state, &["history", "--json"]);
    assert_eq!(out.exit, 0, "{out}");
    assert_eq!(
        serde_json::from_str::<Value>(&out.stdout).unwrap()["entries"],
        serde_json::json!([])
    );

    // App logins are not paused; resuming is harmless.
    let out = device(&state, &["resume", "--json"]);
    assert_eq!(out.exit, 0, "{out}");
    assert_eq!(
        serde_json::from_str::<Value>(&out.stdout).unwrap()["app_login_blocked"],
        false
    );

    // Nothing pending: exit 1, with a code a script can read.
    let out = device(&state, &["pending", "--json"]);
    assert_eq!(out.exit, 1, "{out}");
    assert_eq!(error_code(&out), "nothing_pending");

    // One device per state directory.
    let out = device(
        &state,
        &[
            "enrol",
            "--server",
            &server.url,
            "--pid",
            ADULT,
            "--code",
            &code,
        ],
    );
    assert_eq!(out.exit, 2, "{out}");
    assert!(out.stderr.contains("already enrolled"), "{out}");

    let out = device(&state, &["deactivate"]);
    assert_eq!(out.exit, 0, "{out}");
    assert!(
        !state.path().join("device.key").exists(),
        "the key is deleted"
    );
    let out = device(&state, &["status", "--json"]);
    assert_eq!(out.exit, 2, "{out}");
    assert_eq!(error_code(&out), "not_enrolled");
}

#[test]
fn five_wrong_codes_lock_the_letter_and_the_right_code_is_then_refused() {
    let server = DemoServer::start();
    let code = server.order_letter(ADULT);
    let wrong = well_formed_code_other_than(&code);
    let state = tempfile::tempdir().unwrap();
    for attempt in 1..=5u32 {
        let out = device(
            &state,
            &[
                "enrol",
                "--server",
                &server.url,
                "--pid",
                ADULT,
                "--code",
                &wrong,
            ],
        );
        assert_eq!(out.exit, 1, "attempt {attempt}: {out}");
        if attempt < 5 {
            // Until the code is verified the server does not say whether there is a
            // letter at all, so it gives no count of the tries left.
            assert!(
                out.stderr
                    .contains("the identity number or the activation code is wrong"),
                "attempt {attempt}: {out}"
            );
        } else {
            assert!(
                out.stderr.contains("letter_locked"),
                "attempt 5 locks: {out}"
            );
        }
    }
    let out = device(
        &state,
        &[
            "enrol",
            "--server",
            &server.url,
            "--pid",
            ADULT,
            "--code",
            &code,
            "--json",
        ],
    );
    assert_eq!(out.exit, 1, "{out}");
    assert_eq!(error_code(&out), "letter_locked");
    assert!(
        out.stderr.contains("locked") && out.stderr.contains("order a new letter"),
        "a clear message: {out}"
    );
    assert!(
        !state.path().join("device.key").exists() && !state.path().join("device.json").exists(),
        "nothing kept after a refusal"
    );
    // Locked for this address only: a stranger's wrong codes cannot lock the person out.
    assert_eq!(server.letter_state(ADULT), "pending");
}

#[test]
fn exit_codes_for_usage_and_network_failures() {
    let state = tempfile::tempdir().unwrap();
    // Usage: a missing argument (clap), and a command that needs an enrolled device.
    assert_eq!(device(&state, &["approve"]).exit, 2);
    let out = device(&state, &["pending", "--json"]);
    assert_eq!(out.exit, 2, "{out}");
    assert_eq!(error_code(&out), "not_enrolled");
    // Network: nothing listens on the port.
    let port = free_port();
    let out = device(
        &state,
        &[
            "enrol",
            "--server",
            &format!("http://127.0.0.1:{port}"),
            "--pid",
            ADULT,
            "--code",
            "ABCDE-FGHJK-MNPQ7",
            "--json",
        ],
    );
    assert_eq!(out.exit, 3, "{out}");
    assert_eq!(error_code(&out), "server_unavailable");
    // A malformed server URL is a usage error.
    let out = device(
        &state,
        &[
            "enrol",
            "--server",
            "localhost:8080",
            "--pid",
            ADULT,
            "--code",
            "x",
        ],
    );
    assert_eq!(out.exit, 2, "{out}");
}
