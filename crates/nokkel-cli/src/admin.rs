//! `nokkel admin`: operator tasks against the configured store.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use nokkel_core::clock::{Clock, SystemClock};
use nokkel_core::random::OsRandom;
use nokkel_server::services::keys;
use nokkel_server::services::oidc::{register_client, ClientRegistration};

use crate::serve::{self, ServeArgs};

/// Admin subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// The population register.
    #[command(subcommand)]
    Population(PopulationCommand),
    /// OpenID Connect clients (relying parties).
    #[command(subcommand)]
    Client(ClientCommand),
    /// The server's ID-token signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

/// Client subcommands.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a relying party. Prints the client secret once; only a keyed hash is kept.
    Add {
        /// The client_id (3–64 characters of A-Z a-z 0-9 - _ .).
        #[arg(long)]
        id: String,
        /// The name citizens see on the login page and in the app ("Skatteetaten").
        #[arg(long)]
        name: String,
        /// Redirect URIs, matched exactly (https; http only on loopback).
        #[arg(long = "redirect-uri", num_args = 1.., required_unless_present = "loopback_any_port")]
        redirect_uris: Vec<String>,
        /// Post-logout redirect URIs, matched exactly.
        #[arg(long = "post-logout-redirect-uri", num_args = 1..)]
        post_logout_redirect_uris: Vec<String>,
        /// Scopes beyond openid the client may request (pid: the identity number).
        #[arg(long = "scope", num_args = 1..)]
        scopes: Vec<String>,
        /// Accept any http loopback redirect URI on any port (native apps, RFC 8252 §7.3).
        #[arg(long)]
        loopback_any_port: bool,
        /// The secret (at least 32 characters); generated when left out, which is better.
        #[arg(long)]
        secret: Option<String>,
        #[command(flatten)]
        store: ServeArgs,
    },
}

/// Signing key subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a new ID-token key: published in the JWKS at once, signing from
    /// --activate-after seconds on. Old keys stay published.
    Rotate {
        /// Seconds between publishing the key and signing with it (relying parties cache
        /// the JWKS; give them time to see the new key).
        #[arg(long, default_value_t = nokkel_server::services::keys::DEFAULT_PUBLISH_AHEAD_SECONDS)]
        activate_after: i64,
        #[command(flatten)]
        store: ServeArgs,
    },
    /// List the published ID-token keys and which one signs now.
    List {
        #[command(flatten)]
        store: ServeArgs,
    },
}

/// Population register subcommands.
#[derive(Debug, Subcommand)]
pub enum PopulationCommand {
    /// Import (insert or update) people from a CSV file; all rows or none.
    Import {
        /// The CSV file (columns as in assets/demo/population.csv).
        file: PathBuf,
        #[command(flatten)]
        store: ServeArgs,
    },
    /// Write synthetic people (valid synthetic identity numbers, domestic addresses) as
    /// CSV for `import`: test and benchmark servers in demo mode only.
    Generate {
        /// How many people.
        #[arg(long)]
        count: usize,
        /// The same seed gives the same people.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

/// Opens the configured store and secrets and runs `task` on them.
fn with_store<T>(
    args: &ServeArgs,
    task: impl AsyncFnOnce(
        &nokkel_server::store::Store,
        &nokkel_server::secrets::ServerSecrets,
    ) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let config = serve::config(args)?;
    let key_file = config
        .secret_key_file
        .clone()
        .unwrap_or_else(|| config.data_dir.join("secret.key"));
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let store = nokkel_server::serve::open_store(&config).await?;
        let secrets = nokkel_server::secrets::ServerSecrets::load_or_create(&key_file, &OsRandom)?;
        let result = task(&store, &secrets).await;
        store.close().await;
        result
    })
}

fn report<T>(what: &str, result: anyhow::Result<T>, ok: impl FnOnce(T)) -> ExitCode {
    match result {
        Ok(value) => {
            ok(value);
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("nokkel admin {what}: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Runs an admin subcommand.
pub fn run(cmd: AdminCommand) -> ExitCode {
    match cmd {
        AdminCommand::Client(ClientCommand::Add {
            id,
            name,
            redirect_uris,
            post_logout_redirect_uris,
            scopes,
            loopback_any_port,
            secret,
            store,
        }) => {
            let registration = ClientRegistration {
                id,
                name,
                redirect_uris,
                post_logout_redirect_uris,
                scopes,
                loopback_any_port,
                secret,
            };
            let result = with_store(&store, async |store, secrets| {
                Ok(
                    register_client(store, secrets, &OsRandom, &registration, SystemClock.unix())
                        .await?,
                )
            });
            report("client add", result, |client| {
                println!("client_id: {}", client.id);
                println!("client_secret: {}", client.secret);
                println!("(shown once: Nøkkel keeps only a keyed hash of the secret)");
            })
        }
        AdminCommand::Keys(KeysCommand::Rotate {
            activate_after,
            store,
        }) => {
            let now = SystemClock.unix();
            let result = with_store(&store, async |store, secrets| {
                Ok(
                    keys::rotate_id_token_key(store, secrets, &OsRandom, now, activate_after)
                        .await?,
                )
            });
            report("keys rotate", result, |kid| {
                println!(
                    "new ID-token key {kid}: published now, signs from {} on",
                    when(now + activate_after.max(0))
                );
            })
        }
        AdminCommand::Keys(KeysCommand::List { store }) => {
            let now = SystemClock.unix();
            let result = with_store(&store, async |store, secrets| {
                let ring = keys::KeyRing::new(keys::PURPOSE_ID_TOKEN);
                let published = ring.published(store, secrets, now).await?;
                let signing = ring.signing_key(store, secrets, now).await.ok();
                Ok((published, signing))
            });
            report("keys list", result, |(published, signing)| {
                for key in published {
                    let status = if signing.as_ref().is_some_and(|s| s.kid() == key.key.kid()) {
                        "signing"
                    } else if key.active_from > now {
                        "published, not yet signing"
                    } else {
                        "published (superseded)"
                    };
                    println!(
                        "{}  active from {}  {status}",
                        key.key.kid(),
                        when(key.active_from)
                    );
                }
            })
        }
        AdminCommand::Population(PopulationCommand::Generate { count, seed }) => {
            let mut out = std::io::stdout().lock();
            match crate::synthetic::write_population(count, seed, &mut out) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("nokkel admin population generate: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        AdminCommand::Population(PopulationCommand::Import { file, store }) => {
            let result = (|| -> anyhow::Result<usize> {
                let text = std::fs::read_to_string(&file)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
                let config = serve::config(&store)?;
                let runtime = tokio::runtime::Runtime::new()?;
                runtime.block_on(async {
                    let store = nokkel_server::serve::open_store(&config).await?;
                    let people = nokkel_server::store::people::parse_population_csv(&text)?;
                    store.upsert_people(&people, SystemClock.unix()).await?;
                    store.close().await;
                    Ok(people.len())
                })
            })();
            match result {
                Ok(count) => {
                    println!("imported {count} people from {}", file.display());
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("nokkel admin population import: {err}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// A unix time as RFC 3339 (UTC).
fn when(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}
