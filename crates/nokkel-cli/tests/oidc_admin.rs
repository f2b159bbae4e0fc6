#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `nokkel admin client add` and `nokkel admin keys rotate|list` on a data directory: the
//! printed secret authenticates the client at a server started on that directory, a
//! rotated key is listed as published but not yet signing, and bad input is refused.

use std::process::{Command, Output};

use nokkel_server::Config;
use tower::ServiceExt;

const BIN: &str = env!("CARGO_BIN_EXE_nokkel");

fn nokkel(data: &std::path::Path, args: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("NOKKEL_") {
            command.env_remove(key);
        }
    }
    command
        .arg("admin")
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

async fn token_status(app: &axum::Router, client: &str, secret: &str) -> (u16, serde_json::Value) {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", "no-such-code")
        .append_pair("redirect_uri", "https://skatt.example/cb")
        .append_pair("code_verifier", &"v".repeat(43))
        .append_pair("client_id", client)
        .append_pair("client_secret", secret)
        .finish();
    let res = app
        .clone()
        .oneshot(
            axum::http::Request::post("/oauth/token")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = res.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_add_and_key_rotation_from_the_command_line() {
    let data = tempfile::tempdir().unwrap();
    let out = stdout(&nokkel(
        data.path(),
        &[
            "client",
            "add",
            "--id",
            "skatt",
            "--name",
            "Skatteetaten",
            "--redirect-uri",
            "https://skatt.example/cb",
            "https://skatt.example/cb2",
            "--scope",
            "pid",
        ],
    ));
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("client_secret: "))
        .unwrap()
        .to_owned();
    assert_eq!(secret.len(), 43, "{out}");

    // Same id again, a short secret, plain http off loopback: refused.
    for args in [
        vec![
            "--id",
            "skatt",
            "--redirect-uri",
            "https://skatt.example/cb",
        ],
        vec![
            "--id",
            "nav",
            "--redirect-uri",
            "https://nav.example/cb",
            "--secret",
            "short",
        ],
        vec!["--id", "nav", "--redirect-uri", "http://nav.example/cb"],
    ] {
        let mut all = vec!["client", "add", "--name", "X"];
        all.extend(args);
        let output = nokkel(data.path(), &all);
        assert!(!output.status.success(), "{all:?}");
        assert!(!output.stderr.is_empty());
    }

    // The first list creates nothing: a fresh store has no keys until the server starts.
    let config = Config {
        data_dir: data.path().to_owned(),
        ..Config::default()
    };
    let state = nokkel_server::serve::build_state(config.clone())
        .await
        .unwrap();
    let app = nokkel_server::app(state.clone());
    let (status, body) = token_status(&app, "skatt", &secret).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "authenticated"
    );
    let (status, body) = token_status(&app, "skatt", "wrong-secret-wrong-secret-wrong-s").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let signing = state
        .keys
        .id_tokens
        .signing_key(&state.store, &state.secrets, state.clock.unix())
        .await
        .unwrap()
        .kid()
        .to_owned();
    state.store.close().await;

    let out = stdout(&nokkel(
        data.path(),
        &["keys", "rotate", "--activate-after", "3600"],
    ));
    let new_kid = out
        .strip_prefix("new ID-token key ")
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    let listing = stdout(&nokkel(data.path(), &["keys", "list"]));
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 2, "{listing}");
    assert!(
        lines[0].starts_with(&signing) && lines[0].ends_with("signing"),
        "{listing}"
    );
    assert!(
        lines[1].starts_with(&new_kid) && lines[1].ends_with("published, not yet signing"),
        "{listing}"
    );
}
