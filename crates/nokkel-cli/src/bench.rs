//! `nokkel bench`: complete app-approved logins against an in-process server with the
//! embedded SQLite store, measured end to end.
//!
//! Each login is what a relying party, a browser and a phone do together: authorize →
//! identity number on the login page → the page with the number → the device fetches its
//! challenge (request proof) and verifies it against the pinned key → the device sends
//! the signed approval (request proof) → the browser's wait ends (server-sent events) →
//! the browser finishes → the relying party exchanges the code and checks the ID token
//! against the published key. Requests go through the real axum app (`tower::oneshot`),
//! so everything but socket I/O and HTTP parsing is measured. Simulated devices sign with
//! ring so the load generator, on the same cores, costs little next to the server.
//!
//! With `--url` the same logins go over real sockets to a server running in its own
//! process (see [`remote`]).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use clap::Args;
use http_body_util::BodyExt;
use nokkel_core::clock::{Clock, SystemClock};
use nokkel_core::id_number::{IdKind, IdNumber};
use nokkel_core::jws::{Es256Signer, ServerSigner, UnverifiedJws};
use nokkel_core::keys::{DeviceKey, PublicJwk, PublicKey, ServerKey};
use nokkel_core::random::{OsRandom, Random, RandomRng};
use nokkel_core::statements::{
    new_jti, sign_enrolment, sign_request_proof, verify_login_challenge, DeviceDescription,
    Platform, RequestTarget, UserVerification,
};
use nokkel_server::secrets::ServerSecrets;
use nokkel_server::services::{enrolment, ordering};
use nokkel_server::store::{PersonRecord, Store};
use nokkel_server::{AppState, Config};
use ring::rand::SystemRandom;
use tower::ServiceExt;

mod cpu;
mod people;
mod remote;

/// Options of `nokkel bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Concurrent logins in flight (each its own person, browser and phone).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// How long to measure, in seconds (after the warm-up).
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Warm-up before measuring, in seconds.
    #[arg(long, default_value_t = 1)]
    pub warmup: u64,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Log in over HTTP to the server at this URL (`nokkel serve --demo` in its own
    /// process) instead of an in-process one.
    #[arg(long)]
    pub url: Option<String>,
    /// With --url: threads of the load generator (1: all on one thread, the cheapest).
    #[arg(long, default_value_t = 1, requires = "url")]
    pub generator_threads: usize,
    /// With --url: the server's process id, to measure its CPU time per login.
    #[arg(long, requires = "url")]
    pub server_pid: Option<u32>,
    /// With --url: how many people to log in (at least --concurrency, the default).
    #[arg(long, requires = "url")]
    pub people: Option<usize>,
    /// With --url: population CSV (`nokkel admin population generate`) already imported
    /// into the server; the people to enrol come from here.
    #[arg(long, requires = "url")]
    pub population: Option<std::path::PathBuf>,
    /// With --url: the enrolled people and their device keys, reused by later runs
    /// (default: the population file's name with `.bench-state.json`).
    #[arg(long, requires = "url")]
    pub state: Option<std::path::PathBuf>,
    /// With --url: append one JSON line per login the relying party got a valid ID token
    /// for (`{"pid":…,"device_id":…,"counter":…}`: the person, their phone and the
    /// approval's counter), written as each completes. For crash tests: what the server
    /// must still know after a restart.
    #[arg(long, requires = "url")]
    pub record: Option<std::path::PathBuf>,
}

