//! Shared by the `nokkel device` tests: a demo server process on a free port, letters, and
//! running the built binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Ingrid Sæther: adult, domestic address (assets/demo/README.md).
pub const ADULT: &str = "14838514058";

pub const BIN: &str = env!("CARGO_BIN_EXE_nokkel");

/// `nokkel` with none of the environment's NOKKEL_* variables (the server rejects unknown
/// ones; each test starts from a clean slate).
pub fn nokkel() -> Command {
    let mut command = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("NOKKEL_") {
            command.env_remove(key);
        }
    }
    command
}

/// Writes `count` synthetic people (`nokkel admin population generate --seed seed`) to
/// `csv` and imports them into the data directory `data`; returns their identity numbers.
pub fn import_population(csv: &Path, data: &Path, count: u32, seed: u64) -> Vec<String> {
    let generated = nokkel()
        .args(["admin", "population", "generate", "--count"])
        .arg(count.to_string())
        .arg("--seed")
        .arg(seed.to_string())
        .output()
        .unwrap();
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    std::fs::write(csv, &generated.stdout).unwrap();
    let imported = nokkel()
        .args(["admin", "population", "import"])
        .arg(csv)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    String::from_utf8(generated.stdout)
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| line.split(',').next().unwrap().to_owned())
        .collect()
}

/// Starts `nokkel serve --demo` on a free loopback port with data in `data` and the extra
/// `env`, and returns the process and its URL once it prints it.
pub fn spawn_demo_server(data: &Path, env: &[(&str, &str)]) -> (Child, String) {
    spawn_demo_server_at(data, "127.0.0.1:0", env)
}

/// [`spawn_demo_server`] listening on `listen` (a restart on the same address).
pub fn spawn_demo_server_at(data: &Path, listen: &str, env: &[(&str, &str)]) -> (Child, String) {
    let mut command = nokkel();
    command
        .args(["serve", "--demo", "--listen", listen, "--data-dir"])
        .arg(data)
        .envs(env.iter().copied());
    spawn_serving(command)
}

/// Starts `command` (a `nokkel serve …`) and returns the process and its URL once it
/// prints it.
pub fn spawn_serving(mut command: Command) -> (Child, String) {
    let mut child = command
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix("Nøkkel is running at ") {
                let _ = tx.send(rest.trim_end_matches('/').to_owned());
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("nokkel serve did not print its URL within 60 s");
    (child, url)
}

/// Orders a letter for `pid` through the API of the demo server at `url` and returns its
/// code from the dev inbox (`/dev/letters?format=json`, newest first).
pub fn order_letter_at(http: &reqwest::blocking::Client, url: &str, pid: &str) -> String {
    let res = http
        .post(format!("{url}/api/v1/orders"))
        .json(&json!({"v": 1, "pid": pid}))
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 202, "{}", res.text().unwrap());
    let letters: Vec<Value> = http
        .get(format!("{url}/dev/letters?format=json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    letters
        .iter()
        .find(|l| l["pid"] == pid)
        .unwrap_or_else(|| panic!("no letter for {pid} in the dev inbox"))["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The `Location` of a redirect; panics (naming the status) when there is none.
pub fn location(res: &reqwest::blocking::Response) -> String {
    res.headers()
        .get("location")
        .unwrap_or_else(|| panic!("no redirect ({})", res.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// `nokkel serve --demo` with its own data directory, killed on drop.
pub struct DemoServer {
    pub url: String,
    child: Child,
    _data: tempfile::TempDir,
    pub http: reqwest::blocking::Client,
}

impl DemoServer {
    pub fn start() -> Self {
        let data = tempfile::tempdir().unwrap();
        let (child, url) = spawn_demo_server(data.path(), &[]);
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            url,
            child,
            _data: data,
            http,
        }
    }

    /// Orders a letter for `pid` through the API and returns its code from the dev inbox.
    pub fn order_letter(&self, pid: &str) -> String {
        order_letter_at(&self.http, &self.url, pid)
    }

    /// The newest letter for `pid` in `/dev/letters?format=json`.
    pub fn letter(&self, pid: &str) -> Value {
        let letters: Vec<Value> = self
            .http
            .get(format!("{}/dev/letters?format=json", self.url))
            .send()
            .unwrap()
            .json()
            .unwrap();
        letters
            .into_iter()
            .find(|l| l["pid"] == pid)
            .unwrap_or_else(|| panic!("no letter for {pid} in the dev inbox"))
    }

    pub fn letter_state(&self, pid: &str) -> String {
        self.letter(pid)["state"].as_str().unwrap().to_owned()
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a `nokkel device` run printed and returned.
pub struct Run {
    pub exit: i32,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exit {}\nstdout: {}\nstderr: {}",
            self.exit, self.stdout, self.stderr
        )
    }
}

/// Runs `nokkel device --state DIR ARGS...`.
pub fn device(state: &impl AsRef<Path>, args: &[&str]) -> Run {
    let started = Instant::now();
    let output = Command::new(BIN)
        .arg("device")
        .arg("--state")
        .arg(state.as_ref())
        .args(args)
        .output()
        .unwrap();
    Run {
        exit: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        took: started.elapsed(),
    }
}

/// Starts `nokkel device ARGS...` without waiting (for long polls).
pub fn device_spawn(state: &impl AsRef<Path>, args: &[&str]) -> Child {
    Command::new(BIN)
        .arg("device")
        .arg("--state")
        .arg(state.as_ref())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The `error.code` of a `--json` failure.
pub fn error_code(run: &Run) -> String {
    let value: Value =
        serde_json::from_str(run.stdout.trim()).unwrap_or_else(|_| panic!("not JSON: {run}"));
    value["error"]["code"].as_str().unwrap().to_owned()
}

/// A code with a valid check symbol (so the server counts it) that is not `code`.
pub fn well_formed_code_other_than(code: &str) -> String {
    use nokkel_core::activation_code::ActivationCode;
    use nokkel_core::random::{Random, RandomRng, SeededRandom};
    let random = SeededRandom::new(77);
    std::iter::repeat_with(|| {
        ActivationCode::generate(&mut RandomRng::new(&random as &dyn Random)).grouped()
    })
    .find(|c| c != code)
    .unwrap()
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The number the login page shows the person, to pick in the app.
pub fn shown_number(html: &str) -> String {
    let start = html
        .find("class=\"number\"")
        .expect("the page shows a number");
    let rest = &html[start..];
    rest[rest.find('>').unwrap() + 1..rest.find("</p>").unwrap()]
        .trim()
        .to_owned()
}

/// Server settings that lift every login brake: a load generator logs the same few people
/// in from one address far more often than people ever do.
pub const NO_LOGIN_BRAKES: [(&str, &str); 4] = [
    ("NOKKEL_LOGINS_PER_PERSON_PER_10_MIN", "4000000000"),
    (
        "NOKKEL_LOGINS_PER_PERSON_AND_ADDRESS_PER_10_MIN",
        "4000000000",
    ),
    ("NOKKEL_LOGINS_PER_ADDRESS_PER_10_MIN", "4000000000"),
    ("NOKKEL_LOGIN_IDS_PER_ADDRESS_PER_10_MIN", "4000000000"),
];
