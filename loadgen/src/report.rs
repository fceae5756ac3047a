//! The run report: JSON with a documented schema (`docs/loadgen-report.md`), a human summary,
//! the optional time series, and the exact merge of shard reports.
//!
//! Histograms travel as HdrHistogram V2 (uncompressed) in base64, so merging N shard reports
//! gives exactly the histograms one process would have recorded: counts are added bucket by
//! bucket, and every percentile of the merged report is computed from the merged histogram,
//! never averaged.

use crate::LoadgenError;
use crate::dispatch::{Policy, RunOptions, RunOutcome};
use crate::plan::Plan;
use crate::profile::Profile;
use crate::record::{Counts, Interval, new_histogram};
use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

/// The schema identifier written in every report.
pub const SCHEMA: &str = "cclab-loadgen-report/1";

/// The whole report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub cclab_version: String,
    pub run: RunInfo,
    pub totals: Counts,
    pub steps: Vec<StepReport>,
    pub validity: Validity,
    #[serde(default)]
    pub thresholds: Vec<Verdict>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconciliation: Option<Reconciliation>,
}

/// What was replayed, against what, how.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunInfo {
    pub scenario: String,
    pub scenario_source: String,
    pub seed: u64,
    pub scale: f64,
    pub speedup: f64,
    /// Replayed window, scenario time (RFC 3339, scenario time zone) and microseconds since
    /// the scenario start.
    pub window_start: String,
    pub window_end: String,
    pub window_start_us: u64,
    pub window_end_us: u64,
    pub profile: String,
    pub profile_source: String,
    pub target: String,
    pub shard_count: u32,
    /// Shards this report covers (one, or all of a merge).
    pub shards: Vec<u32>,
    /// Wall-clock start (UTC, RFC 3339).
    pub started_at: String,
    pub wall_s: f64,
    /// The plan's length in run time.
    pub planned_run_s: f64,
    pub timeout_ms: u64,
    pub max_in_flight: Option<usize>,
    pub on_cap: String,
    pub fresh_connections: bool,
    pub interrupted: bool,
    /// Journey steps left out of the plan because they fall after the window.
    pub beyond_window: u64,
}

/// One journey step's counts and histograms.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepReport {
    pub name: String,
    pub counts: Counts,
    /// Completion minus intended send time (coordinated-omission free), successful requests.
    pub latency: HistReport,
    /// Completion minus actual send time, successful requests.
    pub service: HistReport,
    /// Actual dispatch minus intended send time, every dispatched request.
    pub lateness: HistReport,
}

/// A histogram's summary (microseconds) and the histogram itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistReport {
    pub count: u64,
    pub min_us: u64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    /// HdrHistogram V2 serialization, base64 (standard alphabet, padded).
    pub hdr: String,
}

impl HistReport {
    pub fn from_hist(h: &Histogram<u64>) -> HistReport {
        let mut buf = Vec::new();
        V2Serializer::new()
            .serialize(h, &mut buf)
            .expect("serializing to memory");
        let empty = h.is_empty();
        HistReport {
            count: h.len(),
            min_us: if empty { 0 } else { h.min() },
            mean_us: if empty { 0.0 } else { h.mean() },
            p50_us: h.value_at_quantile(0.5),
            p90_us: h.value_at_quantile(0.9),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
            hdr: base64::engine::general_purpose::STANDARD.encode(buf),
        }
    }

    /// Decodes the histogram.
    pub fn histogram(&self) -> Result<Histogram<u64>, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.hdr)
            .map_err(|e| format!("hdr is not base64: {e}"))?;
        let mut h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| format!("hdr is not an HdrHistogram V2: {e:?}"))?;
        h.auto(true);
        if h.len() != self.count {
            return Err(format!(
                "hdr holds {} values, count says {}",
                h.len(),
                self.count
            ));
        }
        Ok(h)
    }
}

/// Was the generator fast enough for the figures to describe the server?
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Validity {
    pub valid: bool,
    /// Dispatch lateness p99 over every step, and its limit.
    pub lateness_p99_us: u64,
    pub max_lateness_p99_us: u64,
    /// Requests dropped at the in-flight cap, and the limit.
    pub dropped: u64,
    pub max_dropped: u64,
    pub reasons: Vec<String>,
}

