//! Server configuration: defaults, then a TOML file, then `NOKKEL_*` environment variables,
//! then command-line flags. Unknown keys are rejected at every level, so a typo fails loudly
//! instead of being ignored.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

/// The environment variable prefix for configuration keys.
pub const ENV_PREFIX: &str = "NOKKEL_";
/// The environment variable naming a configuration file (not itself a key).
pub const ENV_CONFIG_FILE: &str = "NOKKEL_CONFIG";
/// Environment variables with this prefix belong to test tooling and are not configuration.
pub const ENV_TEST_PREFIX: &str = "NOKKEL_TEST_";

/// The complete server configuration.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory for the SQLite database and the server's secret key.
    pub data_dir: PathBuf,
    /// `postgres://…` to use PostgreSQL; unset means SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// The public base URL (the OpenID Connect issuer). Defaults to `http://{listen}`.
    pub public_url: Option<String>,
    /// Demo mode: seed the demo population, expose `/dev/*`, accept synthetic numbers.
    pub demo: bool,
    /// `text` (default) or `json` log lines.
    pub log_format: LogFormat,
    /// How long an activation letter is valid, in days.
    pub letter_validity_days: u32,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// With `trust_forwarded_for`: how many proxies in front of the server append to
    /// `X-Forwarded-For`. The client address is the entry this many from the right; what
    /// lies left of it the client wrote itself.
    pub trusted_proxies: u32,
    /// App logins one person may start per ten minutes from one client address (each
    /// replaces the previous one): the brake on push bombing from one place.
    pub logins_per_person_and_address_per_10_min: u32,
    /// App logins one person may start per ten minutes from all addresses together: a
    /// generous ceiling against many addresses (a stranger reaching it locks the person out
    /// of app login until the window ends, so it is far above what the person needs).
    pub logins_per_person_per_10_min: u32,
    /// App logins one client address may start per ten minutes, for all people together.
    pub logins_per_address_per_10_min: u32,
    /// Identity numbers one client address may enter on the login page per ten minutes.
    pub login_ids_per_address_per_10_min: u32,
    /// Authorization requests (`/oauth/authorize`) one client address may start per ten
    /// minutes; each is stored for 15 minutes.
    pub authorizations_per_address_per_10_min: u32,
    /// Authorization requests one instance takes per ten minutes from everyone: the
    /// ceiling on what a crowd of addresses can make it store.
    pub authorizations_per_10_min: u32,
    /// Login pages' event streams (`/login/events`, each a connection held up to two
    /// minutes) open at once from one client address, per instance.
    pub event_streams_per_address: u32,
    /// Login pages' event streams open at once on one instance.
    pub event_streams_total: u32,
    /// Password tries (right or wrong) on one person from one client address per 15 minutes.
    pub passwords_per_person_and_address_per_15_min: u32,
    /// Password tries (right or wrong) from one client address per 15 minutes, for all
    /// people together.
    pub passwords_per_address_per_15_min: u32,
    /// Wrong passwords on one person per day from all addresses together: the ceiling that
    /// keeps a botnet from guessing without bound.
    pub wrong_passwords_per_person_per_day: u32,
    /// How long audit events are kept, in days; housekeeping deletes older ones.
    pub audit_retention_days: u32,
    /// The server's master secret (32 random bytes, hex). Defaults to `secret.key` in
    /// `data_dir`, created on first start. Instances sharing a database must share it.
    pub secret_key_file: Option<PathBuf>,
    /// Tokio worker threads for `nokkel serve`. Unset: one per CPU core (or Tokio's own
    /// `TOKIO_WORKER_THREADS`). Fewer can serve more per CPU second where the server
    /// shares its cores with other busy processes (docs/OPERATIONS.md).
    pub workers: Option<std::num::NonZeroUsize>,
    /// Where to serve `/metrics` (Prometheus text). Unset: not served. A separate
    /// listener, so the metrics stay off the public address.
    pub metrics_listen: Option<SocketAddr>,
    /// Accept synthetic identity numbers (test servers) without the rest of demo mode.
    pub accept_synthetic_ids: bool,
    /// Accept software authenticators (`nokkel device`) without the rest of demo mode:
    /// test servers only, never one that real people use.
    pub accept_software_devices: bool,
    /// How the outbox is drained: tries, backoff, leases.
    pub delivery: DeliveryConfig,
    /// The SMS aggregator. Unset: text messages wait in the outbox.
    pub sms: Option<SmsConfig>,
    /// The SMTP server for e-mail. Unset: e-mails wait in the outbox.
    pub smtp: Option<SmtpConfig>,
    /// The print house's spool for letters. Unset: letters wait in the outbox.
    pub letters: Option<LettersConfig>,
    /// Waking devices through Web Push. Unset: no pushes are queued; apps learn of
    /// logins by asking.
    pub push: Option<PushConfig>,
}

