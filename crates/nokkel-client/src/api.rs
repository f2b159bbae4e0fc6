//! The HTTP client for the device API: JSON in and out, `v` checked on every answer,
//! request proofs attached, errors mapped to [`ClientError`], retries for GETs only.

use std::time::Duration;

use nokkel_core::wire::{ApiError, PROTOCOL_VERSION, REQUEST_PROOF_HEADER};
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
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(20),
            retries: 3,
            backoff: Duration::from_millis(250),
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
        let http = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
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

    /// DELETE `path`. Not retried (a retry after a lost answer would see `device_revoked`).
    pub async fn delete<T: DeserializeOwned>(
        &self,
        path: &str,
        proof: Option<ProofSigner<'_>>,
    ) -> Result<T, ClientError> {
        self.send::<(), T>(Method::DELETE, path, "", None, proof, Duration::ZERO)
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
        let url = format!("{}{path}{query}", self.server);
        let mut request = self
            .http
            .request(method.clone(), &url)
            .timeout(self.options.request_timeout.saturating_add(extra_wait))
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(sign) = proof {
            request = request.header(REQUEST_PROOF_HEADER, sign(method.as_str(), path)?);
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
