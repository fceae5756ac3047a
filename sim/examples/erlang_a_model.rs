//! Issue 3's performance yardstick on the full contact-center model: M/M/c+M (2 calls/s,
//! exponential service with mean 180 s, 380 agents, exponential patience with mean 120 s) as a
//! flat phone scenario and a 24-hour shift plan run through `Model`, timed so it can be set
//! beside `shared/perf-reference/erlang-a-bare` (same arguments, same JSON keys).
//!
//! usage: cargo run --release -p cclab-sim --example erlang_a_model --
//!        [measure_hours=10] [warmup_hours=1] [seed=12345] [repeat=1]
//!
//! The scenario is `warmup + measure` hours of flat demand (UTC): below 24 hours, one day whose
//! profile is flat for those hours and empty after; otherwise whole flat days (the total must
//! then be a multiple of 24: `1007 1` gives the 1,008-hour steady run). Every call that arrives
//! counts, as in the bare loop; the KPIs are over calls arriving in the measured hours.
//! `digest` hashes the whole `RepStats`, so two builds that print the same digest produced
//! bit-identical results. With `repeat` > 1 the run is repeated and the fastest wall time is
//! reported.

use cclab_scenarios::Scenario;
use cclab_sim::model::Model;
use cclab_sim::stats::{M, RepStats};
use cclab_sim::yardstick;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Instant;

/// Phone calls at `per_hour` over `hours` hours from the start (flat), then nothing.
fn scenario(hours: u32, per_hour: f64) -> Scenario {
    let days = hours.div_ceil(24);
    let last = hours - 24 * (days - 1);
    // The profile is the same every day, so a partial last day would cut every day short.
    assert!(
        last == 24 || days == 1,
        "hours must be < 24 or a multiple of 24"
    );
    yardstick::scenario(days, last, per_hour)
}

fn digest(r: &RepStats) -> u64 {
    let mut h = DefaultHasher::new();
    format!("{r:?}").hash(&mut h);
    h.finish()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, d: f64| {
        args.get(i)
            .map_or(d, |s| s.parse::<f64>().expect("a number"))
    };
    let (measure_h, warm_h, seed, repeat) = (
        arg(1, 10.0),
        arg(2, 1.0),
        arg(3, 12345.0) as u64,
        arg(4, 1.0) as u32,
    );
    let hours = (measure_h + warm_h) as u32;
    let s = scenario(hours, yardstick::CALLS_PER_HOUR);
    let p = yardstick::plan(&s, 380, 180.0, 120.0);
    let mut best = f64::INFINITY;
    let mut stats = None;
    for _ in 0..repeat.max(1) {
        let t0 = Instant::now();
        let r = Model::new(&s, &p, seed, 3600.0, 20.0).run();
        best = best.min(t0.elapsed().as_secs_f64());
        stats = Some(r);
    }
    let r = stats.expect("one run");
    let calls = r.total(M::Offered);
    let after = |m: M| {
        r.intervals[warm_h as usize..hours as usize]
            .iter()
            .map(|i| i[m as usize])
            .sum::<f64>()
    };
    let (answered, abandoned) = (after(M::Answered), after(M::Abandoned));
    println!(
        "{{\"engine\": \"cclab full model\", \"sim_wall_s\": {best:.6}, \"calls_arrived_total\": {calls}, \
\"calls_per_wall_s\": {:.1}, \"served\": {answered}, \"abandoned\": {abandoned}, \
\"frac_abandoned\": {}, \"mean_wait_served_s\": {}, \"frac_answered_within_20s_of_offered\": {}, \
\"occupancy\": {}, \"digest\": \"{:016x}\", \"params\": {{\"hours\": {hours}, \"warmup_h\": {warm_h}, \
\"seed\": {seed}, \"repeat\": {repeat}}}}}",
        calls / best,
        abandoned / (answered + abandoned),
        after(M::WaitAnswered) / answered,
        after(M::AnsweredWithin) / (answered + abandoned),
        after(M::Busy) / after(M::OnDuty),
        digest(&r),
    );
}
