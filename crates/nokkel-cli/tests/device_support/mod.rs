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
    let url = watch_stdout(&mut child, |line| {
        line.strip_prefix("Nøkkel is running at ")
            .map(|rest| rest.trim_end_matches('/').to_owned())
    })
    .recv_timeout(Duration::from_secs(60))
    .expect("nokkel serve did not print its URL within 60 s");
    (child, url)
}

/// Reads `child`'s piped stdout on a thread of its own and sends what `pick` finds in
/// each line (so the pipe never fills while the test waits).
pub fn watch_stdout<T: Send + 'static>(
    child: &mut Child,
    pick: impl Fn(&str) -> Option<T> + Send + 'static,
) -> std::sync::mpsc::Receiver<T> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(found) = pick(&line) {
                let _ = tx.send(found);
            }
        }
    });
    rx
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
        Self::start_with(&[])
    }

    /// [`DemoServer::start`] with extra environment (`NOKKEL_…` settings).
    pub fn start_with(env: &[(&str, &str)]) -> Self {
        let data = tempfile::tempdir().unwrap();
        let (child, url) = spawn_demo_server(data.path(), env);
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
pub const NO_LOGIN_BRAKES: [(&str, &str); 6] = [
    ("NOKKEL_LOGINS_PER_PERSON_PER_10_MIN", "4000000000"),
    (
        "NOKKEL_LOGINS_PER_PERSON_AND_ADDRESS_PER_10_MIN",
        "4000000000",
    ),
    ("NOKKEL_LOGINS_PER_ADDRESS_PER_10_MIN", "4000000000"),
    ("NOKKEL_LOGIN_IDS_PER_ADDRESS_PER_10_MIN", "4000000000"),
    ("NOKKEL_AUTHORIZATIONS_PER_ADDRESS_PER_10_MIN", "4000000000"),
    ("NOKKEL_AUTHORIZATIONS_PER_10_MIN", "4000000000"),
];

/// The demo relying party's redirect URI the end-to-end logins use.
pub const RP_REDIRECT: &str = "http://127.0.0.1:9/callback";
const RP_VERIFIER: &str = "e2e-verifier-0123456789-0123456789-0123456789";

/// A browser logging in at a relying party (the demo's `demo-rp`, or one registered with
/// `nokkel admin client add` and [`RP_REDIRECT`]), with its own cookies.
pub struct RpLogin {
    url: String,
    client_id: String,
    client_secret: String,
    pub browser: reqwest::blocking::Client,
}

impl RpLogin {
    /// A fresh browser (its own cookie jar) for the demo relying party of `server`.
    pub fn new(server: &DemoServer) -> Self {
        Self::at(&server.url, "demo-rp", "demo-secret")
    }

    /// A fresh browser for relying party `client_id` (with `client_secret`) of the server
    /// at `url`.
    pub fn at(url: &str, client_id: &str, client_secret: &str) -> Self {
        let browser = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            url: url.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            browser,
        }
    }

    fn absolute(&self, to: &str) -> String {
        if to.starts_with("http") {
            to.to_owned()
        } else {
            format!("{}{to}", self.url)
        }
    }

    /// The relying party sends the browser to the authorization endpoint with `state` and
    /// `nonce`; the person enters `pid` and an app login starts. Returns the number the
    /// page shows.
    pub fn start(&self, pid: &str, state: &str, nonce: &str) -> String {
        use base64::Engine as _;
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            ring::digest::digest(&ring::digest::SHA256, RP_VERIFIER.as_bytes()),
        );
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", RP_REDIRECT)
            .append_pair("scope", "openid pid")
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .finish();
        let url = &self.url;
        let res = self
            .browser
            .get(format!("{url}/oauth/authorize?{query}"))
            .send()
            .unwrap();
        let login_page = self.absolute(&location(&res));
        let page = self
            .browser
            .get(&login_page)
            .send()
            .unwrap()
            .text()
            .unwrap();
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
        let res = self
            .browser
            .post(format!("{url}/login"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("request", request.as_str()),
                ("pid", pid),
            ])
            .send()
            .unwrap();
        assert_eq!(location(&res), "/login/app");
        let page = self.browser.get(format!("{url}/login/app")).send().unwrap();
        shown_number(&page.text().unwrap())
    }

    /// After the app answered: the browser continues and is sent back to the relying
    /// party. Returns the query of the redirect (`code`, `state`).
    pub fn finish(&self) -> std::collections::HashMap<String, String> {
        let res = self
            .browser
            .get(format!("{}/login/finish", self.url))
            .send()
            .unwrap();
        let back = location(&res);
        assert!(back.starts_with(RP_REDIRECT), "{back}");
        url::Url::parse(&back)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect()
    }

    /// The relying party exchanges `code` and validates the ID token with the JWKS;
    /// returns its claims.
    pub fn id_token_claims(&self, code: &str) -> Value {
        use nokkel_core::jws::UnverifiedJws;
        use nokkel_core::keys::{PublicJwk, PublicKey};
        let url = &self.url;
        let tokens: Value = reqwest::blocking::Client::new()
            .post(format!("{url}/oauth/token"))
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", RP_REDIRECT),
                ("code_verifier", RP_VERIFIER),
            ])
            .send()
            .unwrap()
            .json()
            .unwrap();
        let id_token = tokens["id_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{tokens}"));
        let jwks: Value = self
            .browser
            .get(format!("{url}/oauth/jwks"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let jws = UnverifiedJws::decode(id_token, "JWT").unwrap();
        let kid = jws.kid().unwrap().to_owned();
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
        serde_json::from_slice(&jws.verify(&key).unwrap()).unwrap()
    }
}