/// The limits behind [`Validity`].
#[derive(Debug, Clone, Copy)]
pub struct ValidityLimits {
    pub max_lateness_p99: Duration,
    pub max_dropped: u64,
}

impl Default for ValidityLimits {
    fn default() -> Self {
        ValidityLimits {
            max_lateness_p99: Duration::from_millis(5),
            max_dropped: 0,
        }
    }
}

/// One threshold and its result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verdict {
    pub threshold: String,
    /// The measured value (microseconds for times, percent or count otherwise).
    pub value: f64,
    pub pass: bool,
}

/// End-of-run check that every accepted root step made exactly one record on the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reconciliation {
    pub step: String,
    /// The server's count before and after the run.
    pub before: u64,
    pub after: u64,
    /// Requests of the step that got their expected answer.
    pub accepted: u64,
    /// Requests whose fate the generator cannot know (timed out, connection lost, cancelled):
    /// the server may or may not have acted on them.
    pub ambiguous: u64,
    pub pass: bool,
    pub message: String,
}

impl Reconciliation {
    pub fn new(step: &str, before: u64, after: u64, counts: &Counts) -> Reconciliation {
        let accepted = counts.ok + counts.capture_errors;
        let ambiguous = counts.timeouts + counts.transport_errors + counts.cancelled;
        let created = after.saturating_sub(before);
        let pass = after >= before && created >= accepted && created <= accepted + ambiguous;
        let message = if pass && ambiguous == 0 {
            format!(
                "every accepted {step} is exactly one record: {created} created, {accepted} accepted"
            )
        } else if pass {
            format!(
                "{created} created for {accepted} accepted and {ambiguous} of unknown fate: consistent"
            )
        } else {
            format!(
                "MISMATCH: the server has {created} new records, the generator saw {accepted} accepted and {ambiguous} of unknown fate"
            )
        };
        Reconciliation {
            step: step.to_string(),
            before,
            after,
            accepted,
            ambiguous,
            pass,
            message,
        }
    }
}

fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Report {
    /// Builds the report of one run.
    pub fn new(
        plan: &Plan,
        profile: &Profile,
        opts: &RunOptions,
        out: &RunOutcome,
        limits: ValidityLimits,
    ) -> Report {
        let mut totals = Counts::default();
        let mut steps = Vec::new();
        for (s, st) in out.steps.iter().enumerate() {
            totals.add(&st.counts);
            steps.push(StepReport {
                name: profile.steps[s].name.clone(),
                counts: st.counts.clone(),
                latency: HistReport::from_hist(&st.latency),
                service: HistReport::from_hist(&st.service),
                lateness: HistReport::from_hist(&st.lateness),
            });
        }
        let run = RunInfo {
            scenario: plan.scenario.clone(),
            scenario_source: plan.scenario_source.clone(),
            seed: plan.seed,
            scale: plan.scale,
            speedup: plan.speedup,
            window_start: plan.time_of(plan.window_start_us),
            window_end: plan.time_of(plan.window_end_us),
            window_start_us: plan.window_start_us,
            window_end_us: plan.window_end_us,
            profile: profile.name.clone(),
            profile_source: profile.source.clone(),
            target: opts.target.clone(),
            shard_count: plan.shard.count,
            shards: vec![plan.shard.index],
            started_at: rfc3339(out.started_at),
            wall_s: out.wall.as_secs_f64(),
            planned_run_s: plan.run_length().as_secs_f64(),
            timeout_ms: out.timeout.as_millis() as u64,
            max_in_flight: opts.max_in_flight,
            on_cap: match opts.on_cap {
                Policy::Queue => "queue",
                Policy::Drop => "drop",
            }
            .into(),
            fresh_connections: opts.fresh_connections,
            interrupted: out.interrupted,
            beyond_window: plan.beyond_window_by_step.iter().sum(),
        };
        let mut r = Report {
            schema: SCHEMA.into(),
            cclab_version: env!("CARGO_PKG_VERSION").into(),
            run,
            totals,
            steps,
            validity: Validity {
                valid: true,
                lateness_p99_us: 0,
                max_lateness_p99_us: limits.max_lateness_p99.as_micros() as u64,
                dropped: 0,
                max_dropped: limits.max_dropped,
                reasons: Vec::new(),
            },
            thresholds: Vec::new(),
            reconciliation: None,
        };
        r.validity = r.compute_validity();
        r
    }

    /// Latency, service or lateness histogram merged over all steps.
    pub fn merged(&self, which: Which) -> Histogram<u64> {
        let mut h = new_histogram();
        for s in &self.steps {
            if let Ok(x) = s.hist(which).histogram() {
                h.add(&x).expect("auto-resizing histogram");
            }
        }
        h
    }

    fn compute_validity(&self) -> Validity {
        let v = &self.validity;
        let lateness_p99_us = self.merged(Which::Lateness).value_at_quantile(0.99);
        let dropped = self.totals.dropped.in_flight_cap;
        let mut reasons = Vec::new();
        if lateness_p99_us > v.max_lateness_p99_us {
            reasons.push(format!(
                "dispatch lateness p99 {} > limit {}: the generator could not keep to the plan (more threads, more shards, or a lower rate)",
                fmt_us(lateness_p99_us),
                fmt_us(v.max_lateness_p99_us)
            ));
        }
        if dropped > v.max_dropped {
            reasons.push(format!(
                "{dropped} requests dropped at the in-flight cap > limit {}: raise --max-in-flight or use --on-cap queue",
                v.max_dropped
            ));
        }
        Validity {
            valid: reasons.is_empty(),
            lateness_p99_us,
            max_lateness_p99_us: v.max_lateness_p99_us,
            dropped,
            max_dropped: v.max_dropped,
            reasons,
        }
    }

    /// Reads a report file.
    pub fn read(path: &str) -> Result<Report, LoadgenError> {
        let err = |message: String| LoadgenError::Report {
            file: path.to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|source| LoadgenError::Io {
            path: path.to_string(),
            source,
        })?;
        let r: Report =
            serde_json::from_str(&text).map_err(|e| err(format!("not a loadgen report: {e}")))?;
        if r.schema != SCHEMA {
            return Err(err(format!("schema {:?}, expected {SCHEMA:?}", r.schema)));
        }
        for s in &r.steps {
            for w in [Which::Latency, Which::Service, Which::Lateness] {
                s.hist(w)
                    .histogram()
                    .map_err(|m| err(format!("step {}: {m}", s.name)))?;
            }
        }
        Ok(r)
    }

    /// Merges shard reports of one plan exactly: counts add up, histograms add bucket by
    /// bucket, validity is recomputed from the merged histograms. Thresholds and
    /// reconciliation are not carried over (apply thresholds to the merged report).
    pub fn merge(reports: &[(String, Report)]) -> Result<Report, LoadgenError> {
        let (first_file, first) = reports
            .first()
            .ok_or_else(|| LoadgenError::Options("merge needs at least one report".into()))?;
        let mut out = first.clone();
        out.thresholds.clear();
        out.reconciliation = None;
        let mut hists: Vec<[Histogram<u64>; 3]> = Vec::new();
        for (i, (file, r)) in reports.iter().enumerate() {
            let err = |message: String| LoadgenError::Report {
                file: file.clone(),
                message,
            };
            let (a, b) = (&first.run, &r.run);
            let same = a.scenario == b.scenario
                && a.seed == b.seed
                && a.scale == b.scale
                && a.speedup == b.speedup
                && a.window_start_us == b.window_start_us
                && a.window_end_us == b.window_end_us
                && a.profile == b.profile
                && a.shard_count == b.shard_count
                && first.steps.len() == r.steps.len()
                && first
                    .steps
                    .iter()
                    .zip(&r.steps)
                    .all(|(x, y)| x.name == y.name);
            if !same {
                return Err(err(format!(
                    "not a shard of the same plan as {first_file} (scenario, seed, scale, speedup, window, profile and shard count must match)"
                )));
            }
            if i > 0 {
                for s in &b.shards {
                    if out.run.shards.contains(s) {
                        return Err(err(format!("shard {s} appears twice")));
                    }
                    out.run.shards.push(*s);
                }
                out.totals.add(&r.totals);
                out.run.wall_s = out.run.wall_s.max(b.wall_s);
                out.run.interrupted |= b.interrupted;
                out.run.beyond_window += b.beyond_window;
                out.run.started_at = out.run.started_at.clone().min(b.started_at.clone());
            }
            for (k, s) in r.steps.iter().enumerate() {
                let h = [
                    s.latency.histogram().map_err(&err)?,
                    s.service.histogram().map_err(&err)?,
                    s.lateness.histogram().map_err(&err)?,
                ];
                if i == 0 {
                    hists.push(h);
                } else {
                    out.steps[k].counts.add(&s.counts);
                    for (acc, x) in hists[k].iter_mut().zip(h.iter()) {
                        acc.add(x).expect("auto-resizing histogram");
                    }
                }
            }
        }
        out.run.shards.sort_unstable();
        for (s, h) in out.steps.iter_mut().zip(&hists) {
            s.latency = HistReport::from_hist(&h[0]);
            s.service = HistReport::from_hist(&h[1]);
            s.lateness = HistReport::from_hist(&h[2]);
        }
        out.validity = out.compute_validity();
        Ok(out)
    }

    /// Whether all shards 0..N are present.
    pub fn complete(&self) -> bool {
        self.run.shards.len() as u32 == self.run.shard_count
    }

    /// The human summary.
    pub fn summary(&self) -> String {
        let r = &self.run;
        let t = &self.totals;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} (seed {}, scale {}, speedup x{}) {} .. {}",
            r.scenario, r.seed, r.scale, r.speedup, r.window_start, r.window_end
        );
        let shards = if r.shard_count > 1 {
            format!(", shards {:?} of {}", r.shards, r.shard_count)
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "target {} (profile {}{shards}): {:.1} s planned, {:.1} s wall{}",
            r.target,
            r.profile,
            r.planned_run_s,
            r.wall_s,
            if r.interrupted { ", INTERRUPTED" } else { "" }
        );
        let _ = writeln!(
            s,
            "{:<12} {:>9} {:>9} {:>9} {:>7} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "step",
            "planned",
            "sent",
            "ok",
            "errors",
            "dropped",
            "p50",
            "p99",
            "p99.9",
            "max",
            "svc p99",
            "late p99"
        );
        for st in &self.steps {
            let c = &st.counts;
            let _ = writeln!(
                s,
                "{:<12} {:>9} {:>9} {:>9} {:>7} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                st.name,
                c.planned,
                c.sent,
                c.ok,
                c.errors(),
                c.dropped.total(),
                fmt_us(st.latency.p50_us),
                fmt_us(st.latency.p99_us),
                fmt_us(st.latency.p999_us),
                fmt_us(st.latency.max_us),
                fmt_us(st.service.p99_us),
                fmt_us(st.lateness.p99_us),
            );
        }
        let lat = self.merged(Which::Latency);
        let _ = writeln!(
            s,
            "{:<12} {:>9} {:>9} {:>9} {:>7} {:>7} {:>9} {:>9} {:>9} {:>9}",
            "all",
            t.planned,
            t.sent,
            t.ok,
            t.errors(),
            t.dropped.total(),
            fmt_us(lat.value_at_quantile(0.5)),
            fmt_us(lat.value_at_quantile(0.99)),
            fmt_us(lat.value_at_quantile(0.999)),
            fmt_us(lat.max()),
        );
        if t.errors() > 0 || t.dropped.total() > 0 {
            let codes: Vec<String> = t
                .http_errors
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            let _ = writeln!(
                s,
                "errors: http {{{}}}, timeouts {}, connect {}, transport {}, capture {}, invalid {}, cancelled {}; dropped: cap {}, unresolved {}, stopped {}",
                codes.join(", "),
                t.timeouts,
                t.connect_errors,
                t.transport_errors,
                t.capture_errors,
                t.invalid_requests,
                t.cancelled,
                t.dropped.in_flight_cap,
                t.dropped.unresolved,
                t.dropped.stopped
            );
        }
        if let Err(e) = t.check() {
            let _ = writeln!(s, "ACCOUNTING ERROR: {e}");
        }
        match (self.validity.valid, r.interrupted) {
            (true, _) => {
                let _ = writeln!(
                    s,
                    "valid run: dispatch lateness p99 {} (limit {})",
                    fmt_us(self.validity.lateness_p99_us),
                    fmt_us(self.validity.max_lateness_p99_us)
                );
            }
            (false, _) => {
                for reason in &self.validity.reasons {
                    let _ = writeln!(s, "INVALID RUN: {reason}");
                }
            }
        }
        if let Some(rc) = &self.reconciliation {
            let _ = writeln!(s, "reconciliation: {}", rc.message);
        }
        for v in &self.thresholds {
            let _ = writeln!(
                s,
                "threshold {}: {} (measured {})",
                v.threshold,
                if v.pass { "pass" } else { "FAIL" },
                v.value
            );
        }
        s
    }
}

