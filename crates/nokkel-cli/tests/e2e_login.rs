#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The whole chain with the software authenticator: order a letter (demo) → read the code
//! from `/dev/letters?format=json` → `nokkel device enrol` → a relying party starts a login
//! → `nokkel device approve` with the number the login page shows → the relying party
//! receives the ID token and validates it against the server's JWKS.

mod device_support;

use device_support::*;
use serde_json::Value;

#[test]
fn software_authenticator_approves_a_relying_party_login_end_to_end() {
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
            "--json",
        ],
    );
    assert_eq!(out.exit, 0, "{out}");

    // The relying party sends the browser to the authorization endpoint.
    let rp = RpLogin::new(&server);
    let number = rp.start(ADULT, "e2e-state", "e2e-nonce");

    // The tester approves on the "phone", picking the number the page shows.
    let out = device(
        &state,
        &["approve", "--number", &number, "--wait", "30", "--json"],
    );
    assert_eq!(out.exit, 0, "{out}");

    // The browser continues and is sent back to the relying party with a code, which the
    // relying party exchanges, validating the ID token with the JWKS.
    let params = rp.finish();
    assert_eq!(params["state"], "e2e-state");
    let claims = rp.id_token_claims(&params["code"]);
    assert_eq!(claims["iss"], server.url.as_str());
    assert_eq!(claims["aud"], "demo-rp");
    assert_eq!(claims["nonce"], "e2e-nonce");
    assert_eq!(claims["pid"], ADULT);
    assert_eq!(claims["amr"], serde_json::json!(["app"]));
    assert_eq!(claims["acr"], "nokkel-loa-substantial");
    let history = device(&state, &["history", "--json"]);
    assert!(history.stdout.contains("approved"), "{history}");
}

/// Issue 12: a login from a second browser does not cancel the first. Both wait; the
/// software authenticator lists both (`pending --all`) and answers each by its challenge
/// id; both browsers get their code.
#[test]
fn two_browsers_wait_side_by_side_and_each_is_answered() {
    let server = DemoServer::start();
    let code = server.order_letter(ADULT);
    let state = tempfile::tempdir().unwrap();
    let args = [
        "enrol",
        "--server",
        &server.url,
        "--pid",
        ADULT,
        "--code",
        &code,
    ];
    assert_eq!(device(&state, &args).exit, 0);

    let first = RpLogin::new(&server);
    let first_number = first.start(ADULT, "first", "n1");
    let second = RpLogin::new(&server);
    let second_number = second.start(ADULT, "second", "n2");

    let out = device(&state, &["pending", "--all", "--json"]);
    assert_eq!(out.exit, 0, "{out}");
    let waiting: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(waiting.len(), 2, "{out}");
    let id = |i: usize| waiting[i]["challenge_id"].as_str().unwrap().to_owned();

    // The newer one first: the older still waits.
    let out = device(
        &state,
        &["approve", "--number", &second_number, "--challenge", &id(1)],
    );
    assert_eq!(out.exit, 0, "{out}");
    assert_eq!(second.finish()["state"], "second");
    let out = device(&state, &["pending", "--all", "--json"]);
    let still: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(still.len(), 1, "{out}");
    assert_eq!(still[0]["challenge_id"], waiting[0]["challenge_id"]);

    let out = device(&state, &["approve", "--number", &first_number]);
    assert_eq!(out.exit, 0, "{out}");
    let params = first.finish();
    assert_eq!(params["state"], "first");
    assert_eq!(first.id_token_claims(&params["code"])["pid"], ADULT);
}
