//! Criterion benchmarks of cclab's hot paths: one module per topic.

mod arrivals;
mod engine;

criterion::criterion_group!(benches, arrivals::benches, engine::benches);
criterion::criterion_main!(benches);
