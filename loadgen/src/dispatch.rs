//! The open-loop dispatcher: one scheduler walks the plan and sends each step at its deadline.
//!
//! Deadlines are absolute (`t0 + offset`), never "previous send + gap", so delays do not
//! accumulate. Everything runs on one thread of its own, in an event loop over one `epoll`
//! (`reactor`): the scheduler, every connection and every request, so handing a request over
//! costs no wake-up of another thread and no lock is ever contended. The loop dispatches every
//! step already due, then sleeps to the next deadline on a precise timer (`timer`: a `timerfd`
//! on Linux), so at 5,000 requests/s the lateness is tens of microseconds and at high rates
//! several requests go per wake-up. Requests use a lean HTTP/1.1 client (`http`) over
//! keep-alive connections pooled per target (or per citizen with `fresh_connections`).
//! Lateness is measured when the request goes out, so a saturated thread shows up in it too.
//! Each request waits on its own connection, so a stalled server delays nothing else.
//!
//! With an in-flight cap, `Policy::Queue` makes a request wait for a free slot in FIFO order
//! (the wait counts as lateness: the request could not go at its time) and `Policy::Drop` drops
//! it (counted). Under `Queue` the scheduler stops taking steps from the plan while the cap is
//! reached (steps go out in plan order anyway, and what waits does not pile up). A step waits
//! for its parent step's answer (it needs the captured case number, and the server needs the
//! earlier transition), at most the timeout, without holding a slot; a parent that failed makes
//! its children `dropped.unresolved`.
//!
//! On stop (Ctrl-C), dispatching ends, requests in flight get `grace` to finish, the rest are
//! cancelled and counted (sent, no answer); steps never sent count as `dropped.stopped`.

mod http;
mod reactor;
mod timer;

use crate::LoadgenError;
use crate::plan::{Plan, Timed};
use crate::profile::{CaptureFrom, Escape, Field, Part, Profile, Template, push_escaped};
use crate::record::{Interval, Outcome, StepStats, new_histogram};
use http::Target;
use hyper::Uri;
use hyper::header::HeaderName;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// What to do when the in-flight cap is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Wait for a slot: the dispatcher falls behind, and its lateness says by how much.
    Queue,
    /// Drop the request and count it.
    Drop,
}

/// How to run a plan.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Base URL, `http://host:port` (optionally with a path prefix).
    pub target: String,
    /// Request timeout; `None` takes the profile's.
    pub timeout: Option<Duration>,
    /// Most requests in flight at once; `None` for no cap.
    pub max_in_flight: Option<usize>,
    pub on_cap: Policy,
    /// A fresh connection pool per citizen (journey) instead of one shared keep-alive pool.
    pub fresh_connections: bool,
    /// After a stop, how long requests in flight may take.
    pub grace: Duration,
    /// Width of the time-series intervals; `None` records no series.
    pub interval: Option<Duration>,
    /// A common wall-clock start (shards); `None` starts at once.
    pub start_at: Option<SystemTime>,
    /// How long before a deadline the dispatcher stops sleeping and polls in a loop, and how
    /// long it polls for answers before it sleeps.
    pub spin: Duration,
    /// Live progress on stderr.
    pub progress: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            target: String::new(),
            timeout: None,
            max_in_flight: None,
            on_cap: Policy::Queue,
            fresh_connections: false,
            grace: Duration::from_secs(5),
            interval: None,
            start_at: None,
            spin: Duration::ZERO,
            progress: false,
        }
    }
}

/// What a run measured.
#[derive(Debug)]
pub struct RunOutcome {
    /// By profile step.
    pub steps: Vec<StepStats>,
    /// The time series (empty unless asked for).
    pub intervals: Vec<Interval>,
    pub interval: Option<Duration>,
    /// Wall-clock time of the run's t0.
    pub started_at: SystemTime,
    /// From t0 to the last request's completion.
    pub wall: Duration,
    pub interrupted: bool,
    /// The request timeout used.
    pub timeout: Duration,
}

