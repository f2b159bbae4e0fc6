//! Shared by the delivery tests: the test peers (tests/peers: an SMS aggregator's endpoint
//! and an SMTP server, both someone else's service in production), a configuration that
//! points `nokkel serve` at them, and the server process itself, without `--demo`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[path = "../device_support/mod.rs"]
pub mod device_support;

pub use device_support::nokkel;
use device_support::spawn_serving;

/// The shared secret the SMS peer checks signatures with.
pub const SMS_SECRET: &str = "test-secret-shared-with-the-sms-peer";
/// The SMTP peer's account.
pub const SMTP_USER: &str = "nokkel";
pub const SMTP_PASSWORD: &str = "correct horse battery staple";

/// The test venv's Python (scripts/setup.sh makes it); the peers need aiosmtpd.
pub fn python() -> PathBuf {
    let venv = std::env::var_os("NOKKEL_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/nokkel/venv")
        });
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "the test venv is missing ({}): run scripts/setup.sh",
        python.display()
    );
    python
}

fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers")
}

/// Starts a peer script and reads its one JSON ready line.
fn spawn_peer(script: &str, args: &[&str]) -> (Child, Value) {
    let mut child = Command::new(python())
        .arg(peers_dir().join(script))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {script}: {e}"));
    // The peer logs every request; pass on the rest (startup errors, mode changes).
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if !line.contains("HTTP/1.1\" ") {
                eprintln!("{line}");
            }
        }
    });
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        // Keep draining so the peer never blocks on a full pipe.
        for _ in lines {}
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("{script} did not report ready within 30 s"));
    (child, serde_json::from_str(&line).unwrap())
}

