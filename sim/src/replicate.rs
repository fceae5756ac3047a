//! Replications: independent runs whose seeds derive from (seed, replication index), run on
//! any number of threads and combined in replication order, so the result is the same whatever
//! the thread count.

use crate::model::Model;
use crate::plan::Plan;
use crate::stats::{M, METRICS, Moments, OUTCOMES, RepStats};
use cclab_scenarios::Scenario;
use cclab_scenarios::rng::replication_seed;
use hdrhistogram::Histogram;

/// What to run.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunConfig {
    pub seed: u64,
    pub replications: u64,
    /// First replication index (a shard runs `first..first + replications`).
    pub first: u64,
    pub interval_s: f64,
    pub sl_threshold_s: f64,
    pub threads: usize,
}

/// Replications combined: per interval and per day, the mean and CI of each metric; pooled
/// wait histograms; outcomes.
#[derive(Debug, Clone)]
pub struct Summary {
    pub config: RunConfig,
    pub intervals: Vec<[Moments; METRICS]>,
    pub days: Vec<[Moments; METRICS]>,
    pub day_end_backlog: Vec<Moments>,
    pub day_end_bo: Vec<Moments>,
    pub day_end_backlog_age_h: Vec<Moments>,
    /// Derived per-replication ratios over the whole run.
    pub kpis: Vec<(&'static str, Moments)>,
    pub day_waits: Vec<Histogram<u32>>,
    /// Pooled per-interval waits of answered calls (coarse: about 6% resolution).
    pub interval_waits: Vec<Option<Histogram<u32>>>,
    pub waits: Histogram<u32>,
    pub by_channel: Vec<[Moments; OUTCOMES]>,
    pub by_type: Vec<[Moments; OUTCOMES]>,
    pub by_event: Vec<[Moments; OUTCOMES]>,
    pub totals: [Moments; METRICS],
}

impl RunConfig {
    /// Shard `index` of `count` (0-based): a contiguous block of the replications, so the
    /// shards together run each replication exactly once.
    pub fn shard(mut self, index: u64, count: u64) -> RunConfig {
        let (total, first) = (self.replications, self.first);
        let start = total * index / count;
        let end = total * (index + 1) / count;
        self.first = first + start;
        self.replications = end - start;
        self
    }
}

impl Summary {
    /// Adds another shard's replications. Sums are exact (fixed point), histograms add
    /// losslessly, so shards merged in any order equal one run of all their replications.
    pub fn merge(&mut self, o: &Summary) {
        let rows = |a: &mut Vec<[Moments; METRICS]>, b: &Vec<[Moments; METRICS]>| {
            for (x, y) in a.iter_mut().zip(b) {
                for (m, n) in x.iter_mut().zip(y) {
                    m.merge(n);
                }
            }
        };
        rows(&mut self.intervals, &o.intervals);
        rows(&mut self.days, &o.days);
        for (a, b) in [
            (&mut self.day_end_backlog, &o.day_end_backlog),
            (&mut self.day_end_bo, &o.day_end_bo),
            (&mut self.day_end_backlog_age_h, &o.day_end_backlog_age_h),
        ] {
            for (x, y) in a.iter_mut().zip(b) {
                x.merge(y);
            }
        }
        for ((_, x), (_, y)) in self.kpis.iter_mut().zip(&o.kpis) {
            x.merge(y);
        }
        for (x, y) in self.day_waits.iter_mut().zip(&o.day_waits) {
            let _ = x.add(y);
        }
        for (x, y) in self.interval_waits.iter_mut().zip(&o.interval_waits) {
            add_coarse(x, y.as_ref());
        }
        let _ = self.waits.add(&o.waits);
        for (a, b) in [
            (&mut self.by_channel, &o.by_channel),
            (&mut self.by_type, &o.by_type),
            (&mut self.by_event, &o.by_event),
        ] {
            for (x, y) in a.iter_mut().zip(b) {
                for (m, n) in x.iter_mut().zip(y) {
                    m.merge(n);
                }
            }
        }
        for (x, y) in self.totals.iter_mut().zip(&o.totals) {
            x.merge(y);
        }
        self.config.replications += o.config.replications;
        self.config.first = self.config.first.min(o.config.first);
    }
}

fn add_coarse(into: &mut Option<Histogram<u32>>, from: Option<&Histogram<u32>>) {
    if let Some(h) = from {
        let _ = into
            .get_or_insert_with(crate::stats::coarse_histogram)
            .add(h);
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { f64::NAN }
}

/// Whole-run KPIs of one replication, by name.
pub fn kpis(r: &RepStats) -> Vec<(&'static str, f64)> {
    let t = |m: M| r.total(m);
    let queued = t(M::Answered) + t(M::Abandoned);
    let out = r.outcomes();
    let served = (out[0] + out[1] + out[2]) as f64;
    vec![
        ("sl_answered", ratio(t(M::AnsweredWithin), t(M::Answered))),
        ("sl_offered", ratio(t(M::AnsweredWithin), queued)),
        ("asa_served_s", ratio(t(M::WaitAnswered), t(M::Answered))),
        (
            "asa_all_s",
            ratio(t(M::WaitAnswered) + t(M::WaitAbandoned), queued),
        ),
        ("abandon_rate", ratio(t(M::Abandoned), queued)),
        ("occupancy", ratio(t(M::Busy), t(M::OnDuty))),
        (
            "written_in_target",
            ratio(t(M::WrittenInTarget), t(M::WrittenDone)),
        ),
        ("fo_share", ratio(out[0] as f64, served)),
        ("bo_share", ratio(out[1] as f64, served)),
        ("open_share", ratio(out[2] as f64, served)),
    ]
}

/// Runs `run(seed)` for each replication of `cfg` on `cfg.threads` threads, with the seed derived
/// from (`cfg.seed`, replication index), and hands the results to `take(index, result)` in
/// replication order, so what `take` builds is the same whatever the thread count. `progress`
/// gets the number done after each batch.
pub fn for_each_replication<T: Send>(
    cfg: RunConfig,
    run: impl Fn(u64) -> T + Sync,
    mut take: impl FnMut(u64, &T),
    progress: &dyn Fn(u64),
) {
    let reps: Vec<u64> = (cfg.first..cfg.first + cfg.replications).collect();
    let threads = cfg.threads.max(1);
    let mut done = 0;
    let run = &run;
    // Run a batch in parallel, then hand it over in replication order.
    for batch in reps.chunks(threads * 2) {
        let results: Vec<T> = std::thread::scope(|scope| {
            let handles: Vec<_> = batch
                .chunks(batch.len().div_ceil(threads))
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|&rep| run(replication_seed(cfg.seed, rep)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("a replication panicked"))
                .collect()
        });
        for (rep, r) in batch.iter().zip(&results) {
            take(*rep, r);
        }
        done += results.len() as u64;
        progress(done);
    }
}

/// Runs the replications and combines them.
pub fn simulate(s: &Scenario, plan: &Plan, cfg: RunConfig) -> Summary {
    simulate_with_progress(s, plan, cfg, &|_| {})
}

/// As [`simulate`], calling `progress(done)` after each batch of replications (for a progress
/// bar; the callback does not affect the result).
pub fn simulate_with_progress(
    s: &Scenario,
    plan: &Plan,
    cfg: RunConfig,
    progress: &dyn Fn(u64),
) -> Summary {
    let days = s.calendar.days.len();
    let mut sum: Option<Summary> = None;
    for_each_replication(
        cfg,
        |seed| Model::new(s, plan, seed, cfg.interval_s, cfg.sl_threshold_s).run(),
        |_, r| {
            let acc = sum.get_or_insert_with(|| empty(cfg, r, days));
            fold(acc, r, s);
        },
        progress,
    );
    sum.unwrap_or_else(|| {
        let r = RepStats::new(0, days, s.events.len(), cfg.interval_s);
        empty(cfg, &r, days)
    })
}

fn empty(cfg: RunConfig, r: &RepStats, days: usize) -> Summary {
    Summary {
        config: cfg,
        intervals: vec![[Moments::default(); METRICS]; r.intervals.len()],
        days: vec![[Moments::default(); METRICS]; days],
        day_end_backlog: vec![Moments::default(); days],
        day_end_bo: vec![Moments::default(); days],
        day_end_backlog_age_h: vec![Moments::default(); days],
        kpis: kpis(r)
            .into_iter()
            .map(|(k, _)| (k, Moments::default()))
            .collect(),
        day_waits: (0..days).map(|_| crate::stats::histogram()).collect(),
        interval_waits: vec![None; r.intervals.len()],
        waits: crate::stats::histogram(),
        by_channel: vec![[Moments::default(); OUTCOMES]; r.by_channel.len()],
        by_type: vec![[Moments::default(); OUTCOMES]; r.by_type.len()],
        by_event: vec![[Moments::default(); OUTCOMES]; r.by_event.len()],
        totals: [Moments::default(); METRICS],
    }
}

fn fold(acc: &mut Summary, r: &RepStats, s: &Scenario) {
    let mut day_rows = vec![[0.0; METRICS]; acc.days.len()];
    for (i, row) in r.intervals.iter().enumerate() {
        for (m, x) in row.iter().enumerate() {
            acc.intervals[i][m].add(*x);
        }
        let start_h = i as f64 * r.interval_s / 3600.0;
        if let Some(d) = s.calendar.day_of(start_h) {
            for (m, x) in row.iter().enumerate() {
                day_rows[d][m] += x;
            }
        }
    }
    for (d, row) in day_rows.iter().enumerate() {
        for (m, x) in row.iter().enumerate() {
            acc.days[d][m].add(*x);
        }
        acc.day_end_backlog[d].add(r.day_end_backlog[d]);
        acc.day_end_bo[d].add(r.day_end_bo[d]);
        acc.day_end_backlog_age_h[d].add(r.day_end_backlog_age_h[d]);
        let _ = acc.day_waits[d].add(&r.day_waits[d]);
    }
    let _ = acc.waits.add(&r.waits);
    for (x, y) in acc.interval_waits.iter_mut().zip(&r.interval_waits) {
        add_coarse(x, y.as_ref());
    }
    for m in M::ALL {
        acc.totals[m as usize].add(r.total(m));
    }
    for ((_, acc_k), (_, x)) in acc.kpis.iter_mut().zip(kpis(r)) {
        acc_k.add(x);
    }
    for (a, b) in [
        (&mut acc.by_channel, &r.by_channel),
        (&mut acc.by_type, &r.by_type),
        (&mut acc.by_event, &r.by_event),
    ] {
        for (row_a, row_b) in a.iter_mut().zip(b) {
            for (m, x) in row_a.iter_mut().zip(row_b) {
                m.add(*x as f64);
            }
        }
    }
}

/// A [`Summary`] in a form that serialises losslessly (for shard files): the fixed-point
/// moments as they are, and histograms as (value, count) pairs of their recorded buckets.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SummaryData {
    pub config: RunConfig,
    pub intervals: Vec<[Moments; METRICS]>,
    pub days: Vec<[Moments; METRICS]>,
    pub day_end_backlog: Vec<Moments>,
    pub day_end_bo: Vec<Moments>,
    pub day_end_backlog_age_h: Vec<Moments>,
    pub kpis: Vec<(String, Moments)>,
    pub day_waits: Vec<Vec<(u64, u64)>>,
    /// Per interval; empty for intervals without answered calls.
    pub interval_waits: Vec<Vec<(u64, u64)>>,
    pub waits: Vec<(u64, u64)>,
    pub by_channel: Vec<[Moments; OUTCOMES]>,
    pub by_type: Vec<[Moments; OUTCOMES]>,
    pub by_event: Vec<[Moments; OUTCOMES]>,
    pub totals: [Moments; METRICS],
}

fn buckets(h: &Histogram<u32>) -> Vec<(u64, u64)> {
    h.iter_recorded()
        .map(|v| (v.value_iterated_to(), u64::from(v.count_at_value())))
        .collect()
}

/// A histogram made by `new` holding the recorded buckets `pairs`.
fn rebuild_with(
    pairs: &[(u64, u64)],
    new: fn() -> Histogram<u32>,
) -> Result<Histogram<u32>, String> {
    let mut h = new();
    for &(value, count) in pairs {
        let count =
            u32::try_from(count).map_err(|_| format!("histogram count {count} too large"))?;
        h.record_n(value, count)
            .map_err(|e| format!("histogram value {value}: {e}"))?;
    }
    Ok(h)
}

fn rebuild(pairs: &[(u64, u64)]) -> Result<Histogram<u32>, String> {
    rebuild_with(pairs, crate::stats::histogram)
}

fn rebuild_coarse(pairs: &[(u64, u64)]) -> Result<Option<Histogram<u32>>, String> {
    if pairs.is_empty() {
        return Ok(None);
    }
    rebuild_with(pairs, crate::stats::coarse_histogram).map(Some)
}

impl Summary {
    pub fn to_data(&self) -> SummaryData {
        SummaryData {
            config: self.config,
            intervals: self.intervals.clone(),
            days: self.days.clone(),
            day_end_backlog: self.day_end_backlog.clone(),
            day_end_bo: self.day_end_bo.clone(),
            day_end_backlog_age_h: self.day_end_backlog_age_h.clone(),
            kpis: self.kpis.iter().map(|(k, m)| (k.to_string(), *m)).collect(),
            day_waits: self.day_waits.iter().map(buckets).collect(),
            interval_waits: self
                .interval_waits
                .iter()
                .map(|h| h.as_ref().map(buckets).unwrap_or_default())
                .collect(),
            waits: buckets(&self.waits),
            by_channel: self.by_channel.clone(),
            by_type: self.by_type.clone(),
            by_event: self.by_event.clone(),
            totals: self.totals,
        }
    }

    /// Rebuilds a summary; the error says what does not fit.
    pub fn from_data(d: SummaryData) -> Result<Summary, String> {
        let names = kpis(&RepStats::new(0, 0, 0, 1.0));
        let mut k = Vec::new();
        for (name, m) in d.kpis {
            let known = names
                .iter()
                .find(|(n, _)| *n == name)
                .ok_or_else(|| format!("unknown KPI `{name}`"))?;
            k.push((known.0, m));
        }
        Ok(Summary {
            config: d.config,
            intervals: d.intervals,
            days: d.days,
            day_end_backlog: d.day_end_backlog,
            day_end_bo: d.day_end_bo,
            day_end_backlog_age_h: d.day_end_backlog_age_h,
            kpis: k,
            day_waits: d
                .day_waits
                .iter()
                .map(|p| rebuild(p))
                .collect::<Result<_, _>>()?,
            interval_waits: d
                .interval_waits
                .iter()
                .map(|p| rebuild_coarse(p))
                .collect::<Result<_, _>>()?,
            waits: rebuild(&d.waits)?,
            by_channel: d.by_channel,
            by_type: d.by_type,
            by_event: d.by_event,
            totals: d.totals,
        })
    }
}