/// Parses and checks a target URL: `http://host:port[/prefix]`.
pub fn parse_target(url: &str) -> Result<String, LoadgenError> {
    let bad = |reason: &str| LoadgenError::Target {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(bad(
                "https is not supported: put a TLS-terminating proxy in front, or target http",
            ));
        }
        _ => return Err(bad("expected http://host:port")),
    }
    if uri.authority().is_none() {
        return Err(bad("no host"));
    }
    if uri.query().is_some() {
        return Err(bad("no query string allowed in the base URL"));
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// Fetches `path` of the target and reads the JSON pointer as an integer (reconciliation).
pub async fn fetch_count(
    target: &str,
    path: &str,
    pointer: &str,
    timeout: Duration,
) -> Result<u64, String> {
    tokio::time::timeout(timeout, http::fetch_count(target, path, pointer))
        .await
        .map_err(|_| "timed out".to_string())?
}

/// The shortest interval between two timer wake-ups of the scheduler. Above 10,000 requests/s
/// it batches several requests per wake-up (each at most this late, on top of the wake-up's own
/// latency), which saves the timer's system calls; below, every deadline gets its own wake-up.
const WAKE_QUANTUM: Duration = Duration::from_micros(100);

/// Outcome of a journey step, as seen by its children.
const PENDING: u8 = 0;
const DONE_OK: u8 = 1;
const FAILED: u8 = 2;

#[derive(Default)]
struct Live {
    dispatched: AtomicU64,
    done: AtomicU64,
    errors: AtomicU64,
    in_flight: AtomicU64,
}

/// What the dispatcher thread shares with the caller: counters, results, the clock.
struct Ctx {
    plan: Arc<Plan>,
    t0: Instant,
    live: Live,
    stats: Vec<Mutex<StepStats>>,
    series: Option<(Mutex<Vec<Interval>>, u64)>,
    /// Set by a stop (Ctrl-C); the scheduler checks it between dispatches.
    stopped: AtomicBool,
}

impl Ctx {
    fn series_at(&self, at: Instant, f: impl FnOnce(&mut Interval)) {
        if let Some((m, width)) = &self.series {
            let i = (at.saturating_duration_since(self.t0).as_nanos() as u64 / width) as usize;
            let mut v = m.lock().expect("series lock");
            if v.len() <= i {
                v.resize_with(i + 1, Interval::default);
            }
            f(&mut v[i]);
        }
    }
}

/// A step's request, prepared once.
struct Prepared {
    method: &'static str,
    head: bool,
    /// The whole request, when no part of it changes from one request to the next.
    fixed: Option<String>,
    /// Whether the step sets its own `Host` header.
    own_host: bool,
    /// Headers captured from the answer, and their capture slots.
    want: Vec<HeaderName>,
    want_slots: Vec<usize>,
    /// JSON-pointer captures: (slot, pointer).
    json: Vec<(usize, String)>,
}

fn method_str(m: &hyper::Method) -> &'static str {
    match m.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        other => Box::leak(other.to_string().into_boxed_str()),
    }
}

fn prepare(profile: &Profile, target: &Target) -> Vec<Prepared> {
    profile
        .steps
        .iter()
        .map(|st| {
            let method = method_str(&st.method);
            let own_host = st.headers.iter().any(|(n, _)| n == hyper::header::HOST);
            let mut p = Prepared {
                method,
                head: method == "HEAD",
                fixed: None,
                own_host,
                want: Vec::new(),
                want_slots: Vec::new(),
                json: Vec::new(),
            };
            for c in &st.captures {
                match &c.from {
                    CaptureFrom::Json(ptr) => p.json.push((c.slot, ptr.clone())),
                    CaptureFrom::Header(h) => {
                        p.want.push(h.clone());
                        p.want_slots.push(c.slot);
                    }
                }
            }
            let literal = st.path.as_literal().is_some()
                && st.headers.iter().all(|(_, t)| t.as_literal().is_some())
                && st.body.as_ref().is_none_or(|b| b.as_literal().is_some());
            if literal {
                let mut out = String::new();
                if write_request(&mut out, &mut String::new(), &p, st, target, |t, _, o| {
                    o.push_str(t.as_literal().unwrap_or_default());
                    Some(())
                })
                .is_some()
                {
                    p.fixed = Some(out);
                }
            }
            p
        })
        .collect()
}

