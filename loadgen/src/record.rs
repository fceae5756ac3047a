//! What a run measures, per journey step: counts by outcome and three HdrHistograms.
//!
//! - `latency`: completion minus the *intended* send time (the plan's deadline). A stalled
//!   server delays every request planned during the stall, and this histogram shows it: it is
//!   free of coordinated omission.
//! - `service`: completion minus the actual send time: what a closed-loop tool would report.
//! - `lateness`: actual dispatch minus the deadline: the generator's own delay. If it is large
//!   the generator, not the server, was the bottleneck and the run is invalid.
//!
//! Histograms are in microseconds, 3 significant digits, auto-resizing (no value is clamped),
//! and serialize to HdrHistogram's V2 format so shards merge without loss. Latency and service
//! time are recorded for successful requests (`ok`); failures are counted by kind.
//!
//! The counts obey two identities, checked by [`Counts::check`]:
//! `planned = sent + dropped` and
//! `sent = ok + http_errors + timeouts + connect_errors + transport_errors + capture_errors +
//! invalid_requests + cancelled`.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A new histogram in microseconds: 1 us to 1 h before resizing, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    let mut h = Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds");
    h.auto(true);
    h
}

/// Why a planned request was not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dropped {
    /// The in-flight cap was reached under `--on-cap drop`.
    pub in_flight_cap: u64,
    /// An earlier step of the journey failed (or did not answer within the timeout), so this
    /// step had no case to act on.
    pub unresolved: u64,
    /// The run stopped (Ctrl-C) before the request's time came.
    pub stopped: u64,
}

impl Dropped {
    pub fn total(&self) -> u64 {
        self.in_flight_cap + self.unresolved + self.stopped
    }
}

/// Counts by outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub planned: u64,
    pub sent: u64,
    pub dropped: Dropped,
    /// Expected status, captures (if any) extracted.
    pub ok: u64,
    /// Unexpected HTTP statuses, by code.
    pub http_errors: BTreeMap<String, u64>,
    /// No complete response within the timeout.
    pub timeouts: u64,
    /// The connection could not be established.
    pub connect_errors: u64,
    /// The connection failed after it was established (reset, closed mid-response).
    pub transport_errors: u64,
    /// Expected status, but a capture (JSON pointer or header) found nothing.
    pub capture_errors: u64,
    /// The request could not be built (a substituted value made an invalid URI or header).
    pub invalid_requests: u64,
    /// Still in flight when the grace period after Ctrl-C ran out.
    pub cancelled: u64,
}

impl Counts {
    /// All failures of sent requests.
    pub fn errors(&self) -> u64 {
        self.http_errors.values().sum::<u64>()
            + self.timeouts
            + self.connect_errors
            + self.transport_errors
            + self.capture_errors
            + self.invalid_requests
            + self.cancelled
    }

    /// Checks the accounting identities; the error says which one fails.
    pub fn check(&self) -> Result<(), String> {
        if self.planned != self.sent + self.dropped.total() {
            return Err(format!(
                "planned {} != sent {} + dropped {}",
                self.planned,
                self.sent,
                self.dropped.total()
            ));
        }
        if self.sent != self.ok + self.errors() {
            return Err(format!(
                "sent {} != ok {} + errors {}",
                self.sent,
                self.ok,
                self.errors()
            ));
        }
        Ok(())
    }

    pub fn add(&mut self, o: &Counts) {
        self.planned += o.planned;
        self.sent += o.sent;
        self.dropped.in_flight_cap += o.dropped.in_flight_cap;
        self.dropped.unresolved += o.dropped.unresolved;
        self.dropped.stopped += o.dropped.stopped;
        self.ok += o.ok;
        for (k, v) in &o.http_errors {
            *self.http_errors.entry(k.clone()).or_default() += v;
        }
        self.timeouts += o.timeouts;
        self.connect_errors += o.connect_errors;
        self.transport_errors += o.transport_errors;
        self.capture_errors += o.capture_errors;
        self.invalid_requests += o.invalid_requests;
        self.cancelled += o.cancelled;
    }
}

/// How one sent request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Http(u16),
    Timeout,
    Connect,
    Transport,
    Capture,
    Invalid,
}

/// Everything measured for one step.
#[derive(Debug, Clone)]
pub struct StepStats {
    pub counts: Counts,
    pub latency: Histogram<u64>,
    pub service: Histogram<u64>,
    pub lateness: Histogram<u64>,
}

impl Default for StepStats {
    fn default() -> Self {
        StepStats {
            counts: Counts::default(),
            latency: new_histogram(),
            service: new_histogram(),
            lateness: new_histogram(),
        }
    }
}

impl StepStats {
    /// Records a sent request's outcome; times in microseconds.
    pub fn record(&mut self, outcome: Outcome, latency_us: u64, service_us: u64) {
        let c = &mut self.counts;
        c.sent += 1;
        match outcome {
            Outcome::Ok => {
                c.ok += 1;
                self.latency.saturating_record(latency_us);
                self.service.saturating_record(service_us);
            }
            Outcome::Http(code) => *c.http_errors.entry(code.to_string()).or_default() += 1,
            Outcome::Timeout => c.timeouts += 1,
            Outcome::Connect => c.connect_errors += 1,
            Outcome::Transport => c.transport_errors += 1,
            Outcome::Capture => c.capture_errors += 1,
            Outcome::Invalid => c.invalid_requests += 1,
        }
    }
}

/// Per-interval figures of a run (the optional time series), by run time.
#[derive(Debug, Clone)]
pub struct Interval {
    /// Requests whose deadline falls in the interval.
    pub planned: u64,
    /// Requests actually sent in the interval.
    pub sent: u64,
    /// Completions in the interval, by result.
    pub ok: u64,
    pub errors: u64,
    pub dropped: u64,
    /// Latency (from intended send) of the interval's successful completions; 2 significant
    /// digits to keep a long series small.
    pub latency: Histogram<u64>,
}

impl Default for Interval {
    fn default() -> Self {
        let mut h = Histogram::new_with_bounds(1, 3_600_000_000, 2).expect("valid bounds");
        h.auto(true);
        Interval {
            planned: 0,
            sent: 0,
            ok: 0,
            errors: 0,
            dropped: 0,
            latency: h,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities() {
        let mut s = StepStats::default();
        s.counts.planned = 5;
        s.record(Outcome::Ok, 10, 5);
        s.record(Outcome::Http(503), 0, 0);
        s.record(Outcome::Timeout, 0, 0);
        s.record(Outcome::Capture, 0, 0);
        s.counts.dropped.in_flight_cap = 1;
        s.counts.check().unwrap();
        assert_eq!(s.counts.errors(), 3);
        assert_eq!(s.latency.len(), 1);
        s.counts.planned = 6;
        assert!(s.counts.check().is_err());
    }
}
