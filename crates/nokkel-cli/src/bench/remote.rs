//! `nokkel bench --url`: complete app-approved logins against a separately running
//! server over real sockets (HTTP/1.1 keep-alive on loopback), with the server's and the
//! load generator's CPU time per login and the server's crypto floor measured in the
//! same run.
//!
//! Each virtual browser keeps its own cookies and follows the real pages; each virtual
//! phone uses the device API with request proofs and pins the server's challenge key.
//! Phones sign with ring and the HTTP client reuses its connections, so the generator
//! stays cheap next to the server it shares the cores with.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use nokkel_core::clock::{Clock as _, SystemClock};
use nokkel_core::jws::{ServerSigner, UnverifiedJws};
use nokkel_core::keys::{PublicJwk, PublicKey};
use nokkel_core::random::{OsRandom, RandomRng};
use nokkel_core::statements::{new_jti, sign_request_proof, verify_login_challenge, RequestTarget};
use nokkel_core::wire::{ApproveRequest, PendingChallengeResponse, ProtocolVersion};
use reqwest::header::{HeaderMap, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use ring::rand::SystemRandom;

use super::cpu::{cpu_time, Process, Ticks};
use super::people::{self, Person};
use super::{ms, print_latencies, sign_test_approval, BenchArgs};

const CLIENT_ID: &str = "demo-rp";
const CLIENT_SECRET: &str = "demo-secret";
// The demo client accepts loopback redirect URIs on any port; nothing listens here, the
// bench reads the code from the redirect itself.
const REDIRECT: &str = "http://127.0.0.1:9/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const STATE: &str = "bench-state";
const NONCE: &str = "bench-nonce";
const PENDING_PATH: &str = "/api/v1/challenges/pending";
const CSRF_COOKIE: &str = "nokkel_csrf";

/// Per login the server verifies three P-256 signatures — the request proofs of the
/// phone's two calls (`api/device.rs`, `AuthenticatedDevice`) and the approval statement
/// (`services/login.rs`, `approve` → `verify_approval`) — and makes two ES256
/// signatures: the login challenge the phone fetches (`services/login.rs`,
/// `pending_challenge`) and the ID token (`oidc/id_token.rs`, `sign`, from the token
/// endpoint).
pub const SERVER_VERIFIES_PER_LOGIN: u32 = 3;
/// See [`SERVER_VERIFIES_PER_LOGIN`].
pub const SERVER_SIGNS_PER_LOGIN: u32 = 2;

/// What every virtual browser and phone share: the client and the server's addresses.
struct Target {
    http: reqwest::Client,
    base: String,
    issuer: String,
    authorize_url: String,
    token_url: String,
    id_token_keys: Vec<(String, PublicKey)>,
}

/// The cookies of one virtual browser (name, value, path).
#[derive(Default)]
struct CookieJar(Vec<(String, String, String)>);

impl CookieJar {
    fn store(&mut self, headers: &HeaderMap) {
        for value in headers.get_all(SET_COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            let mut parts = value.split(';');
            let Some((name, val)) = parts.next().and_then(|p| p.trim().split_once('=')) else {
                continue;
            };
            let mut path = "/";
            let mut expired = val.is_empty();
            for attr in parts {
                let attr = attr.trim();
                if let Some(p) = attr.strip_prefix("Path=") {
                    path = p;
                } else if attr.eq_ignore_ascii_case("Max-Age=0") {
                    expired = true;
                }
            }
            self.0.retain(|(n, _, p)| !(n == name && p == path));
            if !expired {
                self.0
                    .push((name.to_owned(), val.to_owned(), path.to_owned()));
            }
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, v, _)| v.as_str())
    }

    /// The `Cookie` header for a request to `path`.
    fn header_for(&self, path: &str) -> String {
        let mut header = String::new();
        for (name, value, cookie_path) in &self.0 {
            if path.starts_with(cookie_path.as_str()) {
                if !header.is_empty() {
                    header.push_str("; ");
                }
                header.push_str(name);
                header.push('=');
                header.push_str(value);
            }
        }
        header
    }
}

