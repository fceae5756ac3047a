//! `cclab arrivals`: export a scenario's contact stream.

use anyhow::{Context, bail};
use cclab_scenarios::{Arrivals, Contact, Scenario};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use clap::Args;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  cclab arrivals dpc-year-2011-12 --seed 1 --format csv > year.csv\n  cclab arrivals emilia-quake-2012 --seed 7 --scale 10 --from 2012-05-29T08:00 --to 2012-05-29T12:00 --format jsonl\n\nCSV columns: id, time (when the center receives it; local, RFC 3339), offset_s (seconds since\nthe scenario start), sent (when the citizen sent it: earlier than time for written channels\nwith an intake delay, such as letters), channel, type, event (empty for ordinary demand)."
)]
pub struct ArrivalsArgs {
    /// A shipped scenario's name, or the path of a TOML file.
    pub scenario: String,
    /// Seed of the random streams (default: the scenario's `seed`). Same seed, same stream.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Multiply every rate by this factor (e.g. 10 for ten times the volume).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub scale: f64,
    /// Only contacts received at or after this local date-time (YYYY-MM-DD[THH:MM[:SS]]).
    #[arg(long)]
    pub from: Option<String>,
    /// Only contacts received before this local date-time (YYYY-MM-DD[THH:MM[:SS]]).
    #[arg(long)]
    pub to: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Csv,
    Jsonl,
}

/// Parses a local date or date-time in the scenario's time zone.
pub(super) fn local_time(flag: &str, s: &str, tz: &Tz) -> anyhow::Result<DateTime<Tz>> {
    let naive = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .map(|d| d.and_time(chrono::NaiveTime::MIN))
        })
        .with_context(|| {
            format!("{flag} `{s}` is not a date-time; write YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]")
        })?;
    tz.from_local_datetime(&naive)
        .earliest()
        .with_context(|| format!("{flag} `{s}` does not exist in {tz}"))
}

/// Microseconds since the scenario start of a `--from`/`--to` flag, checked against the horizon.
fn bound(flag: &str, s: &Option<String>, sc: &Scenario) -> anyhow::Result<Option<u64>> {
    let Some(s) = s else { return Ok(None) };
    let t = local_time(flag, s, &sc.calendar.tz)?;
    if t < sc.calendar.start || t > sc.calendar.end {
        bail!(
            "{flag} {s} is outside the scenario ({} to {})",
            sc.calendar.start.naive_local(),
            sc.calendar.end.naive_local()
        );
    }
    Ok(Some(
        (t - sc.calendar.start).num_microseconds().unwrap_or(0) as u64,
    ))
}

pub fn run(args: ArrivalsArgs) -> anyhow::Result<ExitCode> {
    let sc = super::load_scenario(&args.scenario)?;
    if !(args.scale.is_finite() && args.scale > 0.0) {
        bail!("--scale must be a number > 0, got {}", args.scale);
    }
    let from = bound("--from", &args.from, &sc)?.unwrap_or(0);
    let to = bound("--to", &args.to, &sc)?.unwrap_or(u64::MAX);
    if to <= from {
        bail!("--to must be after --from");
    }
    let seed = args.seed.unwrap_or(sc.seed);
    let sink: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .with_context(|| format!("--output {}: cannot create", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut w = BufWriter::with_capacity(1 << 16, sink);
    if let Format::Csv = args.format {
        writeln!(w, "id,time,offset_s,sent,channel,type,event")?;
    }
    let stream = Arrivals::new(&sc, seed, args.scale)
        .skip_while(|c| c.at_us < from)
        .take_while(|c| c.at_us < to);
    for c in stream {
        write_contact(&mut w, &sc, &c, args.format)?;
    }
    w.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn write_contact(
    w: &mut impl Write,
    sc: &Scenario,
    c: &Contact,
    format: Format,
) -> std::io::Result<()> {
    let at = sc.calendar.start + chrono::Duration::microseconds(c.at_us as i64);
    let sent = sc.calendar.start + chrono::Duration::microseconds(c.sent_us as i64);
    let fmt = |t: DateTime<Tz>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    let event = c.event.map_or("", |e| sc.events[e as usize].name.as_str());
    let offset_s = c.at_us as f64 / 1e6;
    match format {
        Format::Csv => writeln!(
            w,
            "{},{},{:.6},{},{},{},{}",
            c.id,
            fmt(at),
            offset_s,
            fmt(sent),
            c.channel.name(),
            c.rtype.name(),
            event
        ),
        Format::Jsonl => writeln!(
            w,
            "{}",
            serde_json::json!({
                "id": c.id,
                "time": fmt(at),
                "offset_s": offset_s,
                "sent": fmt(sent),
                "channel": c.channel.name(),
                "type": c.rtype.name(),
                "event": c.event.map(|e| sc.events[e as usize].name.as_str()),
            })
        ),
    }
}
