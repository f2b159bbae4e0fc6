//! The application state shared by handlers and services: store, clock, randomness, secrets
//! and settings. Built once at start-up (or per test) and passed explicitly, never global.

use std::ops::Deref;
use std::sync::Arc;

use nokkel_core::clock::Clock;
use nokkel_core::id_number::SyntheticPolicy;
use nokkel_core::random::Random;

use crate::config::Config;
use crate::secrets::ServerSecrets;
use crate::services::events::{self, Events};
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
    /// Wake-ups for waiting browsers and long-polling devices.
    pub events: Arc<Events>,
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
        if config.demo {
            crate::oidc::seed_demo_client(
                &store,
                &secrets,
                random.as_ref(),
                &config.public_url(),
                clock.unix(),
            )
            .await
            .map_err(|e| match e {
                crate::oidc::OidcError::Store(e) => e,
                other => StoreError::Config(format!("demo client: {other}")),
            })?;
        }
        let events = Arc::new(Events::default());
        if let Some(mut listener) = store.event_listener(events::CHANNEL).await? {
            // Other instances' events wake this instance's waiters. The task lives as long
            // as the runtime; sqlx reconnects the listener by itself after a dropped
            // connection (notifications sent meanwhile are lost; waiters re-check on timeout).
            let events = events.clone();
            tokio::spawn(async move {
                loop {
                    match listener.recv().await {
                        Ok(notification) => events.wake(notification.payload()),
                        Err(err) => {
                            tracing::warn!(error = %err, "event listener interrupted");
                            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                        }
                    }
                }
            });
        }
        Ok(Self::new(Deps {
            store,
            clock,
            random,
            secrets,
            config,
            keys,
            events,
        }))
    }
}

impl Deref for AppState {
    type Target = Deps;

    fn deref(&self) -> &Deps {
        &self.0
    }
}
