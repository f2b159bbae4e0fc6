#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Issue 11 through real sockets: `nokkel serve` WITHOUT `--demo`, configured from a file
//! with `[push]` pointed at the three push services' stand-ins on loopback (tests in
//! nokkel-server share them: crates/nokkel-server/tests/push_peers), letters printed to a
//! spool, and `nokkel device` as the phones.
//!
//! Three people each order a letter through the API, enrol a software authenticator with
//! the code read from the printed PDF, and register one kind of push each (Web Push, FCM,
//! APNs) as their phone app would. A relying party's login for each makes exactly one push
//! arrive at that person's push service within 1 s, which the peer checks as that service
//! would (the VAPID JWT and the decrypted RFC 8291 payload; the FCM OAuth2 assertion and
//! bearer token; the APNs provider JWT and headers over HTTP/2): it holds only "login
//! waiting" and a random id, no identity number, name or service. The device then fetches
//! and approves the challenge and the relying party gets its ID token. Each service's
//! "gone" answer (Web Push 410, FCM UNREGISTERED, APNs 410) removes the registration: the
//! next login pushes nothing.
//!
//! Needs `pdftotext` (poppler-utils; scripts/setup.sh installs it) to read the letters.

mod delivery_support;
#[path = "../../nokkel-server/tests/push_peers/mod.rs"]
mod push_peers;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use delivery_support::device_support::{device, RpLogin};
use delivery_support::{
    activation_code_in, add_relying_party, import_people_csv, pdftotext, printed_letters,
    require_pdftotext, run_ok, wait_for, Server,
};
use nokkel_core::clock::{Clock as _, SystemClock};
use push_peers::*;
use serde_json::Value;

const RP_ID: &str = "push-e2e-rp";
const RP_NAME: &str = "Statens vegvesen";
const RP_SECRET: &str = "relying-party-secret-0123456789-abcdefghij";
const FCM_TOKEN: &str = "fcm-registration-token:APA91bPushEndToEnd";

/// The three push services' stand-ins, on a runtime of their own.
struct Peers {
    web_push: WebPushPeer,
    fcm: FcmPeer,
    apns: ApnsPeer,
    apns_origin: String,
    _runtime: tokio::runtime::Runtime,
}

impl Peers {
    fn start() -> Peers {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let apns_origin = format!("http://{}", listener.local_addr().unwrap());
        let (web_push, fcm, apns) = runtime.block_on(async {
            (
                WebPushPeer::start().await,
                FcmPeer::start().await,
                ApnsPeer::serve(listener),
            )
        });
        Peers {
            web_push,
            fcm,
            apns,
            apns_origin,
            _runtime: runtime,
        }
    }

    /// How many pushes reached each service: (Web Push, FCM, APNs).
    fn counts(&self) -> (usize, usize, usize) {
        (
            self.web_push.received().len(),
            self.fcm.sends().len(),
            self.apns.requests().len(),
        )
    }
}

/// A person in the imported population register.
struct Person {
    pid: String,
    given: String,
    family: String,
}

/// Peers, spool and a server without `--demo`, all in one temporary directory.
struct World {
    peers: Peers,
    spool: PathBuf,
    server: Server,
    people: Vec<Person>,
    dir: tempfile::TempDir,
}

