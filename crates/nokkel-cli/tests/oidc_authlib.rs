#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! A third-party OpenID Connect client — Python's authlib, not our code — logs in at a
//! demo server listening on loopback: discovery, authorization URL with PKCE S256, code
//! exchange with `client_secret_basic` and with `client_secret_post`, ID-token signature
//! checked against the JWKS with authlib's `CodeIDToken` rules (iss, aud, exp, iat,
//! nonce, at_hash), userinfo, and a tampered token refused.
//!
//! The server runs in this process (`nokkel_server::serve::build_state`, system clock, a
//! fresh data directory) so the test can stand in for the citizen's login by calling
//! `oidc::complete_authorization` for the pending request. Needs python3 with authlib and
//! requests (scripts/requirements-test.txt); fails with install instructions otherwise.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use nokkel_server::oidc::{self, Authenticated};
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
            // Stands in for the citizen's login (the login pages call the same function).
            let back = oidc::complete_authorization(
                &state,
                id,
                Authenticated {
                    pid: ADULT.into(),
                    amr: vec!["app".into()],
                    auth_time: state.clock.unix(),
                },
            )
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
