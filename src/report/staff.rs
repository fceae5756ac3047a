//! The `cclab staff` report: demand with its events, the agents each method requires against
//! the shifts chosen, the service level the shift plan achieves per interval against the
//! target, the methods compared, the shifts per day and the verdict.

use super::chart::fmt_num;
use super::{Chart, Report, Table, XAxis};
use crate::cli::staff::Memo;

/// The charts of a staffing run, for `--chart-of`; the first is the default.
pub const CHARTS: &[(&str, &str)] = &[
    (
        "agents",
        "agents required per interval by each method, and the shift plan's agents on duty",
    ),
    (
        "service-level",
        "service level per interval of the shift plan (simulated) against the target",
    ),
    ("demand", "expected calls per hour, with the events"),
    (
        "agent-hours",
        "agent-hours of each method and of the shift plan",
    ),
];

/// A number as given: 80 as "80", 92.5 as "92.5".
fn given(x: f64) -> String {
    fmt_num(x, if x.fract() == 0.0 { 1.0 } else { 0.1 })
}

fn pct(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else {
        format!("{}%", fmt_num(100.0 * x, 0.1))
    }
}

impl Memo<'_> {
    fn axis(&self) -> XAxis {
        XAxis::Time {
            origin: self.s.calendar.start,
        }
    }

    fn interval_h(&self) -> f64 {
        self.demand.interval_s / 3600.0
    }

    fn with_events(&self, mut c: Chart) -> Chart {
        for e in &self.s.events {
            c = c.marker(e.start_h, e.name.clone());
        }
        c
    }

    /// A per-interval step series at each interval's start.
    fn steps(&self, values: impl Iterator<Item = f64>) -> Vec<(f64, f64)> {
        let h = self.interval_h();
        values.enumerate().map(|(i, v)| (i as f64 * h, v)).collect()
    }

    /// One chart by name (one of [`CHARTS`]).
    pub(crate) fn chart(&self, name: &str) -> anyhow::Result<Chart> {
        let (percent, threshold) = self.args.target;
        Ok(match name {
            "agents" => {
                let mut c = Chart::new(
                    "Agents on duty: required by each method and scheduled in shifts",
                    self.axis(),
                    "agents on duty",
                );
                for o in self.outcomes {
                    c = c.step(
                        format!("{} requirement", o.req.method.name()),
                        self.steps(o.req.agents.iter().map(|&a| f64::from(a))),
                    );
                }
                let sh = self.shifts;
                let net = 1.0 - self.plan.shrinkage;
                let coverage = sh.schedule.coverage[sh.pad..]
                    .iter()
                    .map(|&a| (f64::from(a) * net).round());
                c = c.step("shift plan on duty", self.steps(coverage));
                self.with_events(c)
            }
            "service-level" => {
                let h = self.interval_h();
                let pts: Vec<(f64, f64)> = self
                    .shifts
                    .achieved
                    .iter()
                    .enumerate()
                    .filter(|(i, a)| self.coverage.staffed[*i] && !self.sl(a).is_nan())
                    .map(|(i, a)| ((i as f64 + 0.5) * h, 100.0 * self.sl(a)))
                    .collect();
                self.with_events(
                    Chart::new(
                        format!(
                            "Service level of the shift plan per interval ({}% within {} s)",
                            given(percent),
                            given(threshold)
                        ),
                        self.axis(),
                        "answered within threshold (%)",
                    )
                    .line("shift plan (simulated)", pts)
                    .target(percent, format!("target {}%", given(percent)))
                    .y_range(0.0, 100.0),
                )
            }
            "demand" => {
                let d = self.demand;
                self.with_events(
                    Chart::new(
                        "Expected phone calls per hour (first attempts)",
                        self.axis(),
                        "calls per hour",
                    )
                    .line(
                        "expected calls",
                        self.steps(d.rate.iter().map(|r| r * 3600.0)),
                    ),
                )
            }
            "agent-hours" => {
                let mut names: Vec<String> = self
                    .outcomes
                    .iter()
                    .map(|o| o.req.method.name().to_string())
                    .collect();
                let mut values: Vec<f64> = self
                    .outcomes
                    .iter()
                    .map(|o| o.req.agent_hours(self.demand.interval_s))
                    .collect();
                names.push("shift plan (paid)".into());
                values.push(self.shifts.schedule.agent_hours);
                Chart::new(
                    "Agent-hours by method and of the shift plan",
                    XAxis::Category {
                        label: "staffing method".into(),
                        names,
                    },
                    "agent-hours",
                )
                .bars("agent-hours", values)
            }
            other => anyhow::bail!("no chart named {other}"),
        })
    }

    /// The whole report.
    pub(crate) fn report(&self) -> anyhow::Result<Report> {
        let s = self.s;
        let sh = self.shifts;
        let mut r = Report::new(
            format!("{}: staffing report", s.name),
            format!(
                "Target {}; {} replications per simulation, seed {}",
                self.target_text(),
                self.run.replications,
                self.run.seed
            ),
        );
        r.section("Scenario and settings").facts([
            ("Scenario", format!("{} ({})", s.name, s.source)),
            ("Description", s.description.clone().unwrap_or_default()),
            (
                "Horizon",
                format!(
                    "{} to {} ({} days)",
                    s.calendar.start.format("%a %d %b %Y %H:%M"),
                    s.calendar.end.format("%a %d %b %Y %H:%M"),
                    s.calendar.days.len()
                ),
            ),
            ("Caller behaviour", format!("plan {}", self.plan.name)),
            (
                "Intervals",
                format!("{} minutes", fmt_num(self.demand.interval_s / 60.0, 1.0)),
            ),
            (
                "h24 days",
                if self.coverage.h24_days.is_empty() {
                    "none".to_string()
                } else {
                    self.coverage
                        .h24_days
                        .iter()
                        .map(|&(d, calls)| {
                            format!(
                                "{} ({} calls outside 09-18)",
                                s.calendar.days[d].date,
                                fmt_num(calls, 1.0)
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            ),
        ]);
        r.section("Demand").chart(self.chart("demand")?);
        let mut methods = Table::new(
            "Methods: requirement simulated on the same seeds, judged per staffed interval",
            [
                "method",
                "agent-hours",
                "intervals met",
                "share met",
                "worst SL",
            ],
        );
        for o in self.outcomes {
            let worst = self
                .worst(o, 1)
                .first()
                .map_or("-".to_string(), |w| pct(w.1));
            methods.push([
                o.req.method.name().to_string(),
                fmt_num(o.req.agent_hours(self.demand.interval_s), 0.1),
                format!("{} of {}", o.met, o.judged),
                pct(o.share_met()),
                worst,
            ]);
        }
        r.section("Requirement by method")
            .text(
                "SIPP, lagged SIPP and square-root staffing size each interval from the expected \
                 first calls; ISA sizes it by simulating the whole center (redials, abandonment, \
                 written work, voicemail callbacks), so it is the one the shifts follow.",
            )
            .table(methods)
            .chart(self.chart("agents")?)
            .chart(self.chart("agent-hours")?);
        let mut shifts = Table::new(
            "Shifts per day (template x headcount)",
            ["date", "mode", "shifts"],
        );
        let patterns = self.day_patterns();
        for (k, day) in sh.days.iter().enumerate() {
            let mode = match day.mode {
                Some(cclab_sim::staffing::shifts::Mode::H24) => "h24",
                Some(cclab_sim::staffing::shifts::Mode::Ordinary) => "ordinary",
                None => "closed",
            };
            shifts.push([day.label.clone(), mode.to_string(), patterns[k].clone()]);
        }
        let sc = &sh.schedule;
        let mut kpis = Table::new(
            "The shift plan simulated: mean and 95% confidence half-width",
            ["measure", "mean", "± 95% CI"],
        );
        for (name, m) in &sh.kpis {
            let (mean, ci) = if name.ends_with("_s") {
                (fmt_num(m.mean(), 0.1) + " s", fmt_num(m.ci95(), 0.1) + " s")
            } else {
                (pct(m.mean()), pct(m.ci95()))
            };
            kpis.push([name.to_string(), mean, ci]);
        }
        r.section("Shift plan")
            .text(format!(
                "{} paid agent-hours; {}; {}.",
                fmt_num(sc.agent_hours, 0.1),
                if sc.optimal {
                    "proven optimal".to_string()
                } else {
                    format!("within {} agent-hours of optimal", fmt_num(sc.gap, 0.1))
                },
                if sc.uncovered.is_empty() {
                    "every interval's requirement is covered".to_string()
                } else {
                    format!(
                        "{} interval(s) cannot be covered by the templates",
                        sc.uncovered.len()
                    )
                }
            ))
            .table(shifts)
            .chart(self.chart("service-level")?)
            .table(kpis);
        r.section("Verdict").verdicts(vec![(
            "Shift plan meets the target in at least 95% of staffed intervals".to_string(),
            sh.share_met() >= 0.95,
            format!(
                "{} of {} intervals ({})",
                sh.met,
                sh.judged,
                pct(sh.share_met())
            ),
        )]);
        Ok(r)
    }
}