/// Which of a step's histograms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Latency,
    Service,
    Lateness,
}

impl StepReport {
    pub fn hist(&self, w: Which) -> &HistReport {
        match w {
            Which::Latency => &self.latency,
            Which::Service => &self.service,
            Which::Lateness => &self.lateness,
        }
    }
}

/// Microseconds for humans: `850us`, `12.3ms`, `1.25s`.
pub fn fmt_us(us: u64) -> String {
    if us < 1000 {
        format!("{us}us")
    } else if us < 1_000_000 {
        format!("{:.1}ms", us as f64 / 1e3)
    } else {
        format!("{:.2}s", us as f64 / 1e6)
    }
}

/// Writes the time series as CSV: one row per interval of run time.
pub fn write_series_csv(
    intervals: &[Interval],
    width: Duration,
    out: impl std::io::Write,
) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "run_s", "planned", "sent", "ok", "errors", "dropped", "p50_us", "p99_us", "max_us",
    ])?;
    for (i, iv) in intervals.iter().enumerate() {
        w.write_record([
            format!("{}", i as f64 * width.as_secs_f64()),
            iv.planned.to_string(),
            iv.sent.to_string(),
            iv.ok.to_string(),
            iv.errors.to_string(),
            iv.dropped.to_string(),
            iv.latency.value_at_quantile(0.5).to_string(),
            iv.latency.value_at_quantile(0.99).to_string(),
            iv.latency.max().to_string(),
        ])?;
    }
    w.flush()
}