/// How the delivery worker drains the outbox (`[delivery]`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Tries before a message is dead-lettered.
    pub max_attempts: u32,
    /// The first retry's delay (ms); each further retry doubles it, with jitter.
    pub retry_base_ms: u64,
    /// The longest delay between tries (ms).
    pub retry_max_ms: u64,
    /// How often the worker looks for due messages when nothing wakes it (ms).
    pub poll_interval_ms: u64,
    /// How long a claimed message is this instance's to send (s). Longer than any send.
    pub lease_seconds: u64,
    /// Messages sent at once per channel.
    pub concurrency: usize,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            retry_base_ms: 10_000,
            retry_max_ms: 900_000,
            poll_interval_ms: 1_000,
            lease_seconds: 300,
            concurrency: 8,
        }
    }
}

/// The SMS aggregator's HTTPS endpoint (`[sms]`); the contract is in docs/OPERATIONS.md.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SmsConfig {
    /// `https://…` endpoint (`http://` only to a loopback address, for tests).
    pub url: String,
    /// File holding the shared HMAC secret (its first line).
    pub hmac_secret_file: PathBuf,
    /// Seconds to wait for the aggregator's answer.
    #[serde(default = "default_sms_timeout")]
    pub timeout_seconds: u64,
}

fn default_sms_timeout() -> u64 {
    10
}

/// The SMTP submission server (`[smtp]`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Host name (also the name its certificate must carry).
    pub host: String,
    /// Port: 587 (STARTTLS) unless set.
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// `starttls` (default), `tls` (implicit TLS, port 465), or `none` (loopback only).
    #[serde(default)]
    pub tls: SmtpTls,
    /// User name for AUTH, if the server wants one.
    pub username: Option<String>,
    /// File holding the password (its first line).
    pub password_file: Option<PathBuf>,
    /// The sender, e.g. `Nøkkel <ikke-svar@nokkel.example>`.
    pub from: String,
    /// A PEM certificate to trust besides the system's roots (a private CA).
    pub ca_file: Option<PathBuf>,
    /// Seconds a connection or command may take.
    #[serde(default = "default_smtp_timeout")]
    pub timeout_seconds: u64,
}

fn default_smtp_port() -> u16 {
    587
}

fn default_smtp_timeout() -> u64 {
    30
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which must succeed.
    #[default]
    Starttls,
    /// TLS from the first byte.
    Tls,
    /// No TLS: only to a loopback address.
    None,
}

/// The print house's spool directory (`[letters]`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LettersConfig {
    /// Where batches appear (`batch-…` directories, each with a manifest).
    pub spool_dir: PathBuf,
    /// Letters per batch at most.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
}

fn default_batch_size() -> usize {
    200
}

