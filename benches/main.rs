//! Criterion benchmarks of cclab's hot paths: one module per topic.

mod arrivals;
mod engine;
mod sim;

criterion::criterion_group!(benches, arrivals::benches, engine::benches, sim::benches);
criterion::criterion_main!(benches);