impl World {
    /// `settings` go at the top of the configuration file.
    fn start(settings: &str) -> World {
        require_pdftotext();
        let peers = Peers::start();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let spool = dir.path().join("spool");
        let account = peers.fcm.write_service_account(dir.path());
        let config = dir.path().join("nokkel.toml");
        std::fs::write(
            &config,
            format!(
                "{settings}accept_synthetic_ids = true\n\
                 accept_software_devices = true\n\
                 [delivery]\n\
                 max_attempts = 5\n\
                 retry_base_ms = 100\n\
                 retry_max_ms = 400\n\
                 poll_interval_ms = 100\n\
                 [letters]\n\
                 spool_dir = {spool:?}\n\
                 [push]\n\
                 vapid_subject = {VAPID_SUBJECT:?}\n\
                 vapid_key_file = {vapid:?}\n\
                 danger_allow_http_loopback = true\n\
                 fcm_service_account_file = {account:?}\n\
                 fcm_url = \"{fcm}/\"\n\
                 [push.apns]\n\
                 team_id = {APNS_TEAM_ID:?}\n\
                 key_id = {APNS_KEY_ID:?}\n\
                 key_file = {APNS_KEY_FILE:?}\n\
                 bundle_id = {APNS_TOPIC:?}\n\
                 production_url = \"{apns}/\"\n\
                 sandbox_url = \"{apns}/sandbox/\"\n",
                vapid = dir.path().join("vapid.key"),
                fcm = peers.fcm.origin,
                apns = peers.apns_origin,
            ),
        )
        .unwrap();
        let people = import_adults(dir.path(), &config, &data);
        add_relying_party(&config, &data, RP_ID, RP_NAME, RP_SECRET);
        let server = Server::start(&config, &data, "127.0.0.1:0", None);
        World {
            peers,
            spool,
            server,
            people,
            dir,
        }
    }

    /// Orders a letter for `person` through the API, reads its code from the printed PDF,
    /// and enrols a software authenticator with it. Returns its state directory.
    fn enrolled_device(&self, person: &Person) -> PathBuf {
        let before = printed_letters(&self.spool).len();
        let res = reqwest::blocking::Client::new()
            .post(format!("{}/api/v1/orders", self.server.url))
            .json(&serde_json::json!({"v": 1, "pid": person.pid}))
            .send()
            .unwrap();
        assert_eq!(res.status().as_u16(), 202, "{}", res.text().unwrap());
        let (pdf, _) = wait_for(
            &format!("{}'s letter in the spool", person.given),
            Duration::from_secs(20),
            || printed_letters(&self.spool).into_iter().nth(before),
        );
        let text = pdftotext(&pdf);
        assert!(
            text.contains(&format!("{} {}", person.given, person.family)),
            "{text}"
        );
        let code = activation_code_in(&text, &pdf);
        let state = self.dir.path().join(format!("device-{}", person.pid));
        let out = device(
            &state,
            &[
                "enrol",
                "--server",
                &self.server.url,
                "--pid",
                &person.pid,
                "--code",
                &code,
                "--json",
            ],
        );
        assert_eq!(out.exit, 0, "{out}");
        state
    }

    fn login(&self) -> RpLogin {
        RpLogin::at(&self.server.url, RP_ID, RP_SECRET)
    }
}

/// Generates synthetic people, imports them, and returns three adults living in Norway
/// (a letter is sent only to adults).
fn import_adults(dir: &Path, config: &Path, data: &Path) -> Vec<Person> {
    let csv = run_ok(&[
        "admin",
        "population",
        "generate",
        "--count",
        "30",
        "--seed",
        "1101",
    ]);
    import_people_csv(dir, config, data, &csv);
    let people: Vec<Person> = csv
        .lines()
        .skip(1)
        .map(|line| line.split(',').collect::<Vec<_>>())
        .filter(|row| row.len() == 10 && row[3] < "2000-01-01" && row[4] == "domestic")
        .take(3)
        .map(|row| Person {
            pid: row[0].to_owned(),
            given: row[1].to_owned(),
            family: row[2].to_owned(),
        })
        .collect();
    assert_eq!(people.len(), 3, "three adults at home in\n{csv}");
    people
}

/// Runs `nokkel device push ARGS` for the device at `state`; returns the kind registered.
fn register(state: &Path, args: &[&str]) -> String {
    let out = device(&state, &[&["push"], args, &["--json"]].concat());
    assert_eq!(out.exit, 0, "{out}");
    let answer: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    answer["push"].as_str().unwrap().to_owned()
}

