//! `nokkel admin`: operator tasks against the configured store.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Subcommand;
use nokkel_core::clock::{Clock, SystemClock};
use nokkel_core::random::OsRandom;
use nokkel_server::services::lifecycle::{self, BlockedBy};
use nokkel_server::services::oidc::{register_client, ClientRegistration};
use nokkel_server::services::outbound::StoreOutbox;
use nokkel_server::services::{delivery, keys, operator};
use nokkel_server::store::{Channel, OutboxFilter, OutboxState};

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
    /// Messages waiting to be sent, sent, or dead-lettered (SMS, e-mail, letters).
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// A person's account, for user support.
    #[command(subcommand)]
    Account(AccountCommand),
    /// A person's devices, for user support.
    #[command(subcommand)]
    Device(DeviceCommand),
}

/// Account subcommands. Changes are audited; contact details are shown masked.
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Show the account, its devices and its (masked) contact details.
    Show {
        /// The national identity number.
        pid: String,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: ServeArgs,
    },
    /// Lift the pause a "this wasn't me" report put on app logins.
    Resume {
        /// The national identity number.
        pid: String,
        #[command(flatten)]
        store: ServeArgs,
    },
    /// Block every login for the person (devices are kept); they are told.
    Block {
        /// The national identity number.
        pid: String,
        #[command(flatten)]
        store: ServeArgs,
    },
    /// Lift any block (support's, a lost-phone block, a "this wasn't me" pause); the
    /// person is told. Devices revoked by a lost-phone block stay revoked.
    Unblock {
        /// The national identity number.
        pid: String,
        #[command(flatten)]
        store: ServeArgs,
    },
}

/// Device subcommands.
#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Revoke a lost or stolen device; its owner is told through the contact register.
    Revoke {
        /// The device id (from `nokkel admin account show`).
        id: String,
        #[command(flatten)]
        store: ServeArgs,
    },
}

