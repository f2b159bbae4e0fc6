//! `nokkel admin`: operator tasks against the configured store.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use nokkel_core::clock::{Clock, SystemClock};

use crate::serve::{self, ServeArgs};

/// Admin subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// The population register.
    #[command(subcommand)]
    Population(PopulationCommand),
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
}

/// Runs an admin subcommand.
pub fn run(cmd: AdminCommand) -> ExitCode {
    match cmd {
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
