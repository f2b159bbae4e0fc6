//! Acceptance: the vectors in docs/vectors/ verify with an independent JOSE implementation
//! (Python jwcrypto + pyca/cryptography, see tests/jose/check_vectors.py). Fails, never
//! skips, when Python or the packages are missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

const INSTALL: &str =
    "install them with: python3 -m pip install -r crates/nokkel-core/tests/jose/requirements.txt \
     (on Debian's own Python 3 add --break-system-packages, or use a virtualenv)";

#[test]
fn vectors_verify_with_jwcrypto() {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let script = manifest.join("tests/jose/check_vectors.py");
    let vectors = manifest.join("../../docs/vectors");

    let probe = Command::new("python3")
        .args(["-c", "import jwcrypto, cryptography"])
        .output()
        .unwrap_or_else(|e| {
            panic!("python3 is not runnable ({e}); it and jwcrypto are needed: {INSTALL}")
        });
    assert!(
        probe.status.success(),
        "python3 cannot import jwcrypto/cryptography: {}\n{INSTALL}",
        String::from_utf8_lossy(&probe.stderr)
    );

    let out = Command::new("python3")
        .arg(&script)
        .arg(&vectors)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "jwcrypto disagrees with the vectors:\n{stdout}"
    );
    // The script must actually have checked something (>= one check per case).
    let line = stdout
        .lines()
        .find(|l| l.starts_with("jwcrypto vector check:"))
        .expect("summary line");
    let passed: usize = line
        .split_whitespace()
        .nth(3)
        .and_then(|n| n.parse().ok())
        .expect("passed count");
    assert!(passed >= 200, "only {passed} checks ran: {line}");
}