/// Outbox subcommands. Bodies are never shown; recipients are masked.
#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// List messages, oldest first.
    List {
        /// Only messages in this state: queued, sent, dead, discarded.
        #[arg(long)]
        state: Option<OutboxState>,
        /// Only messages on this channel: sms, email, letter.
        #[arg(long)]
        channel: Option<Channel>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: ServeArgs,
    },
    /// Show one message.
    Show {
        /// Its id (from `list`).
        id: i64,
        #[command(flatten)]
        store: ServeArgs,
    },
    /// Queue a dead (or discarded) message again, or with --all-dead every dead one; the
    /// running server sends it within its poll interval.
    Retry {
        /// The message's id.
        #[arg(required_unless_present = "all_dead", conflicts_with = "all_dead")]
        id: Option<i64>,
        /// Every dead message (on --channel, if given).
        #[arg(long)]
        all_dead: bool,
        /// With --all-dead: only this channel.
        #[arg(long, requires = "all_dead")]
        channel: Option<Channel>,
        #[command(flatten)]
        store: ServeArgs,
    },
    /// Never send a queued or dead message.
    Discard {
        /// The message's id.
        id: i64,
        #[command(flatten)]
        store: ServeArgs,
    },
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
        &Arc<nokkel_server::secrets::ServerSecrets>,
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
        let secrets = Arc::new(nokkel_server::secrets::ServerSecrets::load_or_create(
            &key_file, &OsRandom,
        )?);
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
        AdminCommand::Outbox(command) => outbox(command),
        AdminCommand::Account(command) => account(command),
        AdminCommand::Device(DeviceCommand::Revoke { id, store }) => {
            let now = SystemClock.unix();
            let result = with_store(&store, async |store, secrets| {
                let outbound = operator_outbound(store, secrets);
                if !operator::revoke_device(store, &outbound, &id, now).await? {
                    anyhow::bail!("no active device {id}");
                }
                Ok(())
            });
            report("device revoke", result, |()| {
                println!("device {id} revoked; its owner is notified");
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

fn account(command: AccountCommand) -> ExitCode {
    match command {
        AccountCommand::Show { pid, json, store } => {
            let result = with_store(&store, async |store, _| {
                operator::account(store, &pid)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("no account for that identity number"))
            });
            report("account show", result, |a| {
                if json {
                    println!("{}", serde_json::to_string(&a).unwrap_or_default());
                    return;
                }
                println!("kind:     {}", a.kind);
                match &a.blocked_reason {
                    Some(reason) => println!("status:   {} ({reason})", a.status),
                    None => println!("status:   {}", a.status),
                }
                println!("created:  {}", when(a.created_at));
                println!("mobile:   {}", a.mobile.as_deref().unwrap_or("-"));
                println!("e-mail:   {}", a.email.as_deref().unwrap_or("-"));
                println!("language: {}", a.lang.as_deref().unwrap_or("-"));
                for d in &a.devices {
                    let state = match d.revoked_at {
                        Some(at) => format!("revoked {}", when(at)),
                        None => "active".to_owned(),
                    };
                    println!(
                        "device {}  {:?} ({})  enrolled {}  {state}",
                        d.id,
                        d.name,
                        d.platform,
                        when(d.created_at)
                    );
                }
            })
        }
        AccountCommand::Resume { pid, store } => {
            let now = SystemClock.unix();
            let result = with_store(&store, async |store, _| {
                if !operator::resume_app_logins(store, &pid, now).await? {
                    anyhow::bail!("app logins for that identity number are not paused by a report");
                }
                Ok(())
            });
            report("account resume", result, |()| {
                println!("app logins resumed");
            })
        }
        AccountCommand::Block { pid, store } => {
            let now = SystemClock.unix();
            let result = with_store(&store, async |store, secrets| {
                let outbound = operator_outbound(store, secrets);
                lifecycle::block(store, &outbound, &pid, BlockedBy::Operator, None, now)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("no account for that identity number"))
            });
            report("account block", result, |_| {
                println!("blocked: no login until `nokkel admin account unblock`; the person is notified");
            })
        }
        AccountCommand::Unblock { pid, store } => {
            let now = SystemClock.unix();
            let result = with_store(&store, async |store, secrets| {
                let outbound = operator_outbound(store, secrets);
                if !lifecycle::unblock(store, &outbound, &pid, now).await? {
                    anyhow::bail!("that identity number has no blocked account");
                }
                Ok(())
            });
            report("account unblock", result, |()| {
                println!("unblocked; the person is notified");
            })
        }
    }
}

fn outbox(command: OutboxCommand) -> ExitCode {
    let now = SystemClock.unix();
    match command {
        OutboxCommand::List {
            state,
            channel,
            limit,
            json,
            store,
        } => {
            let filter = OutboxFilter { state, channel };
            let result = with_store(&store, async |store, _| {
                Ok(delivery::admin::list(store, filter, limit).await?)
            });
            report("outbox list", result, |messages| {
                if json {
                    for message in &messages {
                        println!("{}", serde_json::to_string(message).unwrap_or_default());
                    }
                    return;
                }
                println!(
                    "{:>8}  {:<6}  {:<9}  {:>5}  {:<20}  {:<16}  {:<20}  last error",
                    "id", "chan", "state", "tries", "queued", "recipient", "purpose"
                );
                for m in &messages {
                    println!(
                        "{:>8}  {:<6}  {:<9}  {:>5}  {:<20}  {:<16}  {:<20}  {}",
                        m.id,
                        m.channel.as_str(),
                        m.state.as_str(),
                        m.attempts,
                        when(m.created_at),
                        m.recipient,
                        m.purpose,
                        m.last_error.as_deref().unwrap_or("")
                    );
                }
                println!("{} message(s)", messages.len());
            })
        }
        OutboxCommand::Show { id, store } => {
            let result = with_store(&store, async |store, _| {
                delivery::admin::show(store, id)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("no message {id}"))
            });
            report("outbox show", result, |m| {
                println!("id:              {}", m.id);
                println!("channel:         {}", m.channel);
                println!("state:           {}", m.state);
                println!("recipient:       {}", m.recipient);
                println!("purpose:         {}", m.purpose);
                println!("language:        {}", m.lang);
                println!("tries:           {}", m.attempts);
                println!("idempotency key: {}", m.idempotency_key);
                println!("queued:          {}", when(m.created_at));
                if let Some(next) = m.next_attempt_ms {
                    println!("next try:        {}", when(next / 1000));
                }
                if let Some(sent) = m.sent_at {
                    println!("sent:            {}", when(sent));
                }
                if let Some(error) = &m.last_error {
                    println!("last error:      {error}");
                }
            })
        }
        OutboxCommand::Retry {
            id,
            all_dead,
            channel,
            store,
        } => {
            let which = match (id, all_dead) {
                (Some(id), false) => delivery::admin::Retry::One(id),
                _ => delivery::admin::Retry::AllDead(channel),
            };
            let result = with_store(&store, async |store, _| {
                let count = delivery::admin::retry(store, which, now).await?;
                if count == 0 {
                    if let delivery::admin::Retry::One(id) = which {
                        anyhow::bail!("message {id} is not dead or discarded (see `show {id}`)");
                    }
                }
                Ok(count)
            });
            report("outbox retry", result, |count| {
                println!("{count} message(s) queued again");
            })
        }
        OutboxCommand::Discard { id, store } => {
            let result = with_store(&store, async |store, _| {
                if !delivery::admin::discard(store, id, now).await? {
                    anyhow::bail!("message {id} is not queued or dead (see `show {id}`)");
                }
                Ok(())
            });
            report("outbox discard", result, |()| {
                println!("message {id} discarded: it will not be sent");
            })
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

/// The outbox operator commands queue notices in; the running server's worker sends them.
fn operator_outbound(
    store: &nokkel_server::store::Store,
    secrets: &Arc<nokkel_server::secrets::ServerSecrets>,
) -> StoreOutbox {
    StoreOutbox::new(
        store.clone(),
        secrets.clone(),
        Arc::new(OsRandom),
        Arc::new(SystemClock),
        Arc::new(tokio::sync::Notify::new()),
    )
}
