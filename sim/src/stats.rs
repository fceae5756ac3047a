//! What a run records, per interval, per day and in total, and how replications combine into
//! means with 95% confidence intervals.

use hdrhistogram::Histogram;

/// Counters and integrals kept per interval. Attempts count in the interval they arrive in;
/// integrals (agent-seconds, item-seconds) in the interval they accrue in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(usize)]
pub enum M {
    /// Call attempts that reached the center (first calls and redials).
    Offered,
    /// Attempts that were redials.
    Redials,
    /// Calls answered by an agent.
    Answered,
    /// Calls answered within the service-level threshold.
    AnsweredWithin,
    /// Callers who hung up while waiting (including at the greeting).
    Abandoned,
    /// Busy tone: the trunk was full.
    Blocked,
    /// The line was closed (closed-line message).
    Closed,
    /// A voicemail was left (called back at the next opening).
    Voicemail,
    /// Seconds waited by answered calls.
    WaitAnswered,
    /// Seconds waited by abandoned calls.
    WaitAbandoned,
    /// Agent-seconds busy.
    Busy,
    /// Agent-seconds on duty.
    OnDuty,
    /// Item-seconds of written work (and voicemail callbacks) waiting.
    Backlog,
    /// Written items received.
    WrittenIn,
    /// Written items answered.
    WrittenDone,
    /// Written items answered within the response target (working time).
    WrittenInTarget,
    /// Call-seconds spent waiting in the phone queue (its time integral: Little's law).
    Queue,
}

pub const METRICS: usize = 17;

impl M {
    pub const ALL: [M; METRICS] = [
        M::Offered,
        M::Redials,
        M::Answered,
        M::AnsweredWithin,
        M::Abandoned,
        M::Blocked,
        M::Closed,
        M::Voicemail,
        M::WaitAnswered,
        M::WaitAbandoned,
        M::Busy,
        M::OnDuty,
        M::Backlog,
        M::WrittenIn,
        M::WrittenDone,
        M::WrittenInTarget,
        M::Queue,
    ];

    pub fn name(self) -> &'static str {
        [
            "offered",
            "redials",
            "answered",
            "answered_within",
            "abandoned",
            "blocked",
            "closed_line",
            "voicemail",
            "wait_answered_s",
            "wait_abandoned_s",
            "busy_agent_s",
            "on_duty_agent_s",
            "backlog_item_s",
            "written_in",
            "written_done",
            "written_in_target",
            "queue_call_s",
        ][self as usize]
    }
}

/// How a contact (a distinct citizen) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Outcome {
    /// Answered and closed by the front office.
    FoClosed,
    /// Escalated and closed by the back office.
    BoClosed,
    /// Escalated and still open at the horizon.
    BoOpen,
    /// Never served: gave up (abandoned or blocked without a successful redial) or hit the
    /// closed line.
    Lost,
    /// Still waiting at the horizon (in the queue, in service, in the written backlog, or about
    /// to redial).
    Pending,
}

pub const OUTCOMES: usize = 5;

impl Outcome {
    pub const ALL: [Outcome; OUTCOMES] = [
        Outcome::FoClosed,
        Outcome::BoClosed,
        Outcome::BoOpen,
        Outcome::Lost,
        Outcome::Pending,
    ];

    pub fn name(self) -> &'static str {
        ["fo_closed", "bo_closed", "bo_open", "lost", "pending"][self as usize]
    }
}

/// Everything one replication records.
#[derive(Debug, Clone)]
pub struct RepStats {
    pub interval_s: f64,
    /// `[interval][metric]`.
    pub intervals: Vec<[f64; METRICS]>,
    /// Written backlog and back-office open cases at the end of each day.
    pub day_end_backlog: Vec<f64>,
    pub day_end_bo: Vec<f64>,
    /// Age in hours of the oldest written item waiting at the end of each day (0 if none).
    pub day_end_backlog_age_h: Vec<f64>,
    /// Waits of answered calls (milliseconds) per day, and over the run.
    pub day_waits: Vec<Histogram<u32>>,
    /// Waits of answered calls per interval (1 significant digit, about 6% resolution), only
    /// for intervals with answered calls.
    pub interval_waits: Vec<Option<Histogram<u32>>>,
    pub waits: Histogram<u32>,
    /// Distinct contacts by outcome, split by channel, request type and event (index 0 =
    /// ordinary, e + 1 = event e).
    pub by_channel: Vec<[u64; OUTCOMES]>,
    pub by_type: Vec<[u64; OUTCOMES]>,
    pub by_event: Vec<[u64; OUTCOMES]>,
}

