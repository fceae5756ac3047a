//! A small load client for measuring `cclab serve` on loopback.
//!
//! Two modes:
//! - `--rate 0` (closed loop): each connection sends its next request as soon as the previous
//!   answer arrives; the figure is the maximum throughput.
//! - `--rate R` (open loop): requests are due at fixed times `start + k / R`, spread over the
//!   connections; latency is measured from the due time, not the send time, so a stalled server
//!   is not hidden by the client waiting for it (no coordinated omission, as in wrk2).
//!
//! ```text
//! cargo run --release -p cclab-server --example load -- \
//!     --addr 127.0.0.1:8080 --mode post --rate 2500 --duration 10 --connections 64
//! ```
//! Loopback only: the address must be in 127.0.0.0/8 or ::1.

use axum::body::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
struct Args {
    addr: SocketAddr,
    mode: String,
    rate: f64,
    duration: Duration,
    connections: usize,
    max_case: u64,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        addr: "127.0.0.1:8080".parse()?,
        mode: "post".into(),
        rate: 0.0,
        duration: Duration::from_secs(10),
        connections: 64,
        max_case: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| anyhow::anyhow!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => a.addr = value.parse()?,
            "--mode" => a.mode = value,
            "--rate" => a.rate = value.parse()?,
            "--duration" => a.duration = Duration::from_secs_f64(value.parse()?),
            "--connections" => a.connections = value.parse()?,
            "--max-case" => a.max_case = value.parse()?,
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    anyhow::ensure!(a.addr.ip().is_loopback(), "load is only sent to loopback");
    anyhow::ensure!(a.mode == "post" || a.mode == "get", "--mode is post or get");
    anyhow::ensure!(a.connections > 0, "--connections must be > 0");
    Ok(a)
}

const CHANNELS: [&str; 6] = ["phone", "web_form", "email", "pec", "fax", "letter"];

fn request(args: &Args, k: u64) -> Request<Full<Bytes>> {
    let builder = Request::builder().header("host", args.addr.to_string());
    if args.mode == "post" {
        let body = format!(
            r#"{{"channel":"{}","request_type":"information","event":"load-test","subject":"load {k}","message":"where is the nearest shelter?"}}"#,
            CHANNELS[(k % 6) as usize]
        );
        builder
            .method("POST")
            .uri("/api/v1/contacts")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .expect("request")
    } else {
        // A cheap scramble of k spreads reads over all cases.
        let n = 1 + k.wrapping_mul(0x9E37_79B9_7F4A_7C15) % args.max_case.max(1);
        builder
            .method("GET")
            .uri(format!("/api/v1/cases/{n}"))
            .body(Full::new(Bytes::new()))
            .expect("request")
    }
}

/// Three views of each request (microseconds): latency from the due time, service time from
/// the actual send, and how late the client itself sent it.
struct WorkerResult {
    latency_us: Histogram<u64>,
    service_us: Histogram<u64>,
    lateness_us: Histogram<u64>,
    ok: u64,
    errors: u64,
}

impl WorkerResult {
    fn new() -> anyhow::Result<Self> {
        Ok(WorkerResult {
            latency_us: Histogram::new_with_bounds(1, 60_000_000, 3)?,
            service_us: Histogram::new_with_bounds(1, 60_000_000, 3)?,
            lateness_us: Histogram::new_with_bounds(1, 60_000_000, 3)?,
            ok: 0,
            errors: 0,
        })
    }

    fn merge(&mut self, other: &WorkerResult) -> anyhow::Result<()> {
        self.latency_us.add(&other.latency_us)?;
        self.service_us.add(&other.service_us)?;
        self.lateness_us.add(&other.lateness_us)?;
        self.ok += other.ok;
        self.errors += other.errors;
        Ok(())
    }
}

async fn worker(args: Args, w: usize, start: Instant) -> anyhow::Result<WorkerResult> {
    let stream = tokio::net::TcpStream::connect(args.addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut res = WorkerResult::new()?;
    let end = start + args.duration;
    let mut k = w as u64;
    loop {
        let due = if args.rate > 0.0 {
            start + Duration::from_secs_f64(k as f64 / args.rate)
        } else {
            Instant::now()
        };
        if due >= end {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        sender.ready().await?;
        let sent = Instant::now();
        let response = sender.send_request(request(&args, k)).await?;
        let status = response.status();
        response.into_body().collect().await?;
        let done = Instant::now();
        let us = |d: Duration| (d.as_micros() as u64).max(1);
        res.latency_us.saturating_record(us(done - due));
        res.service_us.saturating_record(us(done - sent));
        res.lateness_us
            .saturating_record(us(sent.saturating_duration_since(due)));
        if status.is_success() {
            res.ok += 1;
        } else {
            res.errors += 1;
        }
        k += args.connections as u64;
    }
    Ok(res)
}

// One client thread: on a 2-core machine the server needs the other core.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let start = Instant::now() + Duration::from_millis(50);
    let tasks: Vec<_> = (0..args.connections)
        .map(|w| tokio::spawn(worker(args.clone(), w, start)))
        .collect();
    let mut total = WorkerResult::new()?;
    let mut failed_workers = 0;
    for t in tasks {
        match t.await? {
            Ok(r) => total.merge(&r)?,
            Err(e) => {
                failed_workers += 1;
                eprintln!("worker failed: {e:#}");
            }
        }
    }
    let secs = args.duration.as_secs_f64();
    println!(
        "mode={} target_rate={} connections={} duration={secs}s",
        args.mode,
        if args.rate > 0.0 {
            format!("{}/s", args.rate)
        } else {
            "max".into()
        },
        args.connections
    );
    println!(
        "ok={} errors={} failed_connections={failed_workers} throughput={:.0}/s",
        total.ok,
        total.errors,
        (total.ok + total.errors) as f64 / secs
    );
    for (name, h) in [
        ("latency (from due time)", &total.latency_us),
        ("service (from send)", &total.service_us),
        ("client lateness", &total.lateness_us),
    ] {
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "{name:<24} ms: p50={:.2} p90={:.2} p99={:.2} p99.9={:.2} max={:.2}",
            ms(0.5),
            ms(0.9),
            ms(0.99),
            ms(0.999),
            h.max() as f64 / 1000.0
        );
    }
    Ok(())
}
