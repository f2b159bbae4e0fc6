//! Crash safety of the fast path (docs/ARCHITECTURE.md, "What a crash loses"): the server
//! is killed with SIGKILL at random moments while `nokkel bench --url` runs complete logins
//! over HTTP, and restarted on the same data directory and port. After every kill:
//!
//! - every login the relying party got an ID token for is in the person's history, and
//!   the phone's approval counter is stored (nothing approved is lost);
//! - no account or device disappeared and no device counter went backwards;
//! - `PRAGMA integrity_check` is `ok`.
//!
//! Before the last kill the bench stops and a browser starts a login that nobody answers;
//! after the restart its page says the login expired (try again) — at once, not after a
//! timeout — and a new bench run logs the same people in again.
//!
//! The moments are random; the seed is printed, and `NOKKEL_TEST_CRASH_SEED` replays it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod device_support;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use device_support::{free_port, import_population, nokkel, spawn_demo_server_at, NO_LOGIN_BRAKES};
use nokkel_server::store::{LoginState, Store};
use rand_chacha::rand_core::{RngCore as _, SeedableRng as _};
use serde_json::Value;

/// Kills per run.
const KILLS: usize = 4;
/// Logins in flight.
const IN_FLIGHT: usize = 4;
/// Lifts the per-person login brake (the bench logs the same few people in many times).

#[derive(Debug, Clone, PartialEq, Eq)]
struct Snapshot {
    /// Person → account status.
    accounts: HashMap<String, String>,
    /// Device id → counter.
    counters: HashMap<String, i64>,
}

/// A child process killed when dropped, so a failed assertion leaves no server or bench
/// running behind it.
struct Killed(Child);

impl Killed {
    /// SIGKILL now, and reap.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One recorded login: the person, their phone and the approval's counter.
struct Recorded {
    pid: String,
    device_id: String,
    counter: i64,
}

fn recorded(path: &Path) -> Vec<Recorded> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    // A line being written as the file is read may be incomplete: only whole lines count
    // (the bench writes each login's line in one write before it starts the next).
    text.split_inclusive('\n')
        .filter(|line| line.ends_with('\n'))
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("a JSON line");
            Recorded {
                pid: v["pid"].as_str().unwrap().to_owned(),
                device_id: v["device_id"].as_str().unwrap().to_owned(),
                counter: i64::try_from(v["counter"].as_u64().unwrap()).unwrap(),
            }
        })
        .collect()
}

/// Opens the dead server's database and checks it against what the relying party got
/// and against the previous snapshot; returns the new snapshot.
fn check_after_crash(
    data: &Path,
    pids: &[String],
    records: &[Recorded],
    previous: Option<&Snapshot>,
) -> Snapshot {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = Store::sqlite_in_data_dir(data).await.unwrap();
        assert_eq!(
            store.integrity_check().await.unwrap(),
            Some(vec!["ok".to_owned()]),
            "PRAGMA integrity_check"
        );
        let mut snapshot = Snapshot {
            accounts: HashMap::new(),
            counters: HashMap::new(),
        };
        for pid in pids {
            if let Some(account) = store.account(pid).await.unwrap() {
                snapshot
                    .accounts
                    .insert(pid.clone(), account.status.to_string());
            }
            for device in store.devices_for(pid).await.unwrap() {
                snapshot.counters.insert(device.id, device.counter);
            }
        }
        let mut tokens_of: HashMap<&str, usize> = HashMap::new();
        for record in records {
            *tokens_of.entry(&record.pid).or_default() += 1;
            let stored = snapshot.counters.get(&record.device_id).copied();
            assert!(
                stored.is_some_and(|c| c >= record.counter),
                "{}'s phone approved with counter {} and the relying party got an ID token, \
                 but the server has {stored:?}",
                record.pid,
                record.counter
            );
        }
        for (pid, tokens) in tokens_of {
            let approved = store
                .logins_for(pid, 1_000_000)
                .await
                .unwrap()
                .into_iter()
                .filter(|l| matches!(l.state, LoginState::Approved | LoginState::Completed))
                .count();
            assert!(
                approved >= tokens,
                "{pid}: the relying party got {tokens} ID tokens, the history shows {approved} \
                 approved logins"
            );
        }
        if let Some(previous) = previous {
            for (pid, status) in &previous.accounts {
                assert_eq!(
                    snapshot.accounts.get(pid),
                    Some(status),
                    "{pid}'s account changed across a crash"
                );
            }
            for (device, counter) in &previous.counters {
                let now = snapshot.counters.get(device).copied();
                assert!(
                    now.is_some_and(|c| c >= *counter),
                    "device {device}: counter {counter} before, {now:?} after a crash"
                );
            }
        }
        store.close().await;
        snapshot
    })
}

