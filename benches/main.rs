//! Criterion benchmarks of cclab's hot paths: one module per topic.

mod arrivals;
mod engine;
mod isa;
mod loadgen;
mod sim;
mod staffing;

criterion::criterion_group!(
    benches,
    arrivals::benches,
    engine::benches,
    sim::benches,
    isa::benches,
    staffing::benches,
    loadgen::benches
);
criterion::criterion_main!(benches);
