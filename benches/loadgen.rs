//! The load generator: plan compilation (scenario + seed + profile -> sorted timed requests;
//! it runs before every load test and per shard, so it should stay well under a second for a
//! surge day at ten times the volume), the streamed plan's generator, and the dispatcher's hot
//! path on loopback.

use cclab_loadgen::{Plan, PlanOptions, Profile, RunOptions, Shard};
use criterion::{Criterion, Throughput};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

pub fn benches(c: &mut Criterion) {
    plan(c);
    dispatch(c);
}

fn plan(c: &mut Criterion) {
    let emilia = cclab_scenarios::load("emilia-quake-2012").expect("shipped scenario");
    let mut vars = BTreeMap::new();
    vars.insert(
        "operator_token".to_string(),
        "bench-token-0123456789".to_string(),
    );
    let profile = Profile::reference(&vars).expect("shipped profile");
    let opts = PlanOptions {
        seed: 1,
        scale: 10.0,
        speedup: 1440.0,
        from_us: None,
        to_us: None,
        duration: None,
        shard: Shard::WHOLE,
    };
    let planned = Plan::compile(&emilia, &profile, &opts)
        .expect("plan")
        .planned();
    let mut group = c.benchmark_group("loadgen");
    group.sample_size(10);
    group.throughput(Throughput::Elements(planned));
    group.bench_function("plan emilia-quake-2012 x10, reference profile", |b| {
        b.iter(|| {
            let plan = Plan::compile(&emilia, &profile, black_box(&opts)).expect("plan");
            black_box(plan.planned())
        })
    });
    // The streamed plan regenerates its steps during the run: this is its cost per request.
    let streamed = Plan::compile_streamed(&emilia, &profile, &opts).expect("plan");
    group.bench_function("stream emilia-quake-2012 x10, reference profile", |b| {
        b.iter(|| black_box(streamed.stream().fold(0u64, |a, t| a ^ t.at_us)))
    });
    group.finish();
}

/// The dispatcher's hot path end to end, on loopback: a flat plan of `N` requests all due at
/// once (the scheduler dispatches in bursts), at most 50 in flight over keep-alive
/// connections, against a minimal server on another thread that answers every request with a
/// canned 200. Per element: scheduling, request, response parsing and recording, plus the
/// server's share and the loopback's system calls (compare with `loadgen/perf/compare.sh`
/// for the generator's CPU alone).
fn dispatch(c: &mut Criterion) {
    const N: u64 = 5_000;
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("server runtime");
    let addr = server.block_on(canned_server());
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let profile = Profile::parse(
        "bench.toml",
        "name = \"get\"\n[[steps]]\nname = \"get\"\npath = \"/x\"\n",
        &BTreeMap::new(),
    )
    .expect("profile");
    // 10^6 per second over 5 ms: every deadline has passed by the time the scheduler looks.
    let plan = Arc::new(
        Plan::flat_streamed(&profile, 1e6, Duration::from_millis(5), 1, Shard::WHOLE)
            .expect("plan"),
    );
    assert_eq!(plan.planned(), N);
    let profile = Arc::new(profile);
    let opts = RunOptions {
        target: format!("http://{addr}"),
        max_in_flight: Some(50),
        ..RunOptions::default()
    };
    let mut group = c.benchmark_group("loadgen");
    group.sample_size(10);
    group.throughput(Throughput::Elements(N));
    group.bench_function("dispatch 5000 GETs, 50 in flight, loopback", |b| {
        b.iter(|| {
            let out = client
                .block_on(cclab_loadgen::run(
                    plan.clone(),
                    profile.clone(),
                    &opts,
                    std::future::pending(),
                ))
                .expect("run");
            assert_eq!(out.steps[0].counts.ok, N);
            black_box(out.wall)
        })
    });
    group.finish();
}

/// A keep-alive HTTP/1.1 server that answers every request with the same 200; returns its
/// address (loopback, ephemeral port).
async fn canned_server() -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                const ANSWER: &[u8] =
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n{\"status\":\"ok\"}";
                let mut buf = vec![0u8; 4096];
                let mut pending = Vec::new();
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => pending.extend_from_slice(&buf[..n]),
                    }
                    // One answer per complete request head (GETs have no body).
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        pending.drain(..end + 4);
                        if s.write_all(ANSWER).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}
