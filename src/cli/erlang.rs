//! `cclab erlang`: the classic staffing calculator (Erlang C, or Erlang A with abandonment).
//!
//! A thin shell over `cclab_sim::staffing::erlang`: it parses human units, finds the fewest agents
//! meeting the targets, and prints a row per agent count around the answer.

use anyhow::Context;
use cclab_sim::staffing::erlang::{self, Kpis, Queue, SlDefinition, Target};
use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

/// Exit code when `--agents` is given and does not meet the targets.
const EXIT_VERDICT: u8 = 1;

const AFTER_HELP: &str = "\
Examples:
  cclab erlang --calls 100 --per 30m --aht 180s --agents 14
      Erlang C: 100 calls in 30 minutes, 3-minute handle time, 14 agents, against 80/20.
  cclab erlang --calls 2000 --per 1h --aht 3m --patience 2m --target 90/30 --shrinkage 30%
      Erlang A: callers hang up after 2 minutes on average; fewest agents for 90% within 30 s,
      and how many to schedule when 30% of paid time is off the phones.

Durations are a number and a unit: 90s, 15m, 1h. Shares are 30% or 0.3.
Without --patience nobody abandons (Erlang C), which needs more agents than erlangs of load.
Exit status: 0 done; 1 --agents was given and misses a target; 2 bad input.";

/// Size a queue with Erlang C (or Erlang A with --patience) and print a calculator table.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ErlangArgs {
    /// Calls offered in each period (see --per), e.g. 100.
    #[arg(long, value_name = "N", value_parser = parse_calls)]
    pub calls: f64,
    /// Length of the period the calls arrive in: 90s, 15m, 1h.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub per: f64,
    /// Average handle time, talk plus wrap-up: 180s, 3m.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub aht: f64,
    /// Agents on the phones to evaluate; the table also shows the rows around this count.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub agents: Option<u32>,
    /// Mean caller patience (exponential); turns on Erlang A, where callers hang up: 300s, 5m.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub patience: Option<f64>,
    /// Service-level target PERCENT/SECONDS: 80/20 means 80% of calls answered within 20 s.
    #[arg(long, value_name = "PCT/SECS", default_value = "80/20", value_parser = parse_target)]
    pub target: (f64, f64),
    /// Which callers the service level counts (differs only with --patience): answered =
    /// within/answered, offered = within/offered (abandoned count as misses), virtual = the
    /// wait a caller with unlimited patience would see.
    #[arg(long, value_enum, value_name = "DEF", default_value_t = SlDef::Offered)]
    pub sl_definition: SlDef,
    /// Also require the average speed of answer (over served calls) to be at most this: 30s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub max_asa: Option<f64>,
    /// Also require at most this share of callers to abandon (needs --patience): 5%.
    #[arg(long, value_name = "SHARE", value_parser = parse_share_open)]
    pub max_abandon: Option<f64>,
    /// Also require agent occupancy to be at most this share: 85%.
    #[arg(long, value_name = "SHARE", value_parser = parse_share_open)]
    pub max_occupancy: Option<f64>,
    /// Share of paid time off the phones (breaks, training, absence), for the Scheduled column:
    /// 30%.
    #[arg(long, value_name = "SHARE", default_value = "0%", value_parser = parse_shrinkage)]
    pub shrinkage: f64,
    /// Output format: a human table, or one JSON document.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Service-level definition, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SlDef {
    /// Answered within the threshold / answered.
    Answered,
    /// Answered within the threshold / offered.
    Offered,
    /// Wait of a caller with unlimited patience within the threshold.
    Virtual,
}

impl From<SlDef> for SlDefinition {
    fn from(d: SlDef) -> Self {
        match d {
            SlDef::Answered => SlDefinition::AnsweredBased,
            SlDef::Offered => SlDefinition::OfferedBased,
            SlDef::Virtual => SlDefinition::VirtualWait,
        }
    }
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// One JSON document for scripts.
    Json,
}

