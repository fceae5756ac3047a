//! `cclab loadgen`: replay a scenario against a contact-center API, open loop, measured honestly.
//!
//! The library (`cclab-loadgen`) plans, dispatches and reports; this module parses the command
//! line, starts the embedded reference server when no `--target` is given (the only place the
//! load generator and the server meet, with the end-to-end tests), and maps results to exit
//! codes.

use anyhow::{Context, bail};
use cclab_loadgen::report::{Reconciliation, ValidityLimits, write_series_csv};
use cclab_loadgen::threshold::Threshold;
use cclab_loadgen::{
    EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK, EXIT_VERDICT, Plan, PlanOptions, Policy, Profile,
    Report, RunOptions, Shard,
};
use cclab_scenarios::Scenario;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use clap::{Args, Subcommand, ValueEnum};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const AFTER_HELP: &str = "\
Examples:
  cclab loadgen uars-reentry-2011 --speedup 1440
      five days of the UARS re-entry in about five minutes against an embedded reference server
  cclab loadgen emilia-quake-2012 --from 2012-05-29 --to 2012-05-29 --speedup 720 --scale 10 \\
      --target http://10.0.0.5:8080 --var operator_token=$TOKEN \\
      --threshold 'intake.p99<250ms' --threshold 'errors<0.5%' --threshold 'dropped==0' --out run.json
  cclab loadgen plan uars-reentry-2011 --speedup 1440 --format rates --interval 10s
  cclab loadgen run uars-reentry-2011 --speedup 1440 --shard 0/4 --start-at 1767225600 --out s0.json
  cclab loadgen merge s0.json s1.json s2.json s3.json --threshold 'p99<1s'

Without --target an in-process reference server (cclab serve) on an ephemeral loopback port with
a temporary database is the target, and the run ends by reconciling: every accepted intake must be
exactly one case on the server.

Exit codes:
  0    success: the run was valid, every threshold held, reconciliation (if any) passed
  1    a verdict failed: a threshold was violated or reconciliation found a mismatch
  2    usage or input error (bad option, scenario, profile, target URL or report file)
  3    invalid run: the generator was the bottleneck (dispatch lateness p99 or drops at the
       in-flight cap above --max-lateness-p99 / --max-dropped); its latencies mean nothing
  130  interrupted by Ctrl-C; the partial report was still written

Report schema: docs/loadgen-report.md. Distributed runs: docs/k8s/loadgen-indexed-job.yaml.";

/// Replay a scenario against a contact-center API (open loop) and report honest latencies.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, after_help = AFTER_HELP)]
pub struct LoadgenArgs {
    #[command(subcommand)]
    pub command: Option<LoadgenCommand>,
    #[command(flatten)]
    pub run: RunArgs,
}

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum LoadgenCommand {
    /// Run a load test (the default when no subcommand is given).
    #[command(after_help = AFTER_HELP)]
    Run(RunArgs),
    /// Dry run: compile the plan and print it (summary, every request as CSV, or planned
    /// requests per interval).
    Plan(PlanArgs),
    /// Merge shard reports into the global report exactly (histograms are added bucket by
    /// bucket), and apply thresholds globally.
    Merge(MergeArgs),
}