/// One login slot: a browser and the people whose logins it runs in turn.
struct Slot {
    browser: CookieJar,
    people: Vec<Person>,
    next: usize,
}

struct Sample {
    done: Instant,
    total: Duration,
    approval_to_notified: Duration,
    /// Who logged in, and with which approval: what `--record` writes.
    record: LoginRecord,
}

/// A login the relying party got an ID token for, as `--record` writes it.
#[derive(serde::Serialize)]
struct LoginRecord {
    pid: String,
    device_id: String,
    counter: u64,
}

/// Appends `record` as one JSON line to `file`, flushed at once (a crash test reads the
/// file after killing the server, possibly while this process still runs).
fn write_record(
    file: &std::sync::Mutex<std::fs::File>,
    record: &LoginRecord,
) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut line = serde_json::to_vec(record)?;
    line.push(b'\n');
    let mut file = file
        .lock()
        .map_err(|_| anyhow!("record file lock poisoned"))?;
    file.write_all(&line)?;
    file.flush()?;
    Ok(())
}

/// A response read to its end.
struct Reply {
    status: StatusCode,
    location: Option<String>,
    body: Vec<u8>,
}

async fn send(
    browser: Option<&mut CookieJar>,
    request: reqwest::RequestBuilder,
) -> anyhow::Result<Reply> {
    let response = request.send().await?;
    let status = response.status();
    if let Some(jar) = browser {
        jar.store(response.headers());
    }
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.bytes().await?.to_vec();
    Ok(Reply {
        status,
        location,
        body,
    })
}

impl Target {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A browser request: its cookies go along and what it is given is kept.
    async fn browse(
        &self,
        jar: &mut CookieJar,
        method: reqwest::Method,
        path: &str,
        form: Option<String>,
    ) -> anyhow::Result<Reply> {
        let cookie_path = path.split('?').next().unwrap_or(path);
        let mut request = self.http.request(method, self.url(path));
        let cookies = jar.header_for(cookie_path);
        if !cookies.is_empty() {
            request = request.header(COOKIE, cookies);
        }
        if let Some(form) = form {
            request = request
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form);
        }
        send(Some(jar), request).await
    }
}