pub fn run(args: ErlangArgs) -> anyhow::Result<ExitCode> {
    if args.max_abandon.is_some() && args.patience.is_none() {
        anyhow::bail!("--max-abandon needs --patience: without a patience nobody abandons");
    }
    let queue = Queue::new(args.calls / args.per, args.aht, args.patience)
        .context("cannot build the queue from --calls, --per, --aht and --patience")?;
    let targets = targets(&args);
    let fewest = queue
        .fewest_agents(&targets, args.shrinkage)
        .context("cannot find a number of agents meeting the targets")?;
    let asked = match args.agents {
        Some(n) => Some(
            queue
                .kpis(n)
                .with_context(|| format!("cannot evaluate --agents {n}"))?,
        ),
        None => None,
    };
    let rows = rows(&queue, fewest.agents, args.agents)?;
    let report = Report {
        args: &args,
        queue: &queue,
        targets: &targets,
        fewest: fewest.agents,
        rows,
    };
    let text = match args.format {
        Format::Table => report.table(),
        Format::Json => serde_json::to_string_pretty(&report.json())? + "\n",
    };
    // A closed pipe (`| head`) is the reader's choice, not an error.
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("cannot write")?,
        _ => {}
    }
    let missed = asked.is_some_and(|k| !targets.iter().all(|t| t.met_by(&k)));
    Ok(if missed {
        ExitCode::from(EXIT_VERDICT)
    } else {
        ExitCode::SUCCESS
    })
}

fn targets(args: &ErlangArgs) -> Vec<Target> {
    let mut targets = service_targets(
        args.target,
        args.sl_definition,
        args.max_asa,
        args.max_abandon,
    );
    targets.extend(args.max_occupancy.map(Target::MaxOccupancy));
    targets
}

/// The targets of `--target PCT/SECS` under `--sl-definition`, plus `--max-asa` and
/// `--max-abandon` when given (shared by `erlang` and `staff`).
pub(super) fn service_targets(
    (percent, threshold_s): (f64, f64),
    definition: SlDef,
    max_asa: Option<f64>,
    max_abandon: Option<f64>,
) -> Vec<Target> {
    let mut targets = vec![Target::ServiceLevel {
        fraction: percent / 100.0,
        threshold_s,
        definition: definition.into(),
    }];
    targets.extend(max_asa.map(Target::MaxAsa));
    targets.extend(max_abandon.map(Target::MaxAbandon));
    targets
}

/// The agent counts to show: three either side of the answer and two either side of `--agents`,
/// leaving out counts Erlang C cannot evaluate (no more agents than erlangs).
fn rows(queue: &Queue, fewest: u32, asked: Option<u32>) -> anyhow::Result<Vec<Kpis>> {
    let mut counts: Vec<u32> = (fewest.saturating_sub(3)..=fewest.saturating_add(3)).collect();
    if let Some(n) = asked {
        counts.extend(n.saturating_sub(2)..=n.saturating_add(2));
    }
    counts.sort_unstable();
    counts.dedup();
    let stable = |n: &u32| n > &0 && (queue.patience().is_some() || f64::from(*n) > queue.load());
    Ok(counts
        .into_iter()
        .filter(stable)
        .map(|n| queue.kpis(n))
        .collect::<Result<_, _>>()?)
}

struct Report<'a> {
    args: &'a ErlangArgs,
    queue: &'a Queue,
    targets: &'a [Target],
    fewest: u32,
    rows: Vec<Kpis>,
}

