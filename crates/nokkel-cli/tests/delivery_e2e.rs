#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Delivery end to end, as a person meets it: `nokkel serve` without `--demo` (SQLite),
//! letters printed as PDFs into a spool directory, text messages signed to an SMS
//! aggregator and e-mail over SMTP with STARTTLS and AUTH (the test peers in tests/peers
//! stand in for those other people's services).
//!
//! - A letter ordered on the web form arrives as a PDF with the name, the address and the
//!   code; with the code a person registers as an SMS user (the code SMS is in the
//!   registration's language, GSM-7, one segment) and logs in at a relying party with
//!   password and SMS code.
//! - A letter abroad carries the country line and is marked `abroad` in the manifest; a
//!   Swedish mobile number gets its SMS as `+46…`.
//! - An app user (`nokkel device`) who saves an e-mail address gets a confirmation; "this
//!   wasn't me" reaches them by SMS and by e-mail (text and HTML), in their language.
//! - Notices are written in nb, nn or en, as the person's app asked; a text message longer
//!   than 160 GSM-7 characters goes to the aggregator whole, declared as two segments.
//!
//! Every signature the SMS peer checked verified (`rejected` stays 0). Needs the test venv
//! (scripts/setup.sh) and `pdftotext` (poppler-utils).

mod delivery_support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use delivery_support::device_support::{location, shown_number};
use delivery_support::{
    nokkel, pdftotext, require_pdftotext, run_ok, wait_for, Peers, Server, SmsPeer, SmtpPeer,
};
use serde_json::Value;

/// How long any one delivery may take to show up at a peer or in the spool.
const DELIVERY: Duration = Duration::from_secs(20);
/// The loopback redirect URI of the test relying parties; nothing listens there, the
/// test reads the `Location` header.
const REDIRECT: &str = delivery_support::device_support::RP_REDIRECT;
const RP_SECRET: &str = "relying-party-secret-0123456789-abcdefghij";
const PKCE_VERIFIER: &str = "delivery-e2e-verifier-0123456789-0123456789-0123";
const PASSWORD: &str = "Tre-gule-trekkspill-i-tåka-1987";
/// A relying party's name of 60 GSM-7 characters: "this wasn't me" about it takes two
/// text-message segments in every language.
const LONG_SERVICE: &str = "Direktoratet for samfunnssikkerhet og beredskap, testmiljø A";

// ---------------------------------------------------------------- people

/// One person in the population register the test imports.
#[derive(Debug, Clone)]
struct Person {
    pid: String,
    given: &'static str,
    family: &'static str,
    /// The lines under the name in the envelope window.
    address: Vec<String>,
}

impl Person {
    fn name(&self) -> String {
        format!("{} {}", self.given, self.family)
    }
}

/// Where someone lives.
enum Home {
    /// A Norwegian address (the generated one).
    Norway,
    /// Drottninggatan 71, 111 36 Stockholm.
    Sweden,
}

/// Generates synthetic adults with `nokkel admin population generate`, gives them the
/// names and homes asked for, and imports them into the server's data directory.
fn import_people(
    dir: &Path,
    config: &Path,
    data: &Path,
    wanted: &[(&'static str, &'static str, Home)],
) -> Vec<Person> {
    let generated = run_ok(&[
        "admin",
        "population",
        "generate",
        "--count",
        "40",
        "--seed",
        "2718",
    ]);
    let mut lines = generated.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("pid,given_name,family_name,birth_date,address_kind,address_line"),
        "{header}"
    );
    // Adults only: a letter is not sent to a child.
    let adults: Vec<Vec<String>> = lines
        .map(|line| line.split(',').map(str::to_owned).collect::<Vec<_>>())
        .filter(|row| row.len() == 10 && row[3].as_str() < "2000-01-01")
        .collect();
    assert!(adults.len() >= wanted.len(), "too few adults generated");
    let mut csv = format!("{header}\n");
    let mut people = Vec::new();
    for ((given, family, home), row) in wanted.iter().zip(adults) {
        let mut row = row.clone();
        row[1] = (*given).to_owned();
        row[2] = (*family).to_owned();
        let address = match home {
            Home::Norway => {
                row[4] = "domestic".into();
                row[8] = "NO".into();
                row[9] = "resident".into();
                vec![
                    row[5].clone(),
                    format!("{} {}", row[6], row[7].to_uppercase()),
                ]
            }
            Home::Sweden => {
                row[4] = "foreign".into();
                row[5] = "Drottninggatan 71".into();
                row[6] = "111 36".into();
                row[7] = "Stockholm".into();
                row[8] = "SE".into();
                row[9] = "emigrated".into();
                vec![
                    "Drottninggatan 71".into(),
                    "111 36 Stockholm".into(),
                    "SVERIGE".into(),
                ]
            }
        };
        csv.push_str(&row.join(","));
        csv.push('\n');
        people.push(Person {
            pid: row[0].clone(),
            given,
            family,
            address,
        });
    }
    delivery_support::import_people_csv(dir, config, data, &csv);
    people
}