/// What to replay: scenario, seed, time and volume, profile, shard.
#[derive(Debug, Clone, Args)]
pub struct PlanSelect {
    /// A shipped scenario's name, or the path of a TOML file (not needed with --rate).
    pub scenario: Option<String>,
    /// Seed of every random stream, arrivals and journeys (default: the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Volume multiplier: 10 replays ten times the contacts, with the same surge shape.
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Time compression: scenario seconds per run second (1440: a day per minute). Arrivals,
    /// think times and deferred follow-ups are all compressed alike.
    #[arg(long, default_value_t = 1.0)]
    pub speedup: f64,
    /// Window start, local scenario time: YYYY-MM-DD[THH:MM[:SS]], or +DURATION after the
    /// scenario start (e.g. +36h).
    #[arg(long)]
    pub from: Option<String>,
    /// Window end (exclusive), same forms; a bare date means the end of that day, so
    /// `--from 2012-05-29 --to 2012-05-29` replays that day.
    #[arg(long)]
    pub to: Option<String>,
    /// Cap on the run's wall-clock length (e.g. 90s, 15m): the window is cut at
    /// duration x speedup.
    #[arg(long, value_parser = duration)]
    pub duration: Option<Duration>,
    /// Take a deterministic, disjoint share of the contacts (those with id mod N = I), whole
    /// journeys: N workers with the same plan replay the whole scenario.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Target profile: `reference` (default, the cclab reference API), `helpdesk` (an example
    /// of another API shape) or the path of a TOML profile.
    #[arg(long, default_value = "reference")]
    pub profile: String,
    /// A profile variable, NAME=VALUE (repeatable): e.g. operator_token=... for the reference
    /// profile's operator steps.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Instead of a scenario, a flat rate of journeys per second (for benchmarks against
    /// other tools); needs --duration.
    #[arg(long)]
    pub rate: Option<f64>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub plan: PlanSelect,
    /// Base URL of the API (http://host:port). Without it, an embedded reference server with
    /// a temporary database is started on a loopback port.
    #[arg(long)]
    pub target: Option<String>,
    /// Request timeout (default: the profile's). A request without a complete answer by then
    /// counts as a timeout.
    #[arg(long, value_parser = duration)]
    pub timeout: Option<Duration>,
    /// Most requests in flight at once (default: no cap). With HTTP/1.1 this also caps the
    /// connections.
    #[arg(long)]
    pub max_in_flight: Option<usize>,
    /// At the in-flight cap: `queue` (the dispatcher waits; lateness shows it) or `drop`
    /// (the request is dropped and counted).
    #[arg(long, value_enum, default_value_t = OnCap::Queue)]
    pub on_cap: OnCap,
    /// A fresh connection pool per citizen (journey) instead of one shared keep-alive pool.
    #[arg(long)]
    pub fresh_connections: bool,
    /// A verdict, e.g. 'intake.p99<250ms', 'errors<0.5%', 'dropped==0' (repeatable); any
    /// violation exits 1. Grammar: [STEP.][latency.|service.|lateness.]METRIC OP VALUE.
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<String>,
    /// The run is invalid (exit 3) if dispatch lateness p99 exceeds this.
    #[arg(long, value_parser = duration, default_value = "5ms")]
    pub max_lateness_p99: Duration,
    /// The run is invalid (exit 3) if more requests than this are dropped at the in-flight cap.
    #[arg(long, default_value_t = 0)]
    pub max_dropped: u64,
    /// Write the JSON report here (schema: docs/loadgen-report.md).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// What to print on standard output at the end: a human summary or the JSON report.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write a per-interval time series (CSV) here.
    #[arg(long)]
    pub timeseries: Option<PathBuf>,
    /// Width of the time-series intervals, run time.
    #[arg(long, value_parser = duration, default_value = "1s")]
    pub interval: Duration,
    /// Common start time of the shards: RFC 3339 or Unix seconds. Every worker sleeps until
    /// then, so N shards replay the plan in step.
    #[arg(long)]
    pub start_at: Option<String>,
    /// After Ctrl-C, how long requests in flight may take before they are cancelled.
    #[arg(long, value_parser = duration, default_value = "5s")]
    pub grace: Duration,
    /// Worker threads of the auxiliary runtime (Ctrl-C, progress, reconciliation; default: one
    /// per core). The dispatcher and every request run on one thread of their own.
    #[arg(long)]
    pub threads: Option<usize>,
    /// The dispatcher sleeps to each deadline on a precise timer (a timerfd on Linux: a few
    /// microseconds late) and waits for answers asleep. With a spin it wakes this long before a
    /// deadline, and waits this long for an answer, polling its sockets in a loop: less
    /// lateness and a higher peak rate on a machine slow to wake a sleeping thread, for more
    /// CPU (up to a whole core).
    #[arg(long, value_parser = duration, default_value = "0s")]
    pub spin: Duration,
    /// Live progress on stderr: `auto` (only on a terminal), `always` or `never`.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
    #[command(flatten)]
    pub html: crate::report::ReportFlags,
    /// Reconcile against an external --target too (its profile's [reconcile] count before and
    /// after the run; needs a target nobody else writes to). Always on for the embedded server.
    #[arg(long)]
    pub reconcile: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub plan: PlanSelect,
    /// `table`: per-step totals and the busiest interval; `csv`: one row per planned request;
    /// `rates`: planned requests per interval of run time, by step (CSV).
    #[arg(long, value_enum, default_value_t = PlanFormat::Table)]
    pub format: PlanFormat,
    /// Interval of `--format rates` and of the table's busiest interval, run time.
    #[arg(long, value_parser = duration, default_value = "60s")]
    pub interval: Duration,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard reports (JSON) of one plan.
    #[arg(required = true)]
    pub reports: Vec<String>,
    /// Verdicts on the merged report (same grammar as `run --threshold`).
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<String>,
    /// Write the merged JSON report here.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Standard output: human summary or JSON.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Accept a merge that lacks some shards (by default all of 0..N must be present).
    #[arg(long)]
    pub allow_partial: bool,
    #[command(flatten)]
    pub html: crate::report::ReportFlags,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OnCap {
    Queue,
    Drop,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlanFormat {
    Table,
    Csv,
    Rates,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProgressMode {
    Auto,
    Always,
    Never,
}

fn duration(s: &str) -> Result<Duration, String> {
    cclab_loadgen::parse_duration(s)
        .ok_or_else(|| format!("expected a duration like 250ms, 90s, 15m, got {s:?}"))
}

pub fn run(args: LoadgenArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        None => run_load(args.run),
        Some(LoadgenCommand::Run(a)) => run_load(a),
        Some(LoadgenCommand::Plan(a)) => run_plan(a),
        Some(LoadgenCommand::Merge(a)) => run_merge(a),
    }
}

fn parse_vars(vars: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    vars.iter()
        .map(|v| {
            v.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .with_context(|| format!("--var expects NAME=VALUE, got {v:?}"))
        })
        .collect()
}

/// Parses a local date or date-time in `tz`; a bare date as `--to` means the next midnight.
fn local_time(flag: &str, s: &str, sc: &Scenario, end_of_day: bool) -> anyhow::Result<u64> {
    let tz: &Tz = &sc.calendar.tz;
    let t: DateTime<Tz> = if let Some(off) = s.strip_prefix('+') {
        let d = cclab_loadgen::parse_duration(off)
            .with_context(|| format!("{flag} `{s}`: expected +DURATION such as +36h"))?;
        sc.calendar.start + chrono::Duration::microseconds(d.as_micros() as i64)
    } else {
        let naive = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok());
        let naive = match naive {
            Some(n) => n,
            None => {
                let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").with_context(|| {
                    format!("{flag} `{s}` is not a date-time: write YYYY-MM-DD[THH:MM[:SS]] or +DURATION")
                })?;
                let d = if end_of_day {
                    d.succ_opt().unwrap_or(d)
                } else {
                    d
                };
                d.and_time(chrono::NaiveTime::MIN)
            }
        };
        tz.from_local_datetime(&naive)
            .earliest()
            .with_context(|| format!("{flag} `{s}` does not exist in {tz}"))?
    };
    if t < sc.calendar.start || t > sc.calendar.end {
        bail!(
            "{flag} {s} is outside the scenario ({} to {})",
            sc.calendar.start.naive_local(),
            sc.calendar.end.naive_local()
        );
    }
    Ok((t - sc.calendar.start).num_microseconds().unwrap_or(0) as u64)
}