impl Report<'_> {
    fn model(&self) -> &'static str {
        if self.queue.patience().is_some() {
            "erlang-a"
        } else {
            "erlang-c"
        }
    }

    fn meets(&self, k: &Kpis) -> bool {
        self.targets.iter().all(|t| t.met_by(k))
    }

    fn table(&self) -> String {
        let a = self.args;
        let (percent, threshold) = a.target;
        let def = SlDefinition::from(a.sl_definition);
        let mut out = String::new();
        let model = match a.patience {
            Some(p) => format!("Erlang A (M/M/c+M), mean patience {}", human(p)),
            None => "Erlang C (M/M/c), no abandonment".to_owned(),
        };
        let _ = writeln!(out, "{model}");
        let _ = writeln!(
            out,
            "{} calls per {}, AHT {}: {:.2} erlangs offered",
            trim(a.calls),
            human(a.per),
            human(a.aht),
            self.queue.load()
        );
        let _ = writeln!(out, "Targets: {}", self.describe_targets());
        let _ = writeln!(out);
        let abandon = a.patience.is_some();
        let mut sl_head = format!("SL {}/{}", trim(percent), trim(threshold));
        if abandon {
            let _ = write!(sl_head, " {}", def.name());
        }
        let _ = write!(
            out,
            "{:>7} {:>9} {:>9} {:>8} {:>8}",
            "Agents", "Scheduled", "Occupancy", "P(wait)", "ASA"
        );
        if abandon {
            let _ = write!(out, " {:>8}", "Abandon");
        }
        let _ = writeln!(out, " {:>w$}", sl_head, w = sl_head.len().max(9));
        for k in &self.rows {
            let _ = write!(
                out,
                "{:>7} {:>9} {:>8.1}% {:>7.1}% {:>7.1}s",
                k.agents,
                erlang::scheduled(k.agents, a.shrinkage),
                100.0 * k.occupancy,
                100.0 * k.p_wait,
                k.asa_served
            );
            if abandon {
                let _ = write!(out, " {:>7.2}%", 100.0 * k.p_abandon);
            }
            let sl = format!("{:.1}%", 100.0 * k.service_level(threshold, def));
            let _ = write!(out, " {:>w$}", sl, w = sl_head.len().max(9));
            let mut marks = Vec::new();
            if k.agents == self.fewest {
                marks.push("fewest meeting the targets");
            }
            if Some(k.agents) == a.agents {
                marks.push(if self.meets(k) {
                    "--agents: meets"
                } else {
                    "--agents: misses"
                });
            }
            if !marks.is_empty() {
                let _ = write!(out, "  <- {}", marks.join("; "));
            }
            let _ = writeln!(out);
        }
        let _ = writeln!(out);
        let scheduled = erlang::scheduled(self.fewest, a.shrinkage);
        let _ = write!(out, "Fewest agents meeting the targets: {}", self.fewest);
        if a.shrinkage > 0.0 {
            let _ = write!(
                out,
                " ({scheduled} scheduled at {:.0}% shrinkage)",
                100.0 * a.shrinkage
            );
        }
        let _ = writeln!(out);
        out
    }

    fn describe_targets(&self) -> String {
        let parts: Vec<String> = self
            .targets
            .iter()
            .map(|t| match *t {
                Target::ServiceLevel {
                    fraction,
                    threshold_s,
                    definition,
                } => format!(
                    "{}% answered within {} ({definition}-based)",
                    trim(100.0 * fraction),
                    human(threshold_s)
                ),
                Target::MaxAsa(s) => format!("ASA <= {}", human(s)),
                Target::MaxAbandon(p) => format!("abandon <= {}%", trim(100.0 * p)),
                Target::MaxOccupancy(p) => format!("occupancy <= {}%", trim(100.0 * p)),
            })
            .collect();
        parts.join(", ")
    }

    fn json(&self) -> Value {
        let a = self.args;
        let (percent, threshold) = a.target;
        let row = |k: &Kpis| {
            let sl: serde_json::Map<String, Value> = SlDefinition::ALL
                .iter()
                .map(|d| (d.name().to_owned(), json!(k.service_level(threshold, *d))))
                .collect();
            json!({
                "agents": k.agents,
                "scheduled": erlang::scheduled(k.agents, a.shrinkage),
                "occupancy": k.occupancy,
                "p_wait": k.p_wait,
                "p_abandon": k.p_abandon,
                "asa_served_s": k.asa_served,
                "mean_wait_all_s": k.mean_wait_all,
                "service_level": sl,
                "meets_targets": self.meets(k),
            })
        };
        json!({
            "model": self.model(),
            "calls": a.calls,
            "per_s": a.per,
            "aht_s": a.aht,
            "patience_s": a.patience,
            "load_erlangs": self.queue.load(),
            "targets": {
                "service_level": {
                    "percent": percent,
                    "threshold_s": threshold,
                    "definition": SlDefinition::from(a.sl_definition).name(),
                },
                "max_asa_s": a.max_asa,
                "max_abandon": a.max_abandon,
                "max_occupancy": a.max_occupancy,
            },
            "shrinkage": a.shrinkage,
            "fewest_agents": self.fewest,
            "fewest_scheduled": erlang::scheduled(self.fewest, a.shrinkage),
            "agents": a.agents,
            "rows": self.rows.iter().map(row).collect::<Vec<_>>(),
        })
    }
}

/// `1800` -> `30m`, `180` -> `3m`, `90` -> `90s`, `7200` -> `2h`.
fn human(seconds: f64) -> String {
    if seconds >= 3600.0 && seconds % 3600.0 == 0.0 {
        format!("{}h", trim(seconds / 3600.0))
    } else if seconds >= 60.0 && seconds % 60.0 == 0.0 {
        format!("{}m", trim(seconds / 60.0))
    } else {
        format!("{}s", trim(seconds))
    }
}

