//! The application state shared by handlers and services: store, clock, randomness, secrets
//! and settings. Built once at start-up (or per test) and passed explicitly, never global.

use std::ops::Deref;
use std::sync::Arc;

use nokkel_core::clock::Clock;
use nokkel_core::id_number::SyntheticPolicy;
use nokkel_core::random::Random;

use crate::config::Config;
use crate::secrets::ServerSecrets;
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
    pub secrets: ServerSecrets,
    /// The configuration the server was started with.
    pub config: Config,
}

impl Deps {
    /// Whether synthetic identity numbers are accepted (only in demo mode).
    pub fn synthetic_policy(&self) -> SyntheticPolicy {
        if self.config.demo {
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

/// Cheaply clonable handle to [`Deps`] for axum's `State`.
#[derive(Clone)]
pub struct AppState(Arc<Deps>);

impl AppState {
    /// Wraps the dependencies.
    pub fn new(deps: Deps) -> Self {
        Self(Arc::new(deps))
    }
}

impl Deref for AppState {
    type Target = Deps;

    fn deref(&self) -> &Deps {
        &self.0
    }
}
