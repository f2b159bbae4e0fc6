#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The whole chain with the software authenticator: order a letter (demo) → read the code
//! from `/dev/letters?format=json` → `nokkel device enrol` → a relying party starts a login
//! → `nokkel device approve` with the number the login page shows → the relying party
//! receives the ID token and validates it against the server's JWKS.

mod device_support;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use device_support::*;
use nokkel_core::jws::UnverifiedJws;
use nokkel_core::keys::{PublicJwk, PublicKey};
use serde_json::Value;

const VERIFIER: &str = "e2e-verifier-0123456789-0123456789-0123456789";
const REDIRECT: &str = "http://127.0.0.1:9/callback";

fn absolute(server: &DemoServer, to: &str) -> String {
    if to.starts_with("http") {
        to.to_owned()
    } else {
        format!("{}{to}", server.url)
    }
}

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
    let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        VERIFIER.as_bytes(),
    ));
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", "demo-rp")
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid pid")
        .append_pair("state", "e2e-state")
        .append_pair("nonce", "e2e-nonce")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let browser = &server.http;
    let res = browser
        .get(format!("{}/oauth/authorize?{query}", server.url))
        .send()
        .unwrap();
    let login_page = absolute(&server, &location(&res));
    let page = browser.get(&login_page).send().unwrap().text().unwrap();
    assert!(page.contains("Logg inn på"), "{page}");
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let request = login_page
        .split("request=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let res = browser
        .post(format!("{}/login", server.url))
        .form(&[
            ("csrf", csrf.as_str()),
            ("request", request.as_str()),
            ("pid", ADULT),
        ])
        .send()
        .unwrap();
    assert_eq!(location(&res), "/login/app");
    let number = shown_number(
        &browser
            .get(format!("{}/login/app", server.url))
            .send()
            .unwrap()
            .text()
            .unwrap(),
    );

    // The tester approves on the "phone", picking the number the page shows.
    let out = device(
        &state,
        &["approve", "--number", &number, "--wait", "30", "--json"],
    );
    assert_eq!(out.exit, 0, "{out}");

    // The browser continues and is sent back to the relying party with a code.
    let res = browser
        .get(format!("{}/login/finish", server.url))
        .send()
        .unwrap();
    let back = location(&res);
    assert!(back.starts_with(REDIRECT), "{back}");
    let params: std::collections::HashMap<String, String> = url::Url::parse(&back)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(params["state"], "e2e-state");

    // The relying party exchanges the code and validates the ID token with the JWKS.
    let tokens: Value = reqwest::blocking::Client::new()
        .post(format!("{}/oauth/token", server.url))
        .basic_auth("demo-rp", Some("demo-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", params["code"].as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id_token = tokens["id_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{tokens}"));
    let jwks: Value = browser
        .get(format!("{}/oauth/jwks", server.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let kid = UnverifiedJws::decode(id_token, "JWT")
        .unwrap()
        .kid()
        .unwrap()
        .to_owned();
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("signing key published");
    let key = PublicKey::from_jwk(&PublicJwk {
        kty: "EC".into(),
        crv: "P-256".into(),
        x: key["x"].as_str().unwrap().into(),
        y: key["y"].as_str().unwrap().into(),
    })
    .unwrap();
    let claims: Value = serde_json::from_slice(
        &UnverifiedJws::decode(id_token, "JWT")
            .unwrap()
            .verify(&key)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["iss"], server.url.as_str());
    assert_eq!(claims["aud"], "demo-rp");
    assert_eq!(claims["nonce"], "e2e-nonce");
    assert_eq!(claims["pid"], ADULT);
    assert_eq!(claims["amr"], serde_json::json!(["app"]));
    assert_eq!(claims["acr"], "nokkel-loa-substantial");
    let history = device(&state, &["history", "--json"]);
    assert!(history.stdout.contains("approved"), "{history}");
}
