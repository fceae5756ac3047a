use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

#[test]
fn sim_time_conversions() {
    assert_eq!(SimTime::from_secs(3).as_micros(), 3_000_000);
    assert_eq!(SimTime::from_secs_f64(1.5), SimTime(1_500_000));
    assert_eq!(
        SimTime::from_secs_f64(0.000_000_4),
        SimTime(0),
        "rounds to the microsecond"
    );
    assert_eq!(SimTime::from_secs_f64(0.000_000_6), SimTime(1));
    assert_eq!(SimTime::from_secs_f64(-2.0), SimTime::ZERO);
    assert_eq!(SimTime::from_secs_f64(f64::NAN), SimTime::ZERO);
    assert_eq!(SimTime::from_secs_f64(1e300), SimTime::MAX);
    assert_eq!(SimTime::from_secs(u64::MAX), SimTime::MAX);
    assert_eq!(SimTime::MAX.after_micros(1), SimTime::MAX);
    assert_eq!(SimTime(2_500_000).as_secs_f64(), 2.5);
    assert_eq!(SimTime(7).after_secs(1.0), SimTime(1_000_007));
    assert_eq!(SimTime(5).micros_since(SimTime(9)), 0);
    assert_eq!(SimTime(1_000_042).to_string(), "1.000042s");
}

#[test]
fn same_time_events_pop_in_insertion_order() {
    let mut q = EventQueue::new();
    for i in 0..100 {
        q.schedule(SimTime(5), i);
    }
    q.schedule(SimTime(1), -1);
    assert_eq!(q.pop(), Some((SimTime(1), -1)));
    for i in 0..100 {
        assert_eq!(q.pop(), Some((SimTime(5), i)));
    }
    assert_eq!(q.pop(), None);
}

#[test]
fn cancellation_is_lazy_but_invisible() {
    let mut q = EventQueue::new();
    let a = q.schedule_cancellable(SimTime(10), 'a');
    q.schedule(SimTime(20), 'b');
    assert_eq!(q.len(), 2);
    assert!(q.cancel(a));
    assert!(!q.cancel(a), "cancelling twice does nothing");
    assert_eq!(q.len(), 1);
    assert_eq!(q.peek_time(), Some(SimTime(20)));
    // The freed slot is reused; the old token must not cancel the new event.
    let c = q.schedule_cancellable(SimTime(15), 'c');
    assert!(!q.cancel(a));
    assert_eq!(q.pop(), Some((SimTime(15), 'c')));
    assert!(!q.cancel(c), "a fired event cannot be cancelled");
    assert_eq!(q.pop(), Some((SimTime(20), 'b')));
    assert!(q.is_empty());
}

#[test]
fn clear_keeps_capacity_and_disarms_old_tokens() {
    let mut q = EventQueue::with_capacity(4);
    let t = q.schedule_cancellable(SimTime(1), 1);
    for i in 0..1000 {
        q.schedule(SimTime(i), i);
    }
    let cap = q.capacity();
    q.clear();
    assert!(q.is_empty());
    assert_eq!(q.capacity(), cap);
    let u = q.schedule_cancellable(SimTime(3), 7);
    assert!(!q.cancel(t), "a token from before the clear");
    assert_eq!(q.pop(), Some((SimTime(3), 7)));
    assert!(!q.cancel(u));
}

#[test]
fn steady_state_does_not_grow_the_buffers() {
    // The hold model: pop one, schedule one, with a standing population of 500.
    let mut q = EventQueue::with_capacity(512);
    let mut x = 12345u64;
    let mut rand = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % 1_000_000
    };
    for i in 0..500 {
        q.schedule(SimTime(rand()), i);
    }
    let cap = q.capacity();
    for _ in 0..100_000 {
        let (t, e) = q.pop().unwrap();
        let token = q.schedule_cancellable(t.after_micros(rand()), e);
        if e % 3 == 0 {
            q.cancel(token);
            q.schedule(t.after_micros(rand()), e);
        }
    }
    assert_eq!(q.len(), 500);
    assert!(
        q.capacity() <= 2 * cap,
        "capacity {} grew from {cap}",
        q.capacity()
    );
}

#[test]
fn timers_cancelled_long_before_they_are_due_do_not_pile_up() {
    // A live population of 10 near-term events, and a million far-future timers each cancelled
    // right away: without compaction the heap would hold a million stale entries.
    let mut q = EventQueue::new();
    for i in 0..10 {
        q.schedule(SimTime(i), i);
    }
    for i in 0..1_000_000 {
        let t = q.schedule_cancellable(SimTime(u64::MAX - i), 0);
        assert!(q.cancel(t));
    }
    assert_eq!(q.len(), 10);
    assert!(q.capacity() <= 1024, "heap capacity {}", q.capacity());
    let popped: Vec<u64> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
    assert_eq!(popped, (0..10).collect::<Vec<_>>());
}

#[test]
fn scheduler_advances_the_clock_and_stops_at_end() {
    let mut s = Scheduler::with_capacity(8);
    s.schedule_in(5, "five");
    s.schedule_at(SimTime(3), "three");
    let t = s.schedule_in_cancellable(4, "four");
    assert!(s.cancel(t));
    let t = s.schedule_at_cancellable(SimTime(4), "four again");
    assert!(s.cancel(t));
    assert_eq!(s.next_until(SimTime(4)), Some("three"));
    assert_eq!(s.now(), SimTime(3));
    assert_eq!(s.next_until(SimTime(4)), None, "five is after the end");
    assert_eq!(s.now(), SimTime(3));
    s.schedule_in(0, "now");
    assert_eq!(s.next_event(), Some("now"));
    assert_eq!(s.next_event(), Some("five"));
    assert_eq!(s.now(), SimTime(5));
    assert_eq!(s.next_event(), None);
}

