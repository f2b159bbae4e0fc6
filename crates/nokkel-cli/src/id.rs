//! `nokkel id`: identity-number tools for testers.
//!
//! `nokkel id check NUMBER` prints one JSON object and exits 0 if the number is valid, 1 if
//! not. `nokkel id check -` reads one number per line from standard input, prints one JSON
//! line per input and exits 0 (2 if standard input cannot be read or output cannot be
//! written).

use std::io::{self, BufRead, Write};
use std::process::ExitCode;

use clap::Subcommand;
use nokkel_core::id_number::{IdNumber, SyntheticPolicy};
use serde::Serialize;

/// Identity-number subcommands.
#[derive(Debug, Subcommand)]
pub enum IdCommand {
    /// Check an identity number (or `-` to read one per line from standard input).
    ///
    /// Prints {"input","valid","kind","birth_date","rule","error"} as JSON. Exit status:
    /// 0 valid, 1 invalid, 2 usage error. With `-`, one JSON line per input line and exit
    /// status 0.
    Check {
        /// The number to check, or `-` for standard input.
        number: String,
        /// Accept synthetic test numbers (month + 80).
        #[arg(long)]
        allow_synthetic: bool,
    },
}

/// The result of checking one input, in the tool's stable JSON shape.
#[derive(Debug, Serialize)]
struct CheckReport<'a> {
    input: &'a str,
    valid: bool,
    kind: Option<&'static str>,
    birth_date: Option<String>,
    rule: Option<&'static str>,
    error: Option<&'static str>,
}

fn check(input: &str, policy: SyntheticPolicy) -> CheckReport<'_> {
    match IdNumber::parse(input, policy) {
        Ok(number) => CheckReport {
            input,
            valid: true,
            kind: Some(number.kind().as_str()),
            birth_date: number
                .birth_date()
                .map(|d| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())),
            rule: Some(number.rule().as_str()),
            error: None,
        },
        Err(err) => CheckReport {
            input,
            valid: false,
            kind: None,
            birth_date: None,
            rule: None,
            error: Some(err.code()),
        },
    }
}

fn print_report(out: &mut impl Write, report: &CheckReport<'_>) -> io::Result<()> {
    serde_json::to_writer(&mut *out, report)?;
    out.write_all(b"\n")
}

/// Runs an `id` subcommand.
pub fn run(cmd: IdCommand) -> ExitCode {
    match cmd {
        IdCommand::Check {
            number,
            allow_synthetic,
        } => {
            let policy = if allow_synthetic {
                SyntheticPolicy::Accept
            } else {
                SyntheticPolicy::Reject
            };
            let result = if number == "-" {
                check_lines(io::stdin().lock(), &mut io::stdout().lock(), policy)
                    .map(|()| ExitCode::SUCCESS)
            } else {
                let report = check(&number, policy);
                print_report(&mut io::stdout().lock(), &report).map(|()| {
                    if report.valid {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    }
                })
            };
            result.unwrap_or_else(|err| {
                eprintln!("nokkel id check: {err}");
                ExitCode::from(2)
            })
        }
    }
}

fn check_lines(
    input: impl BufRead,
    out: &mut impl Write,
    policy: SyntheticPolicy,
) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    for line in input.split(b'\n') {
        let line = line?;
        // Invalid UTF-8 is reported as a non-digit rather than aborting the whole batch.
        let text = String::from_utf8_lossy(&line);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        print_report(&mut out, &check(text, policy))?;
    }
    out.flush()
}
