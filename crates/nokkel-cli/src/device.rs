//! `nokkel device`: a software authenticator for testers and end-to-end tests. It keeps
//! its key in a file and verifies nobody (`none_test`), so only demo servers and test
//! servers (`accept_software_devices`) accept it.
//!
//! Exit codes:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done |
//! | 1 | refused: the server said no (wrong code, letter locked, wrong number, ...), nothing is pending, or a login request failed verification against the pinned server key |
//! | 2 | usage: bad arguments, no device enrolled in the state directory (or one already is), a number that is not among the choices |
//! | 3 | network: offline, server unavailable or failing (5xx) — trying again later may help |
//! | 4 | anything else: local state or key file unreadable, protocol version mismatch, unexpected answer |

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use nokkel_client::{
    Authenticator, ClientError, Device, EnrolmentForm, FileVault, HttpOptions, PendingRequest,
    Platform, TestVerifier, TransferOutcome,
};
use nokkel_core::push::{ApnsEnvironment, PushRegistration};
use serde_json::json;

/// Options of `nokkel device`.
#[derive(Debug, Args)]
pub struct DeviceArgs {
    /// State directory (key and device state). Default: $XDG_STATE_HOME/nokkel-device or
    /// ~/.local/state/nokkel-device.
    #[arg(long, global = true)]
    state: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// The app's language, sent as Accept-Language: enrolling or saving the contact entry
    /// makes it the language of this person's notices (e-mail, SMS).
    #[arg(long, global = true, value_enum)]
    lang: Option<Lang>,
    #[command(subcommand)]
    command: DeviceCommand,
}

/// The languages the server writes in.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Lang {
    /// Norwegian Bokmål.
    Nb,
    /// Norwegian Nynorsk.
    Nn,
    /// English.
    En,
}

impl Lang {
    fn tag(self) -> &'static str {
        match self {
            Lang::Nb => "nb",
            Lang::Nn => "nn",
            Lang::En => "en",
        }
    }
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// Enrol this software authenticator with an activation letter (demo and test servers
    /// only).
    Enrol {
        /// Server base URL, e.g. http://127.0.0.1:8080
        #[arg(long)]
        server: String,
        /// National identity number or D-number.
        #[arg(long)]
        pid: String,
        /// The activation code from the letter.
        #[arg(long)]
        code: String,
        /// A name for this device.
        #[arg(long, default_value = "nokkel device")]
        name: String,
    },
    /// Show the oldest pending login request and its three numbers (`--all`: every one).
    Pending {
        /// Wait up to this many seconds for a request to arrive.
        #[arg(long, default_value_t = 0)]
        wait: u64,
        /// Show every pending request, oldest first (logins from different browsers wait
        /// side by side).
        #[arg(long)]
        all: bool,
    },
    /// Approve a pending login request with the number the browser shows.
    Approve {
        /// The number shown in the browser (10-99).
        #[arg(long)]
        number: u8,
        /// Wait up to this many seconds for a request to arrive.
        #[arg(long, default_value_t = 0)]
        wait: u64,
        /// The request to answer (its challenge id, from `pending --all`); default: the
        /// oldest.
        #[arg(long)]
        challenge: Option<String>,
    },
    /// Deny a pending login request.
    Deny {
        /// Report it: "this wasn't me".
        #[arg(long)]
        report: bool,
        /// Wait up to this many seconds for a request to arrive.
        #[arg(long, default_value_t = 0)]
        wait: u64,
        /// The request to answer (its challenge id, from `pending --all`); default: the
        /// oldest.
        #[arg(long)]
        challenge: Option<String>,
    },
    /// Show this device's local state.
    Status,
    /// Show past login requests.
    History {
        /// At most this many entries.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// List the person's devices.
    Devices,
    /// Resume app logins after "this wasn't me" paused them.
    Resume,
    /// Show or change the person's entry in the contact register.
    ///
    /// With --mobile or --email the entry is saved (and so confirmed as current): what is
    /// not given stays as it is, an empty value removes it.
    Contact {
        /// Mobile number: Norwegian without a prefix, others with + and the calling code.
        #[arg(long)]
        mobile: Option<String>,
        /// E-mail address; a new one gets a confirmation e-mail.
        #[arg(long)]
        email: Option<String>,
    },
    /// Have the server wake this device through a push service when a login waits, or stop it.
    ///
    /// Web Push: give the three parts of a browser's or UnifiedPush distributor's
    /// `PushSubscription` (`--web-push ENDPOINT --p256dh KEY --auth SECRET`). To try the
    /// server's FCM or APNs sender with a test phone's token: `--fcm TOKEN`
    /// or `--apns TOKEN [--apns-environment sandbox]`. `--clear` stops push wake-ups.
    #[command(group(clap::ArgGroup::new("service").required(true).args(["web_push", "fcm", "apns", "clear"])))]
    Push {
        /// The subscription's endpoint URL (https://).
        #[arg(long, requires_all = ["p256dh", "auth"])]
        web_push: Option<String>,
        /// The subscription's `p256dh` key (base64url).
        #[arg(long, requires = "web_push")]
        p256dh: Option<String>,
        /// The subscription's `auth` secret (base64url).
        #[arg(long, requires = "web_push")]
        auth: Option<String>,
        /// An FCM registration token (what an Android app gets from Firebase Messaging).
        #[arg(long)]
        fcm: Option<String>,
        /// An APNs device token in hexadecimal (what an iOS app gets from Apple).
        #[arg(long)]
        apns: Option<String>,
        /// The APNs environment of `--apns`: `production` (App Store, TestFlight) or
        /// `sandbox` (development builds).
        #[arg(long, requires = "apns", value_parser = ["production", "sandbox"], default_value = "production")]
        apns_environment: String,
        /// Stop push wake-ups for this device.
        #[arg(long)]
        clear: bool,
    },
    /// Revoke this device on the server and delete its key here.
    Deactivate,
    /// Move to a new phone with the old one at hand (no letter needed).
    #[command(subcommand)]
    Transfer(TransferCommand),
}

