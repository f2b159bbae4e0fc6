//! `nokkel id`: identity-number tools for testers.

use std::process::ExitCode;

use clap::Subcommand;

/// Identity-number subcommands.
#[derive(Debug, Subcommand)]
pub enum IdCommand {
    /// Check an identity number (or `-` to read one per line from standard input).
    Check {
        /// The number to check, or `-` for standard input.
        number: String,
        /// Accept synthetic test numbers (month + 80).
        #[arg(long)]
        allow_synthetic: bool,
    },
}

/// Runs an `id` subcommand.
pub fn run(cmd: IdCommand) -> ExitCode {
    match cmd {
        IdCommand::Check { .. } => ExitCode::from(2),
    }
}
