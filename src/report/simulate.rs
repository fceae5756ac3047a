//! The `cclab simulate` (and `cclab merge`) report: scenario summary, demand with its events,
//! service level, ASA and abandonment against the target, agents, backlogs and the closure
//! split.

use super::{Chart, Report, ReportFlags, Table, XAxis};
use crate::cli::simulate::{derived, means};
use cclab_scenarios::{Channel, Scenario};
use cclab_sim::stats::{M, Moments, OUTCOMES, Outcome};
use cclab_sim::{Plan, Summary};
use clap::Args;
use std::ops::Range;

use super::chart::fmt_num;

/// The report flags of `simulate` and `merge`: the common ones and the targets drawn.
#[derive(Debug, Clone, Args)]
pub struct SimReportFlags {
    #[command(flatten)]
    pub out: ReportFlags,
    /// Service-level target of the report's charts: percent of calls answered within --sl.
    #[arg(long, default_value_t = 80.0, value_name = "PERCENT")]
    pub sl_target: f64,
    /// Abandonment ceiling of the report's charts, in percent (none drawn by default).
    #[arg(long, value_name = "PERCENT")]
    pub max_abandon: Option<f64>,
}

/// The charts of a simulation, for `--chart-of`; the first is the default.
pub const CHARTS: &[(&str, &str)] = &[
    (
        "contacts",
        "call attempts and written items per hour, with events and 95% CI",
    ),
    ("contacts-daily", "contacts per day, with events and 95% CI"),
    (
        "service-level",
        "service level per interval against the target",
    ),
    ("asa", "average speed of answer per interval"),
    ("abandonment", "abandonment per interval"),
    ("agents", "agents on duty and busy per interval"),
    (
        "backlog",
        "written and back-office backlogs at the end of each day",
    ),
    ("closure", "front office / back office / open closure split"),
];

/// What the report reads: the run and the part of it to show (`--from/--to`).
pub struct SimInput<'a> {
    pub scenario: &'a Scenario,
    pub plan: &'a Plan,
    pub summary: &'a Summary,
    pub intervals: Range<usize>,
    pub days: Range<usize>,
    pub flags: &'a SimReportFlags,
}

impl SimReportFlags {
    pub fn check(&self) -> anyhow::Result<()> {
        if !(0.0..=100.0).contains(&self.sl_target) {
            anyhow::bail!(
                "--sl-target must be a percentage from 0 to 100, got {}",
                self.sl_target
            );
        }
        if let Some(a) = self.max_abandon.filter(|a| !(0.0..=100.0).contains(a)) {
            anyhow::bail!("--max-abandon must be a percentage from 0 to 100, got {a}");
        }
        self.out.check(CHARTS)
    }

    /// Writes the `--chart` and `--report` files asked for (nothing otherwise).
    pub fn emit(&self, input: &SimInput<'_>) -> anyhow::Result<()> {
        self.out
            .emit(CHARTS, |name| chart(input, name), || Ok(report(input)))
    }
}

/// A percentage as given: 80 as "80", 92.5 as "92.5".
fn pct(x: f64) -> String {
    fmt_num(x, if x.fract() == 0.0 { 1.0 } else { 0.1 })
}

/// "mean ± half-width" of a quantity, scaled.
fn pm(m: &Moments, scale: f64, res: f64) -> String {
    format!(
        "{} ± {}",
        fmt_num(m.mean() * scale, res),
        fmt_num(m.ci95() * scale, res)
    )
}