// ---------------------------------------------------------------- the world

/// A relying party registered with `nokkel admin client add`.
struct RelyingParty {
    id: &'static str,
    name: &'static str,
}

/// Peers, spool, people and a server without `--demo`, all in one temporary directory.
struct World {
    sms: SmsPeer,
    smtp: SmtpPeer,
    spool: PathBuf,
    server: Server,
    people: Vec<Person>,
    /// `pdftotext -layout` of each PDF seen so far.
    pdfs: std::cell::RefCell<HashMap<PathBuf, String>>,
    dir: tempfile::TempDir,
}

impl World {
    fn start(wanted: &[(&'static str, &'static str, Home)], clients: &[RelyingParty]) -> Self {
        require_pdftotext();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let spool = dir.path().join("spool");
        let sms = SmsPeer::start();
        let smtp = SmtpPeer::start(&dir.path().join("smtp-cert.pem"));
        let config = delivery_support::write_config(
            dir.path(),
            &Peers {
                sms_url: sms.url(),
                smtp: Some(&smtp),
                spool: Some(&spool),
            },
            5,
        );
        let people = import_people(dir.path(), &config, &data, wanted);
        for rp in clients {
            delivery_support::add_relying_party(&config, &data, rp.id, rp.name, RP_SECRET);
        }
        let server = Server::start(&config, &data, "127.0.0.1:0", None);
        Self {
            sms,
            smtp,
            spool,
            server,
            people,
            pdfs: std::cell::RefCell::default(),
            dir,
        }
    }

    fn person(&self, given: &str) -> &Person {
        self.people.iter().find(|p| p.given == given).unwrap()
    }

    /// A new browser; with `lang` it has picked that language on the front page
    /// (`?lang=`, remembered in a cookie).
    fn browser(&self, lang: Option<&str>) -> Browser {
        let browser = Browser {
            http: reqwest::blocking::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            url: self.server.url.clone(),
        };
        if let Some(lang) = lang {
            let html = browser.page(&format!("/?lang={lang}"));
            assert!(html.contains(&format!("<html lang=\"{lang}\">")), "{html}");
        }
        browser
    }

    /// Waits for `person`'s letter in the spool: its text as `pdftotext -layout` reads
    /// it, and its manifest entry.
    fn letter(&self, person: &Person) -> Letter {
        self.nth_letter(person, 1)
    }

    /// The `n`th letter (from 1) printed for `person`, once it is in the spool.
    fn nth_letter(&self, person: &Person, n: usize) -> Letter {
        let name = person.name();
        wait_for(
            &format!("{name}'s letter number {n} in a batch-* directory of the spool"),
            DELIVERY,
            || self.find_letters(&name).into_iter().nth(n - 1),
        )
    }

    /// The letters printed for `name`, oldest batch first.
    fn find_letters(&self, name: &str) -> Vec<Letter> {
        let mut found = Vec::new();
        for (pdf, entry) in delivery_support::printed_letters(&self.spool) {
            let text = self
                .pdfs
                .borrow_mut()
                .entry(pdf.clone())
                .or_insert_with(|| pdftotext(&pdf))
                .clone();
            if text.lines().any(|line| line.contains(name)) {
                found.push(Letter { text, entry, pdf });
            }
        }
        found
    }

    /// Orders a letter for `person` on the web form, reads its code from the PDF and
    /// checks the recipient block on the way.
    fn letter_code(&self, browser: &Browser, person: &Person) -> String {
        browser.order_letter(&person.pid);
        let letter = self.letter(person);
        letter.assert_addressed_to(person);
        letter.code()
    }

    /// The one text message to `to` for `purpose`.
    fn sms(&self, to: &str, purpose: &str) -> Value {
        wait_for(
            &format!("a {purpose} text message to {to} at the SMS peer"),
            DELIVERY,
            || {
                let mut found: Vec<Value> = self
                    .sms
                    .messages_to(to)
                    .into_iter()
                    .filter(|m| m["purpose"] == purpose)
                    .collect();
                assert!(
                    found.len() <= 1,
                    "more than one {purpose} SMS to {to}: {found:?}"
                );
                found.pop()
            },
        )
    }