/// Compiles the plan and loads the profile.
/// `defaults` fill variables the user did not set; `overrides` replace them.
/// A run streams the plan (bounded memory however long the scenario); a dry run stores it.
fn compile(
    sel: &PlanSelect,
    defaults: &[(String, String)],
    overrides: &[(String, String)],
    streamed: bool,
) -> anyhow::Result<(Plan, Profile)> {
    let mut vars = parse_vars(&sel.vars)?;
    for (k, v) in defaults {
        vars.entry(k.clone()).or_insert_with(|| v.clone());
    }
    for (k, v) in overrides {
        vars.insert(k.clone(), v.clone());
    }
    let profile = Profile::load(&sel.profile, &vars)?;
    let shard = match &sel.shard {
        Some(s) => Shard::parse(s)?,
        None => Shard::WHOLE,
    };
    if let Some(rate) = sel.rate {
        let Some(d) = sel.duration else {
            bail!("--rate needs --duration");
        };
        if sel.scenario.is_some() {
            bail!("give a scenario or --rate, not both");
        }
        let seed = sel.seed.unwrap_or(1);
        let plan = if streamed {
            Plan::flat_streamed(&profile, rate, d, seed, shard)?
        } else {
            Plan::flat(&profile, rate, d, seed, shard)?
        };
        return Ok((plan, profile));
    }
    let Some(name) = &sel.scenario else {
        bail!("which scenario? give a shipped name (see `cclab scenarios list`) or a TOML path");
    };
    let sc = super::load_scenario(name)?;
    let opts = PlanOptions {
        seed: sel.seed.unwrap_or(sc.seed),
        scale: sel.scale,
        speedup: sel.speedup,
        from_us: sel
            .from
            .as_deref()
            .map(|s| local_time("--from", s, &sc, false))
            .transpose()?,
        to_us: sel
            .to
            .as_deref()
            .map(|s| local_time("--to", s, &sc, true))
            .transpose()?,
        duration: sel.duration,
        shard,
    };
    let plan = if streamed {
        Plan::compile_streamed(&sc, &profile, &opts)?
    } else {
        Plan::compile(&sc, &profile, &opts)?
    };
    Ok((plan, profile))
}