/// A number without a useless `.0`.
fn trim(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

fn number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

fn parse_calls(text: &str) -> Result<f64, String> {
    number(text)
        .filter(|v| *v > 0.0)
        .ok_or_else(|| format!("expected a number of calls > 0, got '{text}'"))
}

/// `90s`, `15m`, `1h` (also `2.5m`) to seconds; the unit is required.
pub(super) fn parse_duration(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let bad = || {
        format!("expected a duration > 0 with a unit s, m or h (e.g. 90s, 15m, 1h), got '{text}'")
    };
    let (num, scale) = if let Some(n) = t.strip_suffix('h') {
        (n, 3600.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else {
        return Err(bad());
    };
    number(num)
        .filter(|v| *v > 0.0)
        .map(|v| v * scale)
        .ok_or_else(bad)
}

/// `30%` or `0.3` to a share in [0, 1].
fn parse_share(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let value = match t.strip_suffix('%') {
        Some(p) => number(p).map(|v| v / 100.0),
        None => number(t),
    };
    value.filter(|v| (0.0..=1.0).contains(v)).ok_or_else(|| {
        format!("expected a share like 30% or 0.3, between 0% and 100%, got '{text}'")
    })
}

/// A share in (0, 1] (a maximum of 0 could never be met).
pub(super) fn parse_share_open(text: &str) -> Result<f64, String> {
    let v = parse_share(text)?;
    if v > 0.0 {
        Ok(v)
    } else {
        Err(format!("expected a share above 0%, got '{text}'"))
    }
}

fn parse_shrinkage(text: &str) -> Result<f64, String> {
    let v = parse_share(text)?;
    if v < 1.0 {
        Ok(v)
    } else {
        Err(format!("expected a shrinkage below 100%, got '{text}'"))
    }
}

/// `80/20`: 80% within 20 s. The seconds may carry a unit (`80/0.5m`), the percent a `%`.
pub(super) fn parse_target(text: &str) -> Result<(f64, f64), String> {
    let bad = || {
        format!(
            "expected PERCENT/SECONDS with 0 < PERCENT < 100 and SECONDS >= 0, like 80/20, got '{text}'"
        )
    };
    let (pct, secs) = text.split_once('/').ok_or_else(bad)?;
    let pct = number(pct.trim().trim_end_matches('%'))
        .filter(|p| *p > 0.0 && *p < 100.0)
        .ok_or_else(bad)?;
    let secs = match number(secs) {
        Some(s) => s,
        None if secs.trim() == "0s" => 0.0,
        None => parse_duration(secs).map_err(|_| bad())?,
    };
    if secs < 0.0 {
        return Err(bad());
    }
    Ok((pct, secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse_duration("90s"), Ok(90.0));
        assert_eq!(parse_duration("15m"), Ok(900.0));
        assert_eq!(parse_duration("1h"), Ok(3600.0));
        assert_eq!(parse_duration("2.5m"), Ok(150.0));
        for bad in ["90", "0s", "-3m", "1d", "m", ""] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("s, m or h"), "{bad}: {err}");
        }
    }

    #[test]
    fn shares_and_targets() {
        assert_eq!(parse_share("30%"), Ok(0.3));
        assert_eq!(parse_share("0.25"), Ok(0.25));
        assert!(parse_share("30").is_err());
        assert!(parse_shrinkage("100%").is_err());
        assert!(parse_share_open("0%").is_err());
        assert_eq!(parse_target("80/20"), Ok((80.0, 20.0)));
        assert_eq!(parse_target("90%/30s"), Ok((90.0, 30.0)));
        assert_eq!(parse_target("80/0"), Ok((80.0, 0.0)));
        for bad in ["80", "100/20", "80/-1", "x/20"] {
            assert!(
                parse_target(bad).unwrap_err().contains("PERCENT/SECONDS"),
                "{bad}"
            );
        }
    }

    #[test]
    fn human_units() {
        assert_eq!(human(1800.0), "30m");
        assert_eq!(human(7200.0), "2h");
        assert_eq!(human(90.0), "90s");
        assert_eq!(human(20.0), "20s");
    }
}
