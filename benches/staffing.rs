//! Shift scheduling at the sizes `cclab staff` meets: a month of h24 days at 15 minutes (one
//! block linked by overnight shifts) and a year of ordinary days at 30 minutes (365 blocks).
//! The requirement is a seeded daily wave, so runs are comparable.

use cclab_sim::staffing::shifts::{
    Day, Mode, SolveOptions, expand, h24_templates, ordinary_templates, schedule,
};
use criterion::Criterion;
use std::hint::black_box;

/// `n` days of `mode` at `interval_min`, and a requirement peaking early afternoon with a
/// little deterministic noise (zero outside 09-18 on ordinary days).
fn instance(n: usize, interval_min: u32, mode: Mode) -> (Vec<Day>, Vec<u32>) {
    let per_day = (24 * 60 / interval_min) as usize;
    let days = (0..n)
        .map(|d| Day {
            label: format!("day {d}"),
            first_interval: d * per_day,
            intervals: per_day,
            weekday: (d % 7) as u8,
            mode: Some(mode),
        })
        .collect();
    let mut state = 12_345u64;
    let req = (0..n * per_day)
        .map(|i| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let noise = ((state >> 33) % 5) as f64 - 2.0;
            let hour = (i % per_day) as f64 * f64::from(interval_min) / 60.0;
            let open = mode == Mode::H24 || (9.0..18.0).contains(&hour);
            let wave = 6.0 + 10.0 * (-(hour - 13.0) * (hour - 13.0) / 20.0).exp();
            if open {
                (wave + noise).max(0.0) as u32
            } else {
                0
            }
        })
        .collect();
    (days, req)
}

pub fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("shifts");
    group.sample_size(10);
    let cases = [
        ("h24 month 15m", 30, 15, Mode::H24, h24_templates(60)),
        (
            "ordinary year 30m",
            365,
            30,
            Mode::Ordinary,
            ordinary_templates(),
        ),
    ];
    for (name, n, interval_min, mode, templates) in cases {
        let (days, req) = instance(n, interval_min, mode);
        let candidates = expand(&templates, &days, interval_min);
        let options = SolveOptions::default();
        group.bench_function(name, |b| {
            b.iter(|| schedule(black_box(&req), &candidates, &options))
        });
    }
    group.finish();
}