const ISSUER: &str = "http://bench.nokkel.test";
const REDIRECT: &str = "http://127.0.0.1:9/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// Runs the benchmark.
pub fn run(args: BenchArgs) -> ExitCode {
    // Over HTTP the generator runs on one thread unless told otherwise: no cross-thread
    // wake-ups per request, and at most one core taken from the server it shares the
    // machine with.
    let runtime = if args.url.is_some() && args.generator_threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        if args.url.is_some() {
            builder.worker_threads(args.generator_threads);
        }
        builder.enable_all().build()
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("nokkel bench: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = match args.url.clone() {
        Some(url) => runtime.block_on(remote::run(&args, &url)),
        None => runtime.block_on(bench(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("nokkel bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}

struct Phone {
    signer_key: ServerKey,
    device_id: String,
    pinned: PublicKey,
    counter: u64,
}

impl Phone {
    fn proof(&self, method: &str, path: &str) -> anyhow::Result<String> {
        let random = SystemRandom::new();
        let signer = ServerSigner::new(&self.signer_key, &random);
        let url = format!("{ISSUER}{path}");
        let jti = new_jti(&mut RandomRng::new(&OsRandom));
        Ok(sign_request_proof(
            &signer,
            &RequestTarget {
                issuer: ISSUER,
                method,
                url: &url,
                access_token: None,
            },
            &jti,
            SystemClock.unix(),
        )?)
    }
}

struct Worker {
    app: Router,
    pid: String,
    phone: Phone,
    csrf: String,
    jwks: PublicKey,
}

#[derive(Default)]
struct Sample {
    total: Duration,
    approval_to_notified: Duration,
}

async fn bench(args: BenchArgs) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let dir = tempfile::tempdir()?;
    let config = Config {
        demo: true,
        public_url: Some(ISSUER.to_owned()),
        data_dir: dir.path().to_owned(),
        // Each simulated person logs in far more often than a person would, all from
        // one address.
        logins_per_person_and_address_per_10_min: u32::MAX,
        logins_per_person_per_10_min: u32::MAX,
        logins_per_address_per_10_min: u32::MAX,
        login_ids_per_address_per_10_min: u32::MAX,
        authorizations_per_address_per_10_min: u32::MAX,
        authorizations_per_10_min: u32::MAX,
        ..Config::default()
    };
    let store = nokkel_server::serve::open_store(&config).await?;
    let random: Arc<dyn Random> = Arc::new(OsRandom);
    let secrets = ServerSecrets::from_master(&{
        let mut master = [0u8; 32];
        random.fill(&mut master);
        master
    })?;
    nokkel_server::demo::seed(&store, SystemClock.unix()).await?;
    let state = AppState::new(
        nokkel_server::serve::assemble(
            store.clone(),
            Arc::new(SystemClock),
            random,
            secrets,
            config,
        )
        .await?,
    );
    let app = nokkel_server::app(state.clone());

    eprintln!(
        "setting up {} people with enrolled phones…",
        args.concurrency
    );
    let jwks = id_token_key(&app).await?;
    let mut workers = Vec::new();
    for i in 0..args.concurrency {
        workers.push(setup_worker(&state, &store, &app, &jwks, i).await?);
    }

    // Warm-up, then measure.
    let deadline_warm = Instant::now() + Duration::from_secs(args.warmup);
    let measure_for = Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for mut worker in workers {
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            while Instant::now() < deadline_warm {
                login(&mut worker).await?;
            }
            let start = Instant::now();
            while start.elapsed() < measure_for {
                samples.push(login(&mut worker).await?);
            }
            Ok::<_, anyhow::Error>((samples, start.elapsed()))
        }));
    }
    let mut samples = Vec::new();
    let mut elapsed = Duration::ZERO;
    for task in tasks {
        let (mut s, e) = task.await??;
        samples.append(&mut s);
        elapsed = elapsed.max(e);
    }
    let logins = samples.len();
    let per_second = logins as f64 / elapsed.as_secs_f64();
    let mut totals: Vec<Duration> = samples.iter().map(|s| s.total).collect();
    let mut notify: Vec<Duration> = samples.iter().map(|s| s.approval_to_notified).collect();
    totals.sort();
    notify.sort();

    let (verify_us, sign_us) = crypto_costs();
    let ceiling_per_core = 1_000_000.0 / (verify_us + sign_us);
    let ceiling = ceiling_per_core * cores as f64;
    let result = serde_json::json!({
        "logins": logins,
        "seconds": elapsed.as_secs_f64(),
        "logins_per_second": per_second,
        "concurrency": args.concurrency,
        "cores": cores,
        "login_ms": { "p50": ms(&totals, 0.50), "p90": ms(&totals, 0.90), "p99": ms(&totals, 0.99) },
        "approval_to_notified_ms": { "p50": ms(&notify, 0.50), "p90": ms(&notify, 0.90), "p99": ms(&notify, 0.99) },
        "crypto": {
            "ring_p256_verify_us": verify_us,
            "ring_es256_sign_us": sign_us,
            "ceiling_logins_per_second_per_core": ceiling_per_core,
            "ceiling_logins_per_second": ceiling,
            "ratio_to_ceiling": per_second / ceiling,
        },
        "store": "sqlite",
    });
    if args.json {
        println!("{result}");
    } else {
        println!(
            "complete app-approved logins: {logins} in {:.1} s",
            elapsed.as_secs_f64()
        );
        println!(
            "throughput:                   {per_second:.0} logins/s ({} in flight, {cores} cores)",
            args.concurrency
        );
        print_latencies(&totals, &notify);
        println!(
            "crypto ceiling (1 ring verify {verify_us:.1} µs + 1 ES256 sign {sign_us:.1} µs per login): {ceiling:.0} logins/s on {cores} cores; achieved {:.1} % of it",
            100.0 * per_second / ceiling
        );
    }
    Ok(())
}

/// A simulated phone's approval of `challenge` with `number`: signed with ring (cheap for
/// the load generator), user verification `none_test` (demo servers accept it).
fn sign_test_approval(
    challenge: nokkel_core::statements::VerifiedChallenge,
    number: u8,
    key: &ServerKey,
    counter: u64,
) -> anyhow::Result<String> {
    let random = SystemRandom::new();
    let signer = ServerSigner::new(key, &random);
    Ok(challenge.approve(
        number,
        UserVerification::NoneTest,
        counter,
        &signer as &dyn Es256Signer,
        SystemClock.unix(),
    )?)
}

/// The two latency lines both modes print, from sorted login and notify times.
fn print_latencies(totals: &[Duration], notify: &[Duration]) {
    println!(
        "login latency:                p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms",
        ms(totals, 0.5),
        ms(totals, 0.9),
        ms(totals, 0.99)
    );
    println!(
        "approval → browser notified:  p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms",
        ms(notify, 0.5),
        ms(notify, 0.9),
        ms(notify, 0.99)
    );
}

fn ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// One ring P-256 verify and one ES256 sign, measured here and now.
fn crypto_costs() -> (f64, f64) {
    let random = SystemRandom::new();
    let Ok(key) = ServerKey::generate(&random) else {
        return (f64::NAN, f64::NAN);
    };
    let message = [7u8; 200];
    let rounds = 4000;
    let start = Instant::now();
    let mut signature = [0u8; 64];
    for _ in 0..rounds {
        if let Ok(s) = key.sign(&random, &message) {
            signature = s;
        }
    }
    let sign_us = start.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    let public = ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_FIXED,
        key.public_key().to_uncompressed(),
    );
    let start = Instant::now();
    for _ in 0..rounds {
        let _ = public.verify(&message, &signature);
    }
    let verify_us = start.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    (verify_us, sign_us)
}

