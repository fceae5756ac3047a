//! Wall time of `dpc-year-2011-12` with its default plan over many replications, the figure
//! issue 3 asks for (1000 replications on 2 cores).
//!
//! usage: cargo run --release -p cclab-sim --example year_replications --
//!        [replications=1000] [threads=2] [seed=scenario's]
//!
//! Prints one JSON line: wall time, replications per second, the closure split and a digest of
//! the whole summary (equal digests: bit-identical results, e.g. across thread counts).

use cclab_sim::{Plan, RunConfig, simulate};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).map(|s| s.parse::<u64>().expect("an integer"));
    let s = cclab_scenarios::load("dpc-year-2011-12").expect("shipped scenario");
    let plan = Plan::from_scenario(&s)
        .expect("the scenario has a [plan] table")
        .expect("valid plan");
    let cfg = RunConfig {
        seed: arg(3).unwrap_or(s.seed),
        replications: arg(1).unwrap_or(1000),
        first: 0,
        interval_s: 1800.0,
        sl_threshold_s: 20.0,
        threads: arg(2).unwrap_or(2) as usize,
    };
    let t0 = Instant::now();
    let sum = simulate(&s, &plan, cfg);
    let wall = t0.elapsed().as_secs_f64();
    let kpi = |k: &str| {
        sum.kpis
            .iter()
            .find(|(name, _)| *name == k)
            .map_or(f64::NAN, |(_, m)| m.mean())
    };
    let mut h = DefaultHasher::new();
    format!("{sum:?}").hash(&mut h);
    println!(
        "{{\"scenario\": \"dpc-year-2011-12\", \"replications\": {}, \"threads\": {}, \"seed\": {}, \
\"wall_s\": {wall:.3}, \"replications_per_s\": {:.2}, \"fo_share\": {:.4}, \"bo_share\": {:.4}, \
\"open_share\": {:.4}, \"digest\": \"{:016x}\"}}",
        cfg.replications,
        cfg.threads,
        cfg.seed,
        cfg.replications as f64 / wall,
        kpi("fo_share"),
        kpi("bo_share"),
        kpi("open_share"),
        h.finish(),
    );
}
