//! Coordinated omission: a server that freezes for 1 s.
//!
//! The plan is 200 requests/s for 3 s (600 requests); the server holds every request that
//! arrives between 1 s and 2 s until 2 s. About 200 requests are planned during the freeze;
//! their latency from the intended send time is spread uniformly over 0..1 s, so the fraction
//! of all requests slower than x is (1 - x) / 3 and the latency p99 is about 0.97 s. We assert
//! p99 > 0.8 s, leaving room for timer and scheduling noise.

use crate::support::{self, Behaviour};
use cclab_loadgen::{Policy, RunOptions};
use std::time::{Duration, Instant};

fn freeze() -> Behaviour {
    let now = Instant::now();
    Behaviour {
        freeze: Some((now + Duration::from_secs(1), now + Duration::from_secs(2))),
        ..Behaviour::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_loop_would_hide_the_freeze_and_intended_start_latency_shows_it() {
    // Like a closed-loop tool with 2 connections: at most 2 requests in flight, the others
    // wait in the dispatcher. Only the 2 in flight at the freeze see a 1 s service time
    // (2/600 = 0.3% < 1%), so the service-time p99 stays small; the latency from the intended
    // send time counts the wait of every request planned during the freeze.
    let server = support::start(freeze()).await;
    let profile = support::get_profile();
    let opts = RunOptions {
        max_in_flight: Some(2),
        on_cap: Policy::Queue,
        ..support::opts(server.url())
    };
    let out = support::run(support::flat(&profile, 200.0, 3.0), profile, opts).await;
    let s = &out.steps[0];
    s.counts.check().unwrap();
    assert_eq!(s.counts.ok, 600, "{:?}", s.counts);
    let latency_p99 = s.latency.value_at_quantile(0.99);
    let service_p99 = s.service.value_at_quantile(0.99);
    assert!(
        latency_p99 > 800_000,
        "latency p99 {latency_p99} us should show the 1 s freeze"
    );
    assert!(
        service_p99 < 200_000,
        "service p99 {service_p99} us should not"
    );
    // The dispatcher itself fell behind: its lateness shows it, and makes the run invalid.
    assert!(s.lateness.value_at_quantile(0.99) > 500_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_keeps_sending_during_the_freeze() {
    // Without a cap, requests go out at their planned times whatever happened to earlier
    // ones: dispatch lateness stays small while the latency shows the freeze.
    let server = support::start(freeze()).await;
    let profile = support::get_profile();
    let out = support::run(
        support::flat(&profile, 200.0, 3.0),
        profile,
        support::opts(server.url()),
    )
    .await;
    let s = &out.steps[0];
    assert_eq!(s.counts.ok, 600, "{:?}", s.counts);
    assert!(s.latency.value_at_quantile(0.99) > 800_000);
    let late = s.lateness.value_at_quantile(0.99);
    assert!(
        late < 50_000,
        "lateness p99 {late} us: the dispatcher must not wait for the server"
    );
}
