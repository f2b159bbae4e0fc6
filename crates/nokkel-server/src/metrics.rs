//! Prometheus metrics: the names the server records under, the recorder, and the text
//! format `/metrics` serves.
//!
//! `metrics` is a facade over one process-wide recorder, as `tracing` is over one
//! subscriber: services record with its macros and need no handle. [`recorder`] installs
//! the Prometheus recorder the first time it is asked for and returns the same one after
//! (a test process may start several servers).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Logins started, by `method` (`app`, `sms`).
pub const LOGINS_STARTED: &str = "nokkel_logins_started_total";
/// Logins ended, by `outcome` (`approved`, `denied`, `reported`, `wrong_number`,
/// `expired`, `cancelled`, `completed` for a password + SMS-code login).
pub const LOGINS_ENDED: &str = "nokkel_logins_ended_total";
/// Seconds from an app's answer to the waiting browser being told, in this process.
pub const LOGIN_NOTIFY_SECONDS: &str = "nokkel_login_notify_seconds";
/// Requests refused by a rate limit, by `limit` (the limit's name).
pub const RATE_LIMITED: &str = "nokkel_rate_limited_total";
/// Logins pending now (at the scrape).
pub const PENDING_LOGINS: &str = "nokkel_pending_logins";
/// Messages waiting to be sent, by `outbox` (`sms`, `email`, `letter`).
pub const OUTBOX_DEPTH: &str = "nokkel_outbox_depth";
/// Age in seconds of the oldest message waiting, by `outbox` (0 when none waits).
pub const OUTBOX_OLDEST_SECONDS: &str = "nokkel_outbox_oldest_seconds";
/// Messages dead-lettered and waiting for an operator, by `outbox`.
pub const OUTBOX_DEAD: &str = "nokkel_outbox_dead";
/// Messages a peer accepted, by `outbox`, in this process.
pub const OUTBOX_SENT: &str = "nokkel_outbox_sent_total";
/// Failed tries, by `outbox` and `result` (`retry`: tried again later, `dead`: given
/// up), in this process.
pub const OUTBOX_FAILED: &str = "nokkel_outbox_failed_total";

/// Frames (changed pages) in the SQLite write-ahead log at the last checkpoint.
pub const SQLITE_WAL_FRAMES: &str = "nokkel_sqlite_wal_frames";

/// Buckets for [`LOGIN_NOTIFY_SECONDS`]: the target is p99 under 20 ms.
const NOTIFY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// The installed Prometheus recorder and the process collector (CPU, memory).
pub struct Recorder {
    handle: PrometheusHandle,
    process: metrics_process::Collector,
}

impl Recorder {
    /// Everything recorded so far, with the process's CPU and memory as of now, in the
    /// Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        self.process.collect();
        self.handle.render()
    }
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

static RECORDER: OnceLock<Recorder> = OnceLock::new();

/// The process's recorder, installed on first use.
pub fn recorder() -> &'static Recorder {
    RECORDER.get_or_init(install)
}

fn install() -> Recorder {
    // Only an empty bucket list is refused, and NOTIFY_BUCKETS is not empty.
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(LOGIN_NOTIFY_SECONDS.to_owned()),
            NOTIFY_BUCKETS,
        )
        .unwrap_or_else(|err| {
            tracing::warn!(error = %err, "histogram buckets refused; using summaries");
            PrometheusBuilder::new()
        });
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    if let Err(err) = metrics::set_global_recorder(recorder) {
        tracing::warn!(error = %err, "another metrics recorder is installed; /metrics stays empty");
    }
    let process = metrics_process::Collector::default();
    process.describe();
    metrics::describe_counter!(LOGINS_STARTED, "Logins started, by method.");
    metrics::describe_counter!(LOGINS_ENDED, "Logins ended, by outcome.");
    metrics::describe_histogram!(
        LOGIN_NOTIFY_SECONDS,
        metrics::Unit::Seconds,
        "From an app's answer to the waiting browser being told."
    );
    metrics::describe_counter!(RATE_LIMITED, "Requests refused by a rate limit, by limit.");
    metrics::describe_gauge!(PENDING_LOGINS, "Logins pending now.");
    metrics::describe_gauge!(OUTBOX_DEPTH, "Messages waiting to be sent, by outbox.");
    metrics::describe_gauge!(
        OUTBOX_OLDEST_SECONDS,
        metrics::Unit::Seconds,
        "Age of the oldest message waiting, by outbox."
    );
    metrics::describe_gauge!(OUTBOX_DEAD, "Dead-lettered messages, by outbox.");
    metrics::describe_counter!(OUTBOX_SENT, "Messages a peer accepted, by outbox.");
    metrics::describe_counter!(OUTBOX_FAILED, "Failed sends, by outbox and result.");
    metrics::describe_gauge!(
        SQLITE_WAL_FRAMES,
        "Frames in the SQLite write-ahead log at the last checkpoint."
    );
    Recorder { handle, process }
}