    /// The one e-mail to `to` with subject `subject`.
    fn email(&self, to: &str, subject: &str) -> Value {
        wait_for(
            &format!("an e-mail to {to} with subject {subject:?} at the SMTP peer"),
            DELIVERY,
            || {
                let mut found: Vec<Value> = self
                    .smtp
                    .messages()
                    .into_iter()
                    .filter(|m| m["rcpt_tos"].as_array().unwrap().iter().any(|r| r == to))
                    .filter(|m| m["subject"] == subject)
                    .collect();
                assert!(found.len() <= 1, "more than one such e-mail: {found:?}");
                found.pop()
            },
        )
    }

    /// Runs `nokkel device --state STATE ARGS` and returns its JSON answer.
    fn device(&self, state: &Path, args: &[&str]) -> Value {
        let output = nokkel()
            .arg("device")
            .arg("--state")
            .arg(state)
            .args(args)
            .arg("--json")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "nokkel device {args:?} failed ({}):\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_str(stdout.trim()).unwrap_or_else(|_| panic!("not JSON: {stdout}"))
    }

    /// Orders a letter for `person`, enrols a software authenticator with its code in
    /// `lang`, and saves the Norwegian `mobile` in the contact register from it.
    fn app_user(&self, person: &Person, mobile: &str, lang: &str) -> PathBuf {
        let code = self.letter_code(&self.browser(None), person);
        let state = self.dir.path().join(format!("device-{}", person.pid));
        let enrolled = self.device(
            &state,
            &[
                "--lang",
                lang,
                "enrol",
                "--server",
                &self.server.url,
                "--pid",
                &person.pid,
                "--code",
                &code,
            ],
        );
        assert!(enrolled["device_id"].is_string(), "{enrolled}");
        let contact = self.device(&state, &["contact", "--mobile", mobile]);
        assert_eq!(contact["mobile"], format!("+47{mobile}"), "{contact}");
        state
    }

    /// Nothing the peers were sent was refused or failed.
    fn assert_peers_clean(&self) {
        let sms = self.sms.state();
        assert_eq!(sms["rejected"], 0, "the SMS peer refused requests: {sms}");
        assert_eq!(sms["failed"], 0, "{sms}");
        assert_eq!(sms["duplicates"], 0, "{sms}");
        let smtp = self.smtp.state();
        assert_eq!(smtp["failed"], 0, "{smtp}");
        for mail in smtp["messages"].as_array().unwrap() {
            assert_eq!(mail["defects"], serde_json::json!([]), "{mail}");
        }
    }
}

// ---------------------------------------------------------------- letters

/// A letter found in the spool.
struct Letter {
    text: String,
    entry: Value,
    pdf: PathBuf,
}

impl Letter {
    /// The recipient block holds the name and every address line, in that order.
    fn assert_addressed_to(&self, person: &Person) {
        let lines: Vec<&str> = self.text.lines().collect();
        let mut after = 0;
        for line in std::iter::once(person.name()).chain(person.address.iter().cloned()) {
            let at = lines[after..]
                .iter()
                .position(|l| l.contains(&line))
                .unwrap_or_else(|| {
                    panic!(
                        "{}: the address line {line:?} is missing (or out of order) in\n{}",
                        self.pdf.display(),
                        self.text
                    )
                });
            after += at + 1;
        }
        assert!(
            self.pdf.metadata().unwrap().len() > 1000,
            "{}",
            self.pdf.display()
        );
        assert_eq!(
            self.entry["file"].as_str().unwrap(),
            self.pdf.file_name().unwrap().to_str().unwrap()
        );
    }

    /// The activation code printed in the letter: three groups of five symbols.
    fn code(&self) -> String {
        delivery_support::activation_code_in(&self.text, &self.pdf)
    }
}

// ---------------------------------------------------------------- the browser

/// A browser: keeps cookies, follows no redirects.
struct Browser {
    http: reqwest::blocking::Client,
    url: String,
}

fn csrf_of(html: &str) -> String {
    let field = "name=\"csrf\" value=\"";
    let at = html
        .find(field)
        .unwrap_or_else(|| panic!("no CSRF field in\n{html}"))
        + field.len();
    html[at..at + html[at..].find('"').unwrap()].to_owned()
}

