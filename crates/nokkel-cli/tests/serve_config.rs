#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `nokkel serve` configuration that only shows in the running process.

mod device_support;

use std::process::Stdio;
use std::time::Duration;

use device_support::{nokkel, watch_stdout};
use serde_json::Value;

/// `workers` (here `NOKKEL_WORKERS`) is the number of Tokio worker threads the server runs,
/// as its start-up log reports it from the runtime itself; `0` is refused by name.
#[test]
fn serve_runs_the_configured_worker_threads() {
    let data = tempfile::tempdir().unwrap();
    let mut child = nokkel()
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .env("NOKKEL_WORKERS", "1")
        .env("NOKKEL_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let rx = watch_stdout(&mut child, |line| {
        serde_json::from_str::<Value>(line)
            .ok()
            .filter(|event| event["fields"]["message"] == "listening")
    });
    let listening = rx.recv_timeout(Duration::from_secs(60));
    let _ = child.kill();
    let _ = child.wait();
    let listening = listening.expect("no `listening` log line within 60 s");
    assert_eq!(listening["fields"]["workers"], 1, "{listening}");

    let refused = nokkel()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .env("NOKKEL_WORKERS", "0")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("workers") || stderr.contains("NOKKEL_WORKERS"),
        "{stderr}"
    );
}