/// Writes a step's request into `out`; `render` fills in a template (`None`: a capture it
/// needs is missing). `None` if the request cannot be built.
fn write_request(
    out: &mut String,
    tmp: &mut String,
    p: &Prepared,
    st: &crate::profile::Step,
    target: &Target,
    mut render: impl FnMut(&Template, Escape, &mut String) -> Option<()>,
) -> Option<()> {
    tmp.clear();
    render(&st.path, Escape::Path, tmp)?;
    if !http::valid_path(tmp) {
        return None;
    }
    http::start_request(out, p.method, tmp, target, !p.own_host);
    for (name, t) in &st.headers {
        if name == hyper::header::CONTENT_LENGTH {
            continue;
        }
        tmp.clear();
        render(t, Escape::None, tmp)?;
        if !http::valid_header_value(tmp) {
            return None;
        }
        http::push_header(out, name.as_str(), tmp);
    }
    match &st.body {
        Some(b) => {
            tmp.clear();
            render(b, Escape::Json, tmp)?;
            http::finish_request(out, Some(tmp));
        }
        None if matches!(p.method, "POST" | "PUT" | "PATCH") => http::finish_request(out, Some("")),
        None => http::finish_request(out, None),
    }
    Some(())
}

/// Renders a template for one planned request; `None` if a capture it needs is missing.
fn render(
    plan: &Plan,
    t: &Template,
    esc: Escape,
    ps: &Timed,
    seq: u64,
    caps: &[Option<Arc<str>>],
    out: &mut String,
) -> Option<()> {
    use std::fmt::Write;
    let c = &ps.contact;
    for part in &t.parts {
        match part {
            Part::Lit(s) => out.push_str(s),
            Part::Field(f) => match f {
                Field::ContactId => write!(out, "{}", c.id).ok()?,
                Field::Channel => out.push_str(c.channel.name()),
                Field::RequestType => out.push_str(c.rtype.name()),
                Field::Event => push_escaped(out, plan.event_name(c), esc),
                Field::Time => push_escaped(out, &plan.time_of(c.at_us), esc),
                Field::Seq => write!(out, "{seq}").ok()?,
                Field::Repeat => write!(out, "{}", ps.repeat).ok()?,
                Field::Seed => write!(out, "{}", plan.seed).ok()?,
                Field::Capture(slot) => push_escaped(out, caps.get(*slot)?.as_deref()?, esc),
            },
        }
    }
    Some(())
}

