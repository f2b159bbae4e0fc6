//! The HTTP floor of one login: what the nine exchanges of an app-approved login cost
//! over loopback when the server does nothing else.
//!
//! `nokkel bench --url` measures the real server. This runs the same exchanges — the
//! same methods, paths, cookies, headers and body sizes, the event stream held open
//! until the phone's approval arrives — against an axum server in its own process that
//! answers each from memory: no database, no crypto, no pages rendered. The server's CPU
//! per "login" here is what sockets, hyper, axum and Tokio cost at least; what the real
//! server spends beyond this and its crypto floor is its own work (docs/PERFORMANCE.md).
//!
//! With `--work` the floor server also does what no server of this design can leave
//! out, and nothing else: the crypto floor (three P-256 verifies and two ES256 signs, at
//! the exchanges where the real server does them) and the two durable transactions
//! without which an approval could be lost — the approval with its device counter, and
//! the code, its access token and the login's completion at the token exchange — on the
//! real SQLite schema, with the real server's settings and its checkpoint every second.
//! What the real server spends beyond *that* is its own logic: pages, cookies, audit,
//! rate limits, the authorization request on disk. `--crypto` or `--writes` adds one
//! half only.
//!
//! ```sh
//! cargo run --release -p nokkel-cli --example http_floor -- 1 8 64
//! cargo run --release -p nokkel-cli --example http_floor -- --work 8
//! TOKIO_WORKER_THREADS=1 cargo run --release -p nokkel-cli --example http_floor -- 8
//! ```
//!
//! `TOKIO_WORKER_THREADS` reaches the server process (and the generator).

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, UnparsedPublicKey};
use tokio::sync::oneshot;

// The real server's allocator, so the floor is not raised by a slower one.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const WARM_UP: Duration = Duration::from_secs(2);
const MEASURED: Duration = Duration::from_secs(10);
/// Sizes of the real server's answers (a demo server, 2026-12-01).
const PAGE_BYTES: usize = 2_466;
const CHALLENGE_BYTES: usize = 1_000;
const TOKEN_BYTES: usize = 1_200;
const PROOF_BYTES: usize = 420;
const APPROVAL_BYTES: usize = 640;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |f: &str| args.iter().any(|a| a == f || a == "--work");
    let parts = Parts {
        crypto: flag("--crypto"),
        writes: flag("--writes"),
    };
    if args.iter().any(|a| a == "--serve") {
        runtime.block_on(serve(parts))
    } else {
        runtime.block_on(drive(parts))
    }
}

/// What the floor server does besides HTTP: `--crypto`, `--writes`, or both (`--work`).
#[derive(Clone, Copy)]
struct Parts {
    crypto: bool,
    writes: bool,
}

impl Parts {
    fn any(self) -> bool {
        self.crypto || self.writes
    }

    fn args(self) -> impl Iterator<Item = &'static str> {
        [(self.crypto, "--crypto"), (self.writes, "--writes")]
            .into_iter()
            .filter_map(|(on, flag)| on.then_some(flag))
    }
}

/// The floor server's state: the logins' event streams and, with any of the parts, the
/// work.
#[derive(Clone)]
struct Floor {
    logins: Logins,
    work: Option<Arc<Work>>,
}

/// What `--crypto` and `--writes` add to every login (see the module's documentation).
struct Work {
    parts: Parts,
    random: SystemRandom,
    /// The server's signing key (challenges and ID tokens).
    signer: EcdsaKeyPair,
    /// A phone's public key, and a message it signed: what every verify checks.
    phone: UnparsedPublicKey<Vec<u8>>,
    signed: Vec<u8>,
    signature: Vec<u8>,
    /// The store, used on the calling worker as the real server's direct connection is.
    db: Mutex<rusqlite::Connection>,
    _dir: tempfile::TempDir,
}

/// The real server's connection settings (`store::direct::open_connection`), but for
/// foreign keys: the rows the logins refer to are not there.
const PRAGMAS: &str =
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF; \
     PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 134217728;";