/// Runs the benchmark against `url` and prints the result.
pub async fn run(args: &BenchArgs, url: &str) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ticks = Ticks::per_second();
    let base = url.trim_end_matches('/').to_owned();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .pool_max_idle_per_host(usize::MAX)
        .timeout(Duration::from_secs(150))
        .build()?;
    let discovery: serde_json::Value = serde_json::from_slice(
        &send(
            None,
            http.get(format!("{base}/.well-known/openid-configuration")),
        )
        .await?
        .body,
    )
    .context("OpenID Connect discovery")?;
    let issuer = discovery["issuer"]
        .as_str()
        .ok_or_else(|| anyhow!("discovery has no issuer"))?
        .to_owned();
    let jwks_uri = discovery["jwks_uri"]
        .as_str()
        .ok_or_else(|| anyhow!("discovery has no jwks_uri"))?
        .to_owned();
    let id_token_keys = published_keys(&http, &jwks_uri).await?;
    let target = Arc::new(Target {
        authorize_url: authorize_path(),
        token_url: format!("{base}/oauth/token"),
        http,
        base,
        issuer,
        id_token_keys,
    });

    let concurrency = args.concurrency.max(1);
    let people_count = args.people.unwrap_or(concurrency).max(concurrency);
    let state_path: PathBuf = match (&args.state, &args.population) {
        (Some(state), _) => state.clone(),
        (None, Some(population)) => people::default_state_path(population),
        (None, None) => bail!("pass --population FILE.csv (or --state FILE from an earlier run)"),
    };
    let people = people::prepare(
        &target.base,
        &target.issuer,
        args.population.as_deref(),
        &state_path,
        people_count,
    )
    .await?;
    let mut slots: Vec<Slot> = (0..concurrency)
        .map(|_| Slot {
            browser: CookieJar::default(),
            people: Vec::new(),
            next: 0,
        })
        .collect();
    for (i, person) in people.into_iter().enumerate() {
        slots[i % concurrency].people.push(person);
    }

    // The crypto floor on this machine, timed just before the load starts and again just
    // after it ends (not during: that would take CPU from the server); the mean of the
    // two follows changes in what else the machine is doing.
    let floor_before = super::crypto_costs();

    let server = args.server_pid.map(Process::Pid);
    if let Some(process) = server {
        cpu_time(process, ticks).context("--server-pid")?;
    }
    eprintln!(
        "{concurrency} logins in flight against {}: {} s warm-up, {} s measured…",
        target.base, args.warmup, args.seconds
    );
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(args.warmup);
    let measure_until = measure_from + Duration::from_secs(args.seconds);
    let sampler = tokio::spawn(async move {
        tokio::time::sleep_until(measure_from.into()).await;
        let before = (
            server.map(|p| cpu_time(p, ticks)).transpose(),
            cpu_time(Process::This, ticks),
        );
        tokio::time::sleep_until(measure_until.into()).await;
        let after = (
            server.map(|p| cpu_time(p, ticks)).transpose(),
            cpu_time(Process::This, ticks),
        );
        let server_cpu = match (before.0, after.0) {
            (Ok(Some(a)), Ok(Some(b))) => Some(b.saturating_sub(a)),
            _ => None,
        };
        let own_cpu = match (before.1, after.1) {
            (Ok(a), Ok(b)) => Some(b.saturating_sub(a)),
            _ => None,
        };
        (server_cpu, own_cpu)
    });

    let record = match &args.record {
        Some(path) => Some(Arc::new(std::sync::Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("--record {}", path.display()))?,
        ))),
        None => None,
    };
    let mut tasks = Vec::new();
    for mut slot in slots {
        let target = target.clone();
        let record = record.clone();
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut errors = 0usize;
            let mut first_error = None;
            while Instant::now() < measure_until {
                match login(&target, &mut slot).await {
                    Ok(sample) => {
                        if let Some(file) = &record {
                            if let Err(err) = write_record(file, &sample.record) {
                                first_error.get_or_insert_with(|| format!("{err:#}"));
                            }
                        }
                        if sample.done >= measure_from && sample.done <= measure_until {
                            samples.push(sample);
                        }
                    }
                    Err(err) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("{err:#}"));
                        // A failing server should not be hammered in a tight loop.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            (samples, errors, first_error)
        }));
    }
    let mut samples = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for task in tasks {
        let (mut s, e, first) = task.await?;
        samples.append(&mut s);
        errors += e;
        if first_error.is_none() {
            first_error = first;
        }
    }
    let (server_cpu, own_cpu) = sampler.await?;
    let floor_after = super::crypto_costs();
    let verify_us = (floor_before.0 + floor_after.0) / 2.0;
    let sign_us = (floor_before.1 + floor_after.1) / 2.0;
    let floor_of = |(verify, sign): (f64, f64)| {
        f64::from(SERVER_VERIFIES_PER_LOGIN) * verify + f64::from(SERVER_SIGNS_PER_LOGIN) * sign
    };
    let floor_us = floor_of((verify_us, sign_us));
    if let Some(err) = &first_error {
        eprintln!("{errors} logins failed; the first: {err}");
    }

    let logins = samples.len();
    let window = measure_until.saturating_duration_since(measure_from);
    let per_second = logins as f64 / window.as_secs_f64();
    let mut totals: Vec<Duration> = samples.iter().map(|s| s.total).collect();
    let mut notify: Vec<Duration> = samples.iter().map(|s| s.approval_to_notified).collect();
    totals.sort_unstable();
    notify.sort_unstable();
    let per_login_us = |cpu: Option<Duration>| {
        cpu.filter(|_| logins > 0)
            .map(|c| c.as_secs_f64() * 1e6 / logins as f64)
    };
    let server_us = per_login_us(server_cpu);
    let own_us = per_login_us(own_cpu);
    let ratio = server_us.map(|s| s / floor_us);
    let cores_busy = |cpu: Option<Duration>| cpu.map(|c| c.as_secs_f64() / window.as_secs_f64());

    let result = serde_json::json!({
        "mode": "http",
        "url": target.base,
        "issuer": target.issuer,
        "concurrency": concurrency,
        "people": people_count,
        "cores": cores,
        "seconds": window.as_secs_f64(),
        "logins": logins,
        "errors": errors,
        "logins_per_second": per_second,
        "login_ms": { "p50": ms(&totals, 0.50), "p90": ms(&totals, 0.90), "p99": ms(&totals, 0.99) },
        "approval_to_notified_ms": { "p50": ms(&notify, 0.50), "p90": ms(&notify, 0.90), "p99": ms(&notify, 0.99) },
        "server_cpu": {
            "pid": args.server_pid,
            "us_per_login": server_us,
            "cores_busy": cores_busy(server_cpu),
        },
        "generator_cpu": {
            "us_per_login": own_us,
            "cores_busy": cores_busy(own_cpu),
        },
        "crypto_floor": {
            "ring_p256_verify_us": verify_us,
            "ring_es256_sign_us": sign_us,
            "server_verifies_per_login": SERVER_VERIFIES_PER_LOGIN,
            "server_signs_per_login": SERVER_SIGNS_PER_LOGIN,
            "us_per_login": floor_us,
            "us_per_login_before": floor_of(floor_before),
            "us_per_login_after": floor_of(floor_after),
            "server_cpu_to_floor": ratio,
        },
    });
    if args.json {
        println!("{result}");
    } else {
        let or_dash = |v: Option<f64>, unit: &str| {
            v.map_or_else(|| "–".to_owned(), |v| format!("{v:.0} {unit}"))
        };
        println!(
            "complete app-approved logins: {logins} in {:.1} s over HTTP ({errors} failed)",
            window.as_secs_f64()
        );
        println!(
            "throughput:                   {per_second:.0} logins/s ({concurrency} in flight, {people_count} people, {cores} cores)"
        );
        print_latencies(&totals, &notify);
        println!(
            "server CPU per login:         {}{}",
            or_dash(server_us, "µs"),
            if args.server_pid.is_none() {
                " (pass --server-pid)"
            } else {
                ""
            }
        );
        println!(
            "server crypto floor:          {floor_us:.0} µs per login ({SERVER_VERIFIES_PER_LOGIN} × P-256 verify {verify_us:.1} µs + {SERVER_SIGNS_PER_LOGIN} × ES256 sign {sign_us:.1} µs; {:.0} before the run, {:.0} after)",
            floor_of(floor_before),
            floor_of(floor_after)
        );
        println!(
            "server CPU / crypto floor:    {}",
            ratio.map_or_else(|| "–".to_owned(), |r| format!("{r:.1}×"))
        );
        println!("generator CPU per login:      {}", or_dash(own_us, "µs"));
    }
    Ok(())
}