/// The longest wait the histograms hold: 30 days, in milliseconds.
pub(crate) const MAX_WAIT_MS: u64 = 30 * 86_400_000;

/// A coarse wait histogram for one interval: small enough to keep one per interval.
pub(crate) fn coarse_histogram() -> Histogram<u32> {
    Histogram::new_with_bounds(1, MAX_WAIT_MS, 1).expect("valid bounds")
}

pub(crate) fn histogram() -> Histogram<u32> {
    // Waits up to 30 days in milliseconds, 2 significant digits.
    Histogram::new_with_bounds(1, MAX_WAIT_MS, 2).expect("valid bounds")
}

impl RepStats {
    pub fn new(intervals: usize, days: usize, events: usize, interval_s: f64) -> Self {
        RepStats {
            interval_s,
            intervals: vec![[0.0; METRICS]; intervals],
            day_end_backlog: vec![0.0; days],
            day_end_bo: vec![0.0; days],
            day_end_backlog_age_h: vec![0.0; days],
            day_waits: (0..days).map(|_| histogram()).collect(),
            interval_waits: vec![None; intervals],
            waits: histogram(),
            by_channel: vec![[0; OUTCOMES]; 6],
            by_type: vec![[0; OUTCOMES]; 5],
            by_event: vec![[0; OUTCOMES]; events + 1],
        }
    }

    /// Sum of a metric over all intervals.
    pub fn total(&self, m: M) -> f64 {
        self.intervals.iter().map(|i| i[m as usize]).sum()
    }

    /// Contacts by outcome, all channels.
    pub fn outcomes(&self) -> [u64; OUTCOMES] {
        let mut out = [0; OUTCOMES];
        for row in &self.by_channel {
            for (o, x) in out.iter_mut().zip(row) {
                *o += x;
            }
        }
        out
    }
}

/// The time integrals of one interval (agents busy, agents on duty, written backlog, phone
/// queue) while it is being accrued, in exact integer units: microseconds times a count. The
/// model adds one product per event and converts to seconds once, when the interval is closed,
/// so a row holds the exact integral rounded once (and the hot path does no floating point).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Integrals {
    busy: u128,
    on_duty: u128,
    backlog: u128,
    queue: u128,
}

impl Integrals {
    /// Accrues `dt` microseconds of the given state.
    #[inline]
    pub(crate) fn accrue(&mut self, dt: u64, busy: u32, on_duty: u32, backlog: u64, queue: u32) {
        let dt = u128::from(dt);
        self.busy += dt * u128::from(busy);
        self.on_duty += dt * u128::from(on_duty);
        self.backlog += dt * u128::from(backlog);
        self.queue += dt * u128::from(queue);
    }

    /// Adds the accrued integrals to `row` (in seconds) and starts again from zero.
    pub(crate) fn close(&mut self, row: &mut [f64; METRICS]) {
        let s = |x: u128| x as f64 / 1e6;
        row[M::Busy as usize] += s(self.busy);
        row[M::OnDuty as usize] += s(self.on_duty);
        row[M::Backlog as usize] += s(self.backlog);
        row[M::Queue as usize] += s(self.queue);
        *self = Integrals::default();
    }
}

/// Waits of answered calls on their way to the histograms, run-length encoded: consecutive
/// calls of one interval and day with the same wait (above all the calls answered at once, which
/// wait 0 ms and are recorded as 1 ms) are counted and recorded with one `record_n` per run.
/// A histogram is a table of counts, so it ends up exactly as with one `record` per call.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PendingWaits {
    interval: usize,
    day: usize,
    ms: u64,
    n: u32,
}

impl PendingWaits {
    /// Records a wait of `ms` milliseconds (clamped to the histograms' range) of a call that
    /// arrived in `interval` on `day`.
    #[inline]
    pub(crate) fn record(&mut self, stats: &mut RepStats, interval: usize, day: usize, ms: u64) {
        let ms = ms.clamp(1, MAX_WAIT_MS);
        if self.n > 0
            && self.n < u32::MAX
            && (interval, day, ms) == (self.interval, self.day, self.ms)
        {
            self.n += 1;
            return;
        }
        self.flush(stats);
        *self = PendingWaits {
            interval,
            day,
            ms,
            n: 1,
        };
    }

