//! M/M/c+M (Erlang A) on the cclab engine: the model and measurement rules of
//! `shared/perf-reference/erlang-a-bare`, so the two loops can be timed side by side, and the
//! measured KPIs set against the exact Erlang A values.
//!
//! usage: cargo run --release -p cclab-sim --example erlang_a_bare --
//!        [measure_hours=10] [warmup_hours=1] [seed=12345] [lam=2.0] [mean_service=180]
//!        [agents=380] [mean_patience=120]
//!
//! A call is measured if it arrives in [warmup, end) and is answered or abandons by `end`; calls
//! still waiting at `end` are dropped. Prints one JSON line.

use cclab_sim::engine::{CancelToken, Scheduler, SimTime};
use cclab_sim::staffing::erlang::{Queue, SlDefinition};
use rand::SeedableRng;
use rand_distr::{Distribution, Exp};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::collections::VecDeque;
use std::time::Instant;

/// The model's closed event enum.
#[derive(Debug, Clone, Copy)]
enum Event {
    Arrival,
    Departure,
    /// The waiting caller in this slot runs out of patience.
    Abandon(u32),
}

/// A caller in the queue; slots are reused, so no allocation per call in steady state.
#[derive(Debug, Clone, Copy)]
struct Caller {
    arrived: SimTime,
    abandon: Option<CancelToken>,
    waiting: bool,
}

#[derive(Debug, Default)]
struct Tally {
    offered: u64,
    served: u64,
    abandoned: u64,
    wait_served_us: u128,
    within_20s: u64,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, d: f64| {
        args.get(i)
            .map_or(d, |s| s.parse::<f64>().expect("a number"))
    };
    let (hours, warm_h, seed) = (arg(1, 10.0), arg(2, 1.0), arg(3, 12345.0) as u64);
    let (lam, mean_svc, agents, mean_pat) =
        (arg(4, 2.0), arg(5, 180.0), arg(6, 380.0), arg(7, 120.0));
    let agents = agents as u32;
    let warm = SimTime::from_secs_f64(warm_h * 3600.0);
    let end = SimTime::from_secs_f64((warm_h + hours) * 3600.0);
    let sl_us = 20 * SimTime::MICROS_PER_SEC;

    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let us = |d: &Exp<f64>, rng: &mut Xoshiro256PlusPlus| (d.sample(rng) * 1e6).round() as u64;
    let iat = Exp::new(lam).expect("lam > 0");
    let svc = Exp::new(1.0 / mean_svc).expect("mean_service > 0");
    let pat = Exp::new(1.0 / mean_pat).expect("mean_patience > 0");

    let t0 = Instant::now();
    let mut sched: Scheduler<Event> = Scheduler::with_capacity(1024);
    let mut callers: Vec<Caller> = Vec::new();
    let mut free: Vec<u32> = Vec::new();
    let mut queue: VecDeque<u32> = VecDeque::new();
    let (mut busy, mut n_waiting) = (0u32, 0u64);
    let (mut n_arr, mut n_dep, mut n_ab) = (0u64, 0u64, 0u64);
    let mut tally = Tally::default();
    let mut record = |arrived: SimTime, wait_us: u64, served: bool| {
        if arrived >= warm && arrived < end {
            tally.offered += 1;
            if served {
                tally.served += 1;
                tally.wait_served_us += u128::from(wait_us);
                tally.within_20s += u64::from(wait_us <= sl_us);
            } else {
                tally.abandoned += 1;
            }
        }
    };

    sched.schedule_in(us(&iat, &mut rng), Event::Arrival);
    while let Some(event) = sched.next_until(end) {
        let now = sched.now();
        match event {
            Event::Arrival => {
                n_arr += 1;
                sched.schedule_in(us(&iat, &mut rng), Event::Arrival);
                if busy < agents {
                    busy += 1;
                    record(now, 0, true);
                    sched.schedule_in(us(&svc, &mut rng), Event::Departure);
                } else {
                    let slot = free.pop().unwrap_or_else(|| {
                        callers.push(Caller {
                            arrived: now,
                            abandon: None,
                            waiting: false,
                        });
                        (callers.len() - 1) as u32
                    });
                    let token =
                        sched.schedule_in_cancellable(us(&pat, &mut rng), Event::Abandon(slot));
                    callers[slot as usize] = Caller {
                        arrived: now,
                        abandon: Some(token),
                        waiting: true,
                    };
                    queue.push_back(slot);
                    n_waiting += 1;
                }
            }
            Event::Departure => {
                n_dep += 1;
                busy -= 1;
                // Next caller still waiting, FIFO; callers who abandoned are skipped here.
                while let Some(slot) = queue.pop_front() {
                    let c = &mut callers[slot as usize];
                    free.push(slot);
                    if c.waiting {
                        c.waiting = false;
                        n_waiting -= 1;
                        if let Some(token) = c.abandon.take() {
                            sched.cancel(token);
                        }
                        busy += 1;
                        record(c.arrived, now.micros_since(c.arrived), true);
                        sched.schedule_in(us(&svc, &mut rng), Event::Departure);
                        break;
                    }
                }
            }
            Event::Abandon(slot) => {
                // Cancelled timers never fire, so this caller is still waiting.
                n_ab += 1;
                let c = &mut callers[slot as usize];
                c.waiting = false;
                c.abandon = None;
                n_waiting -= 1;
                record(c.arrived, now.micros_since(c.arrived), false);
            }
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let t = &tally;
    let events = n_arr + n_dep + n_ab;
    let exact = Queue::new(lam, mean_svc, Some(mean_pat)).and_then(|q| q.kpis(agents));
    let (ex_ab, ex_wait, ex_sl) = match &exact {
        Ok(k) => (
            k.p_abandon,
            k.asa_served,
            k.service_level(20.0, SlDefinition::OfferedBased),
        ),
        Err(_) => (f64::NAN, f64::NAN, f64::NAN),
    };
    println!(
        "{{\"engine\": \"cclab Scheduler (BinaryHeap EventQueue) + Xoshiro256++\", \"sim_wall_s\": {wall:.6}, \
\"calls_arrived_total\": {n_arr}, \"calls_per_wall_s\": {:.1}, \"model_events\": {events}, \
\"model_events_per_wall_s\": {:.1}, \"calls_measured\": {}, \"served\": {}, \"abandoned\": {}, \
\"still_waiting_at_end\": {n_waiting}, \"frac_abandoned\": {}, \"mean_wait_served_s\": {}, \
\"frac_answered_within_20s_of_offered\": {}, \"exact_erlang_a\": {{\"frac_abandoned\": {ex_ab}, \
\"mean_wait_served_s\": {ex_wait}, \"frac_answered_within_20s_of_offered\": {ex_sl}}}, \
\"params\": {{\"lam\": {lam}, \"mean_service\": {mean_svc}, \"agents\": {agents}, \
\"mean_patience\": {mean_pat}, \"warmup_s\": {}, \"measure_s\": {}, \"seed\": {seed}}}}}",
        n_arr as f64 / wall,
        events as f64 / wall,
        t.offered,
        t.served,
        t.abandoned,
        t.abandoned as f64 / t.offered as f64,
        t.wait_served_us as f64 / 1e6 / t.served as f64,
        t.within_20s as f64 / t.offered as f64,
        warm.as_secs_f64(),
        end.micros_since(warm) as f64 / 1e6,
    );
}
