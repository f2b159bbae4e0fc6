//! Starting and running the server: open and migrate the store, load secrets, seed demo
//! data, assemble the services' dependencies, listen,
//! and shut down gracefully on Ctrl-C or SIGTERM.

use std::sync::Arc;

use nokkel_core::clock::Clock;
use nokkel_core::random::Random;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::config::{Config, LogFormat};
use crate::http::AppState;
use crate::secrets::{SecretsError, ServerSecrets};
use crate::services::audit_writer::AuditWriter;
use crate::services::cache::Caches;
use crate::services::capacity::Capacity;
use crate::services::delivery::email::SmtpSender;
use crate::services::delivery::letters::SpoolSender;
use crate::services::delivery::push::WebPushSender;
use crate::services::delivery::sms::HttpSmsSender;
use crate::services::delivery::{Sender, Worker};
use crate::services::events::{self, Events};
use crate::services::keys::ServerKeys;
use crate::services::outbound::StoreOutbox;
use crate::services::pending::{MemoryPendingLogins, PendingLogins, SqlPendingLogins};
use crate::services::Deps;
use crate::store::{Store, StoreError};

/// Why the server could not start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The store could not be opened, migrated or seeded.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The secret key could not be loaded.
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// The address could not be bound, or serving failed.
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
}

/// Installs the tracing subscriber for the chosen log format. `RUST_LOG` filters.
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Opens the store the configuration names (PostgreSQL URL, or SQLite in the data dir)
/// and applies migrations.
pub async fn open_store(config: &Config) -> Result<Store, StoreError> {
    let store = match &config.database_url {
        Some(url) => Store::open(url).await?,
        None => {
            std::fs::create_dir_all(&config.data_dir).map_err(|e| {
                StoreError::Config(format!(
                    "cannot create data directory {}: {e}",
                    config.data_dir.display()
                ))
            })?;
            Store::sqlite_in_data_dir(&config.data_dir).await?
        }
    };
    store.migrate().await?;
    Ok(store)
}

/// Builds the application state for `config` with the system clock and OS randomness.
pub async fn build_state(config: Config) -> Result<AppState, ServeError> {
    // The one place the real clock and randomness are made (clippy.toml stops others).
    #[allow(clippy::disallowed_types)]
    let random: Arc<dyn Random> = Arc::new(nokkel_core::random::OsRandom);
    #[allow(clippy::disallowed_types)]
    let clock: Arc<dyn Clock> = Arc::new(nokkel_core::clock::SystemClock);
    let store = open_store(&config).await?;
    let key_file = config
        .secret_key_file
        .clone()
        .unwrap_or_else(|| config.data_dir.join("secret.key"));
    let secrets = ServerSecrets::load_or_create(&key_file, random.as_ref())?;
    if config.demo {
        let people = crate::demo::seed(&store, clock.unix()).await?;
        tracing::info!(people, "demo population seeded");
    }
    let deps = assemble(store, clock, random, secrets, config).await?;
    Ok(AppState::new(deps))
}