/// Web Push (`[push]`): RFC 8030 delivery with RFC 8291 encryption and RFC 8292 VAPID.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PushConfig {
    /// How push services reach the operator (VAPID `sub`): a `mailto:` or `https:` URI.
    pub vapid_subject: String,
    /// The VAPID private key (64 hex digits). Defaults to `vapid.key` in `data_dir`,
    /// created on first start. Instances sharing a database must share it: browsers bind
    /// subscriptions to its public key.
    #[serde(default)]
    pub vapid_key_file: Option<PathBuf>,
    /// Seconds to wait for a push service's answer.
    #[serde(default = "default_sms_timeout")]
    pub timeout_seconds: u64,
    /// Accept `http://` endpoints on loopback addresses (test servers with a push peer on
    /// this machine). Never on a server real people use.
    #[serde(default)]
    pub danger_allow_http_loopback: bool,
    /// The hosts Web Push endpoints may be at: a host name, `*.` and a domain (any name
    /// under it), or `*` (any host). Defaults to the browsers' push services and ntfy.sh
    /// (`nokkel_core::push::KNOWN_WEB_PUSH_HOSTS`); add a self-hosted UnifiedPush
    /// distributor here. A subscription elsewhere is refused, and one registered before
    /// its host left the list is not pushed to: the server never POSTs to hosts the
    /// operator did not choose (an intranet address, say).
    #[serde(default = "default_web_push_hosts")]
    pub web_push_hosts: Vec<String>,
    /// A Google service-account key file (JSON) for FCM HTTP v1. Unset: FCM tokens are
    /// stored but not pushed to.
    #[serde(default)]
    pub fcm_service_account_file: Option<PathBuf>,
    /// FCM's base URL (a test peer's, on test servers).
    #[serde(default = "default_fcm_url")]
    pub fcm_url: String,
    /// APNs token-based authentication (`[push.apns]`). Unset: APNs device tokens are
    /// stored but not pushed to.
    #[serde(default)]
    pub apns: Option<ApnsConfig>,
}

fn default_web_push_hosts() -> Vec<String> {
    nokkel_core::push::KNOWN_WEB_PUSH_HOSTS
        .iter()
        .map(|host| (*host).to_owned())
        .collect()
}

impl PushConfig {
    /// Whether this server may push to `subscription`'s endpoint: an https endpoint at one
    /// of [`Self::web_push_hosts`], or plain http on loopback with
    /// [`Self::danger_allow_http_loopback`].
    pub fn allows_endpoint(&self, subscription: &nokkel_core::push::WebPushSubscription) -> bool {
        if subscription.is_plain_http() {
            self.danger_allow_http_loopback
        } else {
            nokkel_core::push::host_matches(subscription.host(), &self.web_push_hosts)
        }
    }
}

fn default_fcm_url() -> String {
    "https://fcm.googleapis.com/".to_owned()
}

/// APNs (`[push.apns]`): token-based provider authentication with a `.p8` signing key.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ApnsConfig {
    /// The Apple Developer team id (the provider JWT's `iss`).
    pub team_id: String,
    /// The id of the APNs signing key (the provider JWT's `kid`).
    pub key_id: String,
    /// The signing key Apple issued (`AuthKey_<key id>.p8`, PKCS#8 P-256 PEM). A secret.
    pub key_file: PathBuf,
    /// The app's bundle id (`apns-topic`).
    pub bundle_id: String,
    /// APNs' production base URL (a test peer's, on test servers).
    #[serde(default = "default_apns_production_url")]
    pub production_url: String,
    /// APNs' sandbox base URL, for development builds' device tokens.
    #[serde(default = "default_apns_sandbox_url")]
    pub sandbox_url: String,
}

fn default_apns_production_url() -> String {
    "https://api.push.apple.com/".to_owned()
}

fn default_apns_sandbox_url() -> String {
    "https://api.sandbox.push.apple.com/".to_owned()
}