/// Runs `plan` against `opts.target` until done or until `stop` resolves.
pub async fn run(
    plan: Arc<Plan>,
    profile: Arc<Profile>,
    opts: &RunOptions,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<RunOutcome, LoadgenError> {
    let base = parse_target(&opts.target)?;
    let target = Target::parse(&base)?;
    // A name that does not resolve is no input error: the target may come up later, and
    // every request then counts as a connect error.
    let addrs = match tokio::net::lookup_host((target.host.as_str(), target.port)).await {
        Ok(a) => a.collect(),
        Err(_) => Vec::new(),
    };
    run_on(plan, profile, opts, stop, target, addrs).await
}

/// [`run`] on the target's addresses, already resolved.
async fn run_on(
    plan: Arc<Plan>,
    profile: Arc<Profile>,
    opts: &RunOptions,
    stop: impl Future<Output = ()> + Send + 'static,
    target: Target,
    addrs: Vec<std::net::SocketAddr>,
) -> Result<RunOutcome, LoadgenError> {
    if plan.step_names.len() != profile.steps.len() {
        return Err(LoadgenError::Options(
            "the plan was compiled for another profile".into(),
        ));
    }
    let timeout = opts.timeout.unwrap_or(profile.timeout);
    let n = profile.steps.len();
    // Wait for the common start time, if any.
    let (t0, started_at) = match opts.start_at {
        Some(at) => {
            let now = SystemTime::now();
            let wait = at.duration_since(now).unwrap_or_default();
            (Instant::now() + wait, at.max(now))
        }
        None => (Instant::now(), SystemTime::now()),
    };
    let ctx = Arc::new(Ctx {
        plan: plan.clone(),
        t0,
        live: Live::default(),
        stats: (0..n).map(|_| Mutex::new(StepStats::default())).collect(),
        series: opts
            .interval
            .map(|w| (Mutex::new(Vec::new()), w.as_nanos().max(1) as u64)),
        stopped: AtomicBool::new(false),
    });
    let poll = mio::Poll::new()
        .map_err(|e| LoadgenError::Options(format!("cannot start the dispatcher: {e}")))?;
    let waker = mio::Waker::new(poll.registry(), reactor::WAKER)
        .map_err(|e| LoadgenError::Options(format!("cannot start the dispatcher: {e}")))?;
    let stop_task = tokio::spawn({
        let ctx = ctx.clone();
        async move {
            stop.await;
            ctx.stopped.store(true, Ordering::SeqCst);
            let _ = waker.wake();
        }
    });
    let progress = opts
        .progress
        .then(|| crate::report::progress::spawn(ctx_view(&ctx)));

    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let reactor = reactor::Reactor {
        ctx: ctx.clone(),
        prepared: prepare(&profile, &target),
        profile: profile.clone(),
        target,
        addrs,
        timeout,
        cap: opts.max_in_flight,
        on_cap: opts.on_cap,
        fresh: opts.fresh_connections,
        grace: opts.grace,
        spin: opts.spin,
    };
    std::thread::Builder::new()
        .name("cclab-dispatch".into())
        .spawn(move || {
            let end = reactor.run(poll);
            let _ = done_tx.send((end, reactor.ctx.t0.elapsed()));
        })
        .map_err(|e| LoadgenError::Options(format!("cannot start the dispatcher thread: {e}")))?;
    let (end, wall) = done_rx
        .await
        .map_err(|_| LoadgenError::Options("the dispatcher panicked".into()))?;
    stop_task.abort();
    if let Some(p) = progress {
        p.finish();
    }
    let interrupted = end.interrupted || ctx.stopped.load(Ordering::SeqCst);

    let mut steps = Vec::with_capacity(n);
    for (s, m) in ctx.stats.iter().enumerate() {
        let mut st = m.lock().expect("stats lock").clone();
        st.counts.planned = plan.planned_by_step[s];
        st.counts.dropped.stopped += end.dropped_stopped[s];
        steps.push(st);
    }
    let intervals = match &ctx.series {
        Some((m, _)) => std::mem::take(&mut *m.lock().expect("series lock")),
        None => Vec::new(),
    };
    Ok(RunOutcome {
        steps,
        intervals,
        interval: opts.interval,
        started_at,
        wall,
        interrupted,
        timeout,
    })
}

/// Everything the dispatcher thread needs.
/// The outcome of an answer: expected status, then captures.
fn judge(
    profile: &Profile,
    prepared: &[Prepared],
    s: usize,
    status: u16,
    body: &[u8],
    headers: &[Option<Arc<str>>],
) -> (Outcome, Vec<(usize, Arc<str>)>) {
    let step = &profile.steps[s];
    let p = &prepared[s];
    if !step.expect.contains(&status) {
        return (Outcome::Http(status), Vec::new());
    }
    if step.captures.is_empty() {
        return (Outcome::Ok, Vec::new());
    }
    let mut caps = Vec::with_capacity(step.captures.len());
    for (slot, v) in p.want_slots.iter().zip(headers) {
        match v {
            Some(v) => caps.push((*slot, v.clone())),
            None => return (Outcome::Capture, Vec::new()),
        }
    }
    if !p.json.is_empty() {
        let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
        for (slot, pointer) in &p.json {
            let v = json
                .as_ref()
                .and_then(|j| j.pointer(pointer))
                .and_then(|v| match v {
                    serde_json::Value::String(s) => Some(Arc::from(s.as_str())),
                    serde_json::Value::Number(n) => Some(Arc::from(n.to_string())),
                    serde_json::Value::Bool(b) => Some(Arc::from(b.to_string())),
                    _ => None,
                });
            match v {
                Some(v) => caps.push((*slot, v)),
                None => return (Outcome::Capture, Vec::new()),
            }
        }
    }
    (Outcome::Ok, caps)
}

/// A read-only view of the live counters for the progress line.
pub(crate) struct LiveView {
    ctx: Arc<Ctx>,
}

fn ctx_view(ctx: &Arc<Ctx>) -> LiveView {
    LiveView { ctx: ctx.clone() }
}

impl LiveView {
    pub(crate) fn elapsed(&self) -> Duration {
        Instant::now().saturating_duration_since(self.ctx.t0)
    }
    pub(crate) fn planned_total(&self) -> u64 {
        self.ctx.plan.planned()
    }
    /// Requests whose deadline has passed.
    pub(crate) fn due(&self) -> u64 {
        let plan = &self.ctx.plan;
        if plan.is_streamed() {
            // A streamed plan cannot be searched ahead: its steps are dispatched as they fall
            // due, so the dispatched count is the due count as long as the run is valid.
            return self.dispatched();
        }
        let e = self.elapsed().as_nanos() as u64;
        plan.steps.partition_point(|s| plan.offset_ns(s.at_us) <= e) as u64
    }
    pub(crate) fn dispatched(&self) -> u64 {
        self.ctx.live.dispatched.load(Ordering::Relaxed)
    }
    pub(crate) fn done(&self) -> u64 {
        self.ctx.live.done.load(Ordering::Relaxed)
    }
    pub(crate) fn errors(&self) -> u64 {
        self.ctx.live.errors.load(Ordering::Relaxed)
    }
    pub(crate) fn in_flight(&self) -> u64 {
        self.ctx.live.in_flight.load(Ordering::Relaxed)
    }
    pub(crate) fn scenario_time(&self) -> String {
        let plan = &self.ctx.plan;
        let at = plan.window_start_us + (self.elapsed().as_secs_f64() * plan.speedup * 1e6) as u64;
        plan.time_of(at.min(plan.window_end_us))
    }
    /// p99 of latency from intended send, all steps, microseconds.
    pub(crate) fn p99_us(&self) -> u64 {
        let mut h = new_histogram();
        for m in &self.ctx.stats {
            let _ = h.add(&m.lock().expect("stats lock").latency);
        }
        h.value_at_quantile(0.99)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Shard;
    use std::collections::BTreeMap;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_address_makes_the_connection_try_the_next() {
        // A live server, and before it an address where nothing listens: a host name that
        // resolves to both (`localhost` as `::1` and `127.0.0.1`, the server on one only).
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let live = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut b = [0u8; 4096];
                    while s.read(&mut b).await.unwrap_or(0) > 0 {
                        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
                        if s.write_all(ok).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        let refused = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let profile = Profile::parse(
            "test.toml",
            "name = \"get\"\n[[steps]]\nname = \"get\"\npath = \"/x\"\n",
            &BTreeMap::new(),
        )
        .unwrap();
        let plan =
            Plan::flat(&profile, 100.0, Duration::from_millis(300), 1, Shard::WHOLE).unwrap();
        let opts = RunOptions {
            target: format!("http://{live}"),
            ..RunOptions::default()
        };
        let target = Target::parse(&opts.target).unwrap();
        let out = run_on(
            Arc::new(plan),
            Arc::new(profile),
            &opts,
            std::future::pending(),
            target,
            vec![refused, live],
        )
        .await
        .unwrap();
        let c = &out.steps[0].counts;
        assert_eq!((c.planned, c.ok, c.connect_errors), (30, 30, 0), "{c:?}");
    }
}
