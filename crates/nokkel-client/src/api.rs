//! The HTTP client for the device API: JSON in and out, `v` checked on every answer,
//! request proofs attached, errors mapped to [`ClientError`], retries for GETs only.

use std::time::Duration;

use nokkel_core::wire::{ApiError, ACTION_HEADER, PROTOCOL_VERSION, REQUEST_PROOF_HEADER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::ClientError;

/// Timeouts and retry policy of the HTTP client.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Time for a whole request, on top of any long-poll wait.
    pub request_timeout: Duration,
    /// How often an idempotent GET is retried after a transient failure.
    pub retries: u32,
    /// Pause before the first retry; doubled for each further one.
    pub backoff: Duration,
    /// Sent as `Accept-Language` on every request: the language the server writes this
    /// person's notices in (set at enrolment and on each contact update). None: not sent.
    pub accept_language: Option<String>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(20),
            retries: 3,
            backoff: Duration::from_millis(250),
            accept_language: None,
        }
    }
}

/// Signs a request proof for (method, path without query). Called afresh for every
/// attempt, because the server refuses a proof's `jti` a second time.
pub(crate) type ProofSigner<'a> = &'a (dyn Fn(&str, &str) -> Result<String, ClientError> + Sync);

/// A client for one server.
#[derive(Debug, Clone)]
pub(crate) struct ApiClient {
    http: reqwest::Client,
    server: String,
    options: HttpOptions,
}