/// The ID-token keys the server publishes, by `kid`.
async fn published_keys(
    http: &reqwest::Client,
    jwks_uri: &str,
) -> anyhow::Result<Vec<(String, PublicKey)>> {
    let reply = send(None, http.get(jwks_uri)).await?;
    let jwks: serde_json::Value = serde_json::from_slice(&reply.body).context("JWKS")?;
    let mut keys = Vec::new();
    for key in jwks["keys"].as_array().into_iter().flatten() {
        let field = |name: &str| key[name].as_str().unwrap_or_default().to_owned();
        let jwk = PublicJwk {
            kty: field("kty"),
            crv: field("crv"),
            x: field("x"),
            y: field("y"),
        };
        keys.push((field("kid"), PublicKey::from_jwk(&jwk)?));
    }
    if keys.is_empty() {
        bail!("the JWKS at {jwks_uri} has no key");
    }
    Ok(keys)
}

fn authorize_path() -> String {
    let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        VERIFIER.as_bytes(),
    ));
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid")
        .append_pair("state", STATE)
        .append_pair("nonce", NONCE)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    format!("/oauth/authorize?{query}")
}

/// A path on this server from a `Location` header (relative or absolute).
fn local_path<'a>(target: &Target, location: &'a str) -> &'a str {
    location
        .strip_prefix(target.base.as_str())
        .unwrap_or(location)
}