#[derive(Debug, Subcommand)]
enum TransferCommand {
    /// On the new device (an empty state directory): print a transfer code, wait for the
    /// old device to approve it, and be enrolled.
    Start {
        /// Server base URL, e.g. http://127.0.0.1:8080
        #[arg(long)]
        server: String,
        /// A name for this device.
        #[arg(long, default_value = "nokkel device")]
        name: String,
        /// Wait up to this many seconds for the old device (the code lives 600).
        #[arg(long, default_value_t = 600)]
        wait: u64,
    },
    /// On the old device: approve the transfer the new device shows the code of.
    Approve {
        /// The transfer code the new device shows (e.g. 7KQ-M3X-A9D).
        code: String,
        /// Retire this device: it is revoked as the new one is enrolled.
        #[arg(long)]
        retire: bool,
    },
    /// On the old device: refuse the transfer with this code.
    Refuse {
        /// The transfer code.
        code: String,
    },
}

/// Exit codes (see the module docs).
const EXIT_REFUSED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_NETWORK: u8 = 3;
const EXIT_OTHER: u8 = 4;

/// A failure with the exit code it maps to.
struct Failure {
    exit: u8,
    code: String,
    message: String,
}

impl From<ClientError> for Failure {
    fn from(err: ClientError) -> Self {
        let exit = match &err {
            ClientError::Api { .. }
            | ClientError::ChallengeRefused(_)
            | ClientError::EnrolmentMismatch(_)
            | ClientError::Verification(_) => EXIT_REFUSED,
            ClientError::NotEnrolled
            | ClientError::AlreadyEnrolled
            | ClientError::InvalidInput(_)
            | ClientError::NumberNotOffered(_) => EXIT_USAGE,
            e if e.is_transient() => EXIT_NETWORK,
            _ => EXIT_OTHER,
        };
        Self {
            exit,
            code: err.code().to_owned(),
            message: err.to_string(),
        }
    }
}

fn nothing_pending() -> Failure {
    Failure {
        exit: EXIT_REFUSED,
        code: "nothing_pending".into(),
        message: "no login request is pending for this device".into(),
    }
}

