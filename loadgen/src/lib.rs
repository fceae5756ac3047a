//! cclab-loadgen: the open-loop load generator.
//!
//! It sits after `cclab-scenarios` in the flow scenario -> arrivals -> load replay. A scenario's
//! contact stream (the very stream the simulator models), compressed in time (`speedup`) and
//! scaled in volume (`scale`), becomes timed HTTP requests against a live contact-center API:
//!
//! - [`profile`]: the target profile (TOML): per journey step, method, path, headers, a body
//!   template with placeholders, captures from responses, expected statuses, and when the step
//!   happens relative to its parent (delay, probability, repeats, exclusive choices).
//! - [`plan`]: scenario + seed + options -> a sorted, deterministic plan of timed steps; each
//!   contact is one journey (intake, status checks, operator steps...). `--shard I/N` keeps a
//!   disjoint share of the contacts, so a journey stays on one worker. Runs stream the plan
//!   (generated in time order as the run goes), so memory does not grow with its length.
//! - [`dispatch`]: one scheduler sleeping to absolute deadlines sends every step at its
//!   planned time whatever happened to earlier ones (open loop), in an event loop on a thread
//!   of its own, through a lean HTTP/1.1 client over keep-alive connections, with timeouts
//!   and an in-flight cap (queue or drop).
//! - [`record`]: per step, three HdrHistograms: latency from the intended send time (free of
//!   coordinated omission), service time from the actual send, the dispatcher's lateness; and
//!   counts that obey `planned = sent + dropped`, `sent = ok + errors by kind`.
//! - [`report`]: the JSON report (schema in `docs/loadgen-report.md`) with serialized
//!   histograms, so shards merge exactly; validity (was the generator the bottleneck?), and
//!   [`threshold`] verdicts for CI.
//!
//! Architecture invariant: this crate never depends on `cclab-server`; the two meet only in the
//! `cclab` binary (which embeds the reference server as the default target) and its tests.
//! Failed requests are data: only setup errors (bad profile, bad options) are `Err`.

pub mod dispatch;
pub mod error;
pub mod plan;
pub mod profile;
pub mod record;
pub mod report;
pub mod threshold;

pub use dispatch::{Policy, RunOptions, RunOutcome, run};
pub use error::LoadgenError;
pub use plan::{Plan, PlanOptions, Shard};
pub use profile::Profile;
pub use report::Report;

/// Exit code: the run completed, it was valid and every threshold held.
pub const EXIT_OK: u8 = 0;
/// Exit code: a verdict failed (a threshold was violated, or reconciliation found a mismatch).
pub const EXIT_VERDICT: u8 = 1;
/// Exit code: usage or input error (bad option, scenario, profile or report file).
pub const EXIT_INPUT: u8 = 2;
/// Exit code: the run is invalid, the generator itself was the bottleneck (dispatch lateness
/// p99 or drops over their limits): its latencies say nothing about the server.
pub const EXIT_INVALID: u8 = 3;
/// Exit code: interrupted (Ctrl-C); a partial report was still written.
pub const EXIT_INTERRUPTED: u8 = 130;

/// The reference server's profile, shipped with the crate.
pub const REFERENCE_PROFILE: &str = include_str!("../profiles/reference.toml");
/// An example profile for an API of another shape (a generic help desk).
pub const HELPDESK_PROFILE: &str = include_str!("../profiles/helpdesk.toml");

/// Parses a duration such as `250ms`, `90s`, `15m`, `2h`, `3d` or `500us`; a bare number is
/// seconds.
pub fn parse_duration(s: &str) -> Option<std::time::Duration> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "" | "s" => v,
        "us" | "µs" => v * 1e-6,
        "ms" => v * 1e-3,
        "m" | "min" => v * 60.0,
        "h" => v * 3600.0,
        "d" => v * 86400.0,
        _ => return None,
    };
    (secs.is_finite() && secs >= 0.0).then(|| std::time::Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("3d"), Some(Duration::from_secs(259_200)));
        assert_eq!(parse_duration("500us"), Some(Duration::from_micros(500)));
        assert_eq!(parse_duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("2 weeks"), None);
        assert_eq!(parse_duration("-1s"), None);
    }
}
