use clap::Subcommand;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum ScenariosCommand {
    /// List the shipped scenarios.
    List,
}

pub fn run(_cmd: ScenariosCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("scenarios: not built yet")
}