/// The default state directory.
fn default_state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("nokkel-device");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".local").join("state").join("nokkel-device")
}

/// Runs `nokkel device`.
pub fn run(args: DeviceArgs) -> ExitCode {
    let json = args.json;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("nokkel device: cannot start the async runtime: {err}");
            return ExitCode::from(EXIT_OTHER);
        }
    };
    match runtime.block_on(execute(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if json {
                println!(
                    "{}",
                    json!({"error": {"code": failure.code, "message": failure.message}})
                );
            }
            eprintln!("nokkel device: {} ({})", failure.message, failure.code);
            ExitCode::from(failure.exit)
        }
    }
}

fn print(json: bool, value: serde_json::Value, text: impl FnOnce() -> String) {
    if json {
        println!("{value}");
    } else {
        println!("{}", text());
    }
}

fn when(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

/// The pending request `challenge` (default: the oldest), waiting up to `wait` seconds.
async fn wait_for_request(
    device: &Device,
    wait: u64,
    challenge: Option<&str>,
) -> Result<PendingRequest, Failure> {
    device
        .pending_all(Duration::from_secs(wait))
        .await?
        .into_iter()
        .find(|r| challenge.is_none_or(|id| r.challenge_id() == id))
        .ok_or_else(nothing_pending)
}

/// A pending request as `nokkel device pending` prints it.
fn describe_request(request: &PendingRequest) -> String {
    let d = request.details();
    format!(
        "Log in to {}?\n  requested  {}\n  expires    {}\n  browser    {} on {}\n  place      {}\n  numbers    {}  {}  {}\n  challenge  {}",
        d.service,
        when(d.requested_at),
        when(d.expires_at),
        d.browser,
        d.os,
        d.place.as_deref().unwrap_or("unknown"),
        d.choices[0],
        d.choices[1],
        d.choices[2],
        d.challenge_id
    )
}

async fn execute(args: DeviceArgs) -> Result<(), Failure> {
    let dir = args.state.unwrap_or_else(default_state_dir);
    let vault = Arc::new(FileVault::new(dir.join("device.key")));
    let authenticator = Authenticator::new(&dir, vault).with_http(HttpOptions {
        accept_language: args.lang.map(|l| l.tag().to_owned()),
        ..HttpOptions::default()
    });
    let verifier = TestVerifier::danger_always_yes();
    let json = args.json;
    match args.command {
        DeviceCommand::Enrol {
            server,
            pid,
            code,
            name,
        } => {
            let enrolled = authenticator
                .enrol(
                    &EnrolmentForm {
                        server: &server,
                        pid: &pid,
                        activation_code: &code,
                        name: &name,
                        platform: Platform::Software,
                    },
                    &verifier,
                )
                .await?;
            print(json, json!(enrolled), || {
                format!(
                    "enrolled device {} with {} (state in {})",
                    enrolled.device_id,
                    enrolled.issuer,
                    dir.display()
                )
            });
        }
        DeviceCommand::Pending { wait, all: false } => {
            let device = authenticator.unlock(&verifier)?;
            let request = wait_for_request(&device, wait, None).await?;
            print(json, json!(request.details()), || {
                describe_request(&request)
            });
        }
        DeviceCommand::Pending { wait, all: true } => {
            let device = authenticator.unlock(&verifier)?;
            let requests = device.pending_all(Duration::from_secs(wait)).await?;
            if requests.is_empty() {
                return Err(nothing_pending());
            }
            let details: Vec<_> = requests.iter().map(|r| r.details()).collect();
            print(json, json!(details), || {
                let texts: Vec<String> = requests.iter().map(describe_request).collect();
                texts.join("\n\n")
            });
        }
        DeviceCommand::Approve {
            number,
            wait,
            challenge,
        } => {
            let device = authenticator.unlock(&verifier)?;
            let request = wait_for_request(&device, wait, challenge.as_deref()).await?;
            let details = request.details();
            let outcome = device.approve(request, number, &verifier).await?;
            print(
                json,
                json!({"challenge_id": details.challenge_id, "service": details.service, "outcome": outcome}),
                || format!("approved the login to {} with {number}", details.service),
            );
        }
        DeviceCommand::Deny {
            report,
            wait,
            challenge,
        } => {
            let device = authenticator.unlock(&verifier)?;
            let request = wait_for_request(&device, wait, challenge.as_deref()).await?;
            let details = request.details();
            let outcome = device.deny(request, report).await?;
            print(
                json,
                json!({"challenge_id": details.challenge_id, "service": details.service, "outcome": outcome}),
                || {
                    format!(
                        "denied the login to {}{}",
                        details.service,
                        if report { " and reported it" } else { "" }
                    )
                },
            );
        }
        DeviceCommand::Status => {
            let status = authenticator.status()?.ok_or(ClientError::NotEnrolled)?;
            print(json, json!(status), || {
                format!(
                    "device     {}\nname       {}\nserver     {}\nissuer     {}\nenrolled   {}\ncounter    {}\nstate      {}",
                    status.device_id,
                    status.name,
                    status.server_url,
                    status.issuer,
                    when(status.enrolled_at),
                    status.counter,
                    dir.display()
                )
            });
        }
        DeviceCommand::History { limit } => {
            let device = authenticator.unlock(&verifier)?;
            let entries = device.history(limit).await?;
            print(json, json!({ "entries": entries }), || {
                if entries.is_empty() {
                    return "no login requests yet".to_owned();
                }
                entries
                    .iter()
                    .map(|e| {
                        format!(
                            "{}  {:<12} {}  ({} on {})",
                            when(e.at),
                            serde_json::to_value(e.outcome)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_owned))
                                .unwrap_or_default(),
                            e.service,
                            e.browser,
                            e.os
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        DeviceCommand::Devices => {
            let device = authenticator.unlock(&verifier)?;
            let devices = device.devices().await?;
            print(json, json!({ "devices": devices }), || {
                devices
                    .iter()
                    .map(|d| {
                        format!(
                            "{}{}  {}  enrolled {}",
                            d.device_id,
                            if d.this_device { " (this device)" } else { "" },
                            d.name,
                            when(d.enrolled_at)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        DeviceCommand::Resume => {
            let device = authenticator.unlock(&verifier)?;
            let paused = device.resume_app_logins(&verifier).await?;
            print(json, json!({"app_login_blocked": paused}), || {
                if paused {
                    "app logins are still paused".to_owned()
                } else {
                    "app logins resumed".to_owned()
                }
            });
        }
        DeviceCommand::Contact { mobile, email } => {
            let device = authenticator.unlock(&verifier)?;
            let mut contact = device.contact().await?;
            if mobile.is_some() || email.is_some() {
                // The server replaces the whole entry: keep what was not given.
                let keep = |given: Option<String>, current: Option<String>| match given {
                    Some(value) if value.is_empty() => None,
                    Some(value) => Some(value),
                    None => current,
                };
                let mobile = keep(mobile, contact.mobile);
                let email = keep(email, contact.email);
                contact = device
                    .update_contact(mobile.as_deref(), email.as_deref(), &verifier)
                    .await?;
            }
            print(json, json!(contact), || {
                let line = |label: &str, value: &Option<String>, confirmed: Option<i64>| match value
                {
                    Some(value) => format!(
                        "{label:<10} {value}{}",
                        confirmed.map_or(String::new(), |at| format!("  (confirmed {})", when(at)))
                    ),
                    None => format!("{label:<10} none"),
                };
                format!(
                    "{}\n{}",
                    line("mobile", &contact.mobile, contact.mobile_confirmed_at),
                    line("e-mail", &contact.email, contact.email_confirmed_at)
                )
            });
        }
        DeviceCommand::Push {
            web_push,
            p256dh,
            auth,
            fcm,
            apns,
            apns_environment,
            clear: _,
        } => {
            let device = authenticator.unlock(&verifier)?;
            let registration = match (web_push, fcm, apns) {
                (Some(endpoint), _, _) => Some(PushRegistration::web_push(
                    &endpoint,
                    p256dh.as_deref().unwrap_or_default(),
                    auth.as_deref().unwrap_or_default(),
                )),
                (_, Some(token), _) => Some(PushRegistration::fcm(&token)),
                (_, _, Some(token)) => {
                    let environment = if apns_environment == "sandbox" {
                        ApnsEnvironment::Sandbox
                    } else {
                        ApnsEnvironment::Production
                    };
                    Some(PushRegistration::apns(&token, environment))
                }
                _ => None,
            };
            let kind = match registration {
                Some(registration) => {
                    let registration = registration
                        .map_err(|e| Failure::from(ClientError::InvalidInput(e.to_string())))?;
                    Some(device.set_push(registration).await?)
                }
                None => {
                    device.clear_push().await?;
                    None
                }
            };
            print(json, json!({ "push": kind }), || match kind {
                Some(kind) => format!(
                    "push: {} (this device is woken when a login waits)",
                    kind.as_str()
                ),
                None => "push: none (this device learns of logins when it asks)".to_owned(),
            });
        }
        DeviceCommand::Transfer(TransferCommand::Start { server, name, wait }) => {
            let started = authenticator
                .start_transfer(&server, &name, Platform::Software, &verifier)
                .await?;
            let code = started.code();
            // The code first, on its own line, so a person (or a test) can act on it
            // while this waits.
            print(
                json,
                json!({"status": "waiting", "code": code, "expires_at": started.expires_at(), "device_id": started.device_id()}),
                || {
                    format!(
                        "transfer code {code} (valid until {})\napprove it on the old device: nokkel device transfer approve {code}",
                        when(started.expires_at())
                    )
                },
            );
            use std::io::Write as _;
            let _ = std::io::stdout().flush();
            let outcome = authenticator
                .wait_for_transfer(&started, Duration::from_secs(wait))
                .await?;
            match outcome {
                TransferOutcome::Approved(enrolled) => {
                    print(
                        json,
                        json!({"status": "approved", "enrolled": enrolled}),
                        || {
                            format!(
                                "enrolled device {} with {} by transfer (state in {})",
                                enrolled.device_id,
                                enrolled.issuer,
                                dir.display()
                            )
                        },
                    );
                }
                other => {
                    let (code, message) = match other {
                        TransferOutcome::Refused => {
                            ("transfer_refused", "the old device refused the transfer")
                        }
                        TransferOutcome::Expired => {
                            ("transfer_expired", "the transfer code expired unused")
                        }
                        _ => (
                            "transfer_waiting",
                            "no decision yet; the code is still valid",
                        ),
                    };
                    return Err(Failure {
                        exit: EXIT_REFUSED,
                        code: code.into(),
                        message: message.into(),
                    });
                }
            }
        }
        DeviceCommand::Transfer(TransferCommand::Approve { code, retire }) => {
            let device = authenticator.unlock(&verifier)?;
            let request = device.lookup_transfer(&code).await?;
            let answer = device.approve_transfer(&request, retire, &verifier).await?;
            print(
                json,
                json!({"transfer": request, "status": answer.status, "old_device_retired": answer.old_device_retired}),
                || {
                    format!(
                        "moved to {} ({}, started {}); this device {}",
                        request.device_name,
                        request.new_device_id,
                        when(request.started_at),
                        if answer.old_device_retired {
                            "is retired and its key deleted"
                        } else {
                            "stays active"
                        }
                    )
                },
            );
        }
        DeviceCommand::Transfer(TransferCommand::Refuse { code }) => {
            let device = authenticator.unlock(&verifier)?;
            let request = device.lookup_transfer(&code).await?;
            let answer = device.refuse_transfer(&request).await?;
            print(
                json,
                json!({"transfer": request, "status": answer.status}),
                || format!("refused the transfer to {}", request.device_name),
            );
        }
        DeviceCommand::Deactivate => {
            let device = authenticator.unlock(&verifier)?;
            let id = device.device_id().clone();
            device.deactivate(&verifier).await?;
            print(json, json!({"deactivated": id}), || {
                format!("deactivated device {id}; its key is deleted")
            });
        }
    }
    Ok(())
}
