//! `nokkel serve`: run the identity server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use nokkel_server::config::{Config, ENV_CONFIG_FILE};

/// Options of `nokkel serve`; each overrides the configuration file and environment.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Directory for the SQLite database and the secret key (default ./nokkel-data).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Demo mode: synthetic test people, the /dev inbox, synthetic numbers accepted.
    #[arg(long)]
    pub demo: bool,
    /// A TOML configuration file (also NOKKEL_CONFIG).
    #[arg(long, env = ENV_CONFIG_FILE)]
    pub config: Option<PathBuf>,
    /// PostgreSQL URL (postgres://…) instead of the embedded SQLite database.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Public base URL, e.g. https://id.example.no (the OpenID Connect issuer).
    #[arg(long)]
    pub public_url: Option<String>,
    /// Serve Prometheus metrics at http://ADDR/metrics (a separate listener; off if unset).
    #[arg(long)]
    pub metrics_listen: Option<SocketAddr>,
}

/// Loads the configuration: file, then `NOKKEL_*` environment, then these flags.
pub fn config(args: &ServeArgs) -> anyhow::Result<Config> {
    let mut config = Config::load(args.config.as_deref(), std::env::vars())?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(dir) = &args.data_dir {
        config.data_dir = dir.clone();
    }
    if args.demo {
        config.demo = true;
    }
    if let Some(url) = &args.database_url {
        config.database_url = Some(url.clone());
    }
    if let Some(url) = &args.public_url {
        config.public_url = Some(url.clone());
    }
    if let Some(address) = args.metrics_listen {
        config.metrics_listen = Some(address);
    }
    Ok(config)
}

/// Runs the server until Ctrl-C or SIGTERM.
pub fn run(args: ServeArgs) -> ExitCode {
    let config = match config(&args) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("nokkel serve: {err}");
            return ExitCode::from(2);
        }
    };
    nokkel_server::serve::init_logging(config.log_format);
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(workers) = config.workers {
        runtime.worker_threads(workers.get());
    }
    let runtime = match runtime.build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("nokkel serve: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(nokkel_server::serve::serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("nokkel serve: {err}");
            ExitCode::FAILURE
        }
    }
}