impl Work {
    fn open(parts: Parts) -> anyhow::Result<Self> {
        let random = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let key = |random: &SystemRandom| -> anyhow::Result<EcdsaKeyPair> {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, random).map_err(|_| anyhow!("key"))?;
            EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), random).map_err(|_| anyhow!("key"))
        };
        let (signer, phone) = (key(&random)?, key(&random)?);
        // About the size of a signed approval's signing input.
        let signed = vec![b'x'; 600];
        let signature = phone
            .sign(&random, &signed)
            .map_err(|_| anyhow!("sign"))?
            .as_ref()
            .to_vec();
        let phone = UnparsedPublicKey::new(
            &signature::ECDSA_P256_SHA256_FIXED,
            phone.public_key().as_ref().to_vec(),
        );
        let dir = tempfile::tempdir()?;
        let db = rusqlite::Connection::open(dir.path().join("floor.db"))?;
        db.execute_batch(PRAGMAS)?;
        let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../nokkel-server/migrations/sqlite");
        let mut files: Vec<_> = std::fs::read_dir(&migrations)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        files.sort();
        for file in files {
            db.execute_batch(&std::fs::read_to_string(&file)?)?;
        }
        // The rows the logins refer to are not there: no foreign keys are checked (the
        // real server checks them, so this is cheaper than any real login).
        db.execute_batch(
            "INSERT INTO devices (id, pid, public_jwk, name, platform, uv_methods, counter, \
             created_at) VALUES ('phone', '01010112345', '{}', 'Phone', 'android', 'face', 0, 0)",
        )?;
        db.busy_timeout(Duration::from_secs(1))?;
        let checkpoints = rusqlite::Connection::open(dir.path().join("floor.db"))?;
        checkpoints.execute_batch(PRAGMAS)?;
        checkpoints.busy_timeout(Duration::from_millis(250))?;
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_secs(1));
            for mode in ["PASSIVE", "RESTART"] {
                let sql = format!("PRAGMA wal_checkpoint({mode})");
                if let Err(err) = checkpoints.query_row(&sql, [], |_| Ok(())) {
                    eprintln!("checkpoint: {err}");
                }
            }
        });
        Ok(Self {
            parts,
            random,
            signer,
            phone,
            signed,
            signature,
            db: Mutex::new(db),
            _dir: dir,
        })
    }

    fn verify(&self) -> anyhow::Result<()> {
        if !self.parts.crypto {
            return Ok(());
        }
        self.phone
            .verify(&self.signed, &self.signature)
            .map_err(|_| anyhow!("verify"))
    }

    fn sign(&self) -> anyhow::Result<()> {
        if !self.parts.crypto {
            return Ok(());
        }
        self.signer
            .sign(&self.random, &self.signed)
            .map(|_| ())
            .map_err(|_| anyhow!("sign"))
    }

    fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }

    /// The approval and the device's counter, in one transaction.
    fn approve(&self, id: &str) -> anyhow::Result<()> {
        if !self.parts.writes {
            return Ok(());
        }
        let now = Self::now();
        let mut db = self.db.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.prepare_cached(
            "UPDATE devices SET counter = counter + 1, last_used_at = ?1 WHERE id = 'phone'",
        )?
        .execute([now])?;
        tx.prepare_cached(
            "INSERT INTO logins (id, request_id, pid, method, service, browser, os, place, \
             number, pending, state, created_at, expires_at, decided_at, device_id, uv, \
             address) VALUES (?1, ?2, '01010112345', 'app', 'Demo service', 'Firefox', \
             'Linux', NULL, 47, 'pending-text', 'approved', ?3, ?3 + 120, ?3, 'phone', \
             'face', '127.0.0.1')",
        )?
        .execute(rusqlite::params![id, hash(id, b"request"), now])?;
        tx.commit()?;
        Ok(())
    }

    /// The code (used at once), its access token and the login's completion, in one
    /// transaction.
    fn redeem(&self, id: &str) -> anyhow::Result<()> {
        if !self.parts.writes {
            return Ok(());
        }
        let now = Self::now();
        let (code, token) = (hash(id, b"code"), hash(id, b"token"));
        let mut db = self.db.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.prepare_cached(
            "UPDATE logins SET state = 'completed', decided_at = ?2 \
             WHERE id = ?1 AND state = 'approved'",
        )?
        .execute(rusqlite::params![id, now])?;
        tx.prepare_cached(
            "INSERT INTO authorization_codes (code_hash, request_id, client_id, redirect_uri, \
             code_challenge, scope, nonce, pid, amr, auth_time, created_at, expires_at, \
             used_at) VALUES (?1, ?2, 'demo-rp', 'http://127.0.0.1:9/callback', \
             'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', 'openid', 'bench-nonce', \
             '01010112345', 'app', ?3, ?3, ?3 + 60, ?3)",
        )?
        .execute(rusqlite::params![code, hash(id, b"request"), now])?;
        tx.prepare_cached(
            "INSERT INTO access_tokens (token_hash, code_hash, client_id, pid, scope, \
             created_at, expires_at) VALUES (?1, ?2, 'demo-rp', '01010112345', 'openid', \
             ?3, ?3 + 3600)",
        )?
        .execute(rusqlite::params![token, code, now])?;
        tx.commit()?;
        Ok(())
    }
}