impl SimInput<'_> {
    fn interval_h(&self) -> f64 {
        self.summary.config.interval_s / 3600.0
    }

    fn origin(&self) -> XAxis {
        XAxis::Time {
            origin: self.scenario.calendar.start,
        }
    }

    /// Adds the scenario's events (start times) as markers.
    fn with_events(&self, mut c: Chart) -> Chart {
        for e in &self.scenario.events {
            c = c.marker(e.start_h, e.name.clone());
        }
        c
    }

    /// A per-interval series from the derived KPIs (index into `derived`), scaled; at the
    /// interval's middle.
    fn kpi_points(&self, which: &str, scale: f64) -> Vec<(f64, f64)> {
        let s = self.summary;
        let w = s.config.interval_s;
        self.intervals
            .clone()
            .map(|i| {
                let k = derived(&means(&s.intervals[i]), w);
                let v = k
                    .iter()
                    .find(|(n, _)| *n == which)
                    .map_or(f64::NAN, |x| x.1);
                ((i as f64 + 0.5) * self.interval_h(), v * scale)
            })
            .collect()
    }

    /// A per-interval metric per hour, with its 95% band.
    fn rate(&self, m: M) -> WithBand {
        let h = self.interval_h();
        self.intervals
            .clone()
            .map(|i| {
                let x = (i as f64 + 0.5) * h;
                let mo = &self.summary.intervals[i][m as usize];
                let (mean, ci) = (mo.mean() / h, mo.ci95() / h);
                ((x, mean), (x, (mean - ci).max(0.0), mean + ci))
            })
            .unzip()
    }

    /// A per-day metric (day totals, or day-end values) with its band, at each day's middle or
    /// end.
    fn daily(&self, get: impl Fn(usize) -> Moments, at_end: bool) -> WithBand {
        self.days
            .clone()
            .map(|d| {
                let day = &self.scenario.calendar.days[d];
                let x = if at_end {
                    day.end_h
                } else {
                    (day.start_h + day.end_h) / 2.0
                };
                let m = get(d);
                let (mean, ci) = (m.mean(), m.ci95());
                ((x, mean), (x, (mean - ci).max(0.0), mean + ci))
            })
            .unzip()
    }
}

/// A series of means and its 95% band.
type WithBand = (Vec<(f64, f64)>, Vec<(f64, f64, f64)>);

/// One chart of the run by name (one of [`CHARTS`]).
pub fn chart(input: &SimInput<'_>, name: &str) -> anyhow::Result<Chart> {
    let flags = input.flags;
    let sl_s = input.summary.config.sl_threshold_s;
    let c = match name {
        "contacts" => {
            let (calls, calls_ci) = input.rate(M::Offered);
            let (written, _) = input.rate(M::WrittenIn);
            input.with_events(
                Chart::new("Contacts per hour", input.origin(), "contacts per hour")
                    .band("calls, 95% CI", calls_ci)
                    .line("call attempts", calls)
                    .line("written items", written),
            )
        }
        "contacts-daily" => {
            let days = &input.summary.days;
            let (calls, calls_ci) = input.daily(|d| days[d][M::Offered as usize], false);
            let (written, _) = input.daily(|d| days[d][M::WrittenIn as usize], false);
            input.with_events(
                Chart::new("Contacts per day", input.origin(), "contacts per day")
                    .band("calls, 95% CI", calls_ci)
                    .line("call attempts", calls)
                    .line("written items", written),
            )
        }
        "service-level" => Chart::new(
            format!("Service level per interval (answered within {sl_s:.0} s)"),
            input.origin(),
            "service level (%)",
        )
        .line("offered-based", input.kpi_points("sl_offered", 100.0))
        .line("answered-based", input.kpi_points("sl_answered", 100.0))
        .target(flags.sl_target, format!("target {}%", pct(flags.sl_target)))
        .y_range(0.0, 100.0),
        "asa" => Chart::new(
            "Average speed of answer per interval",
            input.origin(),
            "ASA (s)",
        )
        .line("answered calls", input.kpi_points("asa_served_s", 1.0))
        .line("all queued calls", input.kpi_points("asa_all_s", 1.0))
        .target(sl_s, format!("SL threshold {sl_s:.0} s")),
        "abandonment" => {
            let c = Chart::new(
                "Abandonment per interval",
                input.origin(),
                "abandoned (% of queued calls)",
            )
            .line("abandoned", input.kpi_points("abandon_rate", 100.0));
            match flags.max_abandon {
                Some(a) => c.target(a, format!("ceiling {}%", pct(a))),
                None => c,
            }
        }
        "agents" => {
            let h = input.interval_h();
            let step = |m: M| -> Vec<(f64, f64)> {
                input
                    .intervals
                    .clone()
                    .map(|i| {
                        (
                            i as f64 * h,
                            input.summary.intervals[i][m as usize].mean() / (h * 3600.0),
                        )
                    })
                    .collect()
            };
            input.with_events(
                Chart::new(
                    "Agents per interval",
                    input.origin(),
                    "agents (mean over the interval)",
                )
                .step("on duty", step(M::OnDuty))
                .step("busy", step(M::Busy)),
            )
        }
        "backlog" => {
            let s = input.summary;
            let (written, written_ci) = input.daily(|d| s.day_end_backlog[d], true);
            let (bo, bo_ci) = input.daily(|d| s.day_end_bo[d], true);
            input.with_events(
                Chart::new(
                    "Backlogs at the end of each day",
                    input.origin(),
                    "items waiting",
                )
                .band("written, 95% CI", written_ci)
                .band("back office, 95% CI", bo_ci)
                .step("written backlog", written)
                .step("back office open", bo),
            )
        }
        "closure" => {
            let share = |k: &str| {
                input
                    .summary
                    .kpis
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map_or(f64::NAN, |(_, m)| 100.0 * m.mean())
            };
            Chart::new(
                "How served contacts were closed",
                XAxis::Category {
                    label: "outcome of served contacts".into(),
                    names: vec![
                        "closed by the front office".into(),
                        "closed by the back office".into(),
                        "open at the horizon".into(),
                    ],
                },
                "share of served contacts (%)",
            )
            .bars(
                "share",
                vec![share("fo_share"), share("bo_share"), share("open_share")],
            )
            .y_range(0.0, 100.0)
        }
        other => anyhow::bail!(
            "--chart-of `{other}` is not a chart of simulate; choose one of: {}",
            CHARTS.iter().map(|c| c.0).collect::<Vec<_>>().join(", ")
        ),
    };
    Ok(c)
}