impl ApiClient {
    /// A client for `server` (base URL, `http://` or `https://`, no trailing slash needed).
    pub fn new(server: &str, options: HttpOptions) -> Result<Self, ClientError> {
        let server = server.trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&server)
            .map_err(|e| ClientError::InvalidInput(format!("server URL {server:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(ClientError::InvalidInput(format!(
                "server URL {server:?} must be http(s)://host[:port]"
            )));
        }
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(lang) = &options.accept_language {
            let value = reqwest::header::HeaderValue::from_str(lang).map_err(|_| {
                ClientError::InvalidInput(format!("language {lang:?} is not a header value"))
            })?;
            headers.insert(reqwest::header::ACCEPT_LANGUAGE, value);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .default_headers(headers)
            .user_agent(concat!("nokkel-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::InvalidInput(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            server,
            options,
        })
    }

    /// The server's base URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// GET `path` (`query` appended), retried with back-off on transient failures. GETs
    /// are idempotent, so a retry cannot do anything twice. `extra_wait` lengthens the
    /// timeout for long polls.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &str,
        proof: Option<ProofSigner<'_>>,
        extra_wait: Duration,
    ) -> Result<T, ClientError> {
        let mut attempt = 0;
        loop {
            let result = self
                .send::<(), T>(Method::GET, path, query, None, proof, extra_wait)
                .await;
            match result {
                Err(e) if attempt < self.options.retries && retryable(&e) => {
                    let pause = self.options.backoff.saturating_mul(1 << attempt.min(10));
                    tracing::debug!(error = %e, ?pause, "retrying GET {path}");
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// POST `body` to `path`. Never retried: it may change state.
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        proof: Option<ProofSigner<'_>>,
    ) -> Result<T, ClientError> {
        self.send(Method::POST, path, "", Some(body), proof, Duration::ZERO)
            .await
    }

    /// `method` `path` with an optional `body` and a request proof. Never retried: it may
    /// change state.
    pub async fn request<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        proof: Option<ProofSigner<'_>>,
    ) -> Result<T, ClientError> {
        self.send(method, path, "", body, proof, Duration::ZERO)
            .await
    }

    /// `method` `path` with `body`, carrying the action statement `action` (fresh user
    /// verification for this call) next to the request proof. Never retried: it changes
    /// state, and the statement's counter is spent.
    pub async fn confirmed<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        proof: ProofSigner<'_>,
        action: &str,
    ) -> Result<T, ClientError> {
        self.send_with(
            method,
            path,
            "",
            body,
            Some(proof),
            Some(action),
            Duration::ZERO,
        )
        .await
    }

    async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &str,
        body: Option<&B>,
        proof: Option<ProofSigner<'_>>,
        extra_wait: Duration,
    ) -> Result<T, ClientError> {
        self.send_with(method, path, query, body, proof, None, extra_wait)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn send_with<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &str,
        body: Option<&B>,
        proof: Option<ProofSigner<'_>>,
        action: Option<&str>,
        extra_wait: Duration,
    ) -> Result<T, ClientError> {
        let url = format!("{}{path}{query}", self.server);
        let mut request = self
            .http
            .request(method.clone(), &url)
            .timeout(self.options.request_timeout.saturating_add(extra_wait))
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(sign) = proof {
            request = request.header(REQUEST_PROOF_HEADER, sign(method.as_str(), path)?);
        }
        if let Some(action) = action {
            request = request.header(ACTION_HEADER, action);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| self.transport(&e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| self.transport(&e))?;
        if status.is_success() {
            parse(status, &bytes)
        } else {
            Err(self.failure(status, &bytes))
        }
    }

    fn transport(&self, err: &reqwest::Error) -> ClientError {
        let server = self.server.clone();
        let detail = root_cause(err);
        if err.is_timeout() {
            return ClientError::ServerUnavailable {
                server,
                detail: "timed out".into(),
            };
        }
        if err.is_connect() {
            // Refused or reset: the host is there but nothing answers. Anything else on
            // connect (name resolution, unreachable network) means we are offline.
            if io_kind(err).is_some_and(|kind| {
                matches!(
                    kind,
                    std::io::ErrorKind::ConnectionRefused
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::ConnectionAborted
                )
            }) {
                return ClientError::ServerUnavailable { server, detail };
            }
            return ClientError::Offline { server, detail };
        }
        ClientError::ServerUnavailable { server, detail }
    }

    fn failure(&self, status: StatusCode, bytes: &[u8]) -> ClientError {
        let gateway = matches!(
            status,
            StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
        );
        match parse::<ApiError>(status, bytes) {
            Ok(api) if api.code == "unsupported_version" => ClientError::VersionMismatch {
                detail: format!("the server says: {}", api.message),
            },
            Ok(api) if gateway => ClientError::ServerUnavailable {
                server: self.server.clone(),
                detail: format!("HTTP {}: {}", status.as_u16(), api.message),
            },
            Ok(api) if status.is_server_error() => ClientError::ServerError {
                status: status.as_u16(),
                message: api.message,
            },
            Ok(api) => ClientError::Api {
                status: status.as_u16(),
                code: api.code,
                message: api.message,
            },
            Err(e @ ClientError::VersionMismatch { .. }) => e,
            Err(_) if gateway => ClientError::ServerUnavailable {
                server: self.server.clone(),
                detail: format!("HTTP {}", status.as_u16()),
            },
            Err(_) if status.is_server_error() => ClientError::ServerError {
                status: status.as_u16(),
                message: "no error details".into(),
            },
            Err(_) => ClientError::BadResponse {
                status: status.as_u16(),
                detail: "error without an API error body (is this a Nøkkel server?)".into(),
            },
        }
    }
}

/// Parses a protocol message, reporting another `v` as a version mismatch rather than a
/// schema error.
fn parse<T: DeserializeOwned>(status: StatusCode, bytes: &[u8]) -> Result<T, ClientError> {
    let bad = |detail: String| ClientError::BadResponse {
        status: status.as_u16(),
        detail,
    };
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|_| bad("not JSON".into()))?;
    match value.get("v") {
        Some(v) if v.as_u64() == Some(PROTOCOL_VERSION) => {}
        Some(v) => {
            return Err(ClientError::VersionMismatch {
                detail: format!(
                    "the server speaks protocol version {v}; this app speaks {PROTOCOL_VERSION}"
                ),
            })
        }
        None => return Err(bad("no protocol version `v` in the answer".into())),
    }
    serde_json::from_value(value).map_err(|e| bad(e.to_string()))
}

