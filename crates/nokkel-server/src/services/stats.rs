//! The gauges `/metrics` reads at each scrape: logins pending and the outboxes' depth.
//! (Counters and the notify histogram are recorded where things happen.)

use super::{Deps, ServiceError};
use crate::metrics::{OUTBOX_DEPTH, PENDING_LOGINS};

/// Sets the gauges from the store as it is now.
pub async fn refresh(deps: &Deps) -> Result<(), ServiceError> {
    let pending = deps.pending.pending_count(deps.clock.unix()).await?;
    let (sms, email) = deps.store.outbox_sizes().await?;
    metrics::gauge!(PENDING_LOGINS).set(pending as f64);
    metrics::gauge!(OUTBOX_DEPTH, "outbox" => "sms").set(sms as f64);
    metrics::gauge!(OUTBOX_DEPTH, "outbox" => "email").set(email as f64);
    Ok(())
}
