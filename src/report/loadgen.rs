//! The `cclab loadgen` report: the run's settings, planned against achieved rate, latency
//! percentiles over time (or by step when the run kept no time series), errors by kind, and
//! the verdicts.

use super::chart::fmt_num;
use super::{Chart, Report, ReportFlags, Table, XAxis};
use cclab_loadgen::Report as Run;
use cclab_loadgen::record::{Counts, Interval};
use std::time::Duration;

/// The charts of a load test, for `--chart-of`; the first is the default.
pub const CHARTS: &[(&str, &str)] = &[
    (
        "latency",
        "latency percentiles over run time (by step without a time series)",
    ),
    (
        "rate",
        "planned against sent and answered requests per second",
    ),
    ("errors", "failed and dropped requests by kind"),
];

/// What the report reads: the run's report and, if recorded, its time series.
pub struct LoadInput<'a> {
    pub run: &'a Run,
    /// The per-interval series and the interval's width (run time).
    pub series: Option<(&'a [Interval], Duration)>,
}

/// Writes the `--chart` and `--report` files asked for (nothing otherwise).
pub fn emit(flags: &ReportFlags, input: &LoadInput<'_>) -> anyhow::Result<()> {
    flags.emit(CHARTS, |name| chart(input, name), || Ok(report(input)))
}

fn ms(us: f64) -> f64 {
    us / 1000.0
}

/// Errors and drops by kind, summed over steps.
fn error_kinds(c: &Counts) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = c
        .http_errors
        .iter()
        .map(|(code, n)| (format!("HTTP {code}"), *n))
        .collect();
    out.extend([
        ("timeout".to_string(), c.timeouts),
        ("connect".to_string(), c.connect_errors),
        ("transport".to_string(), c.transport_errors),
        ("capture".to_string(), c.capture_errors),
        ("invalid request".to_string(), c.invalid_requests),
        ("dropped at cap".to_string(), c.dropped.in_flight_cap),
        ("dropped, no case".to_string(), c.dropped.unresolved),
        ("not sent (stopped)".to_string(), c.dropped.stopped),
        ("cancelled".to_string(), c.cancelled),
    ]);
    out
}

