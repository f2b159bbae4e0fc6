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
//! ```sh
//! cargo run --release -p nokkel-cli --example http_floor -- 1 8 64
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
use tokio::sync::oneshot;

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
    match std::env::args().nth(1).as_deref() {
        Some("--serve") => runtime.block_on(serve()),
        _ => runtime.block_on(drive()),
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

async fn serve() -> anyhow::Result<()> {
    let page = Bytes::from(format!(
        "{}<p data-number=\"47\">47</p>",
        "x".repeat(PAGE_BYTES - 30)
    ));
    let challenge = Bytes::from("x".repeat(CHALLENGE_BYTES));
    let token = Bytes::from("x".repeat(TOKEN_BYTES));
    let (page_a, page_b) = (page.clone(), page);
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
            get(|State(logins): State<Logins>, headers: HeaderMap| async move {
                let decided = logins.wait(login_cookie(&headers));
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
            get(move || async move { body("application/json", challenge) }),
        )
        .route(
            "/api/v1/challenges/{id}/approve",
            post(
                |State(logins): State<Logins>, Path(id): Path<String>, _body: Bytes| async move {
                    logins.approve(id);
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
            post(move |_body: Bytes| async move { body("application/json", token) }),
        )
        .with_state(Logins::default());
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
async fn drive() -> anyhow::Result<()> {
    let concurrencies: Vec<usize> = std::env::args()
        .skip(1)
        .map(|c| c.parse().with_context(|| format!("concurrency {c}")))
        .collect::<anyhow::Result<_>>()?;
    let concurrencies = if concurrencies.is_empty() {
        vec![1, 8, 64]
    } else {
        concurrencies
    };
    let mut server = Command::new(std::env::current_exe()?)
        .arg("--serve")
        .stdout(Stdio::piped())
        .spawn()?;
    let result = drive_server(&mut server, &concurrencies).await;
    let _ = server.kill();
    let _ = server.wait();
    result
}

async fn drive_server(
    server: &mut std::process::Child,
    concurrencies: &[usize],
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
                    login(&http, &base, &format!("{slot}-{n}")).await?;
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
            .body("x".repeat(300)),
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