/// The whole report.
pub fn report(input: &SimInput<'_>) -> Report {
    let (s, sum) = (input.scenario, input.summary);
    let cfg = sum.config;
    let cal = &s.calendar;
    let mut r = Report::new(
        format!("{}: simulation report", s.name),
        format!(
            "Plan {}, {} replications, seed {} — means with 95% confidence intervals over replications",
            input.plan.name, cfg.replications, cfg.seed
        ),
    );
    let window = |range: &Range<usize>, h: f64| {
        (
            cal.at(range.start as f64 * h),
            cal.at((range.end as f64 * h).min(cal.horizon_h())),
        )
    };
    let (w0, w1) = window(&input.intervals, input.interval_h());
    r.section("Scenario and run").facts([
        ("Scenario", format!("{} ({})", s.name, s.source)),
        ("Description", s.description.clone().unwrap_or_default()),
        (
            "Horizon",
            format!(
                "{} to {} ({} days, {})",
                cal.start.format("%a %d %b %Y %H:%M"),
                cal.end.format("%a %d %b %Y %H:%M"),
                cal.days.len(),
                cal.tz.name()
            ),
        ),
        (
            "Shown",
            format!(
                "{} to {}",
                w0.format("%a %d %b %Y %H:%M"),
                w1.format("%a %d %b %Y %H:%M")
            ),
        ),
        ("Staffing plan", input.plan.name.clone()),
        ("Seed", cfg.seed.to_string()),
        ("Replications", cfg.replications.to_string()),
        ("Interval", format!("{:.0} min", cfg.interval_s / 60.0)),
        (
            "Service level",
            format!(
                "answered within {:.0} s; target {}%",
                cfg.sl_threshold_s,
                pct(input.flags.sl_target)
            ),
        ),
        (
            "Events",
            s.events
                .iter()
                .map(|e| {
                    format!(
                        "{} ({}, {})",
                        e.name,
                        e.kind.name(),
                        cal.at(e.start_h).format("%d %b %Y %H:%M")
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
    ]);
    r.table(kpi_table(sum)).table(totals_table(sum));

    let ch = |name: &str| chart(input, name).expect("every name in CHARTS draws");
    r.section("Demand")
        .text("Call attempts (first calls and redials) and written items (web form, email, PEC, fax, letter) as they reach the center; the scenario's events are marked where they start. The shaded band is the 95% confidence interval of the calls.")
        .chart(ch("contacts"))
        .chart_with_table(ch("contacts-daily"), day_table(input));
    let sl = ch("service-level");
    let met = sl
        .series
        .first()
        .map(|s| s.rows())
        .unwrap_or_default()
        .iter()
        .filter(|r| r.1.is_finite())
        .fold((0, 0), |(ok, n), r| {
            (ok + usize::from(r.1 >= input.flags.sl_target), n + 1)
        });
    r.section("Service level, waiting and abandonment")
        .text(format!(
            "The offered-based service level counts abandoned callers as not served in time; it met the {}% target in {} of the {} intervals with calls.",
            pct(input.flags.sl_target),
            met.0,
            met.1
        ))
        .chart(sl)
        .chart(ch("asa"))
        .chart(ch("abandonment"));
    r.section("Agents")
        .text("Agents on duty (after shrinkage) and busy, averaged over each interval.")
        .chart(ch("agents"));
    r.section("Backlogs")
        .text("Written items (and voicemail callbacks) waiting for a reply, and back-office cases still open, at the end of each day.")
        .chart(ch("backlog"));
    r.section("Closure split")
        .chart(ch("closure"))
        .table(outcome_table(
            "Contacts by channel and outcome (means)",
            "channel",
            &sum.by_channel,
            &Channel::ALL.map(|c| c.name().to_string()),
        ))
        .table(outcome_table(
            "Contacts by event and outcome (means)",
            "event",
            &sum.by_event,
            &std::iter::once("ordinary".to_string())
                .chain(s.events.iter().map(|e| e.name.clone()))
                .collect::<Vec<_>>(),
        ));
    r
}

/// What a KPI key means, for a reader.
fn kpi_label(key: &str) -> String {
    let label = match key {
        "sl_answered" => "service level, answered calls (answered in time / answered)",
        "sl_offered" => "service level, offered calls (answered in time / answered + abandoned)",
        "asa_served_s" => "average speed of answer, answered calls",
        "asa_all_s" => "average wait, all queued calls",
        "abandon_rate" => "abandoned (% of queued calls)",
        "occupancy" => "agent occupancy",
        "written_in_target" => "written items answered within the response target",
        "fo_share" => "served contacts closed by the front office",
        "bo_share" => "served contacts closed by the back office",
        "open_share" => "served contacts still open at the horizon",
        other => return other.replace('_', " "),
    };
    label.to_string()
}

fn kpi_table(sum: &Summary) -> Table {
    let mut t = Table::new(
        "Key figures over the whole run",
        ["figure", "mean ± 95% CI"],
    );
    for (k, m) in &sum.kpis {
        let v = if k.ends_with("_s") {
            format!("{} s", pm(m, 1.0, 0.1))
        } else {
            format!("{} %", pm(m, 100.0, 0.01))
        };
        t.push([kpi_label(k), v]);
    }
    t
}

/// The day table: demand, answers, service and backlogs per day, with 95% CIs.
fn day_table(input: &SimInput<'_>) -> Table {
    let sum = input.summary;
    let mut t = Table::new(
        "Per day (means ± 95% CI; service level and ASA from the means)",
        [
            "date",
            "call attempts",
            "written items",
            "answered",
            "abandoned",
            "SL offered %",
            "ASA s",
            "agents",
            "written backlog",
            "BO open",
        ],
    );
    for d in input.days.clone() {
        let row = &sum.days[d];
        let k = derived(&means(row), 86_400.0);
        let get = |name: &str| k.iter().find(|(n, _)| *n == name).map_or(f64::NAN, |x| x.1);
        t.push([
            input.scenario.calendar.days[d]
                .date
                .format("%a %d %b %Y")
                .to_string(),
            pm(&row[M::Offered as usize], 1.0, 1.0),
            pm(&row[M::WrittenIn as usize], 1.0, 1.0),
            pm(&row[M::Answered as usize], 1.0, 1.0),
            pm(&row[M::Abandoned as usize], 1.0, 1.0),
            fmt_num(100.0 * get("sl_offered"), 0.1),
            fmt_num(get("asa_served_s"), 0.1),
            fmt_num(get("agents_on_duty"), 0.1),
            pm(&sum.day_end_backlog[d], 1.0, 0.1),
            pm(&sum.day_end_bo[d], 1.0, 0.1),
        ]);
    }
    t
}

fn totals_table(sum: &Summary) -> Table {
    let mut t = Table::new("Totals", ["quantity", "mean ± 95% CI"]);
    for m in [
        M::Offered,
        M::Redials,
        M::Answered,
        M::Abandoned,
        M::Blocked,
        M::Voicemail,
        M::Closed,
        M::WrittenIn,
        M::WrittenDone,
    ] {
        t.push([m.name().to_string(), pm(&sum.totals[m as usize], 1.0, 1.0)]);
    }
    t
}

fn outcome_table(
    caption: &str,
    what: &str,
    rows: &[[Moments; OUTCOMES]],
    names: &[String],
) -> Table {
    let mut header = vec![what.to_string()];
    header.extend(Outcome::ALL.iter().map(|o| o.name().replace('_', " ")));
    let mut t = Table::new(caption, header);
    for (row, name) in rows.iter().zip(names) {
        let mut cells = vec![name.clone()];
        cells.extend(row.iter().map(|m| fmt_num(m.mean(), 0.1)));
        t.push(cells);
    }
    t
}