async fn login(target: &Target, slot: &mut Slot) -> anyhow::Result<Sample> {
    let index = slot.next;
    slot.next = (slot.next + 1) % slot.people.len().max(1);
    let person = slot
        .people
        .get_mut(index)
        .ok_or_else(|| anyhow!("a slot without people"))?;
    let jar = &mut slot.browser;
    let begun = Instant::now();

    // The relying party sends the browser to authorize; it is sent on to the login page.
    let reply = target
        .browse(jar, reqwest::Method::GET, &target.authorize_url, None)
        .await?;
    let to_login = reply
        .location
        .ok_or_else(|| anyhow!("authorize did not redirect ({})", reply.status))?;
    let to_login = local_path(target, &to_login).to_owned();
    let request_id =
        form_urlencoded::parse(to_login.split_once('?').map_or("", |q| q.1).as_bytes())
            .find(|(k, _)| k == "request")
            .map(|(_, v)| v.into_owned())
            .ok_or_else(|| anyhow!("no request in {to_login}"))?;
    let reply = target
        .browse(jar, reqwest::Method::GET, &to_login, None)
        .await?;
    if reply.status != StatusCode::OK {
        bail!("the login page answered {}", reply.status);
    }

    // The identity number, with the CSRF token the page's cookie carries.
    let csrf = jar
        .get(CSRF_COOKIE)
        .ok_or_else(|| anyhow!("no CSRF cookie"))?
        .to_owned();
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("csrf", &csrf)
        .append_pair("request", &request_id)
        .append_pair("pid", &person.pid)
        .finish();
    let reply = target
        .browse(jar, reqwest::Method::POST, "/login", Some(form))
        .await?;
    if reply.location.as_deref() != Some("/login/app") {
        let hint = if reply.status == StatusCode::UNPROCESSABLE_ENTITY {
            " (rate-limited? run the server with the limits scripts/bench-url.sh lifts)"
        } else {
            ""
        };
        bail!("the identity number was refused ({}){hint}", reply.status);
    }

    // The page with the number.
    let page = target
        .browse(jar, reqwest::Method::GET, "/login/app", None)
        .await?;
    let number = shown_number(&page.body)?;

    // The page waits for the decision (server-sent events) while the phone approves.
    let events_cookie = jar.header_for("/login/events");
    let (notified, approved) = tokio::join!(
        wait_decided(target, events_cookie),
        approve_on_phone(target, person, number)
    );
    let (notified_at, decided) = notified?;
    let (approval_sent, counter) = approved?;
    if decided != "approved" {
        bail!("the page was told `{decided}`, not `approved`");
    }
    let approval_to_notified = notified_at.saturating_duration_since(approval_sent);

    // The browser finishes and is sent back to the relying party with a code.
    let reply = target
        .browse(jar, reqwest::Method::GET, "/login/finish", None)
        .await?;
    let back = reply
        .location
        .ok_or_else(|| anyhow!("finish did not redirect ({})", reply.status))?;
    let back = url::Url::parse(&back).with_context(|| format!("redirect {back}"))?;
    let mut code = None;
    let mut state_ok = false;
    for (k, v) in back.query_pairs() {
        match k.as_ref() {
            "code" => code = Some(v.into_owned()),
            "state" => state_ok = v == STATE,
            _ => {}
        }
    }
    let code = code.ok_or_else(|| anyhow!("no code in the redirect"))?;
    if !state_ok {
        bail!("the redirect's state is not the relying party's");
    }

    // The relying party exchanges the code and checks the ID token.
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", &code)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("code_verifier", VERIFIER)
        .append_pair("client_id", CLIENT_ID)
        .append_pair("client_secret", CLIENT_SECRET)
        .finish();
    let reply = send(
        None,
        target
            .http
            .post(&target.token_url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form),
    )
    .await?;
    if reply.status != StatusCode::OK {
        bail!("the token endpoint answered {}", reply.status);
    }
    let tokens: serde_json::Value = serde_json::from_slice(&reply.body)?;
    let id_token = tokens["id_token"]
        .as_str()
        .ok_or_else(|| anyhow!("no ID token in the token response"))?;
    check_id_token(target, id_token)?;
    let done = Instant::now();
    Ok(Sample {
        done,
        total: done.saturating_duration_since(begun),
        approval_to_notified,
        record: LoginRecord {
            pid: person.pid.clone(),
            device_id: person.device_id.as_str().to_owned(),
            counter,
        },
    })
}

