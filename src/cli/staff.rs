//! `cclab staff`: the fewest agents per interval that hold the service targets through a
//! scenario, by four methods side by side, each checked by simulating it; then the shifts that
//! cover the chosen requirement, written as a plan `cclab simulate --plan` accepts.
//!
//! A thin shell over `cclab_sim::staffing`: it decides which intervals are staffed (ordinary
//! hours, h24, or h24 on the days the demand calls for it), runs the methods, and prints a
//! planner's memo, JSON or CSV.

use super::erlang::{SlDef, parse_duration, parse_share_open, parse_target, service_targets};
use super::simulate::{resolve_plan, seconds};
use anyhow::{Context, bail};
use cclab_scenarios::Scenario;
use cclab_scenarios::calendar::local_midnight;
use cclab_sim::plan::Plan;
use cclab_sim::replicate::RunConfig;
use cclab_sim::staffing::erlang::{SlDefinition, Target};
use cclab_sim::staffing::shifts::{self, Candidate, Day, Mode, Schedule, SolveOptions, Template};
use cclab_sim::staffing::varying::{
    self, Achieved, Demand, Method, Options, Requirement, agent_hours,
};
use cclab_sim::stats::Moments;
use chrono::{Datelike, Timelike};
use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code when the chosen method's staffing, simulated, misses the target in more than 5% of
/// the staffed intervals.
const EXIT_VERDICT: u8 = 1;

/// Ordinary opening hours, local: 09:00-18:00 on working days.
const OPEN_MIN: u32 = 9 * 60;
const CLOSE_MIN: u32 = 18 * 60;

const AFTER_HELP: &str = "\
Examples:
  cclab staff uars-reentry-2011 --target 80/20
      ISA staffing for 80% of calls answered within 20 s, h24 where the demand needs it.
  cclab staff emilia-quake-2012 --method all --interval 15m --format csv > req.csv
      The four methods side by side, per 15-minute interval.
  cclab staff genoa-flood-2011 --quantile 0.9 --max-abandon 5%
      Staff so the targets hold on 90% of demand realisations, not only on the mean.

Methods: sipp (stationary Erlang per interval), lagged (SIPP on the arrival curve shifted by
one handle time), sqrt (square-root staffing, Halfin-Whitt), isa (the iterative staffing
algorithm driven by the simulator: redials, abandonment, written work and voicemail count).
Every method's staffing is simulated on the same seeds (common random numbers) and judged per
interval. Exit status: 0 done; 1 the chosen method misses the target in more than 5% of the
staffed intervals; 2 bad input.";

