//! What every service is given: store, clock, randomness, secrets, settings, keys and
//! wake-ups. Built once at start-up (or per test) and passed explicitly, never global.

use std::sync::Arc;

use nokkel_core::clock::Clock;
use nokkel_core::id_number::SyntheticPolicy;
use nokkel_core::random::Random;

use crate::config::Config;
use crate::secrets::ServerSecrets;
use crate::services::audit_writer::AuditWriter;
use crate::services::cache::Caches;
use crate::services::capacity::Capacity;
use crate::services::delivery::Worker;
use crate::services::events::Events;
use crate::services::keys::ServerKeys;
use crate::services::outbound::Outbound;
use crate::services::pending::PendingLogins;
use crate::store::Store;

/// Everything a service needs. Services borrow it; they know nothing of HTTP.
pub struct Deps {
    /// Persistence.
    pub store: Store,
    /// The current time.
    pub clock: Arc<dyn Clock>,
    /// Cryptographically secure randomness.
    pub random: Arc<dyn Random>,
    /// Peppers and sealing keys.
    pub secrets: Arc<ServerSecrets>,
    /// The configuration the server was started with.
    pub config: Config,
    /// The server's signing keys.
    pub keys: ServerKeys,
    /// Wake-ups for waiting browsers and long-polling devices.
    pub events: Arc<Events>,
    /// Where messages to people go: the outbox.
    pub outbound: Arc<dyn Outbound>,
    /// The outbox's drain through the configured senders (`serve` runs it).
    pub delivery: Arc<Worker>,
    /// Clients and device keys, in front of the store.
    pub caches: Caches,
    /// Per-instance ceilings on event streams and authorization requests.
    pub capacity: Capacity,
    /// The audit log's batched writer.
    pub audit: AuditWriter,
    /// Pending logins, the request-proof replay cache and the login rate-limit windows:
    /// in memory on SQLite, in the shared tables on PostgreSQL.
    pub pending: Arc<dyn PendingLogins>,
}

impl Deps {
    /// Whether software authenticators and test-only user verification are accepted
    /// (demo mode, or a test server that asks for them).
    pub fn accepts_software_devices(&self) -> bool {
        self.config.demo || self.config.accept_software_devices
    }

    /// Whether synthetic identity numbers are accepted (demo mode, or a test server that
    /// asks for them).
    pub fn synthetic_policy(&self) -> SyntheticPolicy {
        if self.config.demo || self.config.accept_synthetic_ids {
            SyntheticPolicy::Accept
        } else {
            SyntheticPolicy::Reject
        }
    }

    /// The public base URL, which is also the OpenID Connect issuer.
    pub fn issuer(&self) -> String {
        self.config.public_url()
    }
}