fn check_id_token(target: &Target, id_token: &str) -> anyhow::Result<()> {
    let jws = UnverifiedJws::decode(id_token, "JWT").context("ID token")?;
    let key = target
        .id_token_keys
        .iter()
        .find(|(kid, _)| Some(kid.as_str()) == jws.kid())
        .map(|(_, key)| key)
        .ok_or_else(|| anyhow!("the ID token's key is not in the JWKS"))?;
    let claims = jws.verify(key).context("ID token signature")?;
    let claims: serde_json::Value = serde_json::from_slice(&claims)?;
    if claims["iss"] != target.issuer.as_str()
        || claims["aud"] != CLIENT_ID
        || claims["nonce"] != NONCE
    {
        bail!("the ID token's iss, aud or nonce is wrong");
    }
    Ok(())
}

/// The browser's `EventSource` on `/login/events`: when the `decided` event arrives, and
/// its data (the login's state).
async fn wait_decided(target: &Target, cookie: String) -> anyhow::Result<(Instant, String)> {
    let mut response = target
        .http
        .get(target.url("/login/events"))
        .header(COOKIE, cookie)
        .header(reqwest::header::ACCEPT, "text/event-stream")
        .send()
        .await?;
    if response.status() != StatusCode::OK {
        bail!("the event stream answered {}", response.status());
    }
    let mut buffer = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        buffer.extend_from_slice(&chunk);
        if let Some(state) = decided_event(&buffer) {
            let at = Instant::now();
            // The stream ends after its one event; reading to the end frees the connection.
            while response.chunk().await?.is_some() {}
            return Ok((at, state));
        }
    }
    bail!("the event stream ended without a decision")
}

/// The data of a complete `decided` event in a server-sent-events stream, if one is there.
fn decided_event(stream: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(stream).ok()?;
    for event in text.split("\n\n") {
        let mut name = None;
        let mut data = None;
        for line in event.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                name = Some(v.trim());
            } else if let Some(v) = line.strip_prefix("data:") {
                data = Some(v.trim());
            }
        }
        // Only a terminated event counts: the blank line may still be on its way.
        if name == Some("decided") && text.contains(&format!("{event}\n\n")) {
            return Some(data.unwrap_or_default().to_owned());
        }
    }
    None
}

