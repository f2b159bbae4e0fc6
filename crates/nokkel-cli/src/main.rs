//! The `nokkel` command.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod admin;
mod bench;
mod device;
mod id;
mod serve;
mod synthetic;

/// mimalloc rather than glibc's malloc: a login allocates and frees thousands of small
/// buffers across the worker threads, and glibc's arenas spent about a tenth of the
/// server's CPU on it (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Nøkkel: an open national electronic ID.
#[derive(Debug, Parser)]
#[command(name = "nokkel", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the identity server.
    Serve(serve::ServeArgs),
    /// Operator tasks: the population register.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Work with national identity numbers.
    #[command(subcommand)]
    Id(id::IdCommand),
    /// A software authenticator for testers (demo and test servers only).
    Device(device::DeviceArgs),
    /// Measure complete app-approved logins per second (in process, or --url over HTTP).
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help/version to stdout and usage errors to stderr.
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Admin(cmd) => admin::run(cmd),
        Command::Id(cmd) => id::run(cmd),
        Command::Device(args) => device::run(args),
        Command::Bench(args) => bench::run(args),
    }
}
