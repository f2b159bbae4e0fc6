//! The gauges `/metrics` reads at each scrape: logins pending and the outbox.
//! (Counters and the notify histogram are recorded where things happen.)

use super::{Deps, ServiceError};
use crate::metrics::{OUTBOX_DEAD, OUTBOX_DEPTH, OUTBOX_OLDEST_SECONDS, PENDING_LOGINS};

/// Sets the gauges from the store as it is now.
pub async fn refresh(deps: &Deps) -> Result<(), ServiceError> {
    let pending = deps.pending.pending_count(deps.clock.unix()).await?;
    metrics::gauge!(PENDING_LOGINS).set(pending as f64);
    let now = deps.clock.unix();
    for stats in deps.store.outbox_stats().await? {
        let outbox = stats.channel.as_str();
        metrics::gauge!(OUTBOX_DEPTH, "outbox" => outbox).set(stats.queued as f64);
        metrics::gauge!(OUTBOX_DEAD, "outbox" => outbox).set(stats.dead as f64);
        let oldest = stats.oldest_queued_at.map_or(0, |at| (now - at).max(0));
        metrics::gauge!(OUTBOX_OLDEST_SECONDS, "outbox" => outbox).set(oldest as f64);
    }
    Ok(())
}