/// The shape of log lines.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("nokkel-data"),
            database_url: None,
            public_url: None,
            demo: false,
            log_format: LogFormat::Text,
            letter_validity_days: 60,
            trust_forwarded_for: false,
            trusted_proxies: 1,
            secret_key_file: None,
            logins_per_person_and_address_per_10_min: 10,
            logins_per_person_per_10_min: 200,
            logins_per_address_per_10_min: 100,
            login_ids_per_address_per_10_min: 100,
            authorizations_per_address_per_10_min: 300,
            authorizations_per_10_min: 2_000_000,
            event_streams_per_address: 20,
            event_streams_total: 10_000,
            passwords_per_person_and_address_per_15_min: 5,
            passwords_per_address_per_15_min: 30,
            wrong_passwords_per_person_per_day: 300,
            audit_retention_days: 400,
            workers: None,
            metrics_listen: None,
            accept_synthetic_ids: false,
            accept_software_devices: false,
            delivery: DeliveryConfig::default(),
            sms: None,
            smtp: None,
            letters: None,
            push: None,
        }
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or mistyped keys.
    #[error("invalid configuration in {origin}: {message}")]
    Invalid {
        /// Where the bad value came from.
        origin: String,
        /// What is wrong.
        message: String,
    },
}

impl Config {
    /// Loads the configuration from an optional TOML file and the given environment
    /// variables (pass `std::env::vars()` in production).
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table = toml::Table::new();
        let mut origin = "defaults".to_owned();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            table = text
                .parse::<toml::Table>()
                .map_err(|e| ConfigError::Invalid {
                    origin: path.display().to_string(),
                    message: e.message().to_owned(),
                })?;
            origin = path.display().to_string();
        }
        let mut from_env = Vec::new();
        for (name, value) in env {
            let Some(key) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if name == ENV_CONFIG_FILE || name.starts_with(ENV_TEST_PREFIX) {
                continue;
            }
            from_env.push(name.clone());
            // `NOKKEL_SMS__URL` is `url` in the `[sms]` table.
            let key = key.to_ascii_lowercase();
            match key.split_once("__") {
                Some((section, field)) => {
                    let entry = table
                        .entry(section.to_owned())
                        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                    match entry {
                        toml::Value::Table(section) => {
                            section.insert(field.to_owned(), env_value(&value));
                        }
                        _ => {
                            return Err(ConfigError::Invalid {
                                origin: name,
                                message: format!("{section} is not a table"),
                            })
                        }
                    }
                }
                None => {
                    table.insert(key, env_value(&value));
                }
            }
        }
        if !from_env.is_empty() {
            from_env.sort();
            origin = format!("{origin} and environment ({})", from_env.join(", "));
        }
        toml::Value::Table(table)
            .try_into::<Config>()
            .map_err(|e| ConfigError::Invalid {
                origin,
                message: e.message().to_owned(),
            })
    }

    /// The public base URL without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }
}

