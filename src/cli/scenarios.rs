//! `cclab scenarios list|show|check`.

use anyhow::Context;
use cclab_scenarios::{Channel, RequestType, Scenario, library};
use clap::Subcommand;
use std::io::Write;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum ScenariosCommand {
    /// List the shipped scenarios with their horizon and expected contacts.
    #[command(after_help = "Example:\n  cclab scenarios list")]
    List,
    /// Show a scenario: days, expected total, the expected daily series with the peak day
    /// marked, channel and request-type mix, and events.
    #[command(
        after_help = "Examples:\n  cclab scenarios show emilia-quake-2012\n  cclab scenarios show my-scenario.toml --format json"
    )]
    Show {
        /// A shipped scenario's name, or the path of a TOML file.
        scenario: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ShowFormat::Table)]
        format: ShowFormat,
    },
    /// Validate a scenario file: exit 0 if it is valid, 2 with the error (file:line:column,
    /// field, what is allowed) if not.
    #[command(after_help = "Example:\n  cclab scenarios check my-scenario.toml")]
    Check {
        /// A shipped scenario's name, or the path of a TOML file.
        scenario: String,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ShowFormat {
    Table,
    Json,
}

pub fn run(cmd: ScenariosCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ScenariosCommand::List => {
            println!(
                "{:<24} {:>10} {:>5} {:>10}  description",
                "name", "start", "days", "expected"
            );
            for name in library::names() {
                let s = cclab_scenarios::load(name)
                    .with_context(|| format!("shipped scenario {name}"))?;
                println!(
                    "{:<24} {:>10} {:>5} {:>10.0}  {}",
                    name,
                    s.calendar.start.format("%Y-%m-%d"),
                    s.calendar.days.len(),
                    s.expected_total(),
                    s.description.as_deref().unwrap_or("")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        ScenariosCommand::Show { scenario, format } => {
            let s = super::load_scenario(&scenario)?;
            match format {
                ShowFormat::Table => print_table(&mut std::io::stdout().lock(), &s)?,
                ShowFormat::Json => {
                    println!("{}", serde_json::to_string_pretty(&summary_json(&s))?)
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ScenariosCommand::Check { scenario } => {
            let s = super::load_scenario(&scenario)?;
            // The default staffing plan, when the scenario carries one, is checked too.
            if let Some(plan) = cclab_sim::Plan::from_scenario(&s) {
                plan?;
            }
            println!(
                "{}: valid; {} days from {}, {} events, {:.0} contacts expected",
                s.source,
                s.calendar.days.len(),
                s.calendar.start.format("%Y-%m-%d %H:%M %Z"),
                s.events.len(),
                s.expected_total()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn pct(x: f64, total: f64) -> f64 {
    if total > 0.0 { 100.0 * x / total } else { 0.0 }
}

fn print_table(w: &mut impl Write, s: &Scenario) -> std::io::Result<()> {
    let total = s.expected_total();
    let days = s.expected_days();
    let peak = s.peak_day(0, days.len() - 1);
    writeln!(w, "{} ({})", s.name, s.source)?;
    if let Some(d) = &s.description {
        writeln!(w, "{d}")?;
    }
    writeln!(
        w,
        "calendar: {} days from {} ({}), {} working days; seed {}",
        days.len(),
        s.calendar.start.format("%Y-%m-%d %H:%M"),
        s.calendar.tz,
        s.calendar.days.iter().filter(|d| d.working).count(),
        s.seed
    )?;
    writeln!(
        w,
        "expected contacts: {total:.0} (baseline {:.0}, events {:.0}); busyness CV {}",
        days.iter().map(|d| d.baseline).sum::<f64>(),
        total - days.iter().map(|d| d.baseline).sum::<f64>(),
        s.busyness_cv
    )?;
    writeln!(w, "\nchannels:")?;
    for (c, x) in Channel::ALL.iter().zip(s.expected_by_channel()) {
        writeln!(w, "  {:<22} {:>9.0} {:>6.2}%", c.name(), x, pct(x, total))?;
    }
    writeln!(w, "request types:")?;
    for (t, x) in RequestType::ALL.iter().zip(s.expected_by_type()) {
        writeln!(w, "  {:<22} {:>9.0} {:>6.2}%", t.name(), x, pct(x, total))?;
    }
    let comp = s.expected_by_component();
    writeln!(w, "events:")?;
    if s.events.is_empty() {
        writeln!(w, "  (none: ordinary demand only)")?;
    }
    for (e, ev) in s.events.iter().enumerate() {
        let from = s.calendar.day_of(ev.start_h).unwrap_or(0);
        let own_peak = (from..days.len())
            .max_by(|&a, &b| days[a].events[e].total_cmp(&days[b].events[e]))
            .unwrap_or(from);
        writeln!(
            w,
            "  {:<22} {:<17} {:>8.0} contacts, from {}, its own peak {} ({:.0}); scale {:.4}",
            ev.name,
            ev.kind.name(),
            comp[e + 1],
            s.calendar.at(ev.start_h).format("%Y-%m-%d %H:%M"),
            s.calendar.days[own_peak].date,
            days[own_peak].events[e],
            ev.scale
        )?;
    }
    writeln!(w, "\nexpected contacts per day (* = peak day):")?;
    writeln!(
        w,
        "  {:<10} {:<3} {:>9} {:>9} {:>9}",
        "date", "day", "total", "baseline", "events"
    )?;
    for (d, day) in s.calendar.days.iter().zip(days) {
        let mark = if std::ptr::eq(day, &days[peak]) {
            " *"
        } else {
            ""
        };
        let kind = if d.working {
            ""
        } else if d.holiday.is_some() {
            "hol"
        } else {
            "we"
        };
        writeln!(
            w,
            "  {} {:<3} {:>9.1} {:>9.1} {:>9.1}{}",
            d.date.format("%Y-%m-%d %a"),
            kind,
            day.total(),
            day.baseline,
            day.total() - day.baseline,
            mark
        )?;
    }
    Ok(())
}

fn summary_json(s: &Scenario) -> serde_json::Value {
    let days = s.expected_days();
    let peak = s.peak_day(0, days.len() - 1);
    let total = s.expected_total();
    let comp = s.expected_by_component();
    serde_json::json!({
        "name": s.name,
        "source": s.source,
        "description": s.description,
        "seed": s.seed,
        "time_zone": s.calendar.tz.to_string(),
        "start": s.calendar.start.to_rfc3339(),
        "days": days.len(),
        "expected_total": total,
        "peak_day": { "date": s.calendar.days[peak].date.to_string(), "expected": days[peak].total() },
        "channels": Channel::ALL.iter().zip(s.expected_by_channel())
            .map(|(c, x)| (c.name().to_string(), serde_json::json!(x))).collect::<serde_json::Map<_, _>>(),
        "types": RequestType::ALL.iter().zip(s.expected_by_type())
            .map(|(t, x)| (t.name().to_string(), serde_json::json!(x))).collect::<serde_json::Map<_, _>>(),
        "events": s.events.iter().enumerate().map(|(e, ev)| serde_json::json!({
            "name": ev.name, "kind": ev.kind.name(), "expected": comp[e + 1], "scale": ev.scale,
            "start": s.calendar.at(ev.start_h).to_rfc3339(),
        })).collect::<Vec<_>>(),
        "daily": s.calendar.days.iter().zip(days).map(|(d, x)| serde_json::json!({
            "date": d.date.to_string(), "working": d.working, "expected": x.total(),
            "baseline": x.baseline, "events": x.events,
        })).collect::<Vec<_>>(),
    })
}