fn retryable(err: &ClientError) -> bool {
    matches!(
        err,
        ClientError::ServerUnavailable { .. } | ClientError::Offline { .. }
    )
}

fn io_kind(err: &reqwest::Error) -> Option<std::io::ErrorKind> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        source = e.source();
    }
    None
}

fn root_cause(err: &reqwest::Error) -> String {
    let mut last: &dyn std::error::Error = err;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use axum::http::{HeaderMap, StatusCode as Status};
    use axum::routing::{get, post};
    use axum::Router;
    use nokkel_core::wire::PendingChallengeResponse;
    use serde_json::{json, Value};

    use super::*;

    fn fast() -> HttpOptions {
        HttpOptions {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
            retries: 2,
            backoff: Duration::from_millis(10),
            accept_language: None,
        }
    }

    async fn serve(router: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        format!("http://{addr}")
    }

    /// A server answering `status` and `body` on every route.
    async fn answering(status: u16, body: &'static str) -> String {
        let reply = move || async move {
            (
                Status::from_u16(status).unwrap(),
                [("content-type", "application/json")],
                body,
            )
        };
        serve(Router::new().route("/x", get(reply).post(reply))).await
    }

    async fn get_x(server: &str) -> Result<PendingChallengeResponse, ClientError> {
        ApiClient::new(server, fast())
            .unwrap()
            .get("/x", "", None, Duration::ZERO)
            .await
    }

    #[tokio::test]
    async fn offline_when_the_name_does_not_resolve() {
        let err = get_x("http://nokkel-offline.invalid").await.unwrap_err();
        assert_eq!(err.code(), "offline", "{err}");
        assert!(err.is_transient());
    }

    #[tokio::test]
    async fn server_unavailable_when_nothing_listens() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let err = get_x(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "server_unavailable", "{err}");
    }

    #[tokio::test]
    async fn internal_errors_are_server_errors() {
        let server = answering(
            500,
            r#"{"v":1,"code":"internal","message":"something went wrong"}"#,
        )
        .await;
        let err = get_x(&server).await.unwrap_err();
        assert_eq!(err.code(), "server_error");
        assert!(
            matches!(err, ClientError::ServerError { status: 500, .. }),
            "{err:?}"
        );
        let server = answering(500, "<html>oops</html>").await;
        assert_eq!(get_x(&server).await.unwrap_err().code(), "server_error");
    }

    #[tokio::test]
    async fn another_protocol_version_is_a_version_mismatch() {
        let server = answering(200, r#"{"v":2,"challenge":null,"new":1}"#).await;
        let err = get_x(&server).await.unwrap_err();
        assert_eq!(err.code(), "version_mismatch");
        assert!(err.to_string().contains("version 2"), "{err}");
        let server = answering(
            400,
            r#"{"v":1,"code":"unsupported_version","message":"unsupported protocol version 1; this side speaks 2"}"#,
        )
        .await;
        assert_eq!(get_x(&server).await.unwrap_err().code(), "version_mismatch");
        let server = answering(200, r#"{"challenge":null}"#).await;
        assert_eq!(get_x(&server).await.unwrap_err().code(), "bad_response");
    }

    #[tokio::test]
    async fn api_errors_carry_the_servers_code_and_message() {
        let server = answering(
            423,
            r#"{"v":1,"code":"letter_locked","message":"the activation letter is locked"}"#,
        )
        .await;
        let err = get_x(&server).await.unwrap_err();
        assert_eq!(err.code(), "letter_locked");
        assert!(
            matches!(err, ClientError::Api { status: 423, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("the activation letter is locked"));
        assert!(!err.is_transient());
        // A 4xx without an API error body: not a Nøkkel server (or a missing route).
        let server = answering(404, "not found").await;
        assert_eq!(get_x(&server).await.unwrap_err().code(), "bad_response");
    }

    #[derive(Default)]
    struct Script {
        calls: AtomicUsize,
        proofs: Mutex<Vec<String>>,
    }

    /// Fails with 503 twice, then answers; records each request's proof.
    async fn flaky(script: Arc<Script>) -> String {
        let handler = move |headers: HeaderMap| {
            let script = script.clone();
            async move {
                let n = script.calls.fetch_add(1, Ordering::SeqCst);
                if let Some(p) = headers.get(REQUEST_PROOF_HEADER) {
                    script
                        .proofs
                        .lock()
                        .unwrap()
                        .push(p.to_str().unwrap().to_owned());
                }
                if n < 2 {
                    (
                        Status::SERVICE_UNAVAILABLE,
                        axum::Json(json!({"v":1,"code":"unavailable","message":"busy"})),
                    )
                } else {
                    (Status::OK, axum::Json(json!({"v":1,"challenge":null})))
                }
            }
        };
        serve(Router::new().route("/x", get(handler.clone()).post(handler))).await
    }

    #[tokio::test]
    async fn gets_are_retried_with_a_fresh_proof_posts_never() {
        let script = Arc::new(Script::default());
        let server = flaky(script.clone()).await;
        let client = ApiClient::new(&server, fast()).unwrap();
        let counter = AtomicUsize::new(0);
        let sign = |m: &str, p: &str| {
            Ok(format!(
                "{m} {p} {}",
                counter.fetch_add(1, Ordering::SeqCst)
            ))
        };
        let ok: PendingChallengeResponse = client
            .get("/x", "", Some(&sign), Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(ok.challenge, None);
        assert_eq!(script.calls.load(Ordering::SeqCst), 3, "two retries");
        let proofs = script.proofs.lock().unwrap().clone();
        assert_eq!(
            proofs,
            vec!["GET /x 0", "GET /x 1", "GET /x 2"],
            "a new proof each time"
        );

        let script = Arc::new(Script::default());
        let server = flaky(script.clone()).await;
        let client = ApiClient::new(&server, fast()).unwrap();
        let err = client
            .post::<Value, PendingChallengeResponse>("/x", &json!({}), None)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "server_unavailable");
        assert_eq!(
            script.calls.load(Ordering::SeqCst),
            1,
            "a POST is sent once"
        );
    }

    #[tokio::test]
    async fn the_chosen_language_goes_with_every_request() {
        let server = serve(Router::new().route(
            "/x",
            get(|headers: HeaderMap| async move {
                let lang = headers
                    .get("accept-language")
                    .map(|v| v.to_str().unwrap().to_owned());
                axum::Json(json!({"v": 1, "challenge": lang}))
            }),
        ))
        .await;
        for lang in [Some("nn"), None] {
            let options = HttpOptions {
                accept_language: lang.map(str::to_owned),
                ..fast()
            };
            let answer: PendingChallengeResponse = ApiClient::new(&server, options)
                .unwrap()
                .get("/x", "", None, Duration::ZERO)
                .await
                .unwrap();
            assert_eq!(answer.challenge.as_deref(), lang);
        }
    }

    #[tokio::test]
    async fn post_is_accepted_and_bad_urls_are_refused() {
        let server = serve(Router::new().route(
            "/x",
            post(|| async { axum::Json(json!({"v":1,"challenge":"abc"})) }),
        ))
        .await;
        let ok: PendingChallengeResponse = ApiClient::new(&server, fast())
            .unwrap()
            .post("/x", &json!({"v":1}), None)
            .await
            .unwrap();
        assert_eq!(ok.challenge.as_deref(), Some("abc"));
        for bad in ["ftp://x", "not a url", "http://"] {
            assert_eq!(
                ApiClient::new(bad, fast()).unwrap_err().code(),
                "invalid_input",
                "{bad}"
            );
        }
    }
}