/// One chart of the run by name (one of [`CHARTS`]).
pub fn chart(input: &LoadInput<'_>, name: &str) -> anyhow::Result<Chart> {
    let run_time = || XAxis::Number {
        label: "run time (s)".into(),
    };
    let c = match (name, input.series) {
        ("latency", Some((series, width))) => {
            let w = width.as_secs_f64();
            let q = |p: f64| -> Vec<(f64, f64)> {
                series
                    .iter()
                    .enumerate()
                    .map(|(i, iv)| {
                        let v = if iv.latency.is_empty() {
                            f64::NAN
                        } else {
                            ms(iv.latency.value_at_quantile(p) as f64)
                        };
                        ((i as f64 + 0.5) * w, v)
                    })
                    .collect()
            };
            Chart::new(
                "Latency from the intended send time, per interval",
                run_time(),
                "latency (ms)",
            )
            .line("p50", q(0.5))
            .line("p90", q(0.9))
            .line("p99", q(0.99))
        }
        ("latency", None) => {
            let steps = &input.run.steps;
            let col = |f: fn(&cclab_loadgen::report::HistReport) -> u64| -> Vec<f64> {
                steps.iter().map(|s| ms(f(&s.latency) as f64)).collect()
            };
            Chart::new(
                "Latency from the intended send time, by step",
                XAxis::Category {
                    label: "journey step".into(),
                    names: steps.iter().map(|s| s.name.clone()).collect(),
                },
                "latency (ms)",
            )
            .bars("p50", col(|h| h.p50_us))
            .bars("p99", col(|h| h.p99_us))
            .describe(
                "The median (p50) and 99th percentile (p99) latency of each journey step over the whole run.",
            )
        }
        ("rate", Some((series, width))) => {
            let w = width.as_secs_f64();
            let per_s = |f: fn(&Interval) -> u64| -> Vec<(f64, f64)> {
                series
                    .iter()
                    .enumerate()
                    .map(|(i, iv)| (i as f64 * w, f(iv) as f64 / w))
                    .collect()
            };
            Chart::new("Requests per second", run_time(), "requests per second")
                .step("planned", per_s(|iv| iv.planned))
                .step("sent", per_s(|iv| iv.sent))
                .step("answered OK", per_s(|iv| iv.ok))
        }
        ("rate", None) => {
            let t = &input.run.totals;
            Chart::new(
                "Requests over the run",
                XAxis::Category {
                    label: "requests".into(),
                    names: vec!["planned".into(), "sent".into(), "answered OK".into()],
                },
                "requests",
            )
            .bars(
                "requests",
                vec![t.planned as f64, t.sent as f64, t.ok as f64],
            )
            .describe(format!(
                "{} requests planned, {} sent, {} answered OK (this run kept no time series).",
                t.planned, t.sent, t.ok
            ))
        }
        ("errors", _) => {
            let kinds = error_kinds(&input.run.totals);
            let total: u64 = kinds.iter().map(|k| k.1).sum();
            Chart::new(
                "Failed and dropped requests by kind",
                XAxis::Category {
                    label: "kind".into(),
                    names: kinds.iter().map(|k| k.0.clone()).collect(),
                },
                "requests",
            )
            .bars("requests", kinds.iter().map(|k| k.1 as f64).collect())
            .describe(if total == 0 {
                "No request failed and none was dropped.".to_string()
            } else {
                format!(
                    "{total} requests failed or were dropped: {}.",
                    kinds
                        .iter()
                        .filter(|k| k.1 > 0)
                        .map(|k| format!("{} {}", k.1, k.0))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
        }
        (other, _) => anyhow::bail!(
            "--chart-of `{other}` is not a chart of loadgen; choose one of: {}",
            CHARTS.iter().map(|c| c.0).collect::<Vec<_>>().join(", ")
        ),
    };
    Ok(c)
}

/// The whole report.
pub fn report(input: &LoadInput<'_>) -> Report {
    let run = input.run;
    let i = &run.run;
    let mut r = Report::new(
        format!("{}: load test report", i.scenario),
        format!(
            "{} against {}, scale x{}, speedup x{}",
            i.profile, i.target, i.scale, i.speedup
        ),
    );
    r.section("Run").facts([
        (
            "Scenario",
            format!("{} ({})", i.scenario, i.scenario_source),
        ),
        ("Window", format!("{} to {}", i.window_start, i.window_end)),
        ("Seed", i.seed.to_string()),
        ("Scale, speedup", format!("x{}, x{}", i.scale, i.speedup)),
        ("Profile", format!("{} ({})", i.profile, i.profile_source)),
        ("Target", i.target.clone()),
        (
            "Shards",
            format!(
                "{} of {}",
                i.shards
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                i.shard_count
            ),
        ),
        ("Started", i.started_at.clone()),
        (
            "Run time",
            format!("{:.1} s (planned {:.1} s)", i.wall_s, i.planned_run_s),
        ),
        (
            "Timeout, in-flight cap",
            format!(
                "{} ms, {} ({})",
                i.timeout_ms,
                i.max_in_flight
                    .map_or("no cap".to_string(), |n| n.to_string()),
                i.on_cap
            ),
        ),
        (
            "Interrupted",
            if i.interrupted {
                "yes (partial report)"
            } else {
                "no"
            }
            .to_string(),
        ),
    ]);
    r.table(step_table(run));
    r.section("Verdicts").verdicts(verdicts(run));
    let ch = |name: &str| chart(input, name).expect("every name in CHARTS draws");
    r.section("Rate").text(
        "Open loop: each request goes out at its planned time whatever happened to earlier ones; a gap between planned and sent means the generator fell behind or dropped requests.",
    );
    r.chart(ch("rate"));
    r.section("Latency")
        .text("Latency is measured from the intended send time, so a stalled server shows in full (free of coordinated omission).");
    if input.series.is_none() {
        r.text("This report holds no time series (a merged report, or a run without one), so latency is shown by step over the whole run.");
    }
    r.chart(ch("latency"));
    if input.series.is_some() {
        // The by-step view is worth having beside the series.
        r.chart(chart(&LoadInput { run, series: None }, "latency").expect("latency draws"));
    }
    r.section("Errors").chart(ch("errors"));
    r
}

fn step_table(run: &Run) -> Table {
    let mut t = Table::new(
        "Requests and latency by journey step (latency from the intended send time)",
        [
            "step", "planned", "sent", "ok", "errors", "dropped", "p50 ms", "p90 ms", "p99 ms",
            "max ms",
        ],
    );
    let rows = run
        .steps
        .iter()
        .map(|s| (s.name.as_str(), &s.counts, &s.latency));
    for (name, c, h) in rows {
        t.push([
            name.to_string(),
            c.planned.to_string(),
            c.sent.to_string(),
            c.ok.to_string(),
            c.errors().to_string(),
            c.dropped.total().to_string(),
            fmt_num(ms(h.p50_us as f64), 0.01),
            fmt_num(ms(h.p90_us as f64), 0.01),
            fmt_num(ms(h.p99_us as f64), 0.01),
            fmt_num(ms(h.max_us as f64), 0.01),
        ]);
    }
    let c = &run.totals;
    t.row([
        "all steps".to_string(),
        c.planned.to_string(),
        c.sent.to_string(),
        c.ok.to_string(),
        c.errors().to_string(),
        c.dropped.total().to_string(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    ])
}

/// A threshold's measured value in its unit: times are recorded in microseconds.
fn measured(threshold: &str, value: f64) -> String {
    let t = threshold.trim_end();
    if t.ends_with('%') {
        format!("measured {}%", fmt_num(value, 0.001))
    } else if t.ends_with('s') {
        format!("measured {} ms", fmt_num(ms(value), 0.001))
    } else {
        format!("measured {}", fmt_num(value, 1.0))
    }
}

fn verdicts(run: &Run) -> Vec<(String, bool, String)> {
    let v = &run.validity;
    let mut out = vec![(
        "valid run (the generator kept up)".to_string(),
        v.valid,
        format!(
            "dispatch lateness p99 {} ms (limit {} ms), dropped at the cap {} (limit {}){}",
            fmt_num(ms(v.lateness_p99_us as f64), 0.001),
            fmt_num(ms(v.max_lateness_p99_us as f64), 0.001),
            v.dropped,
            v.max_dropped,
            if v.reasons.is_empty() {
                String::new()
            } else {
                format!(": {}", v.reasons.join("; "))
            }
        ),
    )];
    out.push(match run.totals.check() {
        Ok(()) => (
            "accounting (planned = sent + dropped, sent = ok + errors)".to_string(),
            true,
            "every request is accounted for".to_string(),
        ),
        Err(e) => (
            "accounting (planned = sent + dropped, sent = ok + errors)".to_string(),
            false,
            e.to_string(),
        ),
    });
    for t in &run.thresholds {
        out.push((
            format!("threshold {}", t.threshold),
            t.pass,
            measured(&t.threshold, t.value),
        ));
    }
    if let Some(rec) = &run.reconciliation {
        out.push((
            format!("reconciliation of {}", rec.step),
            rec.pass,
            rec.message.clone(),
        ));
    }
    out
}