impl Browser {
    /// GETs `path` and expects a page (200).
    fn page(&self, path: &str) -> String {
        let res = self.http.get(format!("{}{path}", self.url)).send().unwrap();
        assert_eq!(res.status(), 200, "GET {path}");
        res.text().unwrap()
    }

    /// The CSRF token of the form on `path`.
    fn form(&self, path: &str) -> String {
        csrf_of(&self.page(path))
    }

    fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::blocking::Response {
        self.http
            .post(format!("{}{path}", self.url))
            .form(fields)
            .send()
            .unwrap()
    }

    /// POSTs a form and expects a redirect to `to`.
    fn post_redirect(&self, path: &str, fields: &[(&str, &str)], to: &str) {
        let res = self.post(path, fields);
        let status = res.status();
        let body_or_location = res
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        assert_eq!(
            body_or_location.as_deref(),
            Some(to),
            "POST {path}: {status} {}",
            res.text().unwrap_or_default()
        );
    }

    /// The order form, as a person fills it in: the identity number.
    fn order_letter(&self, pid: &str) {
        let csrf = self.form("/order");
        let res = self.post("/order", &[("csrf", &csrf), ("pid", pid)]);
        let status = res.status();
        let html = res.text().unwrap();
        assert_eq!(status, 200, "the order was not taken:\n{html}");
    }

    /// Registers as an SMS user with the letter's `code`: identity number and code,
    /// "password and SMS", the mobile (`country`, `mobile`) and the password twice; then
    /// waits for the code SMS, which `sms_code` reads, and finishes.
    fn register_sms_user(
        &self,
        pid: &str,
        code: &str,
        (country, mobile): (&str, &str),
        password: &str,
        sms_code: impl FnOnce() -> String,
    ) {
        let csrf = self.form("/register");
        self.post_redirect(
            "/register",
            &[("csrf", &csrf), ("pid", pid), ("code", code)],
            "/register/choose",
        );
        self.post_redirect(
            "/register/choose",
            &[("csrf", &csrf), ("kind", "sms")],
            "/register/password",
        );
        self.post_redirect(
            "/register/password",
            &[
                ("csrf", &csrf),
                ("country", country),
                ("mobile", mobile),
                ("password", password),
                ("password2", password),
            ],
            "/register/otp",
        );
        let otp = sms_code();
        self.post_redirect(
            "/register/otp",
            &[("csrf", &csrf), ("otp", &otp)],
            "/register/done",
        );
    }

    /// An SMS user logs in at relying party `client_id`: identity number, `password`, and
    /// the SMS code `sms_code` reads; returns the ID token's claims.
    fn log_in_with_password(
        &self,
        world: &World,
        client_id: &str,
        pid: &str,
        password: &str,
        sms_code: impl FnOnce() -> String,
    ) -> Value {
        let (request, csrf) = self.authorize(client_id);
        self.post_redirect(
            "/login",
            &[("csrf", &csrf), ("request", &request), ("pid", pid)],
            "/login/password",
        );
        self.post_redirect(
            "/login/password",
            &[("csrf", &csrf), ("password", password)],
            "/login/otp",
        );
        let otp = sms_code();
        let res = self.post("/login/otp", &[("csrf", &csrf), ("otp", &otp)]);
        self.back_at(world, client_id, &location(&res))
    }

    /// An app user logs in at relying party `client_id` and approves with the
    /// `nokkel device` in `state`; returns the ID token's claims.
    fn log_in_with_app(&self, world: &World, client_id: &str, pid: &str, state: &Path) -> Value {
        let (request, csrf) = self.authorize(client_id);
        self.post_redirect(
            "/login",
            &[("csrf", &csrf), ("request", &request), ("pid", pid)],
            "/login/app",
        );
        let number = shown_number(&self.page("/login/app"));
        world.device(state, &["approve", "--number", &number, "--wait", "30"]);
        let res = self
            .http
            .get(format!("{}/login/finish", self.url))
            .send()
            .unwrap();
        self.back_at(world, client_id, &location(&res))
    }

    /// The relying party receives the browser at `back` and exchanges its code.
    fn back_at(&self, world: &World, client_id: &str, back: &str) -> Value {
        assert!(back.starts_with(REDIRECT), "{back}");
        let params: HashMap<String, String> = url::Url::parse(back)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        assert_eq!(params["state"], "delivery-state");
        exchange(&world.server.url, client_id, &params["code"])
    }

