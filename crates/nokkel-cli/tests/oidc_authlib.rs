#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! A third-party OpenID Connect client — Python's authlib, not our code — logs in at a
//! demo server listening on loopback: discovery, authorization URL with PKCE S256, code
//! exchange with `client_secret_basic` and with `client_secret_post`, ID-token signature
//! checked against the JWKS with authlib's `CodeIDToken` rules (iss, aud, exp, iat,
//! nonce, at_hash), userinfo, and a tampered token refused.
//!
//! The server runs in this process (`nokkel_server::serve::build_state`, system clock, a
//! fresh data directory). The citizen's part is real: a browser (an HTTP client keeping
//! cookies) goes through the login pages, and the approval is made through the device API
//! by `nokkel device approve` with the number the page shows. Needs python3 with authlib
//! and requests (scripts/requirements-test.txt); fails with install instructions otherwise.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use nokkel_server::Config;
use serde_json::Value;

const INSTALL: &str = "install them with: python3 -m pip install -r scripts/requirements-test.txt \
     (scripts/setup.sh puts them in the test venv, $NOKKEL_TEST_VENV)";
const ADULT: &str = "14838514058";

fn python() -> PathBuf {
    if let Some(venv) = std::env::var_os("NOKKEL_TEST_VENV") {
        let candidate = PathBuf::from(venv).join("bin").join("python3");
        if candidate.exists() {
            return candidate;
        }
    }
    PathBuf::from("python3")
}

fn require_authlib(python: &PathBuf) {
    let probe = Command::new(python)
        .args(["-c", "import authlib, requests; print(authlib.__version__)"])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{} is not runnable ({e}); python3, authlib and requests are needed: {INSTALL}",
                python.display()
            )
        });
    assert!(
        probe.status.success(),
        "python3 cannot import authlib/requests: {}\n{INSTALL}",
        String::from_utf8_lossy(&probe.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authlib_completes_code_flow_with_pkce_and_verifies_the_id_token() {
    let python = python();
    require_authlib(&python);

    let data = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let config = Config {
        demo: true,
        data_dir: data.path().to_owned(),
        public_url: Some(issuer.clone()),
        ..Config::default()
    };
    let state = nokkel_server::serve::build_state(config).await.unwrap();
    let app = nokkel_server::app(state.clone());
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });

    // The citizen has the app (the software authenticator) enrolled with a letter.
    let phone = tempfile::tempdir().unwrap();
    {
        let (issuer, dir) = (issuer.clone(), phone.path().to_owned());
        tokio::task::spawn_blocking(move || enrol_phone(&issuer, &dir))
            .await
            .unwrap();
    }

    // A loopback redirect URI on a port of the client's choosing (RFC 8252 §7.3): nothing
    // listens there, the script reads the redirect from us.
    let redirect = "http://127.0.0.1:53682/callback";
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc_authlib/client.py");
    let mut child = Command::new(&python)
        .arg(&script)
        .args([issuer.as_str(), "demo-rp", "demo-secret", redirect])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });

    let mut results = Vec::new();
    let mut tampered_rejected = false;
    loop {
        let next = tokio::time::timeout(Duration::from_secs(60), lines.recv())
            .await
            .expect("the authlib client said nothing for 60 s");
        let Some(line) = next else { break };
        if let Some(id) = line.strip_prefix("PENDING ") {
            // The citizen logs in on the pages and approves on the phone.
            let (issuer, id, phone) = (issuer.clone(), id.to_owned(), phone.path().to_owned());
            let back = tokio::task::spawn_blocking(move || login_with_app(&issuer, &id, &phone))
                .await
                .unwrap();
            assert!(back.starts_with(redirect), "{back}");
            writeln!(stdin, "{back}").unwrap();
            stdin.flush().unwrap();
        } else if let Some(json) = line.strip_prefix("RESULT ") {
            results.push(serde_json::from_str::<Value>(json).unwrap());
        } else if line == "TAMPERED_REJECTED" {
            tampered_rejected = true;
        } else {
            panic!("unexpected line from the authlib client: {line}");
        }
    }
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        output.status.success(),
        "the authlib client failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );

    assert_eq!(
        results.len(),
        2,
        "one login per client authentication method"
    );
    let methods: Vec<&str> = results
        .iter()
        .map(|r| r["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["client_secret_basic", "client_secret_post"]);
    for result in &results {
        let claims = &result["claims"];
        assert_eq!(claims["iss"], issuer.as_str());
        assert_eq!(claims["aud"], "demo-rp");
        assert_eq!(claims["pid"], ADULT);
        assert_eq!(claims["acr"], "nokkel-loa-substantial");
        assert_eq!(claims["amr"], serde_json::json!(["app"]));
        assert!(claims["at_hash"].is_string());
        assert!(claims["nonce"].is_string());
        assert_eq!(claims["sub"].as_str().unwrap().len(), 43);
        assert_ne!(claims["sub"], ADULT, "pairwise, not the identity number");
        assert_eq!(result["userinfo"]["pid"], ADULT);
        assert_eq!(
            result["kid"],
            state
                .keys
                .id_tokens
                .signing_key(&state.store, &state.secrets, state.clock.unix())
                .await
                .unwrap()
                .kid()
        );
    }
    assert_eq!(
        results[0]["claims"]["sub"], results[1]["claims"]["sub"],
        "the same person has the same sub at the same client"
    );
    assert!(
        tampered_rejected,
        "authlib must refuse a tampered signature"
    );
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn nokkel_device(state: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_nokkel"))
        .arg("device")
        .arg("--state")
        .arg(state)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "nokkel device {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Orders a letter, reads its code in the dev inbox and enrols `nokkel device` with it.
fn enrol_phone(issuer: &str, state: &std::path::Path) {
    let http = http();
    let res = http
        .post(format!("{issuer}/api/v1/orders"))
        .json(&serde_json::json!({"v": 1, "pid": ADULT}))
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 202);
    let letters: Vec<Value> = http
        .get(format!("{issuer}/dev/letters?format=json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let code = letters.iter().find(|l| l["pid"] == ADULT).unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    nokkel_device(
        state,
        &["enrol", "--server", issuer, "--pid", ADULT, "--code", &code],
    );
}

/// The browser's and the phone's part of one login: identity number on the login page,
/// approval in the app with the number shown, then the browser finishes and is sent back.
fn login_with_app(issuer: &str, request: &str, phone: &std::path::Path) -> String {
    let browser = http();
    let page = browser
        .get(format!("{issuer}/login?request={request}"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let res = browser
        .post(format!("{issuer}/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("request", request),
            ("pid", ADULT),
        ])
        .send()
        .unwrap();
    assert_eq!(res.headers()["location"], "/login/app");
    let page = browser
        .get(format!("{issuer}/login/app"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let start = page.find("class=\"number\"").unwrap();
    let rest = &page[start..];
    let number = rest[rest.find('>').unwrap() + 1..rest.find("</p>").unwrap()]
        .trim()
        .to_owned();
    nokkel_device(phone, &["approve", "--number", &number, "--wait", "30"]);
    let res = browser
        .get(format!("{issuer}/login/finish"))
        .send()
        .unwrap();
    res.headers()["location"].to_str().unwrap().to_owned()
}
