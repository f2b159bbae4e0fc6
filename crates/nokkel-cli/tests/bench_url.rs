#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `nokkel bench --url` against `nokkel serve --demo` in its own process: it prepares its
//! people over HTTP, completes logins over real sockets and reports the server's CPU time
//! and crypto floor. No timing thresholds: speed is measured, not asserted.

mod device_support;

use device_support::{import_population, nokkel, spawn_demo_server, NO_LOGIN_BRAKES};
use serde_json::Value;

#[test]
fn bench_over_http_completes_logins_and_measures_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let population = dir.path().join("people.csv");

    import_population(&population, &data, 6, 3);

    // Each bench person logs in far more often than a person would.
    let (mut server, url) = spawn_demo_server(&data, &NO_LOGIN_BRAKES);

    let run = |state_expected: bool| {
        let state = dir.path().join("people.bench-state.json");
        assert_eq!(state.exists(), state_expected);
        let out = nokkel()
            .args(["bench", "--url", &url, "--seconds", "1", "--warmup", "1"])
            .args(["--concurrency", "2", "--json", "--server-pid"])
            .arg(server.id().to_string())
            .arg("--population")
            .arg(&population)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        let result: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(result["logins"].as_u64().unwrap() > 0, "{result}");
        assert_eq!(result["errors"], 0, "{result} {stderr}");
        assert!(
            result["server_cpu"]["us_per_login"].as_f64().unwrap() > 0.0,
            "{result}"
        );
        assert!(
            result["generator_cpu"]["us_per_login"].as_f64().unwrap() > 0.0,
            "{result}"
        );
        assert!(
            result["crypto_floor"]["us_per_login"].as_f64().unwrap() > 0.0,
            "{result}"
        );
        assert!(
            result["login_ms"]["p50"].as_f64().unwrap() > 0.0,
            "{result}"
        );
        // It holds device keys: owner only.
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&state).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "state file mode {mode:o}");
    };
    // The first run enrols its people; the second reuses them from the state file.
    run(false);
    run(true);

    let _ = server.kill();
    let _ = server.wait();
}
