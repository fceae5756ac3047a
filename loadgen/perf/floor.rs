//! The machine's floor for dispatch lateness: a thread that only sleeps to absolute deadlines
//! every 200 us (5,000/s) for 10 s with the OS timer, and records how late it wakes up.
//! `compare.sh` builds it with `rustc -O` and runs it pinned like the generators, so cclab's
//! lateness can be read against what the scheduler of this (shared) machine allows.
use std::time::{Duration, Instant};

fn main() {
    let t0 = Instant::now();
    let mut late = Vec::with_capacity(50_000);
    for i in 1..=50_000u32 {
        let deadline = t0 + Duration::from_micros(200) * i;
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
        late.push(
            Instant::now()
                .saturating_duration_since(deadline)
                .as_micros() as u64,
        );
    }
    late.sort_unstable();
    let q = |p: f64| late[((late.len() - 1) as f64 * p) as usize];
    println!(
        "floor  sleeping thread at 5,000 wake-ups/s: lateness p50 {} us p90 {} us p99 {} us \
         p99.9 {} us max {} us",
        q(0.5),
        q(0.9),
        q(0.99),
        q(0.999),
        late[late.len() - 1]
    );
}