#[test]
fn the_lane_pops_in_order_with_the_heap() {
    let mut s = Scheduler::with_capacity(8);
    s.schedule_at(SimTime(5), "heap 5");
    s.schedule_next_at(SimTime(5), "lane 5");
    s.schedule_at(SimTime(5), "heap 5 later");
    s.schedule_at(SimTime(2), "heap 2");
    assert_eq!(s.queue().len(), 4);
    assert_eq!(s.next_until(SimTime(1)), None);
    assert_eq!(s.next_event(), Some("heap 2"));
    assert_eq!(s.next_event(), Some("heap 5"));
    assert_eq!(s.next_event(), Some("lane 5"));
    // A second lane event while one is pending: the first moves to the heap, order kept.
    s.schedule_next_at(SimTime(9), "lane 9");
    s.schedule_next_at(SimTime(7), "lane 7");
    assert_eq!(s.next_event(), Some("heap 5 later"));
    assert_eq!(s.next_event(), Some("lane 7"));
    assert_eq!(s.queue().len(), 1);
    assert_eq!(s.next_until(SimTime(8)), None, "lane 9 is after the end");
    assert_eq!(s.next_event(), Some("lane 9"));
    assert_eq!(s.next_event(), None);
}

/// One step of a random workload; times are drawn from a small range so that ties are common.
#[derive(Debug, Clone)]
enum Op {
    Schedule(u64),
    /// Into the lane (`schedule_next`).
    ScheduleNext(u64),
    ScheduleCancellable(u64),
    /// Cancel a token issued earlier, live or not (see the picking rule below).
    Cancel(usize),
    Pop,
    PeekTime,
    Clear,
}

/// Random operations; `cancel_heavy` makes most events cancellable timers that are soon
/// cancelled, so that cancelled entries outnumber live ones and the heap compacts.
fn op(cancel_heavy: bool) -> impl Strategy<Value = Op> {
    let (plain, cancellable, cancel, pop) = if cancel_heavy {
        (1, 4, 5, 2)
    } else {
        (4, 3, 3, 4)
    };
    prop_oneof![
        plain => (0u64..50).prop_map(Op::Schedule),
        2 => (0u64..50).prop_map(Op::ScheduleNext),
        cancellable => (0u64..50).prop_map(Op::ScheduleCancellable),
        cancel => any::<usize>().prop_map(Op::Cancel),
        pop => Just(Op::Pop),
        1 => Just(Op::PeekTime),
        1 => Just(Op::Clear),
    ]
}

/// Runs `ops` on the queue and on a `BTreeMap` keyed by (time, insertion number): same pops,
/// same peeks, same lengths, same cancellation answers, under any interleaving.
fn check_against_shadow(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut q: EventQueue<u64> = EventQueue::new();
    let mut shadow: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    let mut tokens: Vec<(CancelToken, (u64, u64))> = Vec::new();
    let mut n = 0u64; // insertion number, never reset: the shadow's tie-breaker
    for op in ops {
        match op {
            Op::Schedule(t) => {
                q.schedule(SimTime(t), n);
                shadow.insert((t, n), n);
                n += 1;
            }
            Op::ScheduleNext(t) => {
                q.schedule_next(SimTime(t), n);
                shadow.insert((t, n), n);
                n += 1;
            }
            Op::ScheduleCancellable(t) => {
                tokens.push((q.schedule_cancellable(SimTime(t), n), (t, n)));
                shadow.insert((t, n), n);
                n += 1;
            }
            Op::Cancel(i) => {
                if !tokens.is_empty() {
                    // Mostly one of the last few tokens (likely still live), sometimes any.
                    let n = tokens.len();
                    let pick = if i % 4 == 0 {
                        i % n
                    } else {
                        n - 1 - i % n.min(6)
                    };
                    let (token, key) = tokens[pick];
                    prop_assert_eq!(q.cancel(token), shadow.remove(&key).is_some());
                }
            }
            Op::Pop => {
                let want = shadow.pop_first().map(|((t, _), e)| (SimTime(t), e));
                prop_assert_eq!(q.pop(), want);
            }
            Op::PeekTime => {
                let want = shadow.first_key_value().map(|((t, _), _)| SimTime(*t));
                prop_assert_eq!(q.peek_time(), want);
            }
            Op::Clear => {
                q.clear();
                shadow.clear();
            }
        }
        prop_assert_eq!(q.len(), shadow.len());
    }
    // Drain: everything left comes out in order.
    while let Some(((t, _), e)) = shadow.pop_first() {
        prop_assert_eq!(q.pop(), Some((SimTime(t), e)));
    }
    prop_assert_eq!(q.pop(), None);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn queue_matches_a_btreemap_shadow(ops in prop::collection::vec(op(false), 1..400)) {
        check_against_shadow(ops)?;
    }

    #[test]
    fn queue_matches_a_btreemap_shadow_when_cancelling_most(
        ops in prop::collection::vec(op(true), 1..400)
    ) {
        check_against_shadow(ops)?;
    }
}
