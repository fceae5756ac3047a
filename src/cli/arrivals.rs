use clap::Args;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ArrivalsArgs {
    /// Scenario name or path.
    pub scenario: String,
}

pub fn run(_args: ArrivalsArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("arrivals: not built yet")
}