    /// The relying party `client_id` sends this browser to the authorization endpoint;
    /// returns the login page's request id and CSRF token.
    fn authorize(&self, client_id: &str) -> (String, String) {
        let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(
            &ring::digest::SHA256,
            PKCE_VERIFIER.as_bytes(),
        ));
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("scope", "openid pid")
            .append_pair("state", "delivery-state")
            .append_pair("nonce", "delivery-nonce")
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .finish();
        let res = self
            .http
            .get(format!("{}/oauth/authorize?{query}", self.url))
            .send()
            .unwrap();
        let login = location(&res);
        let request = url::Url::parse(&format!("{}{login}", self.url))
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "request")
            .unwrap_or_else(|| panic!("no request id in {login}"))
            .1
            .into_owned();
        let csrf = self.form(&login);
        (request, csrf)
    }
}

/// The relying party exchanges `code` at the token endpoint; returns the ID token's claims.
fn exchange(url: &str, client_id: &str, code: &str) -> Value {
    let tokens: Value = reqwest::blocking::Client::new()
        .post(format!("{url}/oauth/token"))
        .basic_auth(client_id, Some(RP_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", PKCE_VERIFIER),
        ])
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id_token = tokens["id_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no id_token: {tokens}"));
    let payload = id_token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

// ---------------------------------------------------------------- texts

/// The message `key` of assets/i18n/{lang}/main.ftl with `args` put in.
fn ftl(lang: &str, key: &str, args: &[(&str, &str)]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets/i18n")
        .join(lang)
        .join("main.ftl");
    let source = std::fs::read_to_string(&path).unwrap();
    let prefix = format!("{key} = ");
    let mut text = source
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{key} is not in {}", path.display()))
        .to_owned();
    for (name, value) in args {
        text = text.replace(&format!("{{ ${name} }}"), value);
    }
    assert!(
        !text.contains("{ $"),
        "{key}: an argument is missing: {text}"
    );
    text
}

/// The six-digit code in a code SMS.
fn six_digits(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap_or_else(|| panic!("no six-digit code in {text:?}"))
        .to_owned()
}

/// A code SMS to `to` in `lang`: one GSM-7 segment, as the peer counts it too.
fn assert_code_sms(sms: &Value, to: &str, lang: &str) -> String {
    let text = sms["text"].as_str().unwrap();
    let code = six_digits(text);
    assert_eq!(sms["to"], to, "{sms}");
    assert_eq!(text, ftl(lang, "sms-otp", &[("code", &code)]), "{sms}");
    assert_eq!(sms["encoding"], "gsm7", "{sms}");
    assert_eq!(sms["computed_encoding"], "gsm7", "{sms}");
    assert_eq!(sms["segments"], 1, "{sms}");
    assert_eq!(sms["computed_segments"], 1, "{sms}");
    code
}

/// A notice e-mail in `lang`: subject, `Content-Language`, the text part with greeting,
/// body and footer, and an HTML part in the same language.
fn assert_notice_email(mail: &Value, lang: &str, name: &str, body: &str) {
    assert_eq!(mail["content_language"], lang, "{mail}");
    assert!(
        mail["content_type"]
            .as_str()
            .unwrap()
            .starts_with("multipart/"),
        "{mail}"
    );
    let text = mail["text"].as_str().expect("a text/plain part");
    for part in [
        ftl(lang, "email-greeting", &[("name", name)]),
        body.to_owned(),
        ftl(lang, "email-footer", &[]),
    ] {
        assert!(text.contains(&part), "{part:?} missing from\n{text}");
    }
    let html = mail["html"].as_str().expect("a text/html part");
    assert!(html.contains(&format!("<html lang=\"{lang}\">")), "{html}");
    assert!(html.contains(mail["subject"].as_str().unwrap()), "{html}");
    assert_eq!(mail["defects"], serde_json::json!([]), "{mail}");
    assert!(
        mail["from"]
            .as_str()
            .unwrap()
            .contains("ikke-svar@nokkel.test"),
        "{mail}"
    );
}

// ---------------------------------------------------------------- tests

