//! `cclab simulate`: run a scenario against a staffing plan and report what citizens live
//! through, with 95% confidence intervals over replications.

use anyhow::{Context, bail};
use cclab_scenarios::{Channel, RequestType, Scenario};
use cclab_sim::stats::{M, METRICS, Moments, OUTCOMES, Outcome};
use cclab_sim::{Plan, RunConfig, Summary, simulate};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  cclab simulate emilia-quake-2012\n  cclab simulate uars-reentry-2011 --plan my-plan.toml --replications 50 --interval 15m\n  cclab simulate dpc-year-2011-12 --format json --out results/\n\nThe plan is the scenario's own [plan] table unless --plan names a plan file. Service level\nis reported under two named definitions: sl_answered = answered within T / answered, and\nsl_offered = answered within T / (answered + abandoned). ASA is given over served calls and\nover all queued calls (abandoned ones count their wait)."
)]
pub struct SimulateArgs {
    /// A shipped scenario's name, or the path of a TOML file.
    pub scenario: String,
    /// A staffing-plan TOML file (default: the scenario's [plan] table).
    #[arg(long)]
    pub plan: Option<PathBuf>,
    /// Independent replications (each with its own demand and behaviour draws).
    #[arg(long, default_value_t = 20)]
    pub replications: u64,
    /// Seed (default: the scenario's `seed`); replication i uses a stream derived from (seed, i).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Reporting interval: 15m, 30m or 60m.
    #[arg(long, default_value = "30m")]
    pub interval: String,
    /// Service-level threshold T (answered within T).
    #[arg(long, default_value = "20s")]
    pub sl: String,
    /// Worker threads (the results do not depend on it); default: all cores.
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub report: ReportArgs,
    /// Run only shard I (0-based: 0/4 .. 3/4) of the replications and write a shard file
    /// (to --out, else standard output) for `cclab merge`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
}

/// `cclab merge`: combine shard files of one `cclab simulate --shard` sweep.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  for i in 0 1 2 3; do cclab simulate dpc-year-2011-12 --replications 1000 --shard $i/4 --out shards/; done\n  cclab merge shards/shard-*.json --format json > summary.json\n\nThe merged result equals one run of all the replications, bit for bit: sums are kept in\nfixed point and histograms bucket by bucket. See docs/simulate-sharding.md."
)]
pub struct MergeArgs {
    /// Shard files written by `cclab simulate --shard I/N`.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub report: ReportArgs,
}

/// How to report a simulation (shared by `simulate` and `merge`).
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Output format: a human table, JSON (everything) or CSV (one row per interval).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write summary.json and intervals.csv into this directory as well (with --shard: the
    /// shard file shard-I-of-N.json).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Report only from this local date-time (YYYY-MM-DD[THH:MM]): the day table, intervals
    /// and worst intervals are restricted; totals and KPIs cover the whole run, which is always
    /// simulated in full so queues and backlogs carry over into the window.
    #[arg(long)]
    pub from: Option<String>,
    /// Report only up to this local date-time (exclusive).
    #[arg(long)]
    pub to: Option<String>,
    #[command(flatten)]
    pub html: crate::report::simulate::SimReportFlags,
}

/// The part of the horizon to report (`--from/--to`); the whole run is simulated regardless.
#[derive(Debug, Clone)]
pub struct View {
    intervals: std::ops::Range<usize>,
    days: std::ops::Range<usize>,
}