/// A relying party's login for `person`: `what` (counted by `count`, none before) arrives
/// at the push service within 1 s. Returns the login and the number its page shows.
fn login_pushes_once(
    world: &World,
    person: &Person,
    what: &str,
    count: impl Fn() -> usize,
) -> (RpLogin, String) {
    assert_eq!(count(), 0);
    let rp = world.login();
    let started = Instant::now();
    let number = rp.start(&person.pid, "state", "nonce");
    let arrived = wait_for(what, Duration::from_secs(10), || {
        (count() >= 1).then(Instant::now)
    });
    let latency = arrived.duration_since(started);
    assert!(latency < Duration::from_secs(1), "{what} took {latency:?}");
    (rp, number)
}

/// Nothing in a push may tell who logs in where. `id` (random) is left out of the check so
/// that a short name cannot turn up in it by chance.
fn assert_private(text: &str, id: &str, person: &Person) {
    assert_eq!(id.len(), 32, "{id}");
    let text = text.replace(id, "");
    for secret in [
        person.pid.as_str(),
        person.given.as_str(),
        person.family.as_str(),
        RP_NAME,
        RP_ID,
    ] {
        assert!(!text.contains(secret), "{secret:?} in the push: {text}");
    }
}

/// The device at `state` approves the login showing `number`; the relying party gets an
/// ID token for `person`.
fn approve_and_finish(rp: &RpLogin, state: &Path, number: &str, person: &Person) {
    let out = device(&state, &["approve", "--number", number, "--json"]);
    assert_eq!(out.exit, 0, "{out}");
    let params = rp.finish();
    assert_eq!(rp.id_token_claims(&params["code"])["pid"], person.pid);
}

