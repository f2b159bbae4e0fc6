#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Moving to a new phone without a letter, end to end with two software authenticators:
//! device A is enrolled with a letter; device B (an empty state directory) runs
//! `nokkel device transfer start`, and A approves its code with
//! `nokkel device transfer approve CODE --retire`. B then approves a relying party's login
//! (the code exchanged, the ID token checked against the JWKS), A is refused by the server,
//! and the contact register got the notice.

mod device_support;

use std::io::{BufRead as _, BufReader, Read as _};

use device_support::*;
use serde_json::Value;

/// A relying party's login for ADULT approved by the device in `state`: the verified ID
/// token's claims.
fn log_in_with(server: &DemoServer, state: &tempfile::TempDir) -> Value {
    let rp = RpLogin::new(server);
    let number = rp.start(ADULT, "transfer-state", "transfer-nonce");
    let out = device(
        state,
        &["approve", "--number", &number, "--wait", "30", "--json"],
    );
    assert_eq!(out.exit, 0, "{out}");
    let params = rp.finish();
    rp.id_token_claims(&params["code"])
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

#[test]
fn a_person_moves_to_a_new_phone_without_a_letter() {
    let server = DemoServer::start();
    let letter = server.order_letter(ADULT);
    let old = tempfile::tempdir().unwrap();
    let out = device(
        &old,
        &[
            "enrol",
            "--server",
            &server.url,
            "--pid",
            ADULT,
            "--code",
            &letter,
            "--name",
            "Gammel telefon",
            "--json",
        ],
    );
    assert_eq!(out.exit, 0, "{out}");
    // The mobile the person gives the app after enrolling, where the notice goes.
    let out = device(&old, &["contact", "--mobile", "91234567"]);
    assert_eq!(out.exit, 0, "{out}");
    // A copy of the old phone, to show the server refuses it once retired.
    let old_copy = tempfile::tempdir().unwrap();
    copy_dir(old.path(), old_copy.path());

    // The new phone shows a code and waits.
    let new = tempfile::tempdir().unwrap();
    let mut waiting = device_spawn(
        &new,
        &[
            "transfer",
            "start",
            "--server",
            &server.url,
            "--name",
            "Ny telefon",
            "--wait",
            "60",
            "--json",
        ],
    );
    let mut stdout = BufReader::new(waiting.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let shown: Value = serde_json::from_str(first.trim()).unwrap_or_else(|_| {
        let mut err = String::new();
        waiting
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        panic!("not JSON: {first} / {err}")
    });
    assert_eq!(shown["status"], "waiting");
    let code = shown["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 11, "{code}");

    // The old phone approves it and retires itself.
    let out = device(&old, &["transfer", "approve", &code, "--retire", "--json"]);
    assert_eq!(out.exit, 0, "{out}");
    let approved: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["old_device_retired"], true);
    assert_eq!(approved["transfer"]["device_name"], "Ny telefon");

    // The new phone learns it is enrolled.
    let status = waiting.wait().unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(status.success(), "{rest}");
    let done: Value = serde_json::from_str(rest.trim()).unwrap();
    assert_eq!(done["status"], "approved", "{done}");
    assert_eq!(done["enrolled"]["device_id"], shown["device_id"]);

    // The new phone approves a real login.
    let claims = log_in_with(&server, &new);
    assert_eq!(claims["iss"], server.url.as_str());
    assert_eq!(claims["aud"], "demo-rp");
    assert_eq!(claims["pid"], ADULT);
    assert_eq!(claims["nonce"], "transfer-nonce");

    // The retired phone deleted its key, and its copy is refused by the server.
    let out = device(&old, &["devices", "--json"]);
    assert_eq!(out.exit, 2, "{out}");
    let out = device(&old_copy, &["devices", "--json"]);
    assert_eq!(out.exit, 1, "{out}");
    assert_eq!(error_code(&out), "device_revoked");
    let out = device(&new, &["devices", "--json"]);
    assert_eq!(out.exit, 0, "{out}");
    let devices: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(devices["devices"].as_array().unwrap().len(), 1, "{devices}");

    // The code is spent.
    let out = device(&new, &["transfer", "approve", &code, "--json"]);
    assert_eq!(out.exit, 1, "{out}");
    assert_eq!(error_code(&out), "unknown_transfer");

    // The contact register was told (SMS to the letter's mobile number).
    let sms: Value = server
        .http
        .get(format!("{}/dev/sms?format=json", server.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let messages = sms.as_array().cloned().unwrap_or_else(|| {
        sms["messages"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("{sms}"))
    });
    assert!(
        messages.iter().any(|m| m["purpose"] == "phone_moved"),
        "{sms}"
    );
}