/// The phone: fetch the pending challenge with a request proof, check it against the
/// pinned key, pick the number the browser shows and send the signed approval. Returns
/// when the approval was sent.
async fn approve_on_phone(
    target: &Target,
    person: &mut Person,
    number: u8,
) -> anyhow::Result<(Instant, u64)> {
    let proof = request_proof(target, person, "GET", PENDING_PATH)?;
    let reply = send(
        None,
        target
            .http
            .get(target.url(PENDING_PATH))
            .header("Nokkel-Proof", proof),
    )
    .await?;
    if reply.status != StatusCode::OK {
        bail!("the pending challenge answered {}", reply.status);
    }
    let pending: PendingChallengeResponse = serde_json::from_slice(&reply.body)?;
    // The login this slot just started is the newest; one left over by an earlier failed
    // round may still wait beside it.
    let jws = pending
        .challenges
        .last()
        .cloned()
        .or(pending.challenge)
        .ok_or_else(|| anyhow!("no challenge pending for the phone"))?;
    let challenge = verify_login_challenge(
        &jws,
        &person.pinned,
        &target.issuer,
        &person.device_id,
        SystemClock.unix(),
    )?;
    let path = format!("/api/v1/challenges/{}/approve", challenge.challenge_id());
    person.counter += 1;
    let statement = sign_test_approval(challenge, number, &person.key, person.counter)?;
    let body = serde_json::to_vec(&ApproveRequest {
        v: ProtocolVersion,
        statement,
    })?;
    let proof = request_proof(target, person, "POST", &path)?;
    let sent = Instant::now();
    let reply = send(
        None,
        target
            .http
            .post(target.url(&path))
            .header("Nokkel-Proof", proof)
            .header(CONTENT_TYPE, "application/json")
            .body(body),
    )
    .await?;
    if reply.status != StatusCode::OK {
        bail!(
            "the approval was refused ({}): {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
    }
    Ok((sent, person.counter))
}

fn request_proof(
    target: &Target,
    person: &Person,
    method: &str,
    path: &str,
) -> anyhow::Result<String> {
    let random = SystemRandom::new();
    let signer = ServerSigner::new(&person.key, &random);
    let url = format!("{}{path}", target.issuer);
    let jti = new_jti(&mut RandomRng::new(&OsRandom));
    Ok(sign_request_proof(
        &signer,
        &RequestTarget {
            issuer: &target.issuer,
            method,
            url: &url,
            access_token: None,
        },
        &jti,
        SystemClock.unix(),
    )?)
}

/// The number from the page's `data-number` attribute (docs/TESTING.md).
fn shown_number(html: &[u8]) -> anyhow::Result<u8> {
    const ATTRIBUTE: &[u8] = b"data-number=\"";
    let start = html
        .windows(ATTRIBUTE.len())
        .position(|w| w == ATTRIBUTE)
        .ok_or_else(|| anyhow!("no data-number on the login page"))?
        + ATTRIBUTE.len();
    let digits = html[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    Ok(std::str::from_utf8(&html[start..start + digits])?.parse()?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_the_number_attribute() {
        let html = br#"<p class="number" data-number="47" aria-describedby="x">47</p>"#;
        assert_eq!(shown_number(html).unwrap(), 47);
        assert!(shown_number(b"<p class=\"number\">47</p>").is_err());
    }

    #[test]
    fn a_decided_event_counts_only_when_complete() {
        assert_eq!(decided_event(b":\n\nevent: decided\ndata: appr"), None);
        assert_eq!(decided_event(b"event: decided\ndata: approved\n"), None);
        assert_eq!(
            decided_event(b":\n\nevent: decided\ndata: approved\n\n").as_deref(),
            Some("approved")
        );
    }

    #[test]
    fn cookies_follow_their_path_and_expire() {
        let mut jar = CookieJar::default();
        let mut headers = HeaderMap::new();
        headers.append(
            SET_COOKIE,
            "nokkel_csrf=abc; Path=/; HttpOnly".parse().unwrap(),
        );
        headers.append(
            SET_COOKIE,
            "nokkel_login=xyz; Path=/login; Max-Age=900"
                .parse()
                .unwrap(),
        );
        jar.store(&headers);
        assert_eq!(jar.header_for("/oauth/token"), "nokkel_csrf=abc");
        assert_eq!(
            jar.header_for("/login/app"),
            "nokkel_csrf=abc; nokkel_login=xyz"
        );
        let mut gone = HeaderMap::new();
        gone.append(
            SET_COOKIE,
            "nokkel_login=; Path=/login; Max-Age=0".parse().unwrap(),
        );
        jar.store(&gone);
        assert_eq!(jar.header_for("/login/app"), "nokkel_csrf=abc");
    }
}
