//! Criterion benchmarks of cclab's hot paths: one module per topic.

mod arrivals;

criterion::criterion_group!(benches, arrivals::benches);
criterion::criterion_main!(benches);