/// `nokkel bench --url` logging people in until killed, recording each login with an ID
/// token in `record` (its people and phones are kept next to `people_csv` and reused).
fn spawn_bench(url: &str, people_csv: &Path, record: &Path) -> Killed {
    Killed(
        nokkel()
            .args(["bench", "--url", url, "--population"])
            .arg(people_csv)
            .arg("--record")
            .arg(record)
            .args(["--concurrency", &IN_FLIGHT.to_string()])
            .args(["--seconds", "3600", "--warmup", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn wait_for_records(path: &Path, more_than: usize, within: Duration) {
    let until = Instant::now() + within;
    while recorded(path).len() <= more_than {
        assert!(
            Instant::now() < until,
            "no new login completed within {within:?} (have {more_than})"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A browser that starts a login for `pid` and stops on the page with the number.
fn browser_waiting_on_the_app(url: &str, pid: &str) -> reqwest::blocking::Client {
    let browser = reqwest::blocking::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let authorize = format!(
        "{url}/oauth/authorize?response_type=code&client_id=demo-rp\
         &redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&scope=openid&state=s&nonce=n\
         &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
    );
    let to_login = browser.get(authorize).send().unwrap();
    let location = to_login.headers()["location"].to_str().unwrap().to_owned();
    let request = url::Url::parse(&format!("{url}{location}"))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "request")
        .unwrap()
        .1
        .into_owned();
    let page = browser.get(format!("{url}{location}")).send().unwrap();
    assert_eq!(page.status(), 200);
    // The form's double-submit token (its twin is in the cookie the browser keeps).
    let html = page.text().unwrap();
    let field = "name=\"csrf\" value=\"";
    let at = html.find(field).expect("a CSRF field") + field.len();
    let csrf = html[at..at + html[at..].find('"').unwrap()].to_owned();
    let started = browser
        .post(format!("{url}/login"))
        .form(&[("csrf", csrf.as_str()), ("request", &request), ("pid", pid)])
        .send()
        .unwrap();
    assert_eq!(
        started
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap()),
        Some("/login/app"),
        "the login did not start: {}",
        started.status()
    );
    let number_page = browser.get(format!("{url}/login/app")).send().unwrap();
    assert_eq!(number_page.status(), 200);
    assert!(number_page.text().unwrap().contains("data-number"));
    browser
}

fn page_text(browser: &reqwest::blocking::Client, url: &str) -> String {
    browser.get(url).send().unwrap().text().unwrap()
}

#[test]
fn sigkill_during_logins_loses_nothing_approved_and_waiting_browsers_hear_expired() {
    let seed = std::env::var("NOKKEL_TEST_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("crash moments from seed {seed} (NOKKEL_TEST_CRASH_SEED={seed} replays them)");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);

    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let people_csv = work.path().join("people.csv");
    let record = work.path().join("logins.jsonl");
    let pids = import_population(&people_csv, &data, 6, 7);

    let listen = format!("127.0.0.1:{}", free_port());
    let (server, url) = spawn_demo_server_at(&data, &listen, &NO_LOGIN_BRAKES);
    let mut server = Killed(server);
    let mut bench = spawn_bench(&url, &people_csv, &record);
    // Enrolment over HTTP, then the first logins.
    wait_for_records(&record, 0, Duration::from_secs(120));

    let mut snapshot: Option<Snapshot> = None;
    let mut before_last = 0;
    for kill in 0..KILLS {
        let last = kill + 1 == KILLS;
        // A random moment in the next 0.1–1.5 s of logins.
        std::thread::sleep(Duration::from_millis(100 + rng.next_u64() % 1400));
        let waiting = if last {
            // The bench stops; a browser starts a login nobody will answer.
            bench.kill();
            Some(browser_waiting_on_the_app(&url, &pids[0]))
        } else {
            None
        };
        server.kill();
        let records = recorded(&record);
        snapshot = Some(check_after_crash(&data, &pids, &records, snapshot.as_ref()));
        eprintln!(
            "kill {}: {} logins with ID tokens so far, all accounted for",
            kill + 1,
            records.len()
        );
        server = Killed(spawn_demo_server_at(&data, &listen, &NO_LOGIN_BRAKES).0);
        if let Some(browser) = waiting {
            // The page's event stream answers at once, and the finish step says expired.
            let asked = Instant::now();
            let events = page_text(&browser, &format!("{url}/login/events"));
            assert!(
                events.contains("event: decided"),
                "the event stream after the restart: {events:?}"
            );
            assert!(
                asked.elapsed() < Duration::from_secs(5),
                "{:?}",
                asked.elapsed()
            );
            let finish = browser
                .get(format!("{url}/login/finish"))
                .header("accept-language", "en")
                .send()
                .unwrap();
            assert_eq!(finish.status(), 200);
            let html = finish.text().unwrap();
            assert!(html.contains("Time ran out"), "{html}");
            assert!(html.contains("You can try again."), "{html}");
            // The number page, reloaded, goes the same way.
            let app = browser.get(format!("{url}/login/app")).send().unwrap();
            assert_eq!(app.headers()["location"], "/login/finish");
            bench = spawn_bench(&url, &people_csv, &record);
            before_last = records.len();
        } else {
            // Logins go on against the restarted server.
            wait_for_records(&record, records.len(), Duration::from_secs(60));
        }
    }
    // After the last restart logins complete again.
    wait_for_records(&record, before_last, Duration::from_secs(60));
    bench.kill();
    server.kill();
    check_after_crash(&data, &pids, &recorded(&record), snapshot.as_ref());
}
