//! A tiny HTTP server for tests, and helpers to build profiles and plans.

use cclab_loadgen::{Plan, Profile, RunOptions, RunOutcome, Shard};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How the test server behaves.
#[derive(Clone)]
pub struct Behaviour {
    /// Every request arriving in `[start, end)` is held until `end`: the server freezes.
    pub freeze: Option<(Instant, Instant)>,
    /// Delay of every answer.
    pub delay: Duration,
    pub status: u16,
    pub body: &'static str,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            freeze: None,
            delay: Duration::ZERO,
            status: 200,
            body: r#"{"number": 42}"#,
        }
    }
}

/// A running test server, the number of requests it answered and of connections it accepted.
pub struct TestServer {
    pub addr: SocketAddr,
    pub hits: Arc<AtomicU64>,
    pub connections: Arc<AtomicU64>,
}

impl TestServer {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

pub async fn start(b: Behaviour) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicU64::new(0));
    let h = hits.clone();
    let connections = Arc::new(AtomicU64::new(0));
    let c = connections.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            c.fetch_add(1, Ordering::Relaxed);
            let (b, h) = (b.clone(), h.clone());
            tokio::spawn(async move {
                let svc = service_fn(move |_req| {
                    let (b, h) = (b.clone(), h.clone());
                    async move {
                        if let Some((start, end)) = b.freeze {
                            let now = Instant::now();
                            if now >= start && now < end {
                                tokio::time::sleep_until(end.into()).await;
                            }
                        }
                        if !b.delay.is_zero() {
                            tokio::time::sleep(b.delay).await;
                        }
                        h.fetch_add(1, Ordering::Relaxed);
                        let mut res =
                            Response::new(Full::new(Bytes::from_static(b.body.as_bytes())));
                        *res.status_mut() = StatusCode::from_u16(b.status).unwrap();
                        res.headers_mut()
                            .insert("location", "/things/7".parse().unwrap());
                        Ok::<_, std::convert::Infallible>(res)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    TestServer {
        addr,
        hits,
        connections,
    }
}

/// A profile of one GET step.
pub fn get_profile() -> Profile {
    Profile::parse(
        "test.toml",
        r#"
name = "get"
timeout = "5s"
[[steps]]
name = "get"
path = "/x"
"#,
        &BTreeMap::new(),
    )
    .unwrap()
}

/// A two-step profile: POST capturing `/number`, then a GET using it.
pub fn journey_profile() -> Profile {
    Profile::parse(
        "test.toml",
        r#"
name = "journey"
timeout = "5s"
[[steps]]
name = "create"
method = "POST"
path = "/things"
body = '{"id": {{contact.id}}}'
capture.n = { json = "/number" }
[[steps]]
name = "check"
after = "create"
path = "/things/{{capture.n}}"
delay = { mean = "10ms", cv = 0.5 }
"#,
        &BTreeMap::new(),
    )
    .unwrap()
}

pub fn flat(profile: &Profile, rate: f64, secs: f64) -> Plan {
    Plan::flat(
        profile,
        rate,
        Duration::from_secs_f64(secs),
        1,
        Shard::WHOLE,
    )
    .unwrap()
}

/// Runs a plan to the end.
pub async fn run(plan: Plan, profile: Profile, opts: RunOptions) -> RunOutcome {
    cclab_loadgen::run(
        Arc::new(plan),
        Arc::new(profile),
        &opts,
        std::future::pending(),
    )
    .await
    .unwrap()
}

pub fn opts(target: String) -> RunOptions {
    RunOptions {
        target,
        ..RunOptions::default()
    }
}