/// 32 bytes standing for a hashed secret (or a request id) of login `id`.
fn hash(id: &str, what: &[u8]) -> Vec<u8> {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(what);
    context.update(id.as_bytes());
    context.finish().as_ref().to_vec()
}

/// Runs `step` of the work, if there is work; a failure is the server's error.
fn work(
    work: &Option<Arc<Work>>,
    step: impl FnOnce(&Work) -> anyhow::Result<()>,
) -> Option<Response> {
    let result = work.as_deref().map(step).transpose();
    match result {
        Ok(_) => None,
        Err(err) => {
            eprintln!("floor work: {err:#}");
            Some(StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    }
}

/// The login each event stream waits for, and approvals that came before their stream
/// (one lock for both, so an approval cannot slip between the two).
#[derive(Clone, Default)]
struct Logins(Arc<Mutex<HashMap<String, Decision>>>);

enum Decision {
    Waiting(oneshot::Sender<()>),
    ApprovedEarly,
}

impl Logins {
    fn approve(&self, id: String) {
        let mut logins = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match logins.remove(&id) {
            Some(Decision::Waiting(tx)) => {
                let _ = tx.send(());
            }
            _ => {
                logins.insert(id, Decision::ApprovedEarly);
            }
        }
    }

    fn wait(&self, id: String) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let mut logins = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match logins.remove(&id) {
            Some(Decision::ApprovedEarly) => {
                let _ = tx.send(());
            }
            _ => {
                logins.insert(id, Decision::Waiting(tx));
            }
        }
        rx
    }
}

/// The headers the real server sets on every answer (`http::security_headers`).
fn with_headers(mut response: Response) -> Response {
    const SET: [(&str, &str); 7] = [
        ("content-security-policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("permissions-policy", "camera=(), microphone=(), geolocation=()"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cache-control", "no-store"),
    ];
    for (name, value) in SET {
        response
            .headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    response
}

fn redirect(to: &str, cookie: Option<&str>) -> Response {
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response();
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(c).ok()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    with_headers(response)
}

fn body(content_type: &'static str, bytes: Bytes) -> Response {
    with_headers(([(header::CONTENT_TYPE, content_type)], bytes).into_response())
}

fn login_cookie(headers: &HeaderMap) -> String {
    headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("nokkel_login=").nth(1))
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .to_owned()
}

async fn serve(parts: Parts) -> anyhow::Result<()> {
    let page = Bytes::from(format!(
        "{}<p data-number=\"47\">47</p>",
        "x".repeat(PAGE_BYTES - 30)
    ));
    let challenge = Bytes::from("x".repeat(CHALLENGE_BYTES));
    let token = Bytes::from("x".repeat(TOKEN_BYTES));
    let (page_a, page_b) = (page.clone(), page);
    let floor = Floor {
        logins: Logins::default(),
        work: if parts.any() {
            Some(Arc::new(Work::open(parts)?))
        } else {
            None
        },
    };
    let app = Router::new()
        .route(
            "/oauth/authorize",
            get(|| async {
                redirect(
                    "/login?request=Zlogq54EFvrmu6kOH9NfuZT6-PvYLOdx9SdLpNRNkbg",
                    Some("nokkel_csrf=IS9MCpCs2zpugILvK-2B6GZZznVNrVCP9GmHTPlAT1E; Path=/; Max-Age=43200; HttpOnly; SameSite=Lax"),
                )
            }),
        )
        .route(
            "/login",
            get(move || async move { body("text/html; charset=utf-8", page_a) }).post(
                |body: String| async move {
                    let id = body.rsplit('=').next().unwrap_or_default().to_owned();
                    redirect(
                        "/login/app",
                        Some(&format!("nokkel_login={id}; Path=/login; Max-Age=900; HttpOnly; SameSite=Lax")),
                    )
                },
            ),
        )
        .route(
            "/login/app",
            get(move || async move { body("text/html; charset=utf-8", page_b) }),
        )
        .route(
            "/login/events",
            get(|State(floor): State<Floor>, headers: HeaderMap| async move {
                let decided = floor.logins.wait(login_cookie(&headers));
                let event = futures_util::stream::once(async move {
                    let _ = decided.await;
                    Ok::<_, Infallible>(Bytes::from_static(b"event: decided\ndata: approved\n\n"))
                });
                with_headers(
                    ([(header::CONTENT_TYPE, "text/event-stream")], Body::from_stream(event))
                        .into_response(),
                )
            }),
        )
        .route(
            "/api/v1/challenges/pending",
            get(move |State(floor): State<Floor>| async move {
                // The request proof verified, the challenge signed.
                work(&floor.work, |w| {
                    w.verify()?;
                    w.sign()
                })
                .unwrap_or_else(|| body("application/json", challenge))
            }),
        )
        .route(
            "/api/v1/challenges/{id}/approve",
            post(
                |State(floor): State<Floor>, Path(id): Path<String>, _body: Bytes| async move {
                    // The request proof and the approval verified, the approval stored.
                    if let Some(failed) = work(&floor.work, |w| {
                        w.verify()?;
                        w.verify()?;
                        w.approve(&id)
                    }) {
                        return failed;
                    }
                    floor.logins.approve(id);
                    body("application/json", Bytes::from_static(b"{\"v\":1,\"state\":\"approved\"}"))
                },
            ),
        )
        .route(
            "/login/finish",
            get(|| async {
                redirect(
                    "http://127.0.0.1:9/callback?code=tq1WVIhU0kqkJ3gM9DY0h5cQyUuQxSxSkQ3sETkRmIY&state=bench-state",
                    Some("nokkel_login=; Path=/login; Max-Age=0"),
                )
            }),
        )
        .route(
            "/oauth/token",
            post(move |State(floor): State<Floor>, form: String| async move {
                // The ID token signed; the code, its token and the login's end stored.
                let id = form
                    .strip_prefix("code=")
                    .and_then(|f| f.split('&').next())
                    .unwrap_or_default();
                work(&floor.work, |w| {
                    w.sign()?;
                    w.redeem(id)
                })
                .unwrap_or_else(|| body("application/json", token))
            }),
        )
        .with_state(floor);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("{}", listener.local_addr()?.port());
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await?;
    Ok(())
}

/// Runs the floor server in a child process and drives logins against it at each
/// concurrency given on the command line.
async fn drive(parts: Parts) -> anyhow::Result<()> {
    let concurrencies: Vec<usize> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .map(|c| c.parse().with_context(|| format!("concurrency {c}")))
        .collect::<anyhow::Result<_>>()?;
    let concurrencies = if concurrencies.is_empty() {
        vec![1, 8, 64]
    } else {
        concurrencies
    };
    let mut server = Command::new(std::env::current_exe()?)
        .arg("--serve")
        .args(parts.args())
        .stdout(Stdio::piped())
        .spawn()?;
    let result = drive_server(&mut server, &concurrencies, parts).await;
    let _ = server.kill();
    let _ = server.wait();
    result
}

async fn drive_server(
    server: &mut std::process::Child,
    concurrencies: &[usize],
    parts: Parts,
) -> anyhow::Result<()> {
    let stdout = server.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut port = String::new();
    BufReader::new(stdout).read_line(&mut port)?;
    let base = format!("http://127.0.0.1:{}", port.trim());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .pool_max_idle_per_host(usize::MAX)
        .build()?;
    if parts.crypto {
        println!("with the crypto floor: 3 P-256 verifies and 2 ES256 signs per login");
    }
    if parts.writes {
        println!("with two durable transactions per login and a checkpoint a second");
    }
    println!("in flight | logins/s | server CPU per login | generator CPU per login");
    for &concurrency in concurrencies {
        let done = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let (from, until) = (start + WARM_UP, start + WARM_UP + MEASURED);
        let mut slots = Vec::new();
        for slot in 0..concurrency {
            let (http, base, done) = (http.clone(), base.clone(), done.clone());
            slots.push(tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < until {
                    login(&http, &base, &format!("{concurrency}-{slot}-{n}")).await?;
                    n += 1;
                    let now = Instant::now();
                    if now >= from && now <= until {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
                anyhow::Ok(())
            }));
        }
        tokio::time::sleep_until(from.into()).await;
        let before = (cpu_ticks(server.id())?, cpu_ticks(std::process::id())?);
        tokio::time::sleep_until(until.into()).await;
        let after = (cpu_ticks(server.id())?, cpu_ticks(std::process::id())?);
        for slot in slots {
            slot.await??;
        }
        let logins = done.load(Ordering::Relaxed) as f64;
        if logins == 0.0 {
            bail!("no login completed");
        }
        // Clock ticks are 1/100 s on Linux (`getconf CLK_TCK`).
        let per_login = |ticks: u64| ticks as f64 * 10_000.0 / logins;
        println!(
            "{concurrency:>9} | {:>8.0} | {:>17.0} µs | {:>20.0} µs",
            logins / MEASURED.as_secs_f64(),
            per_login(after.0 - before.0),
            per_login(after.1 - before.1),
        );
    }
    Ok(())
}

/// One login's nine exchanges, as `nokkel bench --url` makes them.
async fn login(http: &reqwest::Client, base: &str, id: &str) -> anyhow::Result<()> {
    const CSRF: &str = "nokkel_csrf=IS9MCpCs2zpugILvK-2B6GZZznVNrVCP9GmHTPlAT1E";
    let cookies = format!("{CSRF}; nokkel_login={id}");
    let exchange = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await?;
        if !(response.status().is_success() || response.status().is_redirection()) {
            bail!("{} answered {}", response.url(), response.status());
        }
        response.bytes().await?;
        anyhow::Ok(())
    };
    exchange(http.get(format!("{base}/oauth/authorize?response_type=code&client_id=demo-rp&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&scope=openid&state=bench-state&nonce=bench-nonce&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"))).await?;
    exchange(
        http.get(format!(
            "{base}/login?request=Zlogq54EFvrmu6kOH9NfuZT6-PvYLOdx9SdLpNRNkbg"
        ))
        .header(header::COOKIE, CSRF),
    )
    .await?;
    exchange(
        http.post(format!("{base}/login"))
            .header(header::COOKIE, CSRF)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(format!("csrf=IS9MCpCs2zpugILvK-2B6GZZznVNrVCP9GmHTPlAT1E&request=Zlogq54EFvrmu6kOH9NfuZT6-PvYLOdx9SdLpNRNkbg&pid={id}")),
    )
    .await?;
    exchange(
        http.get(format!("{base}/login/app"))
            .header(header::COOKIE, &cookies),
    )
    .await?;
    let events = async {
        let mut response = http
            .get(format!("{base}/login/events"))
            .header(header::COOKIE, &cookies)
            .header(header::ACCEPT, "text/event-stream")
            .send()
            .await?;
        while response.chunk().await?.is_some() {}
        anyhow::Ok(())
    };
    let phone = async {
        exchange(
            http.get(format!("{base}/api/v1/challenges/pending"))
                .header("nokkel-proof", "x".repeat(PROOF_BYTES)),
        )
        .await?;
        exchange(
            http.post(format!("{base}/api/v1/challenges/{id}/approve"))
                .header("nokkel-proof", "x".repeat(PROOF_BYTES))
                .header(header::CONTENT_TYPE, "application/json")
                .body("x".repeat(APPROVAL_BYTES)),
        )
        .await
    };
    let (events, phone) = tokio::join!(events, phone);
    events?;
    phone?;
    exchange(
        http.get(format!("{base}/login/finish"))
            .header(header::COOKIE, &cookies),
    )
    .await?;
    exchange(
        http.post(format!("{base}/oauth/token"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(format!("code={id}&{:x<1$}", "", 300 - 6 - id.len())),
    )
    .await
}

/// `utime + stime` of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .ok_or_else(|| anyhow!("unreadable /proc/{pid}/stat"))?
        .1
        .split_whitespace()
        .collect();
    let field = |n: usize| -> anyhow::Result<u64> {
        Ok(fields
            .get(n)
            .ok_or_else(|| anyhow!("short /proc/{pid}/stat"))?
            .parse()?)
    };
    Ok(field(11)? + field(12)?)
}