/// Size the staffing of a scenario per interval and check it by simulation.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct StaffArgs {
    /// A shipped scenario's name, or the path of a TOML file.
    pub scenario: String,
    /// A staffing-plan TOML file for caller behaviour, handle times and the back office
    /// (default: the scenario's [plan] table); its shifts are replaced by the result.
    #[arg(long)]
    pub plan: Option<PathBuf>,
    /// Service-level target PERCENT/SECONDS: 80/20 means 80% answered within 20 s.
    #[arg(long, value_name = "PCT/SECS", default_value = "80/20", value_parser = parse_target)]
    pub target: (f64, f64),
    /// Which callers the service level counts: offered (abandoned are misses), answered, or
    /// virtual (the wait of an infinitely patient caller).
    #[arg(long, value_enum, value_name = "DEF", default_value_t = SlDef::Offered)]
    pub sl_definition: SlDef,
    /// Also require at most this share of callers to abandon in every interval: 5%.
    #[arg(long, value_name = "SHARE", value_parser = parse_share_open)]
    pub max_abandon: Option<f64>,
    /// Also require the average speed of answer to be at most this in every interval: 30s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub max_asa: Option<f64>,
    /// Staffing interval: 15m, 30m or 60m.
    #[arg(long, default_value = "30m")]
    pub interval: String,
    /// Method: isa, sipp, lagged, sqrt, or all (side by side; the shifts follow isa).
    #[arg(long, value_enum, default_value_t = MethodArg::Isa)]
    pub method: MethodArg,
    /// Which hours are staffed: ordinary (09:00-18:00 on working days), h24 (always), or auto
    /// (ordinary, and h24 on the days whose expected calls outside 09-18 reach
    /// --h24-threshold).
    #[arg(long, value_enum, default_value_t = ShiftsArg::Auto)]
    pub shifts: ShiftsArg,
    /// With --shifts auto: expected calls outside ordinary hours that make a day h24.
    #[arg(long, default_value_t = 24.0, value_name = "CALLS")]
    pub h24_threshold: f64,
    /// Staff for this quantile of demand realisations (0 < Q < 1), e.g. 0.9.
    #[arg(long, value_name = "Q")]
    pub quantile: Option<f64>,
    /// Replications of every simulation (ISA iterations and the checks).
    #[arg(long, default_value_t = 20)]
    pub replications: u64,
    /// Seed (default: the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (the results do not depend on it); default: all cores.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Output format: a planner's memo, JSON (everything), or CSV (one row per interval).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the shift plan as a staffing-plan TOML file (`cclab simulate --plan` reads it).
    #[arg(long, value_name = "PLAN.toml")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub html: crate::report::ReportFlags,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    Isa,
    Sipp,
    Lagged,
    Sqrt,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShiftsArg {
    Ordinary,
    H24,
    Auto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// One method's requirement and what it achieved in simulation.
pub(crate) struct Outcome {
    pub(crate) req: Requirement,
    pub(crate) achieved: Vec<Achieved>,
    pub(crate) judged: usize,
    pub(crate) met: usize,
}

impl Outcome {
    pub(crate) fn share_met(&self) -> f64 {
        if self.judged == 0 {
            1.0
        } else {
            self.met as f64 / self.judged as f64
        }
    }
}

/// Which intervals are staffed, and the days run h24 with their out-of-hours demand.
pub(crate) struct Coverage {
    pub(crate) staffed: Vec<bool>,
    pub(crate) h24_days: Vec<(usize, f64)>,
}

pub fn run(args: StaffArgs) -> anyhow::Result<ExitCode> {
    let s = super::load_scenario(&args.scenario)?;
    let plan = resolve_plan(&s, args.plan.as_ref())?;
    let interval_s = seconds("--interval", &args.interval)?;
    if ![900.0, 1800.0, 3600.0].contains(&interval_s) {
        bail!("--interval must be 15m, 30m or 60m, got {}", args.interval);
    }
    if let Some(q) = args.quantile
        && !(q > 0.0 && q < 1.0)
    {
        bail!("--quantile must be between 0 and 1 (exclusive), e.g. 0.9; got {q}");
    }
    if args.replications == 0 {
        bail!("--replications must be at least 1");
    }
    if !(args.h24_threshold >= 0.0 && args.h24_threshold.is_finite()) {
        bail!("--h24-threshold must be a number of calls >= 0");
    }
    args.html.check(crate::report::staff::CHARTS)?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let targets = targets(&args);
    let threshold_s = args.target.1;
    let run = RunConfig {
        seed: args.seed.unwrap_or(s.seed),
        replications: args.replications,
        first: 0,
        interval_s,
        sl_threshold_s: threshold_s,
        threads,
    };
    let demand = Demand::new(&s, &plan, interval_s, args.quantile);
    let coverage = coverage(&s, &demand, args.shifts, args.h24_threshold);
    let opts = Options {
        targets: targets.clone(),
        staffed: coverage.staffed.clone(),
        run,
        quantile: args.quantile,
        max_iterations: 12,
        max_corrections: 6,
    };
    let methods: Vec<Method> = match args.method {
        MethodArg::Isa => vec![Method::Isa],
        MethodArg::Sipp => vec![Method::Sipp],
        MethodArg::Lagged => vec![Method::Lagged],
        MethodArg::Sqrt => vec![Method::Sqrt],
        MethodArg::All => Method::ALL.to_vec(),
    };
    let mut outcomes = Vec::new();
    for m in methods {
        let req = varying::requirement(&s, &plan, &demand, m, &opts)
            .with_context(|| format!("method {}", m.name()))?;
        let achieved = varying::achieved(&varying::evaluate(&s, &plan, &req.agents, run));
        let (mut judged, mut met) = (0, 0);
        for (i, a) in achieved.iter().enumerate() {
            if coverage.staffed[i]
                && let Some(ok) = a.meets(&targets)
            {
                judged += 1;
                met += usize::from(ok);
            }
        }
        outcomes.push(Outcome {
            req,
            achieved,
            judged,
            met,
        });
    }
    let chosen = outcomes
        .iter()
        .find(|o| o.req.method == Method::Isa)
        .unwrap_or(&outcomes[0]);
    let shifts = shift_plan(&s, &args, &plan, &coverage, &chosen.req.agents, interval_s)?;
    let shift_summary = cclab_sim::simulate(&s, &shifts.plan, run);
    let shift_achieved = varying::achieved(&shift_summary);
    let (mut judged, mut met) = (0, 0);
    for (i, a) in shift_achieved.iter().enumerate() {
        if coverage.staffed[i]
            && let Some(ok) = a.meets(&targets)
        {
            judged += 1;
            met += usize::from(ok);
        }
    }
    let shifts = ShiftOutcome {
        judged,
        met,
        kpis: shift_summary.kpis.clone(),
        achieved: shift_achieved,
        ..shifts
    };
    if let Some(path) = &args.out {
        std::fs::write(path, &shifts.toml)
            .with_context(|| format!("--out {}: cannot write", path.display()))?;
    }
    let memo = Memo {
        args: &args,
        shifts: &shifts,
        s: &s,
        plan: &plan,
        demand: &demand,
        coverage: &coverage,
        outcomes: &outcomes,
        run,
    };
    args.html.emit(
        crate::report::staff::CHARTS,
        |name| memo.chart(name),
        || memo.report(),
    )?;
    let text = match args.format {
        Format::Table => memo.table(),
        Format::Json => serde_json::to_string_pretty(&memo.json())? + "\n",
        Format::Csv => memo.csv(),
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("cannot write")?,
        _ => {}
    }
    Ok(if shifts.share_met() < 0.95 {
        ExitCode::from(EXIT_VERDICT)
    } else {
        ExitCode::SUCCESS
    })
}

fn targets(args: &StaffArgs) -> Vec<Target> {
    service_targets(
        args.target,
        args.sl_definition,
        args.max_asa,
        args.max_abandon,
    )
}

/// The shifts covering the requirement, the plan file that runs them, and what it achieved.
pub(crate) struct ShiftOutcome {
    pub(crate) schedule: Schedule,
    pub(crate) candidates: Vec<Candidate>,
    pub(crate) templates: Vec<Template>,
    pub(crate) days: Vec<Day>,
    /// Intervals of padding before the scenario start (the first day's local midnight).
    pub(crate) pad: usize,
    /// Agents to schedule per interval: the requirement grossed up by shrinkage.
    pub(crate) scheduled_req: Vec<u32>,
    pub(crate) toml: String,
    pub(crate) plan: Plan,
    pub(crate) judged: usize,
    pub(crate) met: usize,
    /// Per interval: what the shift plan achieved in simulation.
    pub(crate) achieved: Vec<Achieved>,
    pub(crate) kpis: Vec<(&'static str, Moments)>,
}

impl ShiftOutcome {
    pub(crate) fn share_met(&self) -> f64 {
        if self.judged == 0 {
            1.0
        } else {
            self.met as f64 / self.judged as f64
        }
    }
}

/// Shift templates, days and the set-covering program over the requirement, then the plan
/// file: the base plan with its shifts replaced by the chosen ones (dated), h24 removed (the
/// h24 days are dated shifts now).
fn shift_plan(
    s: &Scenario,
    args: &StaffArgs,
    base: &Plan,
    coverage: &Coverage,
    agents: &[u32],
    interval_s: f64,
) -> anyhow::Result<ShiftOutcome> {
    let interval_min = (interval_s / 60.0) as u32;
    let tz = &s.calendar.tz;
    let h24: std::collections::HashSet<usize> = coverage.h24_days.iter().map(|x| x.0).collect();
    let step_h = interval_s / 3600.0;
    let first_midnight =
        local_midnight(tz, s.calendar.days[0].date).map_or(0.0, |t| s.calendar.hours_of(t));
    let pad = ((-first_midnight).max(0.0) / step_h).round() as usize;
    let days: Vec<Day> = s
        .calendar
        .days
        .iter()
        .enumerate()
        .map(|(k, d)| {
            let midnight = local_midnight(tz, d.date).map_or(d.start_h, |t| s.calendar.hours_of(t));
            let first = ((midnight / step_h).round() as i64 + pad as i64).max(0) as usize;
            let end = ((d.end_h / step_h).round() as i64 + pad as i64).max(0) as usize;
            Day {
                label: d.date.to_string(),
                first_interval: first,
                intervals: end.saturating_sub(first),
                weekday: d.date.weekday().num_days_from_monday() as u8,
                mode: if h24.contains(&k) {
                    Some(Mode::H24)
                } else if d.working && args.shifts != ShiftsArg::H24 {
                    Some(Mode::Ordinary)
                } else {
                    None
                },
            }
        })
        .collect();
    let mut templates = shifts::ordinary_templates();
    templates.extend(shifts::h24_templates(120));
    let candidates = shifts::expand(&templates, &days, interval_min);
    let gross = 1.0 / (1.0 - base.shrinkage);
    let mut scheduled_req = vec![0u32; pad];
    scheduled_req.extend(
        agents
            .iter()
            .map(|&a| (f64::from(a) * gross - 1e-9).ceil() as u32),
    );
    let schedule = shifts::schedule(&scheduled_req, &candidates, &SolveOptions::default());
    let toml = plan_toml(s, args, base, &schedule, &candidates, &templates, &days)?;
    let plan = Plan::from_toml("generated plan", &toml, s)
        .context("the generated shift plan does not validate (a bug)")?;
    Ok(ShiftOutcome {
        schedule,
        candidates,
        templates,
        days,
        pad,
        scheduled_req,
        toml,
        plan,
        judged: 0,
        met: 0,
        achieved: Vec::new(),
        kpis: Vec::new(),
    })
}

fn clock(min: u32) -> String {
    let m = min % (24 * 60);
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// The base plan's TOML table with the chosen shifts, grouped: one `[[shifts]]` entry per
/// (template, headcount) with the list of dates it runs on.
fn plan_toml(
    s: &Scenario,
    args: &StaffArgs,
    base: &Plan,
    schedule: &Schedule,
    candidates: &[Candidate],
    templates: &[Template],
    days: &[Day],
) -> anyhow::Result<String> {
    let mut table = match &args.plan {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--plan {}: cannot read", path.display()))?;
            text.parse::<toml::Table>()
                .with_context(|| format!("--plan {}", path.display()))?
        }
        None => s.default_plan.clone().unwrap_or_default(),
    };
    table.remove("shifts");
    table.remove("h24");
    table.insert(
        "name".into(),
        toml::Value::String(format!("{} staffed by cclab", base.name)),
    );
    let mut groups: Vec<((usize, u32), Vec<String>)> = Vec::new();
    for (c, n) in schedule.shifts(candidates) {
        let date = days[c.day].label.clone();
        match groups.iter_mut().find(|g| g.0 == (c.template, n)) {
            Some(g) => g.1.push(date),
            None => groups.push(((c.template, n), vec![date])),
        }
    }
    let mut entries = Vec::new();
    for ((t, n), dates) in groups {
        let tpl = &templates[t];
        let end = tpl.start_min + tpl.length_min;
        let mut e = toml::Table::new();
        e.insert("name".into(), tpl.name.clone().into());
        e.insert(
            "dates".into(),
            toml::Value::Array(dates.into_iter().map(toml::Value::String).collect()),
        );
        e.insert("start".into(), clock(tpl.start_min).into());
        e.insert(
            "end".into(),
            if end == 24 * 60 {
                "24:00".to_string()
            } else {
                clock(end)
            }
            .into(),
        );
        e.insert("agents".into(), i64::from(n).into());
        if let Some(b) = &tpl.break_ {
            let mut br = toml::Table::new();
            br.insert("at".into(), clock(tpl.start_min + b.offset_min).into());
            br.insert("length".into(), format!("{}m", b.length_min).into());
            br.insert("agents".into(), i64::from(n).into());
            e.insert("break".into(), toml::Value::Table(br));
        }
        entries.push(toml::Value::Table(e));
    }
    table.insert("shifts".into(), toml::Value::Array(entries));
    let header = format!(
        "# Staffing plan written by `cclab staff {}` (target {}/{}, {} intervals, seed {}).\n# Shifts run on the listed local dates; everything else is the base plan `{}`.\n\n",
        args.scenario,
        args.target.0,
        args.target.1,
        args.interval,
        args.seed.unwrap_or(s.seed),
        base.name
    );
    Ok(header + &toml::to_string(&table)?)
}

/// Local start of interval `i`: (day index, minutes after local midnight).
fn local_start(s: &Scenario, interval_s: f64, i: usize) -> (usize, u32) {
    let h = i as f64 * interval_s / 3600.0;
    let day = s.calendar.day_of(h).unwrap_or(0);
    let t = s.calendar.at(h);
    (day, t.hour() * 60 + t.minute())
}

fn coverage(s: &Scenario, d: &Demand, shifts: ShiftsArg, threshold: f64) -> Coverage {
    let n = d.len();
    let ordinary = |i: usize| {
        let (day, min) = local_start(s, d.interval_s, i);
        s.calendar.days[day].working && (OPEN_MIN..CLOSE_MIN).contains(&min)
    };
    let mut outside = vec![0.0; s.calendar.days.len()];
    for i in 0..n {
        if !ordinary(i) {
            let (day, _) = local_start(s, d.interval_s, i);
            outside[day] += d.rate[i] * d.interval_s;
        }
    }
    let h24_days: Vec<(usize, f64)> = match shifts {
        ShiftsArg::Ordinary => Vec::new(),
        ShiftsArg::H24 => outside.iter().copied().enumerate().collect(),
        ShiftsArg::Auto => outside
            .iter()
            .copied()
            .enumerate()
            .filter(|&(_, calls)| calls >= threshold)
            .collect(),
    };
    let mut is_h24 = vec![false; s.calendar.days.len()];
    for &(day, _) in &h24_days {
        is_h24[day] = true;
    }
    let staffed = (0..n)
        .map(|i| is_h24[local_start(s, d.interval_s, i).0] || ordinary(i))
        .collect();
    Coverage { staffed, h24_days }
}

pub(crate) struct Memo<'a> {
    pub(crate) args: &'a StaffArgs,
    pub(crate) shifts: &'a ShiftOutcome,
    pub(crate) s: &'a Scenario,
    pub(crate) plan: &'a Plan,
    pub(crate) demand: &'a Demand,
    pub(crate) coverage: &'a Coverage,
    pub(crate) outcomes: &'a [Outcome],
    pub(crate) run: RunConfig,
}

fn hm(min: u32) -> String {
    format!("{:02}:{:02}", min / 60, min % 60)
}

fn pct(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * x)
    }
}

