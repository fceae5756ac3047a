//! The load generator's plan compilation: scenario + seed + profile -> sorted timed requests.
//! It runs before every load test (and per shard), so it should stay well under a second for a
//! surge day at ten times the volume.

use cclab_loadgen::{Plan, PlanOptions, Profile, Shard};
use criterion::{Criterion, Throughput};
use std::collections::BTreeMap;
use std::hint::black_box;

pub fn benches(c: &mut Criterion) {
    let emilia = cclab_scenarios::load("emilia-quake-2012").expect("shipped scenario");
    let mut vars = BTreeMap::new();
    vars.insert(
        "operator_token".to_string(),
        "bench-token-0123456789".to_string(),
    );
    let profile = Profile::reference(&vars).expect("shipped profile");
    let opts = PlanOptions {
        seed: 1,
        scale: 10.0,
        speedup: 1440.0,
        from_us: None,
        to_us: None,
        duration: None,
        shard: Shard::WHOLE,
    };
    let planned = Plan::compile(&emilia, &profile, &opts)
        .expect("plan")
        .planned();
    let mut group = c.benchmark_group("loadgen");
    group.sample_size(10);
    group.throughput(Throughput::Elements(planned));
    group.bench_function("plan emilia-quake-2012 x10, reference profile", |b| {
        b.iter(|| {
            let plan = Plan::compile(&emilia, &profile, black_box(&opts)).expect("plan");
            black_box(plan.planned())
        })
    });
    group.finish();
}
