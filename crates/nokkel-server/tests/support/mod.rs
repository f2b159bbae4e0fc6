//! Shared test support: a server per test on a fresh SQLite or PostgreSQL database with
//! a fixed clock and seeded randomness, and a tiny cookie-keeping browser that drives
//! the app in-process through `tower::ServiceExt::oneshot`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use nokkel_core::clock::FixedClock;
use nokkel_core::random::SeededRandom;
use nokkel_server::secrets::ServerSecrets;
use nokkel_server::services::cache::Caches;
use nokkel_server::services::pending::SqlPendingLogins;
use nokkel_server::store::Store;
use nokkel_server::{AppState, Config};
use tower::ServiceExt;

/// Monday 23 November 2026, 10:00 UTC.
pub const START: i64 = 1_795_428_000;

/// The PKCE verifier of the demo relying party's test logins (RFC 7636 appendix B).
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// The demo relying party's loopback redirect URI; nothing listens there.
pub const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// A code-flow authorization request of the demo relying party for `scope`, with PKCE
/// over [`VERIFIER`], state `st-1` and nonce `n-1`.
pub fn authorize_url(scope: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        VERIFIER.as_bytes(),
    ));
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", "demo-rp")
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", scope)
        .append_pair("state", "st-1")
        .append_pair("nonce", "n-1")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    format!("/oauth/authorize?{query}")
}

/// The contact-register mobile [`TestServer::enrolled_device`] gives an app user.
pub const TEST_DEVICE_MOBILE: &str = "+4791234567";

/// Demo people (see assets/demo/README.md).
pub const ADULT: &str = "14838514058";
pub const ADULT2: &str = "02877213709";
pub const ABROAD: &str = "05859013831";
pub const TURNS_13: &str = "20921363827";
pub const TWELVE: &str = "03821463784";
pub const NO_ADDRESS: &str = "22848813714";
pub const D_NUMBER: &str = "58869213835";
pub const SMS_USER: &str = "08907913768";
pub const DECEASED: &str = "08883014058";
/// Valid synthetic number that is not in the register.
pub const UNKNOWN: &str = "01817010055";

pub async fn sqlite() -> Store {
    let store = Store::sqlite_temp().await.unwrap();
    store.migrate().await.unwrap();
    store
}

pub async fn postgres() -> Store {
    let url = tokio::task::spawn_blocking(nokkel_testkit::PgCluster::fresh_database_url)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("PostgreSQL tests cannot run: {e}"));
    let store = Store::postgres(&url).await.unwrap();
    store.migrate().await.unwrap();
    store
}

/// Instantiates each listed `async fn(TestServer)` once per backend.
///
/// `server_tests!(mod group with crate::change; a, b)` does the same in a module `group`
/// for servers whose demo configuration `change: fn(&mut Config)` adjusts first.
#[macro_export]
macro_rules! server_tests {
    (mod $group:ident with $change:path; $($name:ident),* $(,)?) => {
        mod $group {
            use super::*;
            mod sqlite {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        super::$name($crate::support::TestServer::demo_with($crate::support::sqlite().await, $change, false).await).await;
                    }
                )*
            }
            mod postgres {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        super::$name($crate::support::TestServer::demo_with($crate::support::postgres().await, $change, false).await).await;
                    }
                )*
            }
            mod sqlite_tables {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        super::$name($crate::support::TestServer::demo_with($crate::support::sqlite().await, $change, true).await).await;
                    }
                )*
            }
        }
    };
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::TestServer::demo($crate::support::sqlite().await).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::TestServer::demo($crate::support::postgres().await).await).await;
                }
            )*
        }
        /// SQLite with what several instances use: pending logins in the tables, no
        /// single-instance caches. Both `PendingLogins` must pass the same tests.
        mod sqlite_tables {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::TestServer::demo_as_one_of_several($crate::support::sqlite().await).await).await;
                }
            )*
        }
    };
}

pub struct TestServer {
    pub state: AppState,
    pub clock: Arc<FixedClock>,
    pub app: Router,
}

