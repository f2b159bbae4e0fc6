//! The application state shared by handlers and services: store, clock, randomness, secrets
//! and settings. Built once at start-up (or per test) and passed explicitly, never global.

use std::ops::Deref;
use std::sync::Arc;

use nokkel_core::clock::Clock;
use nokkel_core::id_number::SyntheticPolicy;
use nokkel_core::random::Random;

use crate::config::Config;
use crate::secrets::ServerSecrets;
use crate::services::keys::ServerKeys;
use crate::store::{Store, StoreError};

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
    /// The server's signing keys.
    pub keys: ServerKeys,
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

    /// Builds the state: loads (or on first start creates) the signing keys.
    pub async fn build(
        store: Store,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        secrets: ServerSecrets,
        config: Config,
    ) -> Result<Self, StoreError> {
        let keys =
            ServerKeys::load_or_create(&store, &secrets, random.as_ref(), clock.unix()).await?;
        Ok(Self::new(Deps {
            store,
            clock,
            random,
            secrets,
            config,
            keys,
        }))
    }
}

impl Deref for AppState {
    type Target = Deps;

    fn deref(&self) -> &Deps {
        &self.0
    }
}