struct Reply {
    status: StatusCode,
    location: Option<String>,
    cookies: Vec<String>,
    body: Vec<u8>,
}

async fn send(app: &Router, request: Request<Body>) -> anyhow::Result<Reply> {
    let response = app.clone().oneshot(request).await?;
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let cookies = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::to_owned)
        .collect();
    let body = response.into_body().collect().await?.to_bytes().to_vec();
    Ok(Reply {
        status,
        location,
        cookies,
        body,
    })
}

async fn id_token_key(app: &Router) -> anyhow::Result<PublicKey> {
    let reply = send(app, Request::get("/oauth/jwks").body(Body::empty())?).await?;
    let jwks: serde_json::Value = serde_json::from_slice(&reply.body)?;
    let first = jwks["keys"]
        .get(0)
        .ok_or_else(|| anyhow!("JWKS has no key"))?;
    let jwk = PublicJwk {
        kty: "EC".into(),
        crv: "P-256".into(),
        x: first["x"].as_str().unwrap_or_default().into(),
        y: first["y"].as_str().unwrap_or_default().into(),
    };
    Ok(PublicKey::from_jwk(&jwk)?)
}

async fn setup_worker(
    state: &AppState,
    store: &Store,
    app: &Router,
    jwks: &PublicKey,
    index: usize,
) -> anyhow::Result<Worker> {
    let birth = time::Date::from_calendar_date(
        1960 + (index % 40) as i32,
        time::Month::March,
        1 + (index % 28) as u8,
    )?;
    let pid = IdNumber::generate(birth, IdKind::Synthetic, &mut RandomRng::new(&OsRandom));
    let now = SystemClock.unix();
    store
        .upsert_person(
            &PersonRecord {
                pid: pid.as_str().to_owned(),
                given_name: format!("Bench {index}"),
                family_name: "Testesen".into(),
                birth_date: birth.to_string(),
                address_kind: nokkel_server::store::AddressKind::Domestic,
                address_line: Some("Testveien 1".into()),
                postal_code: Some("0150".into()),
                city: Some("Oslo".into()),
                country: Some("NO".into()),
                status: nokkel_server::store::PersonStatus::Resident,
            },
            now,
        )
        .await?;
    ordering::order_letter(
        state,
        pid.as_str(),
        &format!("10.1.{}.{}", index / 250, index % 250),
        nokkel_server::i18n::Lang::default(),
    )
    .await?;
    let letter = store
        .letters_for(pid.as_str())
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("no letter"))?;
    let code = String::from_utf8(state.secrets.open(&letter.code_sealed)?)?;
    let started = enrolment::start(
        state,
        pid.as_str(),
        &code,
        &format!("10.2.{}.{}", index / 250, index % 250),
    )
    .await?;
    let key = DeviceKey::generate(&mut RandomRng::new(&OsRandom));
    let statement = sign_enrolment(
        &key,
        &started.issuer,
        &started.nonce,
        &DeviceDescription {
            name: format!("Bench {index}"),
            platform: Platform::Software,
            uv_methods: vec![UserVerification::NoneTest],
        },
        SystemClock.unix(),
    )?;
    enrolment::finish(
        state,
        &started.enrolment_id,
        &statement,
        nokkel_server::i18n::Lang::default(),
        "127.0.0.1",
    )
    .await?;
    let signer_key =
        ServerKey::from_secret_bytes(key.to_secret_bytes().as_ref(), &SystemRandom::new())?;
    let reply = send(app, Request::get("/").body(Body::empty())?).await?;
    let csrf = reply
        .cookies
        .iter()
        .find_map(|c| c.strip_prefix("nokkel_csrf="))
        .ok_or_else(|| anyhow!("no CSRF cookie"))?
        .to_owned();
    Ok(Worker {
        app: app.clone(),
        pid: pid.as_str().to_owned(),
        phone: Phone {
            device_id: key.device_id().as_str().to_owned(),
            signer_key,
            pinned: PublicKey::from_jwk(&started.challenge_key)?,
            counter: 0,
        },
        csrf,
        jwks: jwks.clone(),
    })
}