impl View {
    fn new(
        s: &Scenario,
        interval_s: f64,
        from: Option<&str>,
        to: Option<&str>,
    ) -> anyhow::Result<View> {
        let bound = |flag: &str, v: Option<&str>| -> anyhow::Result<Option<f64>> {
            let Some(v) = v else { return Ok(None) };
            let t = super::arrivals::local_time(flag, v, &s.calendar.tz)?;
            if t < s.calendar.start || t > s.calendar.end {
                bail!(
                    "{flag} {v} is outside the scenario ({} to {})",
                    s.calendar.start.naive_local(),
                    s.calendar.end.naive_local()
                );
            }
            Ok(Some(s.calendar.hours_of(t)))
        };
        let from_h = bound("--from", from)?.unwrap_or(0.0);
        let to_h = bound("--to", to)?.unwrap_or(s.calendar.horizon_h());
        if to_h <= from_h {
            bail!("--to must be after --from");
        }
        let step_h = interval_s / 3600.0;
        let horizon_us = (s.calendar.horizon_h() * 3.6e9) as u64;
        let n_intervals = horizon_us.div_ceil((interval_s * 1e6) as u64) as usize;
        let first = (from_h / step_h).floor() as usize;
        let last = ((to_h / step_h).ceil() as usize).min(n_intervals);
        let days = s
            .calendar
            .days
            .iter()
            .enumerate()
            .filter(|(_, d)| d.end_h > from_h && d.start_h < to_h)
            .map(|(i, _)| i);
        let (d0, d1) = (
            days.clone().min().unwrap_or(0),
            days.max().map_or(0, |d| d + 1),
        );
        Ok(View {
            intervals: first..last,
            days: d0..d1,
        })
    }
}

/// What a shard file holds.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct ShardFile {
    /// Format marker and version.
    cclab_simulate_shard: u32,
    /// The scenario as named on the command line (a shipped name or a path).
    scenario: String,
    /// The plan file, or none for the scenario's own plan.
    plan: Option<PathBuf>,
    shard: (u64, u64),
    /// Replications of the whole sweep (this shard runs its share of them).
    total_replications: u64,
    data: cclab_sim::replicate::SummaryData,
}