#[test]
fn a_printed_letter_registers_an_sms_user_who_logs_in_with_password_and_sms_code() {
    let world = World::start(
        &[("Åse", "Kvæstad-Ødegård", Home::Norway)],
        &[RelyingParty {
            id: "skatt-test",
            name: "Skatteetaten test",
        }],
    );
    let ase = world.person("Åse").clone();

    // The order form in Nynorsk: the letter and the registration are in Nynorsk.
    let browser = world.browser(Some("nn"));
    browser.order_letter(&ase.pid);
    let letter = world.letter(&ase);
    letter.assert_addressed_to(&ase);
    assert_eq!(letter.entry["abroad"], false, "{}", letter.entry);
    assert_eq!(letter.entry["country"], "NO", "{}", letter.entry);
    assert_eq!(letter.entry["lang"], "nn", "{}", letter.entry);
    assert!(
        letter.text.contains(&ftl("nn", "letter-code-label", &[])),
        "a Nynorsk letter:\n{}",
        letter.text
    );
    let code = letter.code();

    let to = "+4791234501";
    browser.register_sms_user(&ase.pid, &code, ("47", "912 34 501"), PASSWORD, || {
        assert_code_sms(&world.sms(to, "registration"), to, "nn")
    });

    // A relying party sends her to log in: identity number, password, SMS code. The
    // login code is in the language she registered in.
    let browser = world.browser(None);
    let claims = browser.log_in_with_password(&world, "skatt-test", &ase.pid, PASSWORD, || {
        assert_code_sms(&world.sms(to, "login"), to, "nn")
    });
    assert_eq!(claims["pid"], ase.pid.as_str(), "{claims}");
    assert_eq!(claims["aud"], "skatt-test", "{claims}");
    assert_eq!(claims["nonce"], "delivery-nonce", "{claims}");
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp"]), "{claims}");

    assert_eq!(world.sms.messages().len(), 2, "{:?}", world.sms.messages());
    world.assert_peers_clean();
}

#[test]
fn a_letter_abroad_names_the_country_and_a_swedish_mobile_gets_its_code() {
    let world = World::start(&[("Märta", "Lindqvist", Home::Sweden)], &[]);
    let marta = world.person("Märta").clone();

    let browser = world.browser(Some("en"));
    browser.order_letter(&marta.pid);
    let letter = world.letter(&marta);
    // Name, street, "111 36 Stockholm" and SVERIGE on its own line, the last of the block.
    letter.assert_addressed_to(&marta);
    assert!(
        letter
            .text
            .lines()
            .any(|l| l.trim() == "SVERIGE" || l.trim().starts_with("SVERIGE ")),
        "the country line stands alone:\n{}",
        letter.text
    );
    assert_eq!(letter.entry["abroad"], true, "{}", letter.entry);
    assert_eq!(letter.entry["country"], "SE", "{}", letter.entry);
    assert_eq!(letter.entry["lang"], "en", "{}", letter.entry);
    let code = letter.code();

    let to = "+46701234567";
    browser.register_sms_user(&marta.pid, &code, ("46", "70 123 45 67"), PASSWORD, || {
        let sms = world.sms(to, "registration");
        assert!(sms["to"].as_str().unwrap().starts_with("+46"), "{sms}");
        assert_code_sms(&sms, to, "en")
    });
    world.assert_peers_clean();
}