impl TestServer {
    pub async fn with_config(store: Store, config: Config) -> TestServer {
        Self::assembled(store, config, false).await
    }

    /// Assembles the server as `nokkel serve` does; `one_of_several` swaps in what a
    /// deployment of several instances uses (pending logins in the shared tables, no
    /// single-instance caches) whatever the backend.
    async fn assembled(store: Store, config: Config, one_of_several: bool) -> TestServer {
        let clock = Arc::new(FixedClock::at_unix(START));
        if config.demo {
            nokkel_server::demo::seed(&store, START).await.unwrap();
        }
        let mut deps = nokkel_server::serve::assemble(
            store,
            clock.clone(),
            Arc::new(SeededRandom::new(42)),
            ServerSecrets::from_master(&[9; 32]).unwrap(),
            config,
        )
        .await
        .unwrap();
        if one_of_several {
            deps.pending = Arc::new(SqlPendingLogins::new(deps.store.clone()));
            deps.caches = Caches::new(false);
        }
        let state = AppState::new(deps);
        let app = nokkel_server::app(state.clone());
        TestServer { state, clock, app }
    }

    /// [`TestServer::demo`] as one of several instances (see [`TestServer::assembled`]).
    pub async fn demo_as_one_of_several(store: Store) -> TestServer {
        Self::assembled(store, Self::demo_config(), true).await
    }

    pub async fn demo(store: Store) -> TestServer {
        Self::with_config(store, Self::demo_config()).await
    }

    /// A demo server whose configuration `change` adjusts, alone or as one of several.
    pub async fn demo_with(
        store: Store,
        change: fn(&mut Config),
        one_of_several: bool,
    ) -> TestServer {
        let mut config = Self::demo_config();
        change(&mut config);
        Self::assembled(store, config, one_of_several).await
    }

    fn demo_config() -> Config {
        Config {
            demo: true,
            public_url: Some("http://nokkel.test".into()),
            ..Config::default()
        }
    }

    pub fn browser(&self) -> Browser {
        Browser {
            app: self.app.clone(),
            cookies: BTreeMap::new(),
            accept_language: None,
            forwarded_for: None,
        }
    }

    /// The letters in the demo inbox, newest first.
    pub async fn letters(&self) -> Vec<serde_json::Value> {
        let res = self.browser().get("/dev/letters?format=json").await;
        assert_eq!(res.status, StatusCode::OK);
        serde_json::from_str::<Vec<serde_json::Value>>(&res.body).unwrap()
    }

    pub async fn letters_for(&self, pid: &str) -> Vec<serde_json::Value> {
        self.letters()
            .await
            .into_iter()
            .filter(|l| l["pid"] == pid)
            .collect()
    }

    pub async fn code_for(&self, pid: &str) -> String {
        let letters = self.letters_for(pid).await;
        letters[0]["code"].as_str().unwrap().to_owned()
    }

    pub async fn sms(&self) -> Vec<serde_json::Value> {
        let res = self.browser().get("/dev/sms?format=json").await;
        serde_json::from_str(&res.body).unwrap()
    }
}

