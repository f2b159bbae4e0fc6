//! Periodic housekeeping: what can no longer be used is marked or removed, so tables stay
//! the size of live traffic — logins nobody answered are recorded as expired, spent OIDC
//! codes, tokens and requests are deleted, old rate-limit windows and sent messages are
//! dropped, transfers a day past their expiry, and audit events and decided logins past
//! `audit_retention_days` deleted. The request-proof replay cache and in-memory pending
//! state are swept too.

use std::sync::Arc;
use std::time::Duration;

use crate::services::Deps;
use crate::store::StoreError;

/// How often `nokkel serve` sweeps.
pub const INTERVAL: Duration = Duration::from_secs(300);
/// Codes are kept this long after expiry, so a late reuse still revokes their tokens.
const KEEP_CODES_SECONDS: i64 = 24 * 3600;
/// Rate-limit windows older than this are dropped (the longest window is one day).
const KEEP_RATE_WINDOWS_SECONDS: i64 = 2 * 86_400;
/// Sent and discarded messages are kept this long (for support questions: "did my code
/// go out?"), then deleted with their sealed bodies. Dead ones wait for an operator.
const KEEP_SENT_MESSAGES_SECONDS: i64 = 14 * 86_400;
/// Transfers (10 minutes to live) are kept this long after expiry, for support questions
/// while they are fresh; the audit log keeps what happened.
const KEEP_TRANSFERS_SECONDS: i64 = 86_400;

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Pending logins recorded as expired.
    pub logins_expired: u64,
    /// OIDC rows deleted.
    pub oidc_rows: u64,
    /// Rate-limit windows deleted.
    pub rate_windows: u64,
    /// Sent or discarded messages deleted from the outbox.
    pub outbox_rows: u64,
    /// Audit events past the retention deleted.
    pub audit_rows: u64,
    /// Transfers past their expiry deleted.
    pub transfer_rows: u64,
    /// Decided logins past the audit retention deleted.
    pub login_rows: u64,
}

/// Runs one sweep.
pub async fn sweep(state: &Deps) -> Result<Swept, StoreError> {
    let now = state.clock.unix();
    let retained_from = now - i64::from(state.config.audit_retention_days) * 86_400;
    let logins_expired = state.pending.sweep(now).await?;
    state.caches.requests.sweep(now);
    super::login::ended(crate::store::LoginState::Expired, logins_expired);
    Ok(Swept {
        logins_expired,
        oidc_rows: state.store.purge_oidc(now, KEEP_CODES_SECONDS).await?,
        rate_windows: state
            .store
            .prune_rate_limits(now - KEEP_RATE_WINDOWS_SECONDS)
            .await?,
        outbox_rows: state
            .store
            .purge_outbox(now - KEEP_SENT_MESSAGES_SECONDS)
            .await?,
        audit_rows: state.store.purge_audit(retained_from).await?,
        login_rows: state.store.purge_logins(retained_from).await?,
        transfer_rows: state
            .store
            .purge_transfers(now - KEEP_TRANSFERS_SECONDS)
            .await?,
    })
}

/// Checkpoints the store's write-ahead log every [`crate::store::CHECKPOINT_INTERVAL`]
/// until the runtime stops (SQLite; nothing on PostgreSQL). The log's length at each
/// checkpoint goes to `/metrics`; a log that could not be restarted for
/// [`WAL_STUCK_WARNING`] in a row is logged as a warning, since it grows meanwhile.
pub fn spawn_checkpoints(state: Arc<Deps>) {
    if state.store.backend_name() != "sqlite" {
        return;
    }
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(crate::store::CHECKPOINT_INTERVAL);
        let mut stuck = 0u32;
        loop {
            ticker.tick().await;
            match state.store.checkpoint().await {
                Ok(Some(checkpoint)) => {
                    tracing::trace!(?checkpoint, "checkpoint");
                    metrics::gauge!(crate::metrics::SQLITE_WAL_FRAMES)
                        .set(checkpoint.frames as f64);
                    stuck = if checkpoint.restarted { 0 } else { stuck + 1 };
                    if stuck == WAL_STUCK_WARNING {
                        tracing::warn!(
                            frames = checkpoint.frames,
                            "the SQLite write-ahead log has not been restarted for a minute: \
                             a long reader holds it, and it grows until that reader is done"
                        );
                    }
                }
                Ok(None) => return,
                Err(err) => tracing::warn!(error = %err, "checkpoint failed"),
            }
        }
    });
}

/// Checkpoints in a row that could not restart the log before a warning is logged.
const WAL_STUCK_WARNING: u32 = 60;

/// Sweeps every [`INTERVAL`] until the runtime stops. Failures are logged and retried at
/// the next tick; with several instances each sweeps, which is harmless (idempotent).
pub fn spawn(state: Arc<Deps>) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(INTERVAL);
        loop {
            ticker.tick().await;
            match sweep(&state).await {
                Ok(swept) => tracing::debug!(?swept, "housekeeping"),
                Err(err) => tracing::warn!(error = %err, "housekeeping failed"),
            }
        }
    });
}