/// Assembles what the services need: loads (or on first start creates) the signing keys,
/// seeds the demo client in demo mode, and starts the cross-instance event listener.
pub async fn assemble(
    store: Store,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    secrets: ServerSecrets,
    config: Config,
) -> Result<Deps, StoreError> {
    let keys = ServerKeys::load_or_create(&store, &secrets, random.as_ref(), clock.unix()).await?;
    if config.demo {
        crate::services::oidc::seed_demo_client(
            &store,
            &secrets,
            random.as_ref(),
            &config.public_url(),
            clock.unix(),
        )
        .await
        .map_err(|e| match e {
            crate::services::oidc::OidcError::Store(e) => e,
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
    let secrets = Arc::new(secrets);
    let wake = Arc::new(Notify::new());
    let outbound = Arc::new(StoreOutbox::new(
        store.clone(),
        secrets.clone(),
        random.clone(),
        clock.clone(),
        wake.clone(),
    ));
    let mut senders = senders(&config, &clock, &random).map_err(StoreError::Config)?;
    if let Some(push) = &config.push {
        let path = push
            .vapid_key_file
            .clone()
            .unwrap_or_else(|| config.data_dir.join("vapid.key"));
        let key = crate::secrets::load_or_create_key(&path, random.as_ref())
            .map_err(|e| StoreError::Config(e.to_string()))?;
        let sender = WebPushSender::new(
            push,
            &key,
            store.clone(),
            secrets.clone(),
            clock.clone(),
            random.clone(),
        )
        .map_err(StoreError::Config)?;
        tracing::info!(vapid_public_key = %sender.public_key(), "Web Push enabled");
        senders.push(Arc::new(sender));
    }
    if store.backend_name() == "sqlite" {
        // One process serves a SQLite file: a lease left in it is from a process that died.
        let freed = store.release_claims().await?;
        if freed > 0 {
            tracing::info!(freed, "outbox leases of a stopped server freed");
        }
    }
    let delivery = Arc::new(Worker::new(
        store.clone(),
        secrets.clone(),
        clock.clone(),
        random.clone(),
        config.delivery.clone(),
        senders,
        wake,
    ));
    // One SQLite instance serves alone, so what waits for an answer can wait in memory;
    // PostgreSQL instances share it through the tables.
    let pending: Arc<dyn PendingLogins> = match store.backend_name() {
        "sqlite" => Arc::new(MemoryPendingLogins::new(store.clone())),
        _ => Arc::new(SqlPendingLogins::new(store.clone())),
    };
    Ok(Deps {
        audit: AuditWriter::spawn(store.clone()),
        caches: Caches::new(store.backend_name() == "sqlite"),
        capacity: Capacity::new(&config),
        pending,
        store,
        clock,
        random,
        secrets,
        config,
        keys,
        events,
        outbound,
        delivery,
    })
}

/// The senders the configuration names. A channel without one keeps its messages queued
/// (the demo inbox reads them), which outside demo mode is worth a warning.
fn senders(
    config: &Config,
    clock: &Arc<dyn Clock>,
    random: &Arc<dyn Random>,
) -> Result<Vec<Arc<dyn Sender>>, String> {
    let mut senders: Vec<Arc<dyn Sender>> = Vec::new();
    if let Some(sms) = &config.sms {
        senders.push(Arc::new(HttpSmsSender::new(sms, clock.clone())?));
    }
    if let Some(smtp) = &config.smtp {
        senders.push(Arc::new(SmtpSender::new(smtp)?));
    }
    if let Some(letters) = &config.letters {
        senders.push(Arc::new(SpoolSender::new(
            letters,
            &config.public_url(),
            clock.clone(),
            random.clone(),
        )?));
    }
    if !config.demo {
        for (channel, configured) in [
            ("sms", config.sms.is_some()),
            ("smtp", config.smtp.is_some()),
            ("letters", config.letters.is_some()),
        ] {
            if !configured {
                tracing::warn!(
                    section = channel,
                    "no sender configured: these messages stay in the outbox"
                );
            }
        }
    }
    Ok(senders)
}

/// Serves until Ctrl-C or SIGTERM. Prints the URL to open once listening.
pub async fn serve(mut config: Config) -> Result<(), ServeError> {
    let listener = TcpListener::bind(config.listen).await?;
    let local = listener.local_addr()?;
    if config.public_url.is_none() {
        // The address actually bound (port 0 picks a free one); an unspecified address
        // (0.0.0.0) is reachable as loopback from this machine. Deployments set public_url.
        let host = if local.ip().is_unspecified() {
            std::net::IpAddr::from([127, 0, 0, 1])
        } else {
            local.ip()
        };
        config.public_url = Some(format!(
            "http://{}",
            std::net::SocketAddr::new(host, local.port())
        ));
    }
    // Installed before anything records, so no early count is lost.
    crate::metrics::recorder();
    let state = build_state(config).await?;
    let base = state.issuer();
    tracing::info!(
        address = %local,
        backend = state.store.backend_name(),
        demo = state.config.demo,
        workers = tokio::runtime::Handle::current().metrics().num_workers(),
        "listening"
    );
    println!("Nøkkel is running at {base}/");
    if state.config.demo {
        println!("Demo inbox (letters and SMS): {base}/dev/letters");
    }
    let store = state.store.clone();
    let audit = state.audit.clone();
    crate::services::housekeeping::spawn(state.deps());
    crate::services::housekeeping::spawn_checkpoints(state.deps());
    tokio::spawn(state.delivery.clone().run());
    if let Some(address) = state.config.metrics_listen {
        let metrics = TcpListener::bind(address).await?;
        tracing::info!(address = %metrics.local_addr()?, "metrics at /metrics");
        let app = crate::http::metrics::app(state.clone());
        tokio::spawn(async move {
            if let Err(err) = axum::serve(metrics, app).await {
                tracing::error!(error = %err, "metrics listener failed");
            }
        });
    }
    let app = crate::http::app(state);
    // Without TCP_NODELAY a small write that follows an unacknowledged one (the
    // server-sent event after the stream's headers, a body after its headers) waits for
    // the peer's delayed ACK: up to 40 ms on Linux between approval and the browser.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::warn!(error = %err, "TCP_NODELAY could not be set");
        }
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    audit.flush().await;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