fn authorize_path() -> String {
    let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        VERIFIER.as_bytes(),
    ));
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", "demo-rp")
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid")
        .append_pair("state", "bench")
        .append_pair("nonce", "bench-nonce")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    format!("/oauth/authorize?{query}")
}

async fn login(worker: &mut Worker) -> anyhow::Result<Sample> {
    let begun = Instant::now();
    let app = worker.app.clone();
    // Relying party sends the browser to authorize; the browser lands on /login.
    let reply = send(&app, Request::get(authorize_path()).body(Body::empty())?).await?;
    let to_login = reply
        .location
        .ok_or_else(|| anyhow!("authorize did not redirect ({})", reply.status))?;
    let request_id = to_login
        .trim_start_matches("/login?request=")
        .split('&')
        .next()
        .unwrap_or_default()
        .to_owned();
    // Identity number.
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("csrf", &worker.csrf)
        .append_pair("request", &request_id)
        .append_pair("pid", &worker.pid)
        .finish();
    let reply = send(
        &app,
        Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, format!("nokkel_csrf={}", worker.csrf))
            .body(Body::from(form))?,
    )
    .await?;
    if reply.location.as_deref() != Some("/login/app") {
        bail!(
            "login page refused ({}): {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
    }
    let flow = reply
        .cookies
        .iter()
        .find(|c| c.starts_with("nokkel_login="))
        .cloned()
        .ok_or_else(|| anyhow!("no login cookie"))?;
    let cookie = format!("nokkel_csrf={}; {flow}", worker.csrf);
    // The page with the number.
    let page = send(
        &app,
        Request::get("/login/app")
            .header(header::COOKIE, &cookie)
            .body(Body::empty())?,
    )
    .await?;
    let number = shown_number(&page.body)?;
    // The browser waits for the decision (server-sent events).
    let events_app = app.clone();
    let events_cookie = cookie.clone();
    let waiting = tokio::spawn(async move {
        let reply = send(
            &events_app,
            Request::get("/login/events")
                .header(header::COOKIE, events_cookie)
                .body(Body::empty())?,
        )
        .await?;
        let notified = Instant::now();
        Ok::<_, anyhow::Error>((notified, reply.body))
    });
    // The phone fetches and verifies the challenge, then approves.
    let phone = &mut worker.phone;
    let proof = phone.proof("GET", "/api/v1/challenges/pending")?;
    let reply = send(
        &app,
        Request::get("/api/v1/challenges/pending")
            .header("Nokkel-Proof", proof)
            .body(Body::empty())?,
    )
    .await?;
    let pending: serde_json::Value = serde_json::from_slice(&reply.body)?;
    let jws = pending["challenge"]
        .as_str()
        .ok_or_else(|| anyhow!("no challenge pending: {pending}"))?;
    let device_id = nokkel_core::keys::DeviceId::parse(&phone.device_id)?;
    let challenge =
        verify_login_challenge(jws, &phone.pinned, ISSUER, &device_id, SystemClock.unix())?;
    let challenge_id = challenge.challenge_id().to_owned();
    phone.counter += 1;
    let approval = sign_test_approval(challenge, number, &phone.signer_key, phone.counter)?;
    let path = format!("/api/v1/challenges/{challenge_id}/approve");
    let proof = phone.proof("POST", &path)?;
    let body = serde_json::json!({"v": 1, "statement": approval}).to_string();
    let approved_at = Instant::now();
    let reply = send(
        &app,
        Request::post(path.as_str())
            .header("Nokkel-Proof", proof)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))?,
    )
    .await?;
    if reply.status != StatusCode::OK {
        bail!(
            "approval refused ({}): {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
    }
    let (notified, _) = waiting.await??;
    let approval_to_notified = notified.saturating_duration_since(approved_at);
    // The browser finishes and is sent back with a code.
    let reply = send(
        &app,
        Request::get("/login/finish")
            .header(header::COOKIE, &cookie)
            .body(Body::empty())?,
    )
    .await?;
    let back = reply
        .location
        .ok_or_else(|| anyhow!("finish did not redirect ({})", reply.status))?;
    let code = url::Url::parse(&back)?
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| anyhow!("no code in {back}"))?;
    // The relying party exchanges the code and checks the ID token.
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", &code)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("code_verifier", VERIFIER)
        .append_pair("client_id", "demo-rp")
        .append_pair("client_secret", "demo-secret")
        .finish();
    let reply = send(
        &app,
        Request::post("/oauth/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))?,
    )
    .await?;
    let tokens: serde_json::Value = serde_json::from_slice(&reply.body)?;
    let id_token = tokens["id_token"]
        .as_str()
        .ok_or_else(|| anyhow!("no ID token: {tokens}"))?;
    let claims = UnverifiedJws::decode(id_token, "JWT")
        .and_then(|jws| jws.verify(&worker.jwks))
        .context("ID token signature")?;
    let claims: serde_json::Value = serde_json::from_slice(&claims)?;
    if claims["nonce"] != "bench-nonce" {
        bail!("ID token nonce wrong");
    }
    Ok(Sample {
        total: begun.elapsed(),
        approval_to_notified,
    })
}

fn shown_number(html: &[u8]) -> anyhow::Result<u8> {
    let html = String::from_utf8_lossy(html);
    let start = html
        .find("class=\"number\"")
        .ok_or_else(|| anyhow!("no number on the page"))?;
    let rest = &html[start..];
    let open = rest.find('>').ok_or_else(|| anyhow!("bad page"))? + 1;
    let close = rest.find("</p>").ok_or_else(|| anyhow!("bad page"))?;
    Ok(rest[open..close].trim().parse()?)
}
