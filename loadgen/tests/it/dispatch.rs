//! Dispatch against a tiny test server: open loop, accounting, captures, errors as data.

use crate::support::{self, Behaviour};
use cclab_loadgen::record::Counts;
use cclab_loadgen::{Policy, RunOptions};
use std::sync::atomic::Ordering;
use std::time::Duration;

fn totals(out: &cclab_loadgen::RunOutcome) -> Counts {
    let mut t = Counts::default();
    for s in &out.steps {
        s.counts.check().unwrap();
        t.add(&s.counts);
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_planned_request_is_sent_on_time_and_counted() {
    let server = support::start(Behaviour::default()).await;
    let profile = support::journey_profile();
    let plan = support::flat(&profile, 200.0, 1.5);
    // 300 journeys; a check falling after the plan's end (10 ms mean delay) is left out.
    let planned = plan.planned();
    let checks = plan.planned_by_step[1];
    assert_eq!(plan.planned_by_step[0], 300);
    assert_eq!(checks + plan.beyond_window_by_step[1], 300);
    assert!(checks >= 290, "{checks}");
    let out = support::run(plan, profile, support::opts(server.url())).await;
    let t = totals(&out);
    assert_eq!(
        (t.planned, t.sent, t.ok),
        (planned, planned, planned),
        "{t:?}"
    );
    assert_eq!(server.hits.load(Ordering::Relaxed), planned);
    // The check step used the captured number: the server answered it (status 200 expected).
    assert_eq!(out.steps[1].counts.ok, checks);
    // Histograms hold every successful request; lateness every dispatched one.
    assert_eq!(out.steps[0].latency.len(), 300);
    assert_eq!(out.steps[0].lateness.len(), 300);
    // The plan lasts 1.5 s; the run must not take much longer on loopback.
    assert!(out.wall < Duration::from_secs(4), "{:?}", out.wall);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unexpected_statuses_and_failed_captures_are_counted_and_children_unresolved() {
    // 200 with a body lacking /number: the capture fails, so the check step has no number.
    let server = support::start(Behaviour {
        body: "{}",
        ..Behaviour::default()
    })
    .await;
    let profile = support::journey_profile();
    let plan = support::flat(&profile, 100.0, 0.5);
    let checks = plan.planned_by_step[1];
    let out = support::run(plan, profile.clone(), support::opts(server.url())).await;
    let (create, check) = (&out.steps[0].counts, &out.steps[1].counts);
    assert_eq!(
        (create.sent, create.capture_errors, create.ok),
        (50, 50, 0),
        "{create:?}"
    );
    assert_eq!(
        (check.sent, check.dropped.unresolved),
        (0, checks),
        "{check:?}"
    );
    totals(&out);

    let server = support::start(Behaviour {
        status: 503,
        ..Behaviour::default()
    })
    .await;
    let out = support::run(
        support::flat(&profile, 100.0, 0.5),
        profile,
        support::opts(server.url()),
    )
    .await;
    let create = &out.steps[0].counts;
    assert_eq!(create.http_errors.get("503"), Some(&50), "{create:?}");
    assert_eq!(out.steps[1].counts.dropped.unresolved, checks);
    totals(&out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_target_gives_connect_errors_not_a_failure() {
    // Bind a port, then free it: nothing listens there.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let profile = support::get_profile();
    let out = support::run(
        support::flat(&profile, 100.0, 0.3),
        profile,
        support::opts(format!("http://{addr}")),
    )
    .await;
    let t = totals(&out);
    assert_eq!((t.sent, t.connect_errors, t.ok), (30, 30, 0), "{t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_are_counted() {
    let server = support::start(Behaviour {
        delay: Duration::from_secs(3),
        ..Behaviour::default()
    })
    .await;
    let profile = support::get_profile();
    let opts = RunOptions {
        timeout: Some(Duration::from_millis(200)),
        ..support::opts(server.url())
    };
    let out = support::run(support::flat(&profile, 50.0, 0.4), profile, opts).await;
    let t = totals(&out);
    assert_eq!((t.sent, t.timeouts), (20, 20), "{t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drop_policy_drops_and_counts_at_the_cap() {
    // Each answer takes 300 ms and only 2 may be in flight: of 100 requests/s over 0.5 s,
    // the first 2 go out and the next ~28 planned in the first 300 ms are dropped, and so on.
    let server = support::start(Behaviour {
        delay: Duration::from_millis(300),
        ..Behaviour::default()
    })
    .await;
    let profile = support::get_profile();
    let opts = RunOptions {
        max_in_flight: Some(2),
        on_cap: Policy::Drop,
        ..support::opts(server.url())
    };
    let out = support::run(support::flat(&profile, 100.0, 0.5), profile, opts).await;
    let t = totals(&out);
    assert_eq!(t.planned, 50);
    assert!(t.dropped.in_flight_cap >= 40 && t.sent <= 10, "{t:?}");
    assert_eq!(t.sent, t.ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_ends_the_run_with_a_partial_and_consistent_count() {
    let server = support::start(Behaviour::default()).await;
    let profile = support::get_profile();
    let plan = support::flat(&profile, 100.0, 10.0);
    let stop = async { tokio::time::sleep(Duration::from_millis(500)).await };
    let out = cclab_loadgen::run(
        std::sync::Arc::new(plan),
        std::sync::Arc::new(profile),
        &support::opts(server.url()),
        stop,
    )
    .await
    .unwrap();
    assert!(out.interrupted);
    let t = totals(&out);
    assert_eq!(t.planned, 1000);
    // About 50 sent in 0.5 s; the rest never reached.
    assert!((40..=60).contains(&t.sent), "{t:?}");
    assert_eq!(t.dropped.stopped, 1000 - t.sent);
    assert!(out.wall < Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_waits_for_its_slow_parent_and_goes_with_the_captured_value() {
    // Every answer takes 150 ms; a check is due about 10 ms after its create went out, so it
    // waits for the create's answer, then goes with the captured number.
    let server = support::start(Behaviour {
        delay: Duration::from_millis(150),
        ..Behaviour::default()
    })
    .await;
    let profile = support::journey_profile();
    let plan = support::flat(&profile, 50.0, 0.4);
    let checks = plan.planned_by_step[1];
    assert!(checks >= 15, "{checks}");
    let out = support::run(plan, profile, support::opts(server.url())).await;
    let check = &out.steps[1];
    // Without the capture the check could not be rendered (an invalid request, not ok).
    assert_eq!(
        (check.counts.sent, check.counts.ok),
        (checks, checks),
        "{:?}",
        check.counts
    );
    totals(&out);
    // Its latency from the intended send holds the wait for the parent (about 140 ms) and
    // its own answer (150 ms); its dispatch lateness does not hold the wait: that was the
    // server's time, not the generator's.
    assert!(check.latency.min() >= 250_000, "{}", check.latency.min());
    assert!(
        check.lateness.value_at_quantile(0.5) < 50_000,
        "{}",
        check.lateness.value_at_quantile(0.5)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooled_connection_the_server_closed_is_replaced_without_an_error() {
    // A server that answers one request per connection, says nothing of it and closes: each
    // pooled connection is dead by the time it is reused.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut b = [0u8; 4096];
                if s.read(&mut b).await.unwrap_or(0) > 0 {
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                        .await;
                }
            });
        }
    });
    let profile = support::get_profile();
    let out = support::run(
        support::flat(&profile, 100.0, 0.5),
        profile,
        support::opts(format!("http://{addr}")),
    )
    .await;
    let t = totals(&out);
    assert_eq!((t.sent, t.ok), (50, 50), "{t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_connections_give_each_citizen_its_own() {
    // 40 two-step journeys, 10 ms apart: one shared keep-alive pool needs a few connections;
    // with fresh connections every journey opens its own and keeps it for its second step.
    let profile = support::journey_profile();
    let shared = support::start(Behaviour::default()).await;
    let out = support::run(
        support::flat(&profile, 100.0, 0.4),
        profile.clone(),
        support::opts(shared.url()),
    )
    .await;
    let t = totals(&out);
    assert_eq!(t.ok, t.planned, "{t:?}");
    // Generous for a busy machine: answers slower than 10 ms pile up requests in flight.
    let pooled = shared.connections.load(Ordering::Relaxed);
    assert!(
        pooled <= 20,
        "{pooled} connections for one shared pool of 40 journeys"
    );

    let fresh = support::start(Behaviour::default()).await;
    let opts = RunOptions {
        fresh_connections: true,
        ..support::opts(fresh.url())
    };
    let plan = support::flat(&profile, 100.0, 0.4);
    let journeys = plan.planned_by_step[0];
    let out = support::run(plan, profile, opts).await;
    let t = totals(&out);
    assert_eq!(t.ok, t.planned, "{t:?}");
    assert_eq!(fresh.connections.load(Ordering::Relaxed), journeys);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spin_polls_instead_of_sleeping_and_counts_the_same() {
    // With a spin longer than the gaps between deadlines the loop never sleeps: it polls
    // before each deadline and for each answer. Everything still goes out and is counted.
    let server = support::start(Behaviour::default()).await;
    let profile = support::journey_profile();
    let plan = support::flat(&profile, 200.0, 0.5);
    let planned = plan.planned();
    let opts = RunOptions {
        spin: Duration::from_millis(10),
        ..support::opts(server.url())
    };
    let out = support::run(plan, profile, opts).await;
    let t = totals(&out);
    assert_eq!((t.sent, t.ok), (planned, planned), "{t:?}");
    assert_eq!(server.hits.load(Ordering::Relaxed), planned);
}