/// Placeholder values so that `plan` works without secrets.
fn dry_vars() -> Vec<(String, String)> {
    vec![("operator_token".into(), "dry-run-token-0000".into())]
}

fn run_plan(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let (plan, _profile) = compile(&args.plan, &dry_vars(), &[], false)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.format {
        PlanFormat::Csv => plan.write_csv(&mut out)?,
        PlanFormat::Rates => plan.write_rates_csv(args.interval, &mut out)?,
        PlanFormat::Table => {
            writeln!(
                out,
                "{} (seed {}, scale {}, speedup x{}): {} .. {}, {} contacts, {} requests over {:.1} s of run time",
                plan.scenario,
                plan.seed,
                plan.scale,
                plan.speedup,
                plan.time_of(plan.window_start_us),
                plan.time_of(plan.window_end_us),
                plan.contacts.len(),
                plan.planned(),
                plan.run_length().as_secs_f64()
            )?;
            writeln!(
                out,
                "{:<14} {:>10} {:>14}",
                "step", "planned", "beyond window"
            )?;
            for (i, name) in plan.step_names.iter().enumerate() {
                writeln!(
                    out,
                    "{:<14} {:>10} {:>14}",
                    name, plan.planned_by_step[i], plan.beyond_window_by_step[i]
                )?;
            }
            let rates = plan.rates(args.interval);
            if let Some((i, row)) = rates
                .iter()
                .enumerate()
                .max_by_key(|(_, r)| r.iter().sum::<u64>())
            {
                let secs = args.interval.as_secs_f64();
                let n: u64 = row.iter().sum();
                writeln!(
                    out,
                    "busiest {:.0} s interval: {} requests at run time {:.0} s ({:.1} requests/s)",
                    secs,
                    n,
                    i as f64 * secs,
                    n as f64 / secs
                )?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The in-process reference server: ephemeral port, temporary database, and a runtime of its
/// own, so its blocking database reads never delay the generator's tasks (and the generator's
/// lateness measures the generator).
struct Embedded {
    url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<Result<(), cclab_server::ServerError>>,
    /// Always `Some` until dropped: shut down in the background, since a runtime may not be
    /// dropped (blocking) inside another runtime's task.
    runtime: Option<tokio::runtime::Runtime>,
    _dir: tempfile::TempDir,
}

impl Drop for Embedded {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

fn start_embedded(token: String) -> anyhow::Result<Embedded> {
    use cclab_server::{AppState, Config, OperatorTokens, SqliteOptions, SqliteStore};
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let db = dir.path().join("cases.db");
    let store = SqliteStore::open(&db, SqliteOptions::default())
        .with_context(|| format!("cannot open {}", db.display()))?;
    let tokens = OperatorTokens::from_specs(&[format!("loadgen={token}")])
        .context("embedded operator token")?;
    let state = AppState::new(Arc::new(store), tokens, Config::default());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name("cclab-embedded-server")
        .enable_all()
        .build()
        .context("cannot start the embedded server's runtime")?;
    let std_listener =
        std::net::TcpListener::bind("127.0.0.1:0").context("cannot bind a loopback port")?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = runtime.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(std_listener)
            .map_err(cclab_server::ServerError::Io)?;
        cclab_server::serve(listener, state, async {
            let _ = stopped.await;
        })
        .await
    });
    Ok(Embedded {
        url: format!("http://{addr}"),
        stop,
        handle,
        runtime: Some(runtime),
        _dir: dir,
    })
}

fn parse_start_at(s: &str) -> anyhow::Result<SystemTime> {
    if let Ok(secs) = s.parse::<f64>() {
        return Ok(SystemTime::UNIX_EPOCH + Duration::from_secs_f64(secs.max(0.0)));
    }
    let t = DateTime::parse_from_rfc3339(s)
        .with_context(|| format!("--start-at {s:?}: expected RFC 3339 or Unix seconds"))?;
    Ok(SystemTime::from(t))
}

fn run_load(args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        runtime.worker_threads(n.max(1));
    }
    let runtime = runtime
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_load_async(args))
}

async fn run_load_async(args: RunArgs) -> anyhow::Result<ExitCode> {
    // The embedded server's operator token wins over a --var, so operator steps are
    // authorised. Everything that can fail on input is checked before the server starts.
    let external = args
        .target
        .as_deref()
        .map(cclab_loadgen::dispatch::parse_target)
        .transpose()?;
    let token = external.is_none().then(|| {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        format!(
            "loadgen-{:032x}",
            nanos ^ (u128::from(std::process::id()) << 64)
        )
    });
    let overrides: Vec<(String, String)> = token
        .iter()
        .map(|t| ("operator_token".to_string(), t.clone()))
        .collect();
    let (plan, profile) = compile(&args.plan, &[], &overrides, true)?;
    let steps: Vec<String> = plan.step_names.clone();
    let thresholds = args
        .thresholds
        .iter()
        .map(|t| Threshold::parse(t, &steps))
        .collect::<Result<Vec<_>, _>>()?;
    let start_at = args.start_at.as_deref().map(parse_start_at).transpose()?;
    args.html.check(crate::report::loadgen::CHARTS)?;
    let (target, embedded) = match (external, token) {
        (Some(t), _) => (t, None),
        (None, Some(token)) => {
            let e = start_embedded(token)?;
            (e.url.clone(), Some(e))
        }
        (None, None) => unreachable!("a token is made when there is no target"),
    };
    let progress = match args.progress {
        ProgressMode::Always => true,
        ProgressMode::Never => false,
        ProgressMode::Auto => std::io::stderr().is_terminal(),
    };
    let opts = RunOptions {
        target: target.clone(),
        timeout: args.timeout,
        max_in_flight: args.max_in_flight,
        on_cap: match args.on_cap {
            OnCap::Queue => Policy::Queue,
            OnCap::Drop => Policy::Drop,
        },
        fresh_connections: args.fresh_connections,
        grace: args.grace,
        // The report charts rate and latency over time from the same series.
        interval: (args.timeseries.is_some() || args.html.wanted()).then_some(args.interval),
        start_at,
        spin: args.spin,
        progress,
    };
    let reconcile = profile
        .reconcile
        .clone()
        .filter(|_| embedded.is_some() || args.reconcile);
    let timeout = args.timeout.unwrap_or(profile.timeout);
    let before = match &reconcile {
        Some(r) => Some(
            cclab_loadgen::dispatch::fetch_count(&target, &r.path, &r.pointer, timeout)
                .await
                .map_err(|e| {
                    anyhow::anyhow!("reconciliation: cannot read {}{}: {e}", target, r.path)
                })?,
        ),
        None => None,
    };
    if progress {
        eprintln!(
            "{}: {} requests planned over {:.1} s against {}",
            plan.scenario,
            plan.planned(),
            plan.run_length().as_secs_f64(),
            target
        );
    }
    let stop = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let plan = Arc::new(plan);
    let profile = Arc::new(profile);
    let outcome = cclab_loadgen::run(plan.clone(), profile.clone(), &opts, stop).await?;
    let limits = ValidityLimits {
        max_lateness_p99: args.max_lateness_p99,
        max_dropped: args.max_dropped,
    };
    let mut report = Report::new(&plan, &profile, &opts, &outcome, limits);
    if let (Some(r), Some(before)) = (&reconcile, before) {
        let rec = match cclab_loadgen::dispatch::fetch_count(&target, &r.path, &r.pointer, timeout)
            .await
        {
            Ok(after) => Reconciliation::new(
                &profile.steps[r.step].name,
                before,
                after,
                &report.steps[r.step].counts,
            ),
            Err(e) => Reconciliation {
                step: profile.steps[r.step].name.clone(),
                before,
                after: 0,
                accepted: report.steps[r.step].counts.ok,
                ambiguous: 0,
                pass: false,
                message: format!("cannot read the server's count: {e}"),
            },
        };
        report.reconciliation = Some(rec);
    }
    if let Some(mut e) = embedded {
        let (stop, _) = tokio::sync::oneshot::channel();
        let _ = std::mem::replace(&mut e.stop, stop).send(());
        match tokio::time::timeout(Duration::from_secs(15), &mut e.handle).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(err))) => eprintln!("warning: embedded server: {err:#}"),
            Ok(Err(err)) => eprintln!("warning: embedded server task: {err}"),
            Err(_) => eprintln!("warning: embedded server did not stop in time"),
        }
    }
    if let (Some(path), Some(width)) = (&args.timeseries, outcome.interval) {
        let f = std::fs::File::create(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        write_series_csv(&outcome.intervals, width, std::io::BufWriter::new(f))?;
    }
    let series = outcome.interval.map(|w| (&outcome.intervals[..], w));
    finish(
        report,
        &thresholds,
        args.out.as_deref(),
        args.format,
        html_report(&args.html, series),
    )
}