fn parse_shard(s: &str) -> anyhow::Result<(u64, u64)> {
    let parsed = s
        .split_once('/')
        .and_then(|(i, n)| Some((i.trim().parse::<u64>().ok()?, n.trim().parse::<u64>().ok()?)));
    match parsed {
        Some((i, n)) if n > 0 && i < n => Ok((i, n)),
        _ => bail!("--shard `{s}` must be I/N with 0 <= I < N, e.g. 0/4"),
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// The plan for a scenario: `--plan` or its own `[plan]`.
pub fn resolve_plan(s: &Scenario, plan: Option<&PathBuf>) -> anyhow::Result<Plan> {
    match plan {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--plan {}: cannot read", path.display()))?;
            Ok(Plan::from_toml(&path.display().to_string(), &text, s)?)
        }
        None => match Plan::from_scenario(s) {
            Some(p) => Ok(p?),
            None => bail!(
                "{} has no [plan] table; give a staffing plan with --plan FILE",
                s.source
            ),
        },
    }
}

pub(super) fn seconds(flag: &str, s: &str) -> anyhow::Result<f64> {
    cclab_sim::dist::seconds(s)
        .filter(|x| *x > 0.0)
        .with_context(|| format!("{flag} `{s}` is not a positive duration; write e.g. 20s, 30m"))
}

pub fn run(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    let s = super::load_scenario(&args.scenario)?;
    let plan = resolve_plan(&s, args.plan.as_ref())?;
    let interval_s = seconds("--interval", &args.interval)?;
    if ![900.0, 1800.0, 3600.0].contains(&interval_s) {
        bail!("--interval must be 15m, 30m or 60m, got {}", args.interval);
    }
    let sl_threshold_s = seconds("--sl", &args.sl)?;
    if args.replications == 0 {
        bail!("--replications must be at least 1");
    }
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    // The report window is checked before the run, so a typo costs nothing.
    let view = View::new(
        &s,
        interval_s,
        args.report.from.as_deref(),
        args.report.to.as_deref(),
    )?;
    args.report.html.check()?;
    let cfg = RunConfig {
        seed: args.seed.unwrap_or(s.seed),
        replications: args.replications,
        first: 0,
        interval_s,
        sl_threshold_s,
        threads,
    };
    if let Some(shard) = &args.shard {
        let (i, n) = parse_shard(shard)?;
        if n > args.replications {
            bail!(
                "--shard {shard}: more shards than --replications ({})",
                args.replications
            );
        }
        let sum = simulate(&s, &plan, cfg.shard(i, n));
        let file = ShardFile {
            cclab_simulate_shard: 1,
            scenario: args.scenario.clone(),
            plan: args.plan.clone(),
            shard: (i, n),
            total_replications: args.replications,
            data: sum.to_data(),
        };
        let json = serde_json::to_string(&file)?;
        match &args.report.out {
            Some(dir) => {
                std::fs::create_dir_all(dir).with_context(|| format!("--out {}", dir.display()))?;
                let path = dir.join(format!("shard-{i}-of-{n}.json"));
                std::fs::write(&path, json)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            None => println!("{json}"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let sum = run_with_progress(&s, &plan, cfg);
    report(&args.report, &s, &plan, &sum, &view)
}

/// Runs the replications, with a progress bar on a terminal only.
fn run_with_progress(s: &Scenario, plan: &Plan, cfg: RunConfig) -> Summary {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() || cfg.replications < 2 {
        return simulate(s, plan, cfg);
    }
    let bar = indicatif::ProgressBar::new(cfg.replications);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} replications, eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let sum = cclab_sim::simulate_with_progress(s, plan, cfg, &|done| bar.set_position(done));
    bar.finish_and_clear();
    sum
}

/// Combines shard files and reports like `simulate`.
pub fn merge(args: MergeArgs) -> anyhow::Result<ExitCode> {
    let mut files = Vec::new();
    for path in &args.files {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        let f: ShardFile = serde_json::from_str(&text).with_context(|| {
            format!(
                "{}: not a shard file of `cclab simulate --shard`",
                path.display()
            )
        })?;
        files.push((path.clone(), f));
    }
    let (first_path, first) = &files[0];
    let mut seen = std::collections::BTreeSet::new();
    for (path, f) in &files {
        let c = (&f.data.config, &first.data.config);
        if f.scenario != first.scenario
            || f.plan != first.plan
            || f.shard.1 != first.shard.1
            || f.total_replications != first.total_replications
            || c.0.seed != c.1.seed
            || c.0.interval_s != c.1.interval_s
            || c.0.sl_threshold_s != c.1.sl_threshold_s
        {
            bail!(
                "{} does not belong to the same sweep as {} (scenario, plan, seed, replications, interval, SL threshold and shard count must match)",
                path.display(),
                first_path.display()
            );
        }
        if !seen.insert(f.shard.0) {
            bail!(
                "{}: shard {}/{} is given twice",
                path.display(),
                f.shard.0,
                f.shard.1
            );
        }
    }
    if seen.len() as u64 != first.shard.1 {
        eprintln!(
            "warning: {} of {} shards merged; the result covers only their replications",
            seen.len(),
            first.shard.1
        );
    }
    let s = super::load_scenario(&first.scenario)?;
    let plan = resolve_plan(&s, first.plan.as_ref())?;
    let mut files = files.into_iter();
    let (path, f) = files.next().expect("at least one file");
    let mut sum =
        Summary::from_data(f.data).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    for (path, f) in files {
        let other =
            Summary::from_data(f.data).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if other.intervals.len() != sum.intervals.len() {
            bail!(
                "{}: the interval count differs from the other shards",
                path.display()
            );
        }
        sum.merge(&other);
    }
    let view = View::new(
        &s,
        sum.config.interval_s,
        args.report.from.as_deref(),
        args.report.to.as_deref(),
    )?;
    report(&args.report, &s, &plan, &sum, &view)
}

/// Everything a finished run reports (shared by `simulate` and `merge`): the `--report` and
/// `--chart` files, then the table, JSON or CSV and the `--out` files.
fn report(
    r: &ReportArgs,
    s: &Scenario,
    plan: &Plan,
    sum: &Summary,
    view: &View,
) -> anyhow::Result<ExitCode> {
    write_report(&r.html, s, plan, sum, view)?;
    emit(s, plan, sum, view, r.format, r.out.as_ref())
}

/// The `--report` and `--chart` files, if asked for (see `crate::report`).
fn write_report(
    flags: &crate::report::simulate::SimReportFlags,
    s: &Scenario,
    plan: &Plan,
    sum: &Summary,
    view: &View,
) -> anyhow::Result<()> {
    flags.emit(&crate::report::simulate::SimInput {
        scenario: s,
        plan,
        summary: sum,
        intervals: view.intervals.clone(),
        days: view.days.clone(),
        flags,
    })
}

fn emit(
    s: &Scenario,
    plan: &Plan,
    sum: &Summary,
    view: &View,
    format: Format,
    out_dir: Option<&PathBuf>,
) -> anyhow::Result<ExitCode> {
    if let Some(dir) = out_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("--out {}", dir.display()))?;
        let json = serde_json::to_string_pretty(&to_json(s, plan, sum, view))?;
        std::fs::write(dir.join("summary.json"), json)?;
        let mut f = std::fs::File::create(dir.join("intervals.csv"))?;
        write_csv(&mut f, s, sum, view)?;
    }
    let mut out = std::io::stdout().lock();
    match format {
        Format::Table => write_table(&mut out, s, plan, sum, view)?,
        Format::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&to_json(s, plan, sum, view))?
        )?,
        Format::Csv => write_csv(&mut out, s, sum, view)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { f64::NAN }
}

/// Derived KPIs of one row of mean metrics.
pub(crate) fn derived(m: &[f64; METRICS], interval_s: f64) -> [(&'static str, f64); 7] {
    let g = |x: M| m[x as usize];
    let queued = g(M::Answered) + g(M::Abandoned);
    [
        ("sl_answered", ratio(g(M::AnsweredWithin), g(M::Answered))),
        ("sl_offered", ratio(g(M::AnsweredWithin), queued)),
        ("asa_served_s", ratio(g(M::WaitAnswered), g(M::Answered))),
        (
            "asa_all_s",
            ratio(g(M::WaitAnswered) + g(M::WaitAbandoned), queued),
        ),
        ("abandon_rate", ratio(g(M::Abandoned), queued)),
        ("occupancy", ratio(g(M::Busy), g(M::OnDuty))),
        ("agents_on_duty", g(M::OnDuty) / interval_s),
    ]
}

pub(crate) fn means(row: &[Moments; METRICS]) -> [f64; METRICS] {
    std::array::from_fn(|i| row[i].mean())
}

fn mc(m: &Moments) -> serde_json::Value {
    serde_json::json!({ "mean": m.mean(), "ci95": m.ci95() })
}

fn outcome_json(rows: &[[Moments; OUTCOMES]], names: &[String]) -> serde_json::Value {
    rows.iter()
        .zip(names)
        .map(|(r, n)| {
            let v: serde_json::Map<_, _> = Outcome::ALL
                .iter()
                .map(|o| (o.name().to_string(), mc(&r[*o as usize])))
                .collect();
            (n.clone(), serde_json::Value::Object(v))
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn to_json(s: &Scenario, plan: &Plan, sum: &Summary, view: &View) -> serde_json::Value {
    let cfg = sum.config;
    let interval_row = |i: usize, row: &[Moments; METRICS]| {
        let t = s.calendar.at(i as f64 * cfg.interval_s / 3600.0);
        let mut obj = serde_json::Map::new();
        obj.insert("start".into(), t.to_rfc3339().into());
        for m in M::ALL {
            obj.insert(m.name().into(), mc(&row[m as usize]));
        }
        for (k, v) in derived(&means(row), cfg.interval_s) {
            obj.insert(k.into(), serde_json::json!(v));
        }
        serde_json::Value::Object(obj)
    };
    let pct = |h: &cclab_sim::Histogram<u32>, q: f64| {
        if h.is_empty() {
            f64::NAN
        } else {
            h.value_at_quantile(q) as f64 / 1000.0
        }
    };
    let waits = |h: &cclab_sim::Histogram<u32>| serde_json::json!({ "p50_s": pct(h, 0.5), "p90_s": pct(h, 0.9), "p99_s": pct(h, 0.99), "max_s": h.max() as f64 / 1000.0 });
    let mut events = vec!["ordinary".to_string()];
    events.extend(s.events.iter().map(|e| e.name.clone()));
    serde_json::json!({
        "scenario": s.name,
        "source": s.source,
        "plan": plan.name,
        "seed": cfg.seed,
        "replications": cfg.replications,
        "interval_s": cfg.interval_s,
        "sl_threshold_s": cfg.sl_threshold_s,
        "kpis": sum.kpis.iter().map(|(k, m)| (k.to_string(), mc(m))).collect::<serde_json::Map<_, _>>(),
        "totals": M::ALL.iter().map(|m| (m.name().to_string(), mc(&sum.totals[*m as usize]))).collect::<serde_json::Map<_, _>>(),
        "waits_answered": waits(&sum.waits),
        "outcomes": {
            "by_channel": outcome_json(&sum.by_channel, &Channel::ALL.map(|c| c.name().to_string())),
            "by_type": outcome_json(&sum.by_type, &RequestType::ALL.map(|t| t.name().to_string())),
            "by_event": outcome_json(&sum.by_event, &events),
        },
        "days": sum.days.iter().enumerate().filter(|(d, _)| view.days.contains(d)).map(|(d, row)| {
            let mut v = interval_row(0, row);
            v["start"] = s.calendar.days[d].date.to_string().into();
            v["written_backlog_end"] = mc(&sum.day_end_backlog[d]);
            v["back_office_open_end"] = mc(&sum.day_end_bo[d]);
            v["written_oldest_age_end_h"] = mc(&sum.day_end_backlog_age_h[d]);
            v["waits_answered"] = waits(&sum.day_waits[d]);
            for (k, x) in derived(&means(row), 86_400.0) {
                v[k] = serde_json::json!(x);
            }
            v
        }).collect::<Vec<_>>(),
        "intervals": sum.intervals.iter().enumerate().filter(|(i, _)| view.intervals.contains(i)).map(|(i, row)| {
            let mut v = interval_row(i, row);
            if let Some(h) = &sum.interval_waits[i] {
                v["waits_answered"] = waits(h);
            }
            v
        }).collect::<Vec<_>>(),
    })
}

fn write_csv(w: &mut impl Write, s: &Scenario, sum: &Summary, view: &View) -> std::io::Result<()> {
    let mut header = vec!["start".to_string()];
    for m in M::ALL {
        header.push(m.name().into());
        header.push(format!("{}_ci95", m.name()));
    }
    for (k, _) in derived(&[0.0; METRICS], 1.0) {
        header.push(k.into());
    }
    header.extend(["wait_p50_s", "wait_p90_s", "wait_p99_s", "wait_max_s"].map(String::from));
    writeln!(w, "{}", header.join(","))?;
    for (i, row) in sum
        .intervals
        .iter()
        .enumerate()
        .filter(|(i, _)| view.intervals.contains(i))
    {
        let t = s.calendar.at(i as f64 * sum.config.interval_s / 3600.0);
        let mut cells = vec![t.to_rfc3339()];
        for m in M::ALL {
            cells.push(format!("{:.4}", row[m as usize].mean()));
            cells.push(format!("{:.4}", row[m as usize].ci95()));
        }
        for (_, x) in derived(&means(row), sum.config.interval_s) {
            cells.push(format!("{x:.4}"));
        }
        // Pooled over replications; empty where no call was answered.
        match &sum.interval_waits[i] {
            Some(h) => {
                for q in [0.5, 0.9, 0.99] {
                    cells.push(format!("{:.3}", h.value_at_quantile(q) as f64 / 1000.0));
                }
                cells.push(format!("{:.3}", h.max() as f64 / 1000.0));
            }
            None => cells.extend(std::iter::repeat_n(String::new(), 4)),
        }
        writeln!(w, "{}", cells.join(","))?;
    }
    Ok(())
}

fn pm(m: &Moments, scale: f64, digits: usize) -> String {
    format!(
        "{:.*} ± {:.*}",
        digits,
        m.mean() * scale,
        digits,
        m.ci95() * scale
    )
}

fn write_table(
    w: &mut impl Write,
    s: &Scenario,
    plan: &Plan,
    sum: &Summary,
    view: &View,
) -> std::io::Result<()> {
    let cfg = sum.config;
    writeln!(
        w,
        "{} with plan {} — {} replications, seed {}, SL threshold {} s",
        s.name, plan.name, cfg.replications, cfg.seed, cfg.sl_threshold_s
    )?;
    writeln!(
        w,
        "(mean ± half-width of the 95% confidence interval over replications)\n"
    )?;
    let t = |m: M| &sum.totals[m as usize];
    writeln!(
        w,
        "call attempts {} from {:.0} distinct callers (redials {}), answered {}, abandoned {}, blocked {}, voicemail {}, closed line {}",
        pm(t(M::Offered), 1.0, 0),
        t(M::Offered).mean() - t(M::Redials).mean(),
        pm(t(M::Redials), 1.0, 0),
        pm(t(M::Answered), 1.0, 0),
        pm(t(M::Abandoned), 1.0, 0),
        pm(t(M::Blocked), 1.0, 0),
        pm(t(M::Voicemail), 1.0, 0),
        pm(t(M::Closed), 1.0, 0)
    )?;
    writeln!(
        w,
        "written items in {}, answered {}",
        pm(t(M::WrittenIn), 1.0, 0),
        pm(t(M::WrittenDone), 1.0, 0)
    )?;
    for (k, m) in &sum.kpis {
        let (scale, unit, digits) = if k.ends_with("_s") {
            (1.0, " s", 1)
        } else {
            (100.0, " %", 2)
        };
        writeln!(w, "  {:<20} {}{}", k, pm(m, scale, digits), unit)?;
    }
    if !sum.waits.is_empty() {
        let q = |x: f64| sum.waits.value_at_quantile(x) as f64 / 1000.0;
        writeln!(
            w,
            "  answered-call waits: p50 {:.0} s, p90 {:.0} s, p99 {:.0} s, max {:.0} s",
            q(0.5),
            q(0.9),
            q(0.99),
            sum.waits.max() as f64 / 1000.0
        )?;
    }
    writeln!(w, "\nper day (means):")?;
    writeln!(
        w,
        "  {:<14} {:>8} {:>8} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>7}",
        "date",
        "calls",
        "answered",
        "aband%",
        "SLans%",
        "SLoff%",
        "ASA s",
        "agents",
        "occup%",
        "backlog",
        "BO open"
    )?;
    for (d, row) in sum
        .days
        .iter()
        .enumerate()
        .filter(|(d, _)| view.days.contains(d))
    {
        let m = means(row);
        let k = derived(&m, 86_400.0);
        writeln!(
            w,
            "  {:<14} {:>8.1} {:>8.1} {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>8.1} {:>7.1}",
            s.calendar.days[d].date.format("%Y-%m-%d %a"),
            m[M::Offered as usize],
            m[M::Answered as usize],
            100.0 * k[4].1,
            100.0 * k[0].1,
            100.0 * k[1].1,
            k[2].1,
            k[6].1,
            100.0 * k[5].1,
            sum.day_end_backlog[d].mean(),
            sum.day_end_bo[d].mean()
        )?;
    }
    // The worst intervals: lowest offered-based service level among those with calls.
    let mut rows: Vec<(usize, [f64; METRICS])> = sum
        .intervals
        .iter()
        .map(means)
        .enumerate()
        .filter(|(i, m)| {
            view.intervals.contains(i) && m[M::Answered as usize] + m[M::Abandoned as usize] >= 1.0
        })
        .collect();
    rows.sort_by(|a, b| derived(&a.1, 1.0)[1].1.total_cmp(&derived(&b.1, 1.0)[1].1));
    writeln!(w, "\nworst intervals (lowest offered-based service level):")?;
    for (i, m) in rows.iter().take(10) {
        let k = derived(m, cfg.interval_s);
        writeln!(
            w,
            "  {}  calls {:>6.1}  SLoff {:>5.1}%  aband {:>5.1}%  ASA {:>6.1} s  agents {:>4.1}",
            s.calendar
                .at(*i as f64 * cfg.interval_s / 3600.0)
                .format("%Y-%m-%d %H:%M"),
            m[M::Offered as usize],
            100.0 * k[1].1,
            100.0 * k[4].1,
            k[2].1,
            k[6].1
        )?;
    }
    Ok(())
}