    /// Moves the pending run into the histograms.
    pub(crate) fn flush(&mut self, stats: &mut RepStats) {
        if self.n == 0 {
            return;
        }
        let (ms, n) = (self.ms, self.n);
        // In range by construction, so recording cannot fail.
        let _ = stats.day_waits[self.day].record_n(ms, n);
        let _ = stats.interval_waits[self.interval]
            .get_or_insert_with(coarse_histogram)
            .record_n(ms, n);
        let _ = stats.waits.record_n(ms, n);
        self.n = 0;
    }
}

/// Sum and sum of squares of a quantity over replications: its mean and 95% CI.
///
/// Values are accumulated in fixed point (2^-20 units, about a microsecond for seconds) in
/// 128-bit integers, so addition is associative: replications folded in any grouping (threads,
/// shards merged later) give exactly the same sums, bit for bit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Moments {
    pub n: u64,
    /// Sum of the fixed-point values.
    pub sum: i128,
    /// Sum of their squares (in fixed-point units squared).
    pub sum_sq: i128,
}

const FIXED: f64 = (1u64 << 20) as f64;

impl Moments {
    /// Adds one replication's value; NaN (an undefined ratio) is skipped.
    pub fn add(&mut self, x: f64) {
        if x.is_finite() {
            let q = (x * FIXED).round() as i128;
            self.n += 1;
            self.sum += q;
            self.sum_sq += q * q;
        }
    }

    pub fn merge(&mut self, o: &Moments) {
        self.n += o.n;
        self.sum += o.sum;
        self.sum_sq += o.sum_sq;
    }

    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            f64::NAN
        } else {
            self.sum as f64 / FIXED / self.n as f64
        }
    }

    /// Half-width of the 95% confidence interval of the mean (Student t), NaN below 2 samples.
    pub fn ci95(&self) -> f64 {
        if self.n < 2 {
            return f64::NAN;
        }
        let n = self.n as f64;
        let (sum, sum_sq) = (
            self.sum as f64 / FIXED,
            self.sum_sq as f64 / (FIXED * FIXED),
        );
        let var = ((sum_sq - sum * sum / n) / (n - 1.0)).max(0.0);
        student_t975(self.n - 1) * (var / n).sqrt()
    }
}

/// The 97.5% quantile of Student's t with `df` degrees of freedom.
pub fn student_t975(df: u64) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => TABLE[df as usize - 1],
        // Cornish-Fisher expansion around the normal quantile, accurate to 1e-3 beyond 30.
        _ => {
            let z = 1.959_964;
            let d = df as f64;
            z + (z * z * z + z) / (4.0 * d)
                + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * d * d)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_waits_record_exactly_what_record_would() {
        let waits: Vec<(usize, usize, u64)> = (0..2000u64)
            .map(|k| {
                let ms = if k % 7 < 5 { 0 } else { k * 37 % 90_000 };
                ((k / 300) as usize, (k / 900) as usize, ms)
            })
            .chain([(6, 2, u64::MAX), (6, 2, 1), (6, 2, 1)])
            .collect();
        let (mut direct, mut batched) =
            (RepStats::new(7, 3, 0, 60.0), RepStats::new(7, 3, 0, 60.0));
        let mut pending = PendingWaits::default();
        for &(i, day, ms) in &waits {
            let v = ms.clamp(1, MAX_WAIT_MS);
            direct.day_waits[day].record(v).unwrap();
            direct.interval_waits[i]
                .get_or_insert_with(coarse_histogram)
                .record(v)
                .unwrap();
            direct.waits.record(v).unwrap();
            pending.record(&mut batched, i, day, ms);
        }
        pending.flush(&mut batched);
        assert_eq!(format!("{direct:?}"), format!("{batched:?}"));
    }

    #[test]
    fn moments_mean_and_ci() {
        let mut m = Moments::default();
        for x in [1.0, 2.0, 3.0, 4.0] {
            m.add(x);
        }
        assert_eq!(m.mean(), 2.5);
        let mut a = Moments::default();
        let mut b = Moments::default();
        for (i, x) in [0.1, 1e-3, 12345.678, 0.7].iter().enumerate() {
            if i % 2 == 0 { a.add(*x) } else { b.add(*x) }
        }
        let mut all = Moments::default();
        for x in [0.1, 1e-3, 12345.678, 0.7] {
            all.add(x);
        }
        a.merge(&b);
        assert_eq!(a, all, "merging is exact whatever the grouping");
        // sd = 1.29099, se = 0.645497, t(3) = 3.182
        assert!((m.ci95() - 3.182 * 0.645_497).abs() < 1e-4);
        assert!((student_t975(60) - 2.000).abs() < 2e-3);
        assert!((student_t975(1000) - 1.962).abs() < 1e-3);
    }
}
