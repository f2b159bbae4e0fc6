#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The file vault is never left half-written when its process is killed mid-write.
//!
//! A child process (this same binary, started with `NOKKEL_TEST_VAULT_WRITER`) stores
//! large protected keys in a loop, each one self-describing (a sequence number and a
//! pattern derived from it). The parent SIGKILLs it at a random moment, then loads the
//! vault: the content must be one complete key, every time. Leftover temporary files
//! show that kills did land in the middle of writes. A control run with a naive
//! `fs::write` writer must produce torn files, which shows the check can fail.
//!
//! `harness = false`: the binary is its own test runner so that it can also be the child.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nokkel_client::{FileVault, KeyVault, ProtectedKey};

const ENV_WRITER: &str = "NOKKEL_TEST_VAULT_WRITER";
const ENV_MODE: &str = "NOKKEL_TEST_VAULT_WRITER_MODE";
const ENV_BASE: &str = "NOKKEL_TEST_VAULT_WRITER_BASE";
/// Each child numbers its keys from its own base, so old and new content always differ.
const PER_CHILD: u64 = 1_000_000;
/// Big enough that a write takes a while, so kills often land inside one.
const CONTENT_LEN: usize = 512 * 1024;
const ITERATIONS: u32 = 200;
const CONTROL_ITERATIONS: u32 = 60;

fn content(seq: u64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(CONTENT_LEN);
    bytes.extend_from_slice(&seq.to_be_bytes());
    let fill = (seq % 251) as u8;
    bytes.resize(CONTENT_LEN, fill);
    bytes
}

/// Some(seq) when `bytes` is a complete content, None when torn.
fn complete(bytes: &[u8]) -> Option<u64> {
    if bytes.len() != CONTENT_LEN {
        return None;
    }
    let seq = u64::from_be_bytes(bytes[..8].try_into().ok()?);
    (bytes == content(seq).as_slice()).then_some(seq)
}

fn writer(path: &Path, naive: bool, base: u64) -> ! {
    let vault = FileVault::new(path);
    let mut seq = base + 1;
    loop {
        let bytes = content(seq);
        if naive {
            std::fs::write(path, &bytes).unwrap();
        } else {
            vault.store(&ProtectedKey::from_bytes(bytes)).unwrap();
        }
        seq += 1;
    }
}

struct Outcome {
    torn: u32,
    mid_write: u32,
    /// Rounds after which the file held the new child's key (not the previous one).
    replaced: u32,
}

/// A tiny deterministic generator for kill delays (xorshift).
struct Delays(u64);
impl Delays {
    fn next(&mut self) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_micros(500 + self.0 % 15_000)
    }
}

fn temp_leftovers(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".device.key.tmp-")
        })
        .count()
}

fn run(naive: bool, iterations: u32) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("device.key");
    let vault = FileVault::new(&path);
    vault.store(&ProtectedKey::from_bytes(content(0))).unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut delays = Delays(0x9E37_79B9_7F4A_7C15);
    let mut outcome = Outcome {
        torn: 0,
        mid_write: 0,
        replaced: 0,
    };
    let mut previous = 0u64;
    for round in 0..u64::from(iterations) {
        let base = (round + 1) * PER_CHILD;
        let mut child = Command::new(&exe)
            .env(ENV_WRITER, &path)
            .env(ENV_MODE, if naive { "naive" } else { "atomic" })
            .env(ENV_BASE, base.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delays.next());
        child.kill().unwrap(); // SIGKILL on Unix: no destructor, no flush, no cleanup.
        child.wait().unwrap();
        if temp_leftovers(dir.path()) > 0 {
            outcome.mid_write += 1;
        }
        match std::fs::read(&path).ok().as_deref().and_then(complete) {
            // Old or new, nothing else: the previous round's key or one of this child's.
            Some(seq) if seq == previous => {}
            Some(seq) if (base + 1..base + PER_CHILD).contains(&seq) => {
                outcome.replaced += 1;
                previous = seq;
            }
            Some(seq) => panic!("key #{seq} is neither the old #{previous} nor a new one"),
            None => {
                outcome.torn += 1;
                if naive {
                    // Repair so the next round starts from a complete file.
                    std::fs::write(&path, content(previous)).unwrap();
                }
            }
        }
        if !naive {
            // The vault's own load agrees, and never sees a temp file.
            let loaded = vault.load().unwrap().unwrap();
            assert!(complete(loaded.as_bytes()).is_some());
        }
    }
    outcome
}

fn main() {
    if let Some(path) = std::env::var_os(ENV_WRITER) {
        let naive = std::env::var(ENV_MODE).as_deref() == Ok("naive");
        let base = std::env::var(ENV_BASE).unwrap().parse().unwrap();
        writer(Path::new(&path), naive, base);
    }
    let started = Instant::now();
    let atomic = run(false, ITERATIONS);
    let atomic_time = started.elapsed();
    let control = run(true, CONTROL_ITERATIONS);
    println!(
        "file vault: {ITERATIONS} SIGKILLs in {:.1} s, {} landed mid-write (temp file left), \
         {} torn, {} ended with the new key and the rest with the old; naive control: \
         {} of {CONTROL_ITERATIONS} torn",
        atomic_time.as_secs_f64(),
        atomic.mid_write,
        atomic.torn,
        atomic.replaced,
        control.torn
    );
    assert_eq!(atomic.torn, 0, "the file vault was left half-written");
    assert!(
        atomic.mid_write > 0,
        "no kill landed in the middle of a write: the test did not exercise the window"
    );
    assert!(atomic.replaced > 0, "the writer never completed a write");
    assert!(
        control.torn > 0,
        "a naive fs::write was never caught torn: the check would not notice a broken vault"
    );
    println!("test file_vault_survives_sigkill_mid_write ... ok");
}
