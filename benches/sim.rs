//! The full contact-center model on issue 3's Erlang-A yardstick: 2 calls/s, exponential
//! service with mean 180 s, 380 agents, exponential patience with mean 120 s. Run side by side
//! with `shared/perf-reference/erlang-a-bare` (a bare `BinaryHeap` loop of the same model) and
//! compare calls per second. Target: at least 3 million calls/s, within 1.4x of the bare loop.
//!
//! The scenario and plan are built from TOML text like the model's integration tests: a flat
//! Poisson phone stream and one 24-hour shift. The 11-hour run (1 h warm-up then 10 h) is one
//! day whose profile is flat for 11 hours and empty after; the steady run is 42 flat days
//! (1,008 hours in UTC, about 7.3 million calls). `sim/examples/erlang_a_model.rs` runs the
//! same model once, printing the bare loop's JSON keys, for a side-by-side run.

use cclab_scenarios::Scenario;
use cclab_sim::Plan;
use cclab_sim::model::Model;
use cclab_sim::stats::M;
use criterion::{Criterion, Throughput};
use std::hint::black_box;

const CALLS_PER_HOUR: f64 = 7200.0;

/// Phone calls at 2 per second for the first `hours` of each day (flat), over `days` days.
fn scenario(days: u32, hours: usize) -> Scenario {
    let profile: Vec<&str> = (0..24).map(|h| if h < hours { "1" } else { "0" }).collect();
    let per_day = CALLS_PER_HOUR * hours as f64;
    let text = format!(
        r#"
[calendar]
start = "2012-03-05"
# UTC: no daylight-saving day, every day has 24 hours.
time_zone = "UTC"
days = {days}
holidays = "none"
[baseline]
working_day = {per_day}
non_working_day = {per_day}
profile = [{}]
[channels]
ordinary = {{ phone = 1 }}
[types]
ordinary = {{ information = 1 }}
"#,
        profile.join(", ")
    );
    Scenario::from_toml("erlang-a.toml", &text).expect("valid scenario")
}

/// 380 agents around the clock, exponential handle time (180 s) and patience (120 s).
fn plan(s: &Scenario) -> Plan {
    let text = r#"
[[shifts]]
start = "00:00"
end = "24:00"
agents = 380
[handling.phone.default]
exponential = "180s"
[phone.patience.default]
wait = { exponential = "120s" }
"#;
    Plan::from_toml("erlang-a-plan.toml", text, s).expect("valid plan")
}

/// Calls offered in one run of seed `seed` (no redials in this plan: every attempt is a caller).
fn calls(s: &Scenario, p: &Plan, seed: u64) -> u64 {
    Model::new(s, p, seed, 1800.0, 20.0).run().total(M::Offered) as u64
}

pub fn benches(c: &mut Criterion) {
    let seed = 12345;
    let mut group = c.benchmark_group("sim_erlang_a");
    group.sample_size(10);
    for (name, s) in [
        ("full model 11h", scenario(1, 11)),
        ("full model 1008h", scenario(42, 24)),
    ] {
        let p = plan(&s);
        group.throughput(Throughput::Elements(calls(&s, &p, seed)));
        group.bench_function(name, |b| {
            b.iter(|| Model::new(&s, &p, black_box(seed), 1800.0, 20.0).run())
        });
    }
    group.finish();
}
