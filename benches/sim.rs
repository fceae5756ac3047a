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
use cclab_sim::yardstick::{self, CALLS_PER_HOUR};
use criterion::{Criterion, Throughput};
use std::hint::black_box;

/// Calls offered in one run of seed `seed` (no redials in this plan: every attempt is a caller).
fn calls(s: &Scenario, p: &Plan, seed: u64) -> u64 {
    Model::new(s, p, seed, 1800.0, 20.0).run().total(M::Offered) as u64
}

pub fn benches(c: &mut Criterion) {
    let seed = 12345;
    let mut group = c.benchmark_group("sim_erlang_a");
    group.sample_size(10);
    for (name, s) in [
        ("full model 11h", yardstick::scenario(1, 11, CALLS_PER_HOUR)),
        (
            "full model 1008h",
            yardstick::scenario(42, 24, CALLS_PER_HOUR),
        ),
    ] {
        let p = yardstick::plan(&s, 380, 180.0, 120.0);
        group.throughput(Throughput::Elements(calls(&s, &p, seed)));
        group.bench_function(name, |b| {
            b.iter(|| Model::new(&s, &p, black_box(seed), 1800.0, 20.0).run())
        });
    }
    group.finish();
}