pub struct Response {
    pub status: StatusCode,
    pub location: Option<String>,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

/// Keeps cookies like a browser and echoes the CSRF token into forms.
pub struct Browser {
    app: Router,
    pub cookies: BTreeMap<String, String>,
    pub accept_language: Option<String>,
    /// Sent as `X-Forwarded-For`: the client address on a server that trusts its proxy.
    pub forwarded_for: Option<String>,
}

impl Browser {
    async fn send(&mut self, mut request: Request<Body>) -> Response {
        if let Some(address) = &self.forwarded_for {
            request
                .headers_mut()
                .insert("x-forwarded-for", address.parse().unwrap());
        }
        let res = self.app.clone().oneshot(request).await.unwrap();
        for value in res.headers().get_all(header::SET_COOKIE) {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let status = res.status();
        let headers = res.headers().clone();
        let location = headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = res.into_body().collect().await.unwrap().to_bytes();
        Response {
            status,
            location,
            headers,
            body: String::from_utf8(body.to_vec()).unwrap(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Opens `path` and returns as soon as the headers are there, the body unread (an
    /// event stream stays open while the response is held).
    pub async fn open(&self, path: &str) -> axum::http::Response<Body> {
        let mut request = Request::get(path).header(header::COOKIE, self.cookie_header());
        if let Some(address) = &self.forwarded_for {
            request = request.header("x-forwarded-for", address);
        }
        self.app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    pub async fn get(&mut self, path: &str) -> Response {
        let mut request = Request::get(path).header(header::COOKIE, self.cookie_header());
        if let Some(lang) = &self.accept_language {
            request = request.header(header::ACCEPT_LANGUAGE, lang);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// Posts a form with the CSRF token from the cookie (fetching `/` first if needed).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        if !self.cookies.contains_key("nokkel_csrf") {
            self.get("/").await;
        }
        let csrf = self.cookies["nokkel_csrf"].clone();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// Posts a form exactly as given (no CSRF token added).
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, self.cookie_header())
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }

    pub async fn post_json(&mut self, path: &str, json: serde_json::Value) -> Response {
        let request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json.to_string()))
            .unwrap();
        self.send(request).await
    }

    /// Opens the login page for a fresh authorization request of the demo client, as a
    /// relying party sends the browser there; returns the request id.
    pub async fn open_login(&mut self) -> String {
        let res = self.get(&authorize_url("openid pid")).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        let location = res.location.unwrap();
        let page = self.get(&location).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        location
            .trim_start_matches("/login?request=")
            .split('&')
            .next()
            .unwrap()
            .to_owned()
    }

    /// Opens the login page for a fresh authorization request and enters `pid`; returns
    /// the answer (a redirect to `/login/app` or `/login/password`, or the page again).
    pub async fn enter_pid(&mut self, pid: &str) -> Response {
        let request = self.open_login().await;
        self.post("/login", &[("request", &request), ("pid", pid)])
            .await
    }

    /// Orders a letter on the order form; returns the receipt response.
    pub async fn order(&mut self, pid: &str) -> Response {
        self.post("/order", &[("pid", pid)]).await
    }
}

/// A software authenticator for tests, speaking the device API through nokkel-core.
pub struct TestDevice {
    pub key: nokkel_core::keys::DeviceKey,
    pub pinned: nokkel_core::keys::PublicKey,
    pub counter: u64,
    pub app: Router,
    pub issuer: String,
    seed: std::cell::Cell<u64>,
}

impl TestServer {
    /// Orders a letter for `pid` and enrols a software device with it.
    pub async fn enrolled_device(&self, pid: &str, seed: u64) -> TestDevice {
        use nokkel_core::random::{Random, RandomRng};
        use nokkel_core::statements::{
            sign_enrolment, DeviceDescription, Platform, UserVerification,
        };
        let mut browser = self.browser();
        browser.order(pid).await;
        let code = self.code_for(pid).await;
        let res = browser
            .post_json(
                "/api/v1/enrolments",
                serde_json::json!({"v": 1, "pid": pid, "activation_code": code}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let started: serde_json::Value = serde_json::from_str(&res.body).unwrap();
        let random = SeededRandom::new(seed);
        let key =
            nokkel_core::keys::DeviceKey::generate(&mut RandomRng::new(&random as &dyn Random));
        let statement = sign_enrolment(
            &key,
            started["issuer"].as_str().unwrap(),
            started["nonce"].as_str().unwrap(),
            &DeviceDescription {
                name: format!("Testenhet {seed}"),
                platform: Platform::Software,
                uv_methods: vec![UserVerification::NoneTest],
            },
            nokkel_core::clock::Clock::unix(self.clock.as_ref()),
        )
        .unwrap();
        let id = started["enrolment_id"].as_str().unwrap();
        let res = browser
            .post_json(
                &format!("/api/v1/enrolments/{id}/finish"),
                serde_json::json!({"v": 1, "statement": statement}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        // The mobile the person types on the app's contact screen after enrolling (the
        // order form no longer gives one), unconfirmed. Kept when they had one already.
        let store = &self.state.store;
        let mut contact = store.contact(pid).await.unwrap().unwrap();
        if contact.mobile.is_none() {
            contact.mobile = Some(TEST_DEVICE_MOBILE.to_owned());
            store.upsert_contact(&contact).await.unwrap();
        }
        let jwk: nokkel_core::keys::PublicJwk =
            serde_json::from_value(started["challenge_key"].clone()).unwrap();
        TestDevice {
            key,
            pinned: nokkel_core::keys::PublicKey::from_jwk(&jwk).unwrap(),
            counter: 0,
            app: self.app.clone(),
            issuer: started["issuer"].as_str().unwrap().to_owned(),
            seed: std::cell::Cell::new(seed * 1000),
        }
    }
}

impl TestDevice {
    /// Another key speaking to the same server as `like` (a device enrolled some other
    /// way, such as a transfer).
    #[allow(dead_code)]
    pub fn with_key(key: nokkel_core::keys::DeviceKey, like: &TestDevice, seed: u64) -> Self {
        TestDevice {
            key,
            pinned: like.pinned.clone(),
            counter: 0,
            app: like.app.clone(),
            issuer: like.issuer.clone(),
            seed: std::cell::Cell::new(seed * 1000),
        }
    }

    pub fn proof(&self, method: &str, path: &str, now: i64) -> String {
        use nokkel_core::statements::{sign_request_proof, RequestTarget};
        let url = format!("{}{}", self.issuer, path.split('?').next().unwrap());
        self.seed.set(self.seed.get() + 1);
        let jti = format!("test-jti-{:016}", self.seed.get());
        sign_request_proof(
            &self.key,
            &RequestTarget {
                issuer: &self.issuer,
                method,
                url: &url,
                access_token: None,
            },
            &jti,
            now,
        )
        .unwrap()
    }

    /// Sends a request with a fresh proof (or the given one).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
        proof: Option<String>,
        now: i64,
    ) -> Response {
        self.call_with_action(method, path, body, proof, None, now)
            .await
    }

    /// Signs an action statement confirming `action`, with the next counter.
    pub fn action(&mut self, action: &nokkel_core::statements::Action, now: i64) -> String {
        self.counter += 1;
        nokkel_core::statements::sign_action(
            &self.key,
            &self.issuer,
            action,
            nokkel_core::statements::UserVerification::NoneTest,
            self.counter,
            now,
        )
        .unwrap()
    }

    /// Sends a request with a fresh proof (or the given one) and, if given, an action
    /// statement in the `Nokkel-Action` header.
    pub async fn call_with_action(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
        proof: Option<String>,
        statement: Option<String>,
        now: i64,
    ) -> Response {
        let proof = proof.unwrap_or_else(|| self.proof(method, path, now));
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("Nokkel-Proof", proof);
        if let Some(statement) = statement {
            request = request.header("Nokkel-Action", statement);
        }
        let body = match body {
            Some(json) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        let res = self
            .app
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        Response {
            status,
            location: None,
            headers,
            body: String::from_utf8(body.to_vec()).unwrap(),
        }
    }

    /// Fetches and verifies the pending challenge (against the pinned key).
    pub async fn pending(&self, now: i64) -> Option<nokkel_core::statements::VerifiedChallenge> {
        let all = self.pending_all(now).await;
        all.into_iter().next()
    }

    /// Every pending challenge, oldest first, checked against the pinned key; the oldest
    /// is also the response's `challenge`.
    pub async fn pending_all(&self, now: i64) -> Vec<nokkel_core::statements::VerifiedChallenge> {
        let res = self
            .call("GET", "/api/v1/challenges/pending", None, None, now)
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let body: serde_json::Value = serde_json::from_str(&res.body).unwrap();
        let all = body["challenges"].as_array().unwrap();
        assert_eq!(body["challenge"], all.first().cloned().unwrap_or_default());
        all.iter()
            .map(|jws| {
                nokkel_core::statements::verify_login_challenge(
                    jws.as_str().unwrap(),
                    &self.pinned,
                    &self.issuer,
                    &self.key.device_id(),
                    now,
                )
                .unwrap()
            })
            .collect()
    }

    /// Signs an approval of `challenge` picking `number`, with the next counter.
    pub fn approval(
        &mut self,
        challenge: nokkel_core::statements::VerifiedChallenge,
        number: u8,
        now: i64,
    ) -> (String, String) {
        self.counter += 1;
        let id = challenge.challenge_id().to_owned();
        let jws = challenge
            .approve(
                number,
                nokkel_core::statements::UserVerification::NoneTest,
                self.counter,
                &self.key,
                now,
            )
            .unwrap();
        (id, jws)
    }

    pub async fn send_approval(&self, id: &str, jws: &str, now: i64) -> Response {
        self.call(
            "POST",
            &format!("/api/v1/challenges/{id}/approve"),
            Some(serde_json::json!({"v": 1, "statement": jws})),
            None,
            now,
        )
        .await
    }

    /// Revokes device `id`, confirmed with a fresh action statement.
    pub async fn revoke(&mut self, id: &str, now: i64) -> Response {
        let statement = self.action(
            &nokkel_core::statements::Action::RevokeDevice {
                device_id: id.to_owned(),
            },
            now,
        );
        let path = format!("/api/v1/devices/{id}");
        self.call_with_action("DELETE", &path, None, None, Some(statement), now)
            .await
    }

    /// Resumes app logins, confirmed with a fresh action statement.
    pub async fn resume(&mut self, now: i64) -> Response {
        let statement = self.action(&nokkel_core::statements::Action::ResumeAppLogins {}, now);
        let body = serde_json::json!({"v": 1});
        self.call_with_action(
            "POST",
            "/api/v1/account/resume",
            Some(body),
            None,
            Some(statement),
            now,
        )
        .await
    }

    /// Replaces the contact-register entry, confirmed with a fresh action statement.
    pub async fn update_contact(
        &mut self,
        mobile: Option<&str>,
        email: Option<&str>,
        now: i64,
    ) -> Response {
        let statement = self.action(
            &nokkel_core::statements::Action::UpdateContact {
                mobile: mobile.map(str::to_owned),
                email: email.map(str::to_owned),
            },
            now,
        );
        let body = serde_json::json!({"v": 1, "mobile": mobile, "email": email});
        self.call_with_action(
            "PUT",
            "/api/v1/contact",
            Some(body),
            None,
            Some(statement),
            now,
        )
        .await
    }

    pub async fn deny(
        &mut self,
        challenge: nokkel_core::statements::VerifiedChallenge,
        report: bool,
        now: i64,
    ) -> Response {
        self.counter += 1;
        let id = challenge.challenge_id().to_owned();
        let jws = challenge
            .deny(report, self.counter, &self.key, now)
            .unwrap();
        self.call(
            "POST",
            &format!("/api/v1/challenges/{id}/deny"),
            Some(serde_json::json!({"v": 1, "statement": jws})),
            None,
            now,
        )
        .await
    }
}

/// The 6-digit code in a text message or e-mail body.
pub fn six_digits(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap_or_else(|| panic!("no 6-digit code in {text:?}"))
        .to_owned()
}

/// A well-formed activation code (valid check symbol) that is not `code`.
pub fn wrong_code_for(code: &str) -> String {
    use nokkel_core::random::{Random, RandomRng, SeededRandom};
    let random = SeededRandom::new(77);
    std::iter::repeat_with(|| {
        nokkel_core::activation_code::ActivationCode::generate(&mut RandomRng::new(
            &random as &dyn Random,
        ))
        .grouped()
    })
    .find(|c| c != code)
    .unwrap()
}

/// The number the login page shows the person, to pick in the app.
pub fn shown_number(html: &str) -> u8 {
    let start = html.find("class=\"number\"").unwrap();
    let rest = &html[start..];
    let text = &rest[rest.find('>').unwrap() + 1..rest.find("</p>").unwrap()];
    text.trim().parse().unwrap()
}