#[test]
fn each_push_service_wakes_its_device_once_and_the_login_completes() {
    let world = World::start("");
    let peers = &world.peers;
    let [web, android, iphone] = [0, 1, 2].map(|n| &world.people[n]);
    let web_state = world.enrolled_device(web);
    let android_state = world.enrolled_device(android);
    let iphone_state = world.enrolled_device(iphone);
    let subscription = format!("{}/push/e2e-subscription", peers.web_push.origin);
    let apns = apns_token(0x42);
    assert_eq!(
        register(
            &web_state,
            &[
                "--web-push",
                &subscription,
                "--p256dh",
                UA_PUBLIC,
                "--auth",
                AUTH
            ]
        ),
        "web_push"
    );
    assert_eq!(register(&android_state, &["--fcm", FCM_TOKEN]), "fcm");
    assert_eq!(
        register(
            &iphone_state,
            &["--apns", &apns, "--apns-environment", "sandbox"]
        ),
        "apns"
    );
    assert_eq!(peers.counts(), (0, 0, 0));

    // Web Push: one push, VAPID-signed, that decrypts to the private notice only.
    let (rp, number) = login_pushes_once(&world, web, "a Web Push", || {
        peers.web_push.received().len()
    });
    let push = &peers.web_push.received()[0];
    let notice = peers.web_push.open(push, SystemClock.unix());
    let ttl: i64 = push.headers["ttl"].to_str().unwrap().parse().unwrap();
    assert!((1..=120).contains(&ttl), "TTL {ttl} is the login's life");
    assert_eq!(
        (&notice["v"], &notice["type"]),
        (&1.into(), &"login_waiting".into())
    );
    assert_eq!(notice.as_object().unwrap().len(), 3, "{notice}");
    assert_private(&notice.to_string(), notice["id"].as_str().unwrap(), web);
    approve_and_finish(&rp, &web_state, &number, web);

    // FCM: one high-priority data message to the token, sent with the bearer token the
    // peer issued for the service account's assertion.
    let (rp, number) = login_pushes_once(&world, android, "an FCM message", || {
        peers.fcm.sends().len()
    });
    let send = &peers.fcm.sends()[0];
    let message = &send["message"];
    assert_eq!(message["token"], FCM_TOKEN);
    assert_eq!(message["android"]["priority"], "HIGH");
    assert_eq!(
        message["android"]["notification"]["title_loc_key"],
        "nokkel_login_waiting_title"
    );
    let data = message["data"].as_object().unwrap();
    assert_eq!(data.len(), 3, "{data:?}");
    assert_eq!(data["type"], "login_waiting");
    assert_private(&send.to_string(), data["id"].as_str().unwrap(), android);
    approve_and_finish(&rp, &android_state, &number, android);

    // APNs: one alert over HTTP/2 to the sandbox host, with a valid provider token.
    let (rp, number) = login_pushes_once(&world, iphone, "an APNs request", || {
        peers.apns.requests().len()
    });
    let request = &peers.apns.requests()[0];
    assert_eq!(request.path, format!("/sandbox/3/device/{apns}"));
    let expiration: i64 = request.headers["apns-expiration"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let (_, payload) = apns_check(request, SystemClock.unix(), expiration);
    assert!((1..=120).contains(&(expiration - SystemClock.unix())));
    assert_eq!(payload["type"], "login_waiting");
    assert_eq!(payload["aps"]["alert"]["loc-key"], "LOGIN_WAITING");
    assert_private(
        &payload.to_string(),
        payload["id"].as_str().unwrap(),
        iphone,
    );
    approve_and_finish(&rp, &iphone_state, &number, iphone);

    // Exactly one push per login, each at its own person's service.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(peers.counts(), (1, 1, 1));

    // Each service says the token is gone: tried once, removed, never tried again.
    peers.web_push.status.store(410, Ordering::SeqCst);
    *peers.fcm.answer.lock().unwrap() = (
        404,
        r#"{"error":{"code":404,"status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}"#.to_owned(),
    );
    *peers.apns.answer.lock().unwrap() = (410, r#"{"reason":"Unregistered"}"#.to_owned());
    for (n, person) in [web, android, iphone].into_iter().enumerate() {
        world
            .login()
            .start(&person.pid, &format!("gone-{n}"), "nonce");
    }
    wait_for("the three gone answers", Duration::from_secs(10), || {
        (peers.counts() == (2, 2, 2)).then_some(())
    });
    for (n, person) in [web, android, iphone].into_iter().enumerate() {
        world
            .login()
            .start(&person.pid, &format!("after-{n}"), "nonce");
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(peers.counts(), (2, 2, 2), "no push after a gone answer");
}

/// Push latency through real sockets (login page posted → push at the Web Push peer), for
/// docs/PERFORMANCE.md: `cargo test -p nokkel-cli --test push_e2e -- --ignored
/// --nocapture`.
#[test]
#[ignore = "a measurement, run by hand"]
fn measure_push_latency_through_sockets() {
    let world = World::start(
        "logins_per_person_and_address_per_10_min = 100000\n\
         logins_per_address_per_10_min = 100000\n\
         logins_per_person_per_10_min = 100000\n\
         login_ids_per_address_per_10_min = 100000\n",
    );
    let person = &world.people[0];
    let state = world.enrolled_device(person);
    let subscription = format!("{}/push/latency", world.peers.web_push.origin);
    register(
        &state,
        &[
            "--web-push",
            &subscription,
            "--p256dh",
            UA_PUBLIC,
            "--auth",
            AUTH,
        ],
    );
    let runs = 200;
    let mut latencies = Vec::with_capacity(runs);
    for n in 1..=runs {
        let rp = world.login();
        let started = Instant::now();
        rp.start(&person.pid, "s", "n");
        let received = || world.peers.web_push.received();
        wait_for("a push", Duration::from_secs(10), || {
            (received().len() >= n).then_some(())
        });
        latencies.push(received()[n - 1].at.duration_since(started));
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "push latency over {runs} logins (authorize + login page + POST /login → push at peer): p50 {:?}, p99 {:?}, max {:?}",
        at(0.50),
        at(0.99),
        latencies[latencies.len() - 1]
    );
}
