//! Command-line definitions: `Cli` + `Command`, one module per subcommand.
//!
//! Exit codes: 0 success, 1 a verdict failed (a target or threshold not met), 2 usage or input
//! error.

mod arrivals;
mod erlang;
mod loadgen;
mod scenarios;
mod serve;
pub(crate) mod simulate;
pub(crate) mod staff;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Exit code for bad usage or bad input (clap uses the same for usage errors).
pub const EXIT_INPUT: u8 = 2;

/// Plan and stress-test public-service contact centers.
#[derive(Debug, Parser)]
#[command(name = "cclab", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List, show and check scenarios (shipped by name, or your own TOML files by path).
    #[command(subcommand)]
    Scenarios(scenarios::ScenariosCommand),
    /// Export a scenario's contact stream (CSV or JSON lines) for use in other tools.
    Arrivals(arrivals::ArrivalsArgs),
    /// Erlang C/A calculator: KPIs for a number of agents and the fewest agents for a target.
    Erlang(erlang::ErlangArgs),
    /// Simulate a scenario against a staffing plan: waits, abandonment, backlogs, FO/BO closure,
    /// with 95% confidence intervals over replications.
    Simulate(simulate::SimulateArgs),
    /// Merge the shard files of a `cclab simulate --shard I/N` sweep into one result.
    Merge(simulate::MergeArgs),
    /// Size the staffing per interval (ISA by simulation, SIPP, lagged SIPP, square-root),
    /// check each by simulation, and say when to run h24.
    Staff(staff::StaffArgs),
    /// Run the reference contact-center API server (case intake, FO/BO workflow, public status).
    Serve(serve::ServeArgs),
    /// Replay a scenario against a contact-center API, open loop, with honest latencies
    /// (`plan` for a dry run, `merge` for shard reports); the reference server by default.
    Loadgen(loadgen::LoadgenArgs),
}

/// Loads a scenario by shipped name or path; the error names file, line:column and field.
pub fn load_scenario(name_or_path: &str) -> anyhow::Result<cclab_scenarios::Scenario> {
    Ok(cclab_scenarios::load(name_or_path)?)
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Scenarios(cmd) => scenarios::run(cmd),
        Command::Arrivals(args) => arrivals::run(args),
        Command::Erlang(args) => erlang::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Merge(args) => simulate::merge(args),
        Command::Staff(args) => staff::run(args),
        Command::Loadgen(args) => loadgen::run(args),
    }
}