impl Memo<'_> {
    /// The outcome the shifts follow: ISA when it ran, else the only method.
    fn chosen(&self) -> &Outcome {
        self.outcomes
            .iter()
            .find(|o| o.req.method == Method::Isa)
            .unwrap_or(&self.outcomes[0])
    }

    fn interval_label(&self, i: usize) -> String {
        let h = i as f64 * self.demand.interval_s / 3600.0;
        self.s.calendar.at(h).format("%Y-%m-%d %H:%M").to_string()
    }

    pub(crate) fn target_text(&self) -> String {
        let (p, t) = self.args.target;
        let mut text = format!(
            "{p}% answered within {t} s ({}-based)",
            SlDefinition::from(self.args.sl_definition).name()
        );
        if let Some(a) = self.args.max_abandon {
            let _ = write!(text, ", at most {} abandoning", pct(a));
        }
        if let Some(a) = self.args.max_asa {
            let _ = write!(text, ", ASA at most {a} s");
        }
        text
    }

    fn table(&self) -> String {
        let mut o = String::new();
        let d = self.demand;
        let _ = writeln!(
            o,
            "Staffing {} for {}\n{}-minute intervals; every staffing simulated with {} replications, seed {}; plan `{}` for caller behaviour.",
            self.s.name,
            self.target_text(),
            d.interval_s / 60.0,
            self.run.replications,
            self.run.seed,
            self.plan.name,
        );
        if let Some(q) = self.args.quantile {
            let _ = writeln!(
                o,
                "Demand at its {q} quantile: ordinary x{:.3}, events x{:.3}.",
                d.factors.0, d.factors.1
            );
        }
        let chosen = self.chosen();
        // Ordinary weeks: the most agents needed 09-18 on working days outside h24.
        let mut ordinary_peak: Vec<u32> = Vec::new();
        let h24: std::collections::HashSet<usize> =
            self.coverage.h24_days.iter().map(|x| x.0).collect();
        let days = self.s.calendar.days.len();
        let mut per_day_max = vec![0u32; days];
        for (i, &a) in chosen.req.agents.iter().enumerate() {
            let (day, _) = local_start(self.s, d.interval_s, i);
            per_day_max[day] = per_day_max[day].max(a);
        }
        for (day, &m) in per_day_max.iter().enumerate() {
            if self.s.calendar.days[day].working && !h24.contains(&day) {
                ordinary_peak.push(m);
            }
        }
        ordinary_peak.sort_unstable();
        let _ = writeln!(o);
        if ordinary_peak.is_empty() {
            let _ = writeln!(o, "Ordinary days: none in this scenario outside h24.");
        } else {
            let median = ordinary_peak[ordinary_peak.len() / 2];
            let most = ordinary_peak[ordinary_peak.len() - 1];
            let _ = writeln!(
                o,
                "Ordinary working days ({}): {median} operators on duty at the busiest interval 09-18 on a typical day, {most} on the busiest.",
                ordinary_peak.len()
            );
        }
        if self.coverage.h24_days.is_empty() {
            let _ = writeln!(o, "No day needs h24 service.");
        } else {
            let _ = writeln!(
                o,
                "h24 service on {} day(s) (expected calls outside 09-18 at least {}):",
                self.coverage.h24_days.len(),
                self.args.h24_threshold
            );
            for &(day, calls) in self.coverage.h24_days.iter().take(12) {
                let date = self.s.calendar.days[day].date;
                // The day's staffing by four-hour blocks.
                let mut blocks = String::new();
                for b in 0..6u32 {
                    let most = chosen
                        .req
                        .agents
                        .iter()
                        .enumerate()
                        .filter(|&(i, _)| {
                            let (dd, min) = local_start(self.s, d.interval_s, i);
                            dd == day && min / 240 == b
                        })
                        .map(|(_, &a)| a)
                        .max()
                        .unwrap_or(0);
                    let _ = write!(blocks, " {}-{} {most:>3} |", hm(b * 240), hm((b + 1) * 240));
                }
                let _ = writeln!(
                    o,
                    "  {date} ({:.0} calls outside 09-18): most on duty per block:{}",
                    calls,
                    blocks.trim_end_matches(" |")
                );
            }
            if self.coverage.h24_days.len() > 12 {
                let _ = writeln!(o, "  ... {} more", self.coverage.h24_days.len() - 12);
            }
        }
        let _ = writeln!(
            o,
            "\nMethods (each staffing simulated, judged per staffed interval with calls):"
        );
        let _ = writeln!(
            o,
            "{:<8} {:>12} {:>16} {:>12} {:>10}",
            "method", "agent-hours", "intervals met", "worst SL", "ISA iter."
        );
        for out in self.outcomes {
            let worst = self.worst(out, 1);
            let worst_sl = worst.first().map_or("-".to_string(), |&(_, sl)| pct(sl));
            let iters = if out.req.method == Method::Isa {
                format!(
                    "{}{} +{}",
                    out.req.iterations,
                    if out.req.converged { "" } else { "*" },
                    out.req.corrections
                )
            } else {
                "-".into()
            };
            let _ = writeln!(
                o,
                "{:<8} {:>12.1} {:>7}/{:<5} {:>3} {:>12} {:>10}",
                out.req.method.name(),
                out.req.agent_hours(d.interval_s),
                out.met,
                out.judged,
                pct(out.share_met()),
                worst_sl,
                iters
            );
        }
        let worst = self.worst(chosen, 5);
        if !worst.is_empty() {
            let _ = writeln!(
                o,
                "\nWorst intervals of {} (simulated service level):",
                chosen.req.method.name()
            );
            for (i, sl) in worst {
                let a = &chosen.achieved[i];
                let _ = writeln!(
                    o,
                    "  {}  agents {:>3}  calls {:>6.1}  SL {:>6}  abandon {:>6}",
                    self.interval_label(i),
                    chosen.req.agents[i],
                    a.offered,
                    pct(sl),
                    pct(a.abandon)
                );
            }
        }
        let _ = writeln!(
            o,
            "\n{} staffing meets the target in {} of staffed intervals.",
            chosen.req.method.name(),
            pct(chosen.share_met())
        );
        self.shift_table(&mut o);
        o
    }

    /// Each day's shifts as text, `09-18 b12:00 x2, 09-13 x1`, by day index.
    pub(crate) fn day_patterns(&self) -> Vec<String> {
        let sh = self.shifts;
        let mut per_day = vec![Vec::new(); sh.days.len()];
        for (c, n) in sh.schedule.shifts(&sh.candidates) {
            per_day[c.day].push(format!("{} x{n}", sh.templates[c.template].name));
        }
        per_day.into_iter().map(|v| v.join(", ")).collect()
    }

    fn shift_table(&self, o: &mut String) {
        let sh = self.shifts;
        let sc = &sh.schedule;
        let required: f64 = agent_hours(&sh.scheduled_req, self.demand.interval_s);
        let _ = writeln!(
            o,
            "\nShift plan (set covering; {}):",
            if sc.optimal {
                "proven optimal".to_string()
            } else {
                format!(
                    "within {:.1} agent-hours of optimal ({:.2}%)",
                    sc.gap,
                    100.0 * sc.gap / sc.objective.max(1e-9)
                )
            }
        );
        let _ = writeln!(
            o,
            "  {:.1} paid agent-hours for a requirement of {:.1} agent-hours scheduled{}.",
            sc.agent_hours,
            required,
            if self.plan.shrinkage > 0.0 {
                format!(" (shrinkage {})", pct(self.plan.shrinkage))
            } else {
                String::new()
            }
        );
        if sc.uncovered.is_empty() {
            let _ = writeln!(o, "  Every interval's requirement is covered.");
        } else {
            let list: Vec<String> = sc
                .uncovered
                .iter()
                .take(6)
                .map(|&(i, short)| {
                    let idx = i.saturating_sub(sh.pad);
                    format!("{} short {short}", self.interval_label(idx))
                })
                .collect();
            let _ = writeln!(
                o,
                "  {} interval(s) cannot be covered by the templates: {}{}",
                sc.uncovered.len(),
                list.join("; "),
                if sc.uncovered.len() > 6 { "; ..." } else { "" }
            );
        }
        let patterns = self.day_patterns();
        let mut counts: Vec<(String, usize)> = Vec::new();
        for (k, day) in sh.days.iter().enumerate() {
            if day.mode == Some(Mode::Ordinary) {
                match counts.iter_mut().find(|c| c.0 == patterns[k]) {
                    Some(c) => c.1 += 1,
                    None => counts.push((patterns[k].clone(), 1)),
                }
            }
        }
        counts.sort_by_key(|c| std::cmp::Reverse(c.1));
        let ordinary_days: usize = counts.iter().map(|c| c.1).sum();
        for (pattern, n) in counts.iter().take(3) {
            let _ = writeln!(
                o,
                "  Ordinary day ({n} of {ordinary_days}): {}",
                if pattern.is_empty() {
                    "no shift"
                } else {
                    pattern
                }
            );
        }
        let h24: Vec<usize> = (0..sh.days.len())
            .filter(|&k| sh.days[k].mode == Some(Mode::H24))
            .collect();
        for &k in h24.iter().take(12) {
            let _ = writeln!(o, "  h24 {}: {}", sh.days[k].label, patterns[k]);
        }
        if h24.len() > 12 {
            let _ = writeln!(o, "  ... {} more h24 days", h24.len() - 12);
        }
        let _ = writeln!(
            o,
            "\nThe shift plan, simulated ({} replications, mean ± 95% CI):",
            self.run.replications
        );
        for (name, m) in &sh.kpis {
            let text = if name.ends_with("_s") {
                format!("{:.1} ± {:.1} s", m.mean(), m.ci95())
            } else {
                format!("{:.2}% ± {:.2}", 100.0 * m.mean(), 100.0 * m.ci95())
            };
            let _ = writeln!(o, "  {name:<18} {text}");
        }
        let verdict = if sh.share_met() >= 0.95 {
            "meets"
        } else {
            "MISSES"
        };
        let _ = writeln!(
            o,
            "The shift plan {verdict} the target in {} of staffed intervals ({}/{}; goal 95%).",
            pct(sh.share_met()),
            sh.met,
            sh.judged
        );
        match &self.args.out {
            Some(p) => {
                let _ = writeln!(
                    o,
                    "Plan written to {} (cclab simulate --plan reads it).",
                    p.display()
                );
            }
            None => {
                let _ = writeln!(o, "Write it as a plan file with --out plan.toml.");
            }
        }
    }

    fn shifts_json(&self) -> Value {
        let sh = self.shifts;
        let sc = &sh.schedule;
        let patterns = self.day_patterns();
        json!({
            "agent_hours": sc.agent_hours,
            "cost": sc.cost,
            "lower_bound": sc.lower_bound,
            "gap": sc.gap,
            "optimal": sc.optimal,
            "uncovered": sc.uncovered.iter().map(|&(i, short)| json!({
                "start": self.interval_label(i.saturating_sub(sh.pad)),
                "short": short,
            })).collect::<Vec<_>>(),
            "days": sh.days.iter().enumerate().map(|(k, d)| json!({
                "date": d.label,
                "mode": match d.mode { Some(Mode::H24) => "h24", Some(Mode::Ordinary) => "ordinary", None => "closed" },
                "shifts": patterns[k],
            })).collect::<Vec<_>>(),
            "shifts": sc.shifts(&sh.candidates).map(|(c, n)| json!({
                "date": sh.days[c.day].label,
                "template": sh.templates[c.template].name,
                "agents": n,
                "paid_hours": c.paid_hours,
            })).collect::<Vec<_>>(),
            "coverage": sc.coverage[sh.pad..].to_vec(),
            "requirement_scheduled": sh.scheduled_req[sh.pad..].to_vec(),
            "simulated": sh.kpis.iter().map(|(k, m)| (k.to_string(), json!({"mean": m.mean(), "ci95": m.ci95()}))).collect::<serde_json::Map<_, _>>(),
            "intervals_judged": sh.judged,
            "intervals_met": sh.met,
            "share_met": sh.share_met(),
            "plan_toml": sh.toml,
        })
    }

    pub(crate) fn sl(&self, a: &Achieved) -> f64 {
        match self.args.sl_definition {
            SlDef::Answered => a.sl_answered,
            _ => a.sl_offered,
        }
    }

    /// The `k` staffed intervals with the lowest simulated service level.
    pub(crate) fn worst(&self, out: &Outcome, k: usize) -> Vec<(usize, f64)> {
        let mut v: Vec<(usize, f64)> = out
            .achieved
            .iter()
            .enumerate()
            .filter(|(i, a)| self.coverage.staffed[*i] && !self.sl(a).is_nan())
            .map(|(i, a)| (i, self.sl(a)))
            .collect();
        v.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        v.truncate(k);
        v
    }

    fn json(&self) -> Value {
        let d = self.demand;
        let methods: Vec<Value> = self
            .outcomes
            .iter()
            .map(|o| {
                json!({
                    "method": o.req.method.name(),
                    "agent_hours": o.req.agent_hours(d.interval_s),
                    "intervals_judged": o.judged,
                    "intervals_met": o.met,
                    "share_met": o.share_met(),
                    "iterations": o.req.iterations,
                    "converged": o.req.converged,
                    "corrections": o.req.corrections,
                    "trace_agent_hours": o.req.trace,
                    "agents": o.req.agents,
                    "achieved": o.achieved,
                })
            })
            .collect();
        json!({
            "scenario": self.s.name,
            "plan": self.plan.name,
            "seed": self.run.seed,
            "replications": self.run.replications,
            "interval_s": d.interval_s,
            "targets": {
                "service_level": self.args.target.0 / 100.0,
                "threshold_s": self.args.target.1,
                "definition": SlDefinition::from(self.args.sl_definition).name(),
                "max_abandon": self.args.max_abandon,
                "max_asa_s": self.args.max_asa,
            },
            "quantile": self.args.quantile,
            "demand_factors": [d.factors.0, d.factors.1],
            "h24_days": self.coverage.h24_days.iter().map(|&(day, calls)| json!({
                "date": self.s.calendar.days[day].date.to_string(),
                "calls_outside_ordinary_hours": calls,
            })).collect::<Vec<_>>(),
            "intervals": (0..d.len()).map(|i| json!({
                "start": self.interval_label(i),
                "staffed": self.coverage.staffed[i],
                "calls_per_hour": d.rate[i] * 3600.0,
                "aht_s": d.aht_s[i],
            })).collect::<Vec<_>>(),
            "methods": methods,
            "shift_plan": self.shifts_json(),
            "agent_hours_total": self.outcomes.iter().map(|o| agent_hours(&o.req.agents, d.interval_s)).collect::<Vec<_>>(),
        })
    }

    fn csv(&self) -> String {
        let mut o = String::from("start,staffed,expected_calls,shift_coverage");
        for out in self.outcomes {
            let m = out.req.method.name();
            let _ = write!(
                o,
                ",{m}_agents,{m}_offered,{m}_sl,{m}_abandon,{m}_asa_s,{m}_meets"
            );
        }
        o.push('\n');
        let d = self.demand;
        for i in 0..d.len() {
            let _ = write!(
                o,
                "{},{},{:.4},{}",
                self.interval_label(i),
                self.coverage.staffed[i],
                d.rate[i] * d.interval_s,
                self.shifts
                    .schedule
                    .coverage
                    .get(i + self.shifts.pad)
                    .copied()
                    .unwrap_or(0)
            );
            for out in self.outcomes {
                let a = &out.achieved[i];
                let meets = match a.meets(&targets(self.args)) {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "",
                };
                let num = |x: f64| {
                    if x.is_nan() {
                        String::new()
                    } else {
                        format!("{x:.4}")
                    }
                };
                let _ = write!(
                    o,
                    ",{},{:.3},{},{},{},{}",
                    out.req.agents[i],
                    a.offered,
                    num(self.sl(a)),
                    num(a.abandon),
                    num(a.asa_s),
                    meets
                );
            }
            o.push('\n');
        }
        o
    }
}
