//! The `cclab` command line: one binary for scenarios, simulation, staffing, load replay and the
//! reference server. Each subcommand lives in its own module under `cli/`.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(cli::EXIT_INPUT)
        }
    }
}
