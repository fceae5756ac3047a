//! The arrival generator: a hot path of both the simulator and the load generator.
//! Target (issue 2): at least 10 million contacts per second on one core for the year
//! scenario scaled x1000 (about 14 million contacts).

use cclab_scenarios::Arrivals;
use criterion::{Criterion, Throughput};
use std::hint::black_box;

pub fn benches(c: &mut Criterion) {
    let year = cclab_scenarios::load("dpc-year-2011-12").expect("shipped scenario");
    let scale = 1000.0;
    let expected = (year.expected_total() * scale) as u64;
    let mut group = c.benchmark_group("arrivals");
    group.sample_size(10);
    group.throughput(Throughput::Elements(expected));
    group.bench_function("dpc-year-2011-12 x1000", |b| {
        b.iter(|| {
            let mut n = 0u64;
            let mut last = 0u64;
            for contact in Arrivals::new(&year, black_box(1), scale) {
                n += 1;
                last = contact.at_us;
            }
            black_box((n, last))
        })
    });
    let emilia = cclab_scenarios::load("emilia-quake-2012").expect("shipped scenario");
    group.throughput(Throughput::Elements(
        (emilia.expected_total() * scale) as u64,
    ));
    group.bench_function("emilia-quake-2012 x1000", |b| {
        b.iter(|| Arrivals::new(&emilia, black_box(1), scale).count())
    });
    group.finish();
    c.bench_function("scenario load dpc-year-2011-12", |b| {
        b.iter(|| cclab_scenarios::load(black_box("dpc-year-2011-12")).expect("valid"))
    });
}