#[test]
fn this_wasnt_me_reaches_an_app_user_by_sms_and_by_email() {
    let world = World::start(
        &[("Ingebjørg", "Haugland", Home::Norway)],
        &[RelyingParty {
            id: "nav-test",
            name: "NAV test",
        }],
    );
    let person = world.person("Ingebjørg").clone();
    // The letter is ordered in English; the app runs in Nynorsk, and its language wins.
    let code = world.letter_code(&world.browser(Some("en")), &person);
    let state = world.dir.path().join("phone");
    world.device(
        &state,
        &[
            "--lang",
            "nn",
            "enrol",
            "--server",
            &world.server.url,
            "--pid",
            &person.pid,
            "--code",
            &code,
        ],
    );
    let email = "ingebjorg@example.no";
    let contact = world.device(
        &state,
        &[
            "--lang", "nn", "contact", "--mobile", "41234502", "--email", email,
        ],
    );
    assert_eq!(contact["email"], email, "{contact}");
    assert_eq!(contact["mobile"], "+4741234502", "{contact}");
    let shown = world.device(&state, &["contact"]);
    assert_eq!(shown["email"], email, "{shown}");
    assert!(shown["email_confirmed_at"].is_i64(), "{shown}");
    // The peer took it only after STARTTLS and AUTH.
    let confirmation = world.email(email, &ftl("nn", "email-contact-subject", &[]));
    assert_notice_email(
        &confirmation,
        "nn",
        &person.name(),
        &ftl("nn", "email-contact-body", &[]),
    );
    assert_eq!(
        confirmation["auth_login"],
        delivery_support::SMTP_USER,
        "{confirmation}"
    );

    // Someone starts a login with her identity number; she says it wasn't her.
    let browser = world.browser(None);
    let (request, csrf) = browser.authorize("nav-test");
    browser.post_redirect(
        "/login",
        &[("csrf", &csrf), ("request", &request), ("pid", &person.pid)],
        "/login/app",
    );
    let denied = world.device(&state, &["deny", "--report", "--wait", "30"]);
    assert_eq!(denied["service"], "NAV test", "{denied}");

    let sms = world.sms("+4741234502", "login_reported");
    assert_eq!(
        sms["text"],
        ftl("nn", "sms-login-reported", &[("service", "NAV test")]),
        "{sms}"
    );
    assert_eq!(sms["encoding"], "gsm7", "{sms}");
    assert_eq!(sms["segments"], 1, "{sms}");
    assert_eq!(sms["computed_segments"], 1, "{sms}");
    let mail = world.email(email, &ftl("nn", "email-reported-subject", &[]));
    assert_notice_email(
        &mail,
        "nn",
        &person.name(),
        &ftl("nn", "email-reported-body", &[("service", "NAV test")]),
    );

    // The browser hears that the login was refused and reported, with a way back.
    let page = browser
        .http
        .get(format!("{}/login/finish", world.server.url))
        .send()
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().unwrap();
    assert!(
        html.contains(&ftl("nb", "login-denied-title", &[])),
        "{html}"
    );
    assert!(
        html.contains(&ftl("nb", "login-reported-text", &[])),
        "{html}"
    );
    assert!(html.contains("error=access_denied"), "{html}");
    world.assert_peers_clean();
}

#[test]
fn notices_come_in_each_persons_language_and_a_long_text_goes_whole() {
    let world = World::start(
        &[
            ("Bokmål", "Bruker", Home::Norway),
            ("Nynorsk", "Brukar", Home::Norway),
            ("English", "User", Home::Norway),
        ],
        &[RelyingParty {
            id: "dsb-test",
            name: LONG_SERVICE,
        }],
    );
    assert_eq!(LONG_SERVICE.chars().count(), 60);
    let users = [
        ("Bokmål", "nb", "41234511"),
        ("Nynorsk", "nn", "41234512"),
        ("English", "en", "41234513"),
    ];
    let mut phones = Vec::new();
    for (given, lang, mobile) in users {
        let person = world.person(given).clone();
        let state = world.app_user(&person, mobile, lang);
        // No --lang here: the language chosen at enrolment stays the person's.
        let address = format!("{lang}-user@example.no");
        world.device(&state, &["contact", "--email", &address]);
        phones.push((person, lang, mobile, state, address));
    }
    for (person, lang, _, _, address) in &phones {
        let mail = world.email(address, &ftl(lang, "email-contact-subject", &[]));
        assert_notice_email(
            &mail,
            lang,
            &person.name(),
            &ftl(lang, "email-contact-body", &[]),
        );
    }

    // "This wasn't me" about a service with a long name: more than 160 GSM-7 characters,
    // sent as one text of two segments.
    let (person, lang, mobile, state, _) = &phones[0];
    let browser = world.browser(None);
    let (request, csrf) = browser.authorize("dsb-test");
    browser.post_redirect(
        "/login",
        &[("csrf", &csrf), ("request", &request), ("pid", &person.pid)],
        "/login/app",
    );
    world.device(state, &["deny", "--report", "--wait", "30"]);
    let to = format!("+47{mobile}");
    let sms = world.sms(&to, "login_reported");
    let expected = ftl(lang, "sms-login-reported", &[("service", LONG_SERVICE)]);
    assert!(expected.chars().count() > 160, "{expected}");
    assert_eq!(
        sms["text"],
        expected.as_str(),
        "one message, not split: {sms}"
    );
    assert_eq!(sms["encoding"], "gsm7", "{sms}");
    assert_eq!(sms["computed_encoding"], "gsm7", "{sms}");
    assert_eq!(sms["segments"], 2, "{sms}");
    assert_eq!(sms["computed_segments"], 2, "{sms}");
    assert_eq!(
        world.sms.messages_to(&to).len(),
        1,
        "{:?}",
        world.sms.messages()
    );
    world.assert_peers_clean();
}

// ---------------------------------------------------------------- account recovery