/// Writes the `--report` and `--chart` files of a finished run (nothing if not asked for).
fn html_report<'a>(
    flags: &'a crate::report::ReportFlags,
    series: Option<(&'a [cclab_loadgen::record::Interval], Duration)>,
) -> impl FnOnce(&Report) -> anyhow::Result<()> + 'a {
    move |run| {
        crate::report::loadgen::emit(flags, &crate::report::loadgen::LoadInput { run, series })
    }
}

/// Applies thresholds, writes and prints the report, and picks the exit code.
fn finish(
    mut report: Report,
    thresholds: &[Threshold],
    out: Option<&std::path::Path>,
    format: Format,
    write_report: impl FnOnce(&Report) -> anyhow::Result<()>,
) -> anyhow::Result<ExitCode> {
    report.thresholds = thresholds.iter().map(|t| t.eval(&report)).collect();
    write_report(&report)?;
    let json = serde_json::to_string_pretty(&report)?;
    if let Some(path) = out {
        std::fs::write(path, &json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let mut stdout = std::io::stdout().lock();
    match format {
        Format::Json => writeln!(stdout, "{json}")?,
        Format::Table => write!(stdout, "{}", report.summary())?,
    }
    stdout.flush()?;
    let code = if report.run.interrupted {
        EXIT_INTERRUPTED
    } else if !report.validity.valid {
        EXIT_INVALID
    } else if report.thresholds.iter().any(|v| !v.pass)
        || report.reconciliation.as_ref().is_some_and(|r| !r.pass)
        || report.totals.check().is_err()
    {
        EXIT_VERDICT
    } else {
        EXIT_OK
    };
    Ok(ExitCode::from(code))
}

fn run_merge(args: MergeArgs) -> anyhow::Result<ExitCode> {
    args.html.check(crate::report::loadgen::CHARTS)?;
    let reports = args
        .reports
        .iter()
        .map(|f| Ok((f.clone(), Report::read(f)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let merged = Report::merge(&reports)?;
    if !merged.complete() && !args.allow_partial {
        bail!(
            "shards {:?} of {} given: some are missing (pass --allow-partial to merge anyway)",
            merged.run.shards,
            merged.run.shard_count
        );
    }
    let thresholds = args
        .thresholds
        .iter()
        .map(|t| {
            Threshold::parse(
                t,
                &merged
                    .steps
                    .iter()
                    .map(|s| s.name.clone())
                    .collect::<Vec<_>>(),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    finish(
        merged,
        &thresholds,
        args.out.as_deref(),
        args.format,
        html_report(&args.html, None),
    )
}