/// The live progress line (TTY only).
pub(crate) mod progress {
    use crate::dispatch::LiveView;
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    use std::io::IsTerminal;
    use std::time::Duration;

    pub(crate) struct Handle {
        bar: ProgressBar,
        task: tokio::task::JoinHandle<()>,
    }

    impl Handle {
        pub(crate) fn finish(self) {
            self.task.abort();
            self.bar.finish_and_clear();
        }
    }

    pub(crate) fn spawn(view: LiveView) -> Handle {
        let bar =
            ProgressBar::with_draw_target(Some(view.planned_total()), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let b = bar.clone();
        // On a terminal the bar redraws in place 4 times a second; elsewhere (`--progress
        // always` into a log) one line per second.
        let tty = std::io::stderr().is_terminal();
        let period = if tty { 250 } else { 1000 };
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(period));
            let per_s = 1000 / period;
            let (mut last_due, mut last_sent) = (0u64, 0u64);
            loop {
                tick.tick().await;
                let (due, sent) = (view.due(), view.dispatched());
                b.set_position(sent);
                let msg = format!(
                    "{} | planned {}/s achieved {}/s | in flight {} | done {} | p99 {} | errors {}",
                    view.scenario_time(),
                    (due - last_due.min(due)) * per_s,
                    (sent - last_sent.min(sent)) * per_s,
                    view.in_flight(),
                    view.done(),
                    super::fmt_us(view.p99_us()),
                    view.errors(),
                );
                if tty {
                    b.set_message(msg);
                } else {
                    eprintln!("{sent}/{} {msg}", view.planned_total());
                }
                (last_due, last_sent) = (due, sent);
            }
        });
        Handle { bar, task }
    }
}
