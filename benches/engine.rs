//! The event queue under the hold model (pop the earliest event, schedule one a random delay
//! later, so the population stays constant), at populations around the contact-center model's
//! (about 400 pending events for 380 agents) and beyond. Baselines: `std::collections::BinaryHeap`
//! with the same (time, sequence) key and no cancellation, and a `BTreeMap`.

use cclab_sim::engine::{EventQueue, SimTime};
use criterion::{BenchmarkId, Criterion, Throughput};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::hint::black_box;

/// Operations (one pop plus one schedule) per benchmark iteration.
const OPS: u64 = 10_000;
/// Delays are uniform in [0, 2 * MEAN_DELAY_US): an exponential-ish spread without an RNG crate.
const MEAN_DELAY_US: u64 = 180_000_000;

/// xorshift64: cheap and deterministic, so the baselines see the same delays.
struct XorShift(u64);

impl XorShift {
    fn delay(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % (2 * MEAN_DELAY_US)
    }
}

pub fn benches(c: &mut Criterion) {
    hold(c);
    hold_with_cancellation(c);
}

fn hold(c: &mut Criterion) {
    let mut group = c.benchmark_group("event_queue_hold");
    group.throughput(Throughput::Elements(OPS));
    for n in [16u32, 400, 10_000] {
        group.bench_with_input(BenchmarkId::new("cclab", n), &n, |b, &n| {
            let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
            let mut q = EventQueue::with_capacity(n as usize);
            for e in 0..n {
                q.schedule(SimTime(rng.delay()), e);
            }
            b.iter(|| {
                for _ in 0..OPS {
                    let (t, e) = q.pop().expect("constant population");
                    q.schedule(t.after_micros(rng.delay()), black_box(e));
                }
            });
        });
        group.bench_with_input(BenchmarkId::new("std_binary_heap", n), &n, |b, &n| {
            let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
            let mut seq = 0u64;
            let mut q = BinaryHeap::with_capacity(n as usize);
            for e in 0..n {
                q.push(Reverse((rng.delay(), seq, e)));
                seq += 1;
            }
            b.iter(|| {
                for _ in 0..OPS {
                    let Reverse((t, _, e)) = q.pop().expect("constant population");
                    q.push(Reverse((t + rng.delay(), seq, black_box(e))));
                    seq += 1;
                }
            });
        });
        group.bench_with_input(BenchmarkId::new("btreemap", n), &n, |b, &n| {
            let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
            let mut seq = 0u64;
            let mut q = BTreeMap::new();
            for e in 0..n {
                q.insert((rng.delay(), seq), e);
                seq += 1;
            }
            b.iter(|| {
                for _ in 0..OPS {
                    let ((t, _), e) = q.pop_first().expect("constant population");
                    q.insert((t + rng.delay(), seq), black_box(e));
                    seq += 1;
                }
            });
        });
    }
    group.finish();
}

/// The hold model where every event is a cancellable timer and every other one is cancelled and
/// rescheduled (an abandonment timer withdrawn when the caller is answered).
fn hold_with_cancellation(c: &mut Criterion) {
    let mut group = c.benchmark_group("event_queue_cancel");
    group.throughput(Throughput::Elements(OPS));
    let n = 400u32;
    group.bench_function(BenchmarkId::new("cclab", n), |b| {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut q = EventQueue::with_capacity(2 * n as usize);
        for e in 0..n {
            q.schedule_cancellable(SimTime(rng.delay()), e);
        }
        b.iter(|| {
            for _ in 0..OPS {
                let (t, e) = q.pop().expect("constant population");
                let token = q.schedule_cancellable(t.after_micros(rng.delay()), e);
                if e % 2 == 0 {
                    black_box(q.cancel(token));
                    q.schedule_cancellable(t.after_micros(rng.delay()), e);
                }
            }
        });
    });
    group.finish();
}
