#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! User support's tools: `nokkel admin account show` finds a person's devices and masked
//! contact details, and `nokkel admin device revoke` retires a lost phone: the phone is
//! refused from then on, and its owner is told by e-mail. Both run against the server's
//! data directory, as an operator would.

mod device_support;

use std::time::Duration;

use device_support::{
    device, error_code, free_port, nokkel, order_letter_at, spawn_demo_server_at, ADULT,
};
use serde_json::Value;

fn admin(data: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let output = nokkel()
        .arg("admin")
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn account(data: &std::path::Path) -> Value {
    let (code, out, err) = admin(data, &["account", "show", ADULT, "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn support_finds_the_device_and_revokes_a_lost_phone() {
    let data = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let (mut server, url) = spawn_demo_server_at(data.path(), &listen, &[]);
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let code = order_letter_at(&http, &url, ADULT);
    let state = tempfile::tempdir().unwrap();
    let out = device(
        &state,
        &[
            "enrol",
            "--server",
            &url,
            "--pid",
            ADULT,
            "--code",
            &code,
            "--name",
            "Lost phone",
        ],
    );
    assert_eq!(out.exit, 0, "{out}");
    let out = device(
        &state,
        &[
            "contact",
            "--mobile",
            "91234567",
            "--email",
            "ingrid@example.no",
        ],
    );
    assert_eq!(out.exit, 0, "{out}");

    // Support looks the person up: the device and masked contact details.
    let before = account(data.path());
    assert_eq!(before["kind"], "app");
    assert_eq!(before["status"], "active");
    assert_eq!(before["email"], "i***@example.no");
    assert_eq!(before["mobile"], "+47*****567");
    let devices = before["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0]["name"], "Lost phone");
    assert!(devices[0]["revoked_at"].is_null());
    let id = devices[0]["id"].as_str().unwrap().to_owned();
    let (_, text, _) = admin(data.path(), &["account", "show", ADULT]);
    assert!(text.contains(&id) && text.contains("active"), "{text}");
    assert!(
        !text.contains("ingrid@"),
        "contact details are masked: {text}"
    );

    // The server is stopped so that no cached device record outlives the revocation.
    let _ = server.kill();
    let _ = server.wait();
    let (code, out, err) = admin(data.path(), &["device", "revoke", &id]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("revoked"), "{out}");
    let (code, _, err) = admin(data.path(), &["device", "revoke", &id]);
    assert_eq!(code, 1, "a second revoke finds no active device");
    assert!(err.contains("no active device"), "{err}");

    let after = account(data.path());
    assert!(after["devices"][0]["revoked_at"].is_i64(), "{after}");
    // The owner is told, in the outbox for the delivery worker.
    let (code, out, err) = admin(
        data.path(),
        &["outbox", "list", "--channel", "email", "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let purposes: Vec<String> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["purpose"].to_string())
        .collect();
    assert!(
        purposes.iter().any(|p| p.contains("device_removed")),
        "{purposes:?}"
    );

    // The phone is refused from now on.
    let (mut server, _) = spawn_demo_server_at(data.path(), &listen, &[]);
    let out = device(&state, &["devices", "--json"]);
    assert_ne!(out.exit, 0, "{out}");
    assert_eq!(error_code(&out), "device_revoked", "{out}");
    let _ = server.kill();
    let _ = server.wait();

    // Resume refuses an account whose logins are not paused by a report.
    let (code, _, err) = admin(data.path(), &["account", "resume", ADULT]);
    assert_eq!(code, 1);
    assert!(err.contains("not paused"), "{err}");
}

#[test]
fn support_blocks_and_unblocks_an_account() {
    let data = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let (mut server, url) = spawn_demo_server_at(data.path(), &listen, &[]);
    let http = reqwest::blocking::Client::new();
    let code = order_letter_at(&http, &url, ADULT);
    let state = tempfile::tempdir().unwrap();
    let out = device(
        &state,
        &["enrol", "--server", &url, "--pid", ADULT, "--code", &code],
    );
    assert_eq!(out.exit, 0, "{out}");
    let out = device(&state, &["contact", "--mobile", "91234567"]);
    assert_eq!(out.exit, 0, "{out}");
    let _ = server.kill();
    let _ = server.wait();

    let (code, out, err) = admin(data.path(), &["account", "block", ADULT]);
    assert_eq!(code, 0, "{out}{err}");
    let blocked = account(data.path());
    assert_eq!(blocked["status"], "blocked");
    assert_eq!(blocked["blocked_reason"], "operator");
    assert!(
        blocked["devices"][0]["revoked_at"].is_null(),
        "support's block keeps the devices: {blocked}"
    );
    // Neither the person's device nor `account resume` lifts support's block.
    let (code, _, _) = admin(data.path(), &["account", "resume", ADULT]);
    assert_eq!(code, 1);
    let (mut server, _) = spawn_demo_server_at(data.path(), &listen, &[]);
    let out = device(&state, &["resume", "--json"]);
    assert_ne!(out.exit, 0, "{out}");
    assert_eq!(error_code(&out), "account_blocked", "{out}");
    let _ = server.kill();
    let _ = server.wait();

    let (code, out, err) = admin(data.path(), &["account", "unblock", ADULT]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(account(data.path())["status"], "active");
    let (code, _, err) = admin(data.path(), &["account", "unblock", ADULT]);
    assert_eq!(code, 1, "nothing to lift");
    assert!(err.contains("no blocked account"), "{err}");
    let (code, _, err) = admin(data.path(), &["account", "block", "01817010055"]);
    assert_eq!(code, 1);
    assert!(err.contains("no account"), "{err}");

    // The person was told by text message that Nøkkel is blocked.
    let (code, out, err) = admin(
        data.path(),
        &["outbox", "list", "--channel", "sms", "--json"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"account_blocked\""), "{out}");
}