#[test]
fn a_person_who_deactivated_their_only_phone_gets_back_in_with_a_recovery_letter() {
    let world = World::start(
        &[("Sigrun", "Bakke", Home::Norway)],
        &[RelyingParty {
            id: "nav-test",
            name: "NAV test",
        }],
    );
    let person = world.person("Sigrun").clone();
    let old_phone = world.app_user(&person, "41234541", "nb");
    let email = "sigrun@example.no";
    world.device(&old_phone, &["contact", "--email", email]);
    // She deactivates her only phone: no device is left to approve anything.
    let out = world.device(&old_phone, &["deactivate"]);
    assert!(out.is_object(), "{out}");
    let browser = world.browser(None);
    let (request, csrf) = browser.authorize("nav-test");
    let res = browser.post(
        "/login",
        &[("csrf", &csrf), ("request", &request), ("pid", &person.pid)],
    );
    let page = res.text().unwrap();
    assert!(page.contains(&ftl("nb", "login-no-device", &[])), "{page}");

    // The login page's way back works: a recovery letter comes to her address.
    browser.order_letter(&person.pid);
    let letter = world.nth_letter(&person, 2);
    letter.assert_addressed_to(&person);
    world.email(email, &ftl("nb", "email-recovery-ordered-subject", &[]));
    let new_phone = world.dir.path().join("new-phone");
    let enrolled = world.device(
        &new_phone,
        &[
            "enrol",
            "--server",
            &world.server.url,
            "--pid",
            &person.pid,
            "--code",
            &letter.code(),
        ],
    );
    assert!(enrolled["device_id"].is_string(), "{enrolled}");

    // Her old contact points are told, with the page that blocks Nøkkel if it was not her.
    let block_url = format!("{}/lost", world.server.url);
    let sms = world.sms("+4741234541", "account_recovered");
    assert_eq!(
        sms["text"],
        ftl("nb", "sms-recovered", &[("url", &block_url)]),
        "{sms}"
    );
    let mail = world.email(email, &ftl("nb", "email-recovered-subject", &[]));
    assert_notice_email(
        &mail,
        "nb",
        &person.name(),
        &ftl("nb", "email-recovered-body", &[("url", &block_url)]),
    );

    let claims = browser.log_in_with_app(&world, "nav-test", &person.pid, &new_phone);
    assert_eq!(claims["pid"], person.pid.as_str(), "{claims}");
    assert_eq!(claims["amr"], serde_json::json!(["app"]), "{claims}");
    world.assert_peers_clean();
}

#[test]
fn an_sms_user_who_forgot_the_password_gets_back_in_with_a_recovery_letter() {
    let world = World::start(
        &[("Oddvar", "Lien", Home::Norway)],
        &[RelyingParty {
            id: "skatt-test",
            name: "Skatteetaten test",
        }],
    );
    let person = world.person("Oddvar").clone();
    let browser = world.browser(None);
    let code = world.letter_code(&browser, &person);
    let old = "+4741234551";
    browser.register_sms_user(&person.pid, &code, ("47", "41234551"), PASSWORD, || {
        assert_code_sms(&world.sms(old, "registration"), old, "nb")
    });

    // "Forgot your password?" on the login page leads to the order form.
    let (request, csrf) = browser.authorize("skatt-test");
    browser.post_redirect(
        "/login",
        &[("csrf", &csrf), ("request", &request), ("pid", &person.pid)],
        "/login/password",
    );
    let page = browser.page("/login/password");
    assert!(
        page.contains(&ftl("nb", "login-forgot-password", &[])),
        "{page}"
    );
    assert!(page.contains("href=\"/order?lang=nb\""), "{page}");

    browser.order_letter(&person.pid);
    let letter = world.nth_letter(&person, 2);
    let new = "+4741234552";
    let new_password = "Fire-blå-fioliner-ved-fjorden-2031";
    browser.register_sms_user(
        &person.pid,
        &letter.code(),
        ("47", "41234552"),
        new_password,
        || assert_code_sms(&world.sms(new, "registration"), new, "nb"),
    );
    let sms = world.sms(old, "account_recovered");
    assert!(
        sms["text"].as_str().unwrap().contains("/lost"),
        "the old number is told: {sms}"
    );
    let claims =
        browser.log_in_with_password(&world, "skatt-test", &person.pid, new_password, || {
            assert_code_sms(&world.sms(new, "login"), new, "nb")
        });
    assert_eq!(claims["pid"], person.pid.as_str(), "{claims}");
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp"]), "{claims}");
    world.assert_peers_clean();
}