fn control() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A peer's `GET /_peer/messages` on its control `port`.
fn peer_state(port: u16) -> Value {
    control()
        .get(format!("http://127.0.0.1:{port}/_peer/messages"))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

/// A peer's `POST /_peer/mode` on its control `port`.
fn set_peer_mode(port: u16, mode: &Value) {
    let res = control()
        .post(format!("http://127.0.0.1:{port}/_peer/mode"))
        .json(mode)
        .send()
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
}

/// The SMS aggregator's endpoint, checking our HMAC signatures.
pub struct SmsPeer {
    child: Child,
    pub port: u16,
}

impl SmsPeer {
    pub fn start() -> Self {
        Self::start_on(0)
    }

    /// On a given port (a peer brought back after an outage keeps its address).
    pub fn start_on(port: u16) -> Self {
        let port_arg = port.to_string();
        let (child, ready) = spawn_peer(
            "sms_peer.py",
            &["--secret", SMS_SECRET, "--port", &port_arg],
        );
        Self {
            child,
            port: u16::try_from(ready["port"].as_u64().unwrap()).unwrap(),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/sms", self.port)
    }

    /// `{"received", "duplicates", "rejected", "failed", "messages": [...]}`.
    pub fn state(&self) -> Value {
        peer_state(self.port)
    }

    pub fn messages(&self) -> Vec<Value> {
        self.state()["messages"].as_array().unwrap().clone()
    }

    /// Messages to `to`, in arrival order.
    pub fn messages_to(&self, to: &str) -> Vec<Value> {
        self.messages()
            .into_iter()
            .filter(|m| m["to"] == to)
            .collect()
    }

    pub fn set_mode(&self, fail_status: Option<u16>, delay_ms: u64) {
        set_peer_mode(
            self.port,
            &json!({ "fail_status": fail_status, "delay_ms": delay_ms }),
        );
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SmsPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An SMTP server requiring STARTTLS and AUTH, with a fresh self-signed certificate.
pub struct SmtpPeer {
    child: Child,
    pub smtp_port: u16,
    pub control_port: u16,
    pub cert: PathBuf,
}

impl SmtpPeer {
    /// Starts the peer; its certificate goes to `cert`.
    pub fn start(cert: &Path) -> Self {
        let (child, ready) = spawn_peer(
            "smtp_peer.py",
            &[
                "--user",
                SMTP_USER,
                "--password",
                SMTP_PASSWORD,
                "--cert-out",
                cert.to_str().unwrap(),
            ],
        );
        Self {
            child,
            smtp_port: u16::try_from(ready["smtp_port"].as_u64().unwrap()).unwrap(),
            control_port: u16::try_from(ready["control_port"].as_u64().unwrap()).unwrap(),
            cert: cert.to_owned(),
        }
    }

    pub fn state(&self) -> Value {
        peer_state(self.control_port)
    }

    pub fn messages(&self) -> Vec<Value> {
        self.state()["messages"].as_array().unwrap().clone()
    }

    pub fn set_mode(&self, fail_code: Option<u16>) {
        set_peer_mode(self.control_port, &json!({ "fail_code": fail_code }));
    }
}

impl Drop for SmtpPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the server's senders point.
pub struct Peers<'a> {
    pub sms_url: String,
    pub smtp: Option<&'a SmtpPeer>,
    pub spool: Option<&'a Path>,
}

/// Writes a configuration for a test server without demo mode: synthetic identity numbers
/// and software authenticators allowed, senders pointed at `peers`, quick retries
/// (`max_attempts` tries, 100 ms base). Returns its path.
pub fn write_config(dir: &Path, peers: &Peers<'_>, max_attempts: u32) -> PathBuf {
    let secret = dir.join("sms.secret");
    std::fs::write(&secret, format!("{SMS_SECRET}\n")).unwrap();
    let mut toml = format!(
        "accept_synthetic_ids = true\n\
         accept_software_devices = true\n\
         [delivery]\n\
         max_attempts = {max_attempts}\n\
         retry_base_ms = 100\n\
         retry_max_ms = 400\n\
         poll_interval_ms = 100\n\
         [sms]\n\
         url = {:?}\n\
         hmac_secret_file = {:?}\n\
         timeout_seconds = 5\n",
        peers.sms_url,
        secret.to_str().unwrap()
    );
    if let Some(smtp) = peers.smtp {
        let password = dir.join("smtp.password");
        std::fs::write(&password, format!("{SMTP_PASSWORD}\n")).unwrap();
        toml.push_str(&format!(
            "[smtp]\n\
             host = \"localhost\"\n\
             port = {}\n\
             tls = \"starttls\"\n\
             username = {:?}\n\
             password_file = {:?}\n\
             from = \"Nøkkel <ikke-svar@nokkel.test>\"\n\
             ca_file = {:?}\n\
             timeout_seconds = 10\n",
            smtp.smtp_port,
            SMTP_USER,
            password.to_str().unwrap(),
            smtp.cert.to_str().unwrap()
        ));
    }
    if let Some(spool) = peers.spool {
        toml.push_str(&format!(
            "[letters]\nspool_dir = {:?}\n",
            spool.to_str().unwrap()
        ));
    }
    let path = dir.join("nokkel.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

/// `nokkel serve --config CONFIG --data-dir DATA [--database-url URL]` (no `--demo`),
/// killed on drop.
pub struct Server {
    child: Child,
    pub url: String,
}

impl Server {
    pub fn start(config: &Path, data: &Path, listen: &str, database_url: Option<&str>) -> Self {
        Self::start_with(config, data, listen, database_url, &[])
    }

    /// [`Server::start`] with extra `nokkel serve` flags.
    pub fn start_with(
        config: &Path,
        data: &Path,
        listen: &str,
        database_url: Option<&str>,
        extra: &[&str],
    ) -> Self {
        let mut command = nokkel();
        command
            .args(["serve", "--listen", listen, "--config"])
            .arg(config)
            .arg("--data-dir")
            .arg(data)
            .args(extra);
        if let Some(url) = database_url {
            command.args(["--database-url", url]);
        }
        let (child, url) = spawn_serving(command);
        Self { child, url }
    }

    /// Kills the server with SIGKILL, as a crash would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `csv` (the population register's import format) to `dir`/people.csv and imports
/// it with `nokkel admin population import` into the server's data directory.
pub fn import_people_csv(dir: &Path, config: &Path, data: &Path, csv: &str) {
    let file = dir.join("people.csv");
    std::fs::write(&file, csv).unwrap();
    run_ok(&[
        "admin",
        "population",
        "import",
        file.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
}

/// Registers relying party `id` (`name`, `secret`, scope `pid`, redirect URI
/// [`device_support::RP_REDIRECT`]) with `nokkel admin client add`.
pub fn add_relying_party(config: &Path, data: &Path, id: &str, name: &str, secret: &str) {
    run_ok(&[
        "admin",
        "client",
        "add",
        "--id",
        id,
        "--name",
        name,
        "--redirect-uri",
        device_support::RP_REDIRECT,
        "--scope",
        "pid",
        "--secret",
        secret,
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
}

/// Runs `nokkel ARGS` to completion; panics with its output unless it succeeds.
pub fn run_ok(args: &[&str]) -> String {
    let output = nokkel().args(args).output().unwrap();
    assert!(
        output.status.success(),
        "nokkel {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------- letters

pub fn require_pdftotext() {
    let probe = Command::new("pdftotext").arg("-v").output();
    assert!(
        probe.is_ok(),
        "pdftotext is needed to read the printed letters: install poppler-utils \
         (scripts/setup.sh does)"
    );
}

/// `pdftotext -layout`, with runs of spaces squeezed to one (the layout pads columns).
pub fn pdftotext(pdf: &Path) -> String {
    let output = Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap_or_else(|e| panic!("pdftotext: {e}"));
    assert!(
        output.status.success(),
        "pdftotext {}: {}",
        pdf.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The one activation code (three groups of five symbols) in `text`, the text of the
/// letter `pdf`.
pub fn activation_code_in(text: &str, pdf: &Path) -> String {
    const SYMBOLS: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let is_code = |word: &&str| {
        word.len() == 17
            && word.char_indices().all(|(i, c)| {
                if i == 5 || i == 11 {
                    c == '-'
                } else {
                    SYMBOLS.contains(c)
                }
            })
    };
    let codes: Vec<&str> = text.split_whitespace().filter(is_code).collect();
    assert_eq!(
        codes.len(),
        1,
        "one activation code in {}:\n{}",
        pdf.display(),
        text
    );
    codes[0].to_owned()
}

/// Every letter in the spool's `batch-*` directories as (its PDF, its manifest entry),
/// oldest first. A batch is renamed into place whole, manifest included; batches are
/// ordered by the manifest's time, because two batches of one second have names in random
/// order.
pub fn printed_letters(spool: &Path) -> Vec<(PathBuf, Value)> {
    let Ok(entries) = std::fs::read_dir(spool) else {
        return Vec::new();
    };
    let mut manifests: Vec<(time::OffsetDateTime, PathBuf, Value)> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("batch-")
        })
        .map(|batch| {
            let manifest: Value =
                serde_json::from_slice(&std::fs::read(batch.join("manifest.json")).unwrap())
                    .unwrap();
            let created = time::OffsetDateTime::parse(
                manifest["created_at"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap();
            (created, batch, manifest)
        })
        .collect();
    manifests.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let mut letters = Vec::new();
    for (_, batch, manifest) in manifests {
        for entry in manifest["letters"].as_array().unwrap() {
            letters.push((batch.join(entry["file"].as_str().unwrap()), entry.clone()));
        }
    }
    letters
}
