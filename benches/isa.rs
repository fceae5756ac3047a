//! Issue 4's staffing target: the iterative staffing algorithm (ISA) on `emilia-quake-2012` at
//! 15-minute intervals, staffed h24 over the whole horizon (2,784 intervals), 20 replications
//! per iteration on 2 threads: one whole ISA run (iterations to the fixed point plus the
//! verification rounds) per benchmark iteration. Target: under 10 s on 2 cores.

use cclab_sim::Plan;
use cclab_sim::replicate::RunConfig;
use cclab_sim::staffing::erlang::{SlDefinition, Target};
use cclab_sim::staffing::varying::{self, Demand, Method, Options};
use criterion::Criterion;
use std::hint::black_box;

pub fn benches(c: &mut Criterion) {
    let s = cclab_scenarios::load("emilia-quake-2012").expect("shipped scenario");
    let plan = Plan::from_scenario(&s)
        .expect("has a plan")
        .expect("valid plan");
    let interval_s = 900.0;
    let demand = Demand::new(&s, &plan, interval_s, None);
    let opts = Options {
        targets: vec![Target::ServiceLevel {
            fraction: 0.8,
            threshold_s: 20.0,
            definition: SlDefinition::OfferedBased,
        }],
        staffed: vec![true; demand.len()],
        run: RunConfig {
            seed: s.seed,
            replications: 20,
            first: 0,
            interval_s,
            sl_threshold_s: 20.0,
            threads: 2,
        },
        quantile: None,
        max_iterations: 12,
        max_corrections: 6,
    };
    let mut group = c.benchmark_group("staff");
    group.sample_size(10);
    group.bench_function("isa emilia-quake-2012 15m 20 reps", |b| {
        b.iter(|| {
            varying::requirement(&s, &plan, black_box(&demand), Method::Isa, &opts)
                .expect("isa runs")
        })
    });
    group.finish();
}