/// Environment values are strings; booleans and integers are recognised so that e.g.
/// `NOKKEL_DEMO=true` and `NOKKEL_LETTER_VALIDITY_DAYS=30` have the right type.
fn env_value(raw: &str) -> toml::Value {
    match raw {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => raw
            .parse::<i64>()
            .map(toml::Value::Integer)
            .unwrap_or_else(|_| toml::Value::String(raw.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn web_push_goes_only_to_listed_hosts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nokkel.toml");
        std::fs::write(
            &path,
            "[push]\nvapid_subject = \"mailto:drift@nokkel.example\"\n",
        )
        .unwrap();
        let config = Config::load(Some(&path), env(&[])).unwrap();
        let mut push = config.push.unwrap();
        let sub = |endpoint: &str| {
            match nokkel_core::push::PushRegistration::web_push(
                endpoint,
                "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
                "BTBZMqHH6r4Tts7J_aSIgg",
            ) {
                Ok(nokkel_core::push::PushRegistration::WebPush(sub)) => sub,
                other => panic!("{endpoint}: {other:?}"),
            }
        };
        let mozilla = sub("https://updates.push.services.mozilla.com/wpush/v2/x");
        let own = sub("https://up.example.org/UPx");
        let loopback = sub("http://127.0.0.1:9/p");
        // The default: the browsers' push services and ntfy.sh; no plain http.
        assert!(push.allows_endpoint(&mozilla));
        assert!(!push.allows_endpoint(&own));
        assert!(!push.allows_endpoint(&loopback));
        // The operator's list replaces it (the sender checks again before each push).
        push.web_push_hosts = vec!["up.example.org".into()];
        assert!(push.allows_endpoint(&own));
        assert!(!push.allows_endpoint(&mozilla));
        push.danger_allow_http_loopback = true;
        assert!(push.allows_endpoint(&loopback));
        push.web_push_hosts = vec!["*".into()];
        assert!(push.allows_endpoint(&mozilla) && push.allows_endpoint(&own));
    }

    #[test]
    fn defaults_without_file_or_environment() {
        let config = Config::load(None, env(&[("PATH", "/bin")])).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.public_url(), "http://127.0.0.1:8080");
    }

    #[test]
    fn file_then_environment_override() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nokkel.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:9000\"\ndemo = true\npublic_url = \"https://id.example/\"\n",
        )
        .unwrap();
        let config = Config::load(
            Some(&path),
            env(&[
                ("NOKKEL_DEMO", "false"),
                ("NOKKEL_LETTER_VALIDITY_DAYS", "30"),
                ("NOKKEL_WORKERS", "1"),
            ]),
        )
        .unwrap();
        assert_eq!(config.workers, std::num::NonZeroUsize::new(1));
        assert_eq!(config.listen, SocketAddr::from(([0, 0, 0, 0], 9000)));
        assert!(!config.demo);
        assert_eq!(config.letter_validity_days, 30);
        assert_eq!(config.public_url(), "https://id.example");
    }

    #[test]
    fn unknown_keys_are_rejected_from_file_and_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nokkel.toml");
        std::fs::write(&path, "lisen = \"0.0.0.0:9000\"\n").unwrap();
        let err = Config::load(Some(&path), env(&[])).unwrap_err().to_string();
        assert!(err.contains("lisen"), "{err}");

        let err = Config::load(None, env(&[("NOKKEL_DATABSE_URL", "postgres://x")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("databse_url"), "{err}");
        assert!(err.contains("NOKKEL_DATABSE_URL"), "{err}");
    }

    #[test]
    fn sections_from_file_and_double_underscore_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nokkel.toml");
        std::fs::write(
            &path,
            "[sms]\nurl = \"https://sms.example/send\"\nhmac_secret_file = \"/etc/s\"\n\
             [delivery]\nmax_attempts = 3\n",
        )
        .unwrap();
        let config = Config::load(
            Some(&path),
            env(&[
                ("NOKKEL_SMS__TIMEOUT_SECONDS", "4"),
                ("NOKKEL_LETTERS__SPOOL_DIR", "/var/spool/nokkel"),
            ]),
        )
        .unwrap();
        let sms = config.sms.unwrap();
        assert_eq!(sms.url, "https://sms.example/send");
        assert_eq!(sms.timeout_seconds, 4);
        assert_eq!(config.delivery.max_attempts, 3);
        assert_eq!(config.delivery.retry_base_ms, 10_000);
        let letters = config.letters.unwrap();
        assert_eq!(letters.spool_dir, PathBuf::from("/var/spool/nokkel"));
        assert_eq!(letters.batch_size, 200);
        assert!(config.smtp.is_none());

        let err = Config::load(None, env(&[("NOKKEL_SMS__URLL", "x")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("urll"), "{err}");
    }

    #[test]
    fn test_tooling_variables_are_not_configuration() {
        let config = Config::load(None, env(&[("NOKKEL_TEST_PG", "1")])).unwrap();
        assert_eq!(config, Config::default());
    }

    #[test]
    fn mistyped_values_are_rejected() {
        let err = Config::load(None, env(&[("NOKKEL_LISTEN", "not an address")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("NOKKEL_LISTEN"), "{err}");
    }
}
