//! The open-loop dispatcher: one task walks the plan and sends each step at its deadline.
//!
//! Deadlines are absolute (`t0 + offset`), never "previous send + gap", so delays do not
//! accumulate. The dispatcher has an OS thread of its own: it sleeps with the OS timer (tens of
//! microseconds of slack, where tokio's timer has a millisecond granularity) and, optionally,
//! yields in a loop for the last `spin` before a deadline. Lateness is measured when the
//! request's task starts on the runtime, so a saturated runtime shows up in it too. Each
//! request runs in its own task,
//! so a stalled server delays nothing else. With an in-flight cap, `Policy::Queue` makes a
//! request wait for a free slot in FIFO order (the wait counts as lateness: the request could
//! not go at its time) and `Policy::Drop` drops it (counted); the dispatcher itself never
//! blocks. A step waits for its parent step's answer (it needs the captured case
//! number, and the server needs the earlier transition), at most the timeout; a parent that
//! failed makes its children `dropped.unresolved`.
//!
//! On stop (Ctrl-C), dispatching ends, requests in flight get `grace` to finish, the rest are
//! cancelled and counted; steps never reached count as `dropped.stopped`.

use crate::LoadgenError;
use crate::plan::{Plan, PlannedStep};
use crate::profile::{CaptureFrom, Escape, Field, Part, Profile, Template, push_escaped};
use crate::record::{Interval, Outcome, StepStats, new_histogram};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{Notify, Semaphore, watch};

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// Where the dispatcher runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DispatcherMode {
    /// An OS thread of its own, sleeping with the OS timer: microsecond lateness, never
    /// delayed by request tasks; each request is handed to the runtime across threads.
    Thread,
    /// A task on the runtime, sleeping on tokio's timer (up to about 1 ms late unless `spin`):
    /// requests are spawned on the same worker, the cheapest in CPU per request.
    Task,
}

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
    /// How long before a deadline the dispatcher stops sleeping and spins.
    pub spin: Duration,
    /// Live progress on stderr.
    pub progress: bool,
    pub dispatcher: DispatcherMode,
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
            dispatcher: DispatcherMode::Thread,
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

fn client(timeout: Duration, max_idle: usize) -> HttpClient {
    let mut conn = HttpConnector::new();
    conn.set_nodelay(true);
    conn.set_connect_timeout(Some(timeout));
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(max_idle)
        .pool_idle_timeout(Duration::from_secs(90))
        .build(conn)
}

/// Fetches `path` of the target and reads the JSON pointer as an integer (reconciliation).
pub async fn fetch_count(
    target: &str,
    path: &str,
    pointer: &str,
    timeout: Duration,
) -> Result<u64, String> {
    let c = client(timeout, 1);
    let uri: Uri = format!("{target}{path}")
        .parse()
        .map_err(|e| format!("bad URL: {e}"))?;
    let fut = async {
        let res = c
            .get(uri)
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = res.status();
        let body = res
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        if !status.is_success() {
            return Err(format!("status {status}"));
        }
        let v: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))?;
        v.pointer(pointer)
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| format!("no integer at {pointer}"))
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| "timed out".to_string())?
}

/// Outcome of a journey step, as seen by its children.
const PENDING: u8 = 0;
const DONE_OK: u8 = 1;
const FAILED: u8 = 2;

#[derive(Debug, Clone)]
struct JState {
    done: Vec<u8>,
    captures: Vec<Option<Arc<str>>>,
}

/// The live state of one citizen's journey, shared by its steps' tasks.
struct Journey {
    state: watch::Sender<JState>,
    /// The citizen's own pool, with `--fresh-connections`.
    client: Option<HttpClient>,
}

impl Journey {
    fn mark(&self, step: usize, result: u8, caps: Vec<(usize, Arc<str>)>) {
        self.state.send_modify(|s| {
            if s.done[step] == PENDING || result == FAILED {
                s.done[step] = result;
            }
            for (slot, v) in caps {
                s.captures[slot] = Some(v);
            }
        });
    }
}

/// Live counters for the progress line.
#[derive(Default)]
struct Live {
    dispatched: AtomicU64,
    done: AtomicU64,
    errors: AtomicU64,
    in_flight: AtomicU64,
}

struct Ctx {
    plan: Arc<Plan>,
    profile: Arc<Profile>,
    base: String,
    client: HttpClient,
    timeout: Duration,
    stats: Vec<Mutex<StepStats>>,
    series: Option<(Mutex<Vec<Interval>>, u64)>,
    t0: Instant,
    live: Live,
    idle: Notify,
    cancel: watch::Receiver<bool>,
    /// The in-flight cap, taken by each request after its parent answered.
    cap: Option<Arc<Semaphore>>,
    on_cap: Policy,
    /// Per step: the URI when the path has no placeholders, and header values likewise
    /// (cloning them is a reference-count increment, not a parse).
    fixed: Vec<Fixed>,
}

struct Fixed {
    uri: Option<Uri>,
    headers: Vec<Option<hyper::header::HeaderValue>>,
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

    fn finish_task(&self) {
        if self.live.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
        }
    }
}

/// Decrements the in-flight count when a request task ends, however it ends.
struct InFlight<'a>(&'a Ctx);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.finish_task();
    }
}

/// Runs `plan` against `opts.target` until done or until `stop` resolves.
pub async fn run(
    plan: Arc<Plan>,
    profile: Arc<Profile>,
    opts: &RunOptions,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<RunOutcome, LoadgenError> {
    let base = parse_target(&opts.target)?;
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
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let ctx = Arc::new(Ctx {
        plan: plan.clone(),
        profile: profile.clone(),
        base: base.clone(),
        client: client(timeout, usize::MAX),
        timeout,
        stats: (0..n).map(|_| Mutex::new(StepStats::default())).collect(),
        series: opts
            .interval
            .map(|w| (Mutex::new(Vec::new()), w.as_nanos().max(1) as u64)),
        t0,
        live: Live::default(),
        idle: Notify::new(),
        cancel: cancel_rx,
        cap: opts
            .max_in_flight
            .map(|c| Arc::new(Semaphore::new(c.max(1)))),
        on_cap: opts.on_cap,
        fixed: profile
            .steps
            .iter()
            .map(|st| Fixed {
                uri: st
                    .path
                    .as_literal()
                    .and_then(|p| format!("{base}{p}").parse().ok()),
                headers: st
                    .headers
                    .iter()
                    .map(|(_, t)| t.as_literal().and_then(|v| v.parse().ok()))
                    .collect(),
            })
            .collect(),
    });
    let stopped = Arc::new(AtomicBool::new(false));
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_task = tokio::spawn({
        let stopped = stopped.clone();
        async move {
            stop.await;
            stopped.store(true, Ordering::SeqCst);
            let _ = stop_tx.send(true);
        }
    });
    let progress = opts
        .progress
        .then(|| crate::report::progress::spawn(ctx_view(&ctx)));

    // The dispatcher runs on a thread of its own: it sleeps with the OS timer (microsecond
    // precision, unlike tokio's millisecond wheel) and never waits behind request tasks or an
    // embedded server sharing the runtime. Requests run as tasks on the caller's runtime.
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let d = Dispatcher {
        ctx: ctx.clone(),
        rt: tokio::runtime::Handle::current(),
        fresh: opts.fresh_connections,
        spin: opts.spin,
        stopped: stopped.clone(),
        mode: opts.dispatcher,
    };
    match opts.dispatcher {
        DispatcherMode::Thread => {
            std::thread::Builder::new()
                .name("cclab-dispatch".into())
                .spawn(move || {
                    let _ = done_tx.send(futures_block_on(d.run()));
                })
                .map_err(|e| {
                    LoadgenError::Options(format!("cannot start the dispatcher thread: {e}"))
                })?;
        }
        DispatcherMode::Task => {
            tokio::spawn(async move {
                let _ = done_tx.send(d.run().await);
            });
        }
    }
    let end = done_rx
        .await
        .map_err(|_| LoadgenError::Options("the dispatcher panicked".into()))?;
    let interrupted = stopped.load(Ordering::SeqCst) && end.next < plan.steps.len();
    // Requests in flight end within their timeouts (parent waits too), and requests queued at
    // the in-flight cap drain as slots free up, so a normal end waits for all of them. Only a
    // stop (before or during the drain) limits the wait to the grace period.
    let mut stop_again = stop_rx.clone();
    let grace = opts.grace;
    let drain = async move {
        if !interrupted && !stopped_now(&stop_again) {
            let _ = stop_again.wait_for(|s| *s).await;
        }
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        _ = wait_idle(&ctx) => {}
        _ = drain => {}
    }
    let _ = cancel_tx.send(true);
    wait_idle(&ctx).await;
    let wall = t0.elapsed();
    stop_task.abort();
    if let Some(p) = progress {
        p.finish();
    }
    let interrupted = interrupted || stopped.load(Ordering::SeqCst);

    let mut steps = Vec::with_capacity(n);
    for (s, m) in ctx.stats.iter().enumerate() {
        let mut st = m.lock().expect("stats lock").clone();
        st.counts.planned = plan.planned_by_step[s];
        st.counts.dropped.stopped += end.dropped_stopped[s];
        steps.push(st);
    }
    let mut intervals = match &ctx.series {
        Some((m, _)) => m.lock().expect("series lock").clone(),
        None => Vec::new(),
    };
    if let Some((_, width)) = &ctx.series {
        for ps in &plan.steps {
            let b = (plan.offset_ns(ps.at_us) / width) as usize;
            if intervals.len() <= b {
                intervals.resize_with(b + 1, Interval::default);
            }
            intervals[b].planned += 1;
        }
    }
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

/// What the dispatcher thread hands back.
struct DispatchEnd {
    /// Index of the first step not dispatched (the plan's length if all were).
    next: usize,
    dropped_stopped: Vec<u64>,
}

/// The dispatcher: walks the plan on its own thread, spawning one task per request.
struct Dispatcher {
    ctx: Arc<Ctx>,
    rt: tokio::runtime::Handle,
    fresh: bool,
    spin: Duration,
    stopped: Arc<AtomicBool>,
    mode: DispatcherMode,
}

impl Dispatcher {
    async fn run(self) -> DispatchEnd {
        let ctx = &self.ctx;
        let plan = &ctx.plan;
        let n = plan.step_names.len();
        let mut journeys: HashMap<u32, (Arc<Journey>, u32)> = HashMap::new();
        let mut next = 0usize;
        'plan: for (i, ps) in plan.steps.iter().enumerate() {
            next = i;
            let deadline = ctx.t0 + Duration::from_nanos(plan.offset_ns(ps.at_us));
            let on_time = match self.mode {
                DispatcherMode::Thread => wait_until(deadline, self.spin, &self.stopped),
                DispatcherMode::Task => wait_until_async(deadline, self.spin, &self.stopped).await,
            };
            if !on_time {
                break 'plan;
            }
            let journey = journey_for(
                &mut journeys,
                plan,
                ps,
                n,
                ctx.profile.capture_names.len(),
                self.fresh,
                ctx.timeout,
            );
            ctx.live.in_flight.fetch_add(1, Ordering::AcqRel);
            ctx.live.dispatched.fetch_add(1, Ordering::Relaxed);
            let task_ctx = ctx.clone();
            let ps = *ps;
            self.rt.spawn(async move {
                // The guard keeps the in-flight count right even if the task panics.
                let _guard = InFlight(&task_ctx);
                execute(&task_ctx, ps, i as u64, deadline, journey).await;
            });
            next = i + 1;
        }
        // Steps never dispatched (stopped): their journeys' waiting children must not wait.
        let mut dropped_stopped = vec![0u64; n];
        for ps in &plan.steps[next.min(plan.steps.len())..] {
            dropped_stopped[ps.step as usize] += 1;
            if let Some((j, _)) = journeys.get(&ps.contact) {
                j.mark(ps.step as usize, FAILED, Vec::new());
            }
        }
        DispatchEnd {
            next,
            dropped_stopped,
        }
    }
}

/// Sleeps to `deadline` with the OS timer (about 50 us of slack on Linux), then, for the last
/// `spin`, yields the CPU in a loop (yielding, not busy-waiting, so a request worker pinned to
/// the same core still runs); false if stopped first. Never returns before the deadline.
fn wait_until(deadline: Instant, spin: Duration, stopped: &AtomicBool) -> bool {
    loop {
        if stopped.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        let left = deadline - now;
        if left > spin {
            // Short naps, so a stop is seen within 20 ms.
            std::thread::sleep((left - spin).min(Duration::from_millis(20)));
        } else {
            std::thread::yield_now();
        }
    }
}

fn stopped_now(rx: &watch::Receiver<bool>) -> bool {
    *rx.borrow()
}

/// The task dispatcher's wait: tokio's timer (millisecond granularity, so up to about 1 ms
/// late), woken `spin` early to yield in a loop until the deadline; false if stopped first.
async fn wait_until_async(deadline: Instant, spin: Duration, stopped: &AtomicBool) -> bool {
    loop {
        if stopped.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        let left = deadline - now;
        if left > spin {
            let wake = (deadline - spin).min(now + Duration::from_millis(20));
            tokio::time::sleep_until(tokio::time::Instant::from_std(wake)).await;
        } else {
            tokio::task::yield_now().await;
        }
    }
}

/// Runs a future to completion on the current (dedicated) thread. The thread dispatcher's
/// future never waits on anything but its own blocking sleeps, so a no-op waker suffices.
fn futures_block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

async fn wait_idle(ctx: &Ctx) {
    loop {
        let notified = ctx.idle.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if ctx.live.in_flight.load(Ordering::Acquire) == 0 {
            return;
        }
        notified.await;
    }
}

fn journey_for(
    journeys: &mut HashMap<u32, (Arc<Journey>, u32)>,
    plan: &Plan,
    ps: &PlannedStep,
    n_steps: usize,
    n_captures: usize,
    fresh: bool,
    timeout: Duration,
) -> Option<Arc<Journey>> {
    let contact = &plan.contacts[ps.contact as usize];
    if contact.steps <= 1 && !fresh {
        return None;
    }
    let entry = journeys.entry(ps.contact).or_insert_with(|| {
        let state = JState {
            done: vec![PENDING; n_steps],
            captures: vec![None; n_captures],
        };
        let j = Journey {
            state: watch::channel(state).0,
            client: fresh.then(|| client(timeout, 1)),
        };
        (Arc::new(j), contact.steps)
    });
    let j = entry.0.clone();
    entry.1 -= 1;
    if entry.1 == 0 {
        journeys.remove(&ps.contact);
    }
    Some(j)
}

/// Sends one step and records its outcome.
async fn execute(
    ctx: &Ctx,
    ps: PlannedStep,
    seq: u64,
    deadline: Instant,
    journey: Option<Arc<Journey>>,
) {
    let s = ps.step as usize;
    let step = &ctx.profile.steps[s];
    let mut cancel = ctx.cancel.clone();
    let mut lateness = Instant::now()
        .saturating_duration_since(deadline)
        .as_micros() as u64;
    // Wait for the parent step's answer, and take the journey's captures.
    let mut captures: Vec<Option<Arc<str>>> = Vec::new();
    if let (Some(parent), Some(j)) = (step.parent, &journey) {
        let mut rx = j.state.subscribe();
        let waited = tokio::select! {
            r = tokio::time::timeout(ctx.timeout, rx.wait_for(|st| st.done[parent] != PENDING)) => {
                r.ok().and_then(|r| r.ok()).map(|st| (st.done[parent], st.captures.clone()))
            }
            _ = cancel.wait_for(|c| *c) => None,
        };
        match waited {
            Some((DONE_OK, caps)) => captures = caps,
            _ => {
                j.mark(s, FAILED, Vec::new());
                let mut st = ctx.stats[s].lock().expect("stats lock");
                st.lateness.saturating_record(lateness);
                if *ctx.cancel.borrow() {
                    st.counts.dropped.stopped += 1;
                } else {
                    st.counts.dropped.unresolved += 1;
                }
                drop(st);
                ctx.series_at(Instant::now(), |iv| iv.dropped += 1);
                return;
            }
        }
    }
    // The in-flight cap: a request waiting here (queue) is late by the wait, since it could
    // not go at its time; a dropped one is counted.
    let _permit = match &ctx.cap {
        None => None,
        Some(sem) => match sem.clone().try_acquire_owned() {
            Ok(p) => Some(p),
            Err(_) => {
                let waited = Instant::now();
                let got = match ctx.on_cap {
                    Policy::Drop => None,
                    Policy::Queue => tokio::select! {
                        p = sem.clone().acquire_owned() => p.ok(),
                        _ = cancel.wait_for(|c| *c) => None,
                    },
                };
                lateness += waited.elapsed().as_micros() as u64;
                if got.is_none() {
                    if let Some(j) = &journey {
                        j.mark(s, FAILED, Vec::new());
                    }
                    let mut st = ctx.stats[s].lock().expect("stats lock");
                    st.lateness.saturating_record(lateness);
                    if ctx.on_cap == Policy::Drop {
                        st.counts.dropped.in_flight_cap += 1;
                    } else {
                        st.counts.dropped.stopped += 1;
                    }
                    drop(st);
                    ctx.series_at(Instant::now(), |iv| iv.dropped += 1);
                    return;
                }
                got
            }
        },
    };
    let client = journey
        .as_ref()
        .and_then(|j| j.client.as_ref())
        .unwrap_or(&ctx.client);
    let sent = Instant::now();
    let (outcome, caps) = match build(ctx, &ps, seq, &captures) {
        None => (Outcome::Invalid, Vec::new()),
        Some(req) => tokio::select! {
            r = tokio::time::timeout(ctx.timeout, send(client, req, step)) => match r {
                Ok(r) => r,
                Err(_) => (Outcome::Timeout, Vec::new()),
            },
            _ = cancel.wait_for(|c| *c) => {
                // Cancelled after the grace period: sent, outcome unknown.
                if let Some(j) = &journey { j.mark(s, FAILED, Vec::new()); }
                let mut st = ctx.stats[s].lock().expect("stats lock");
                st.lateness.saturating_record(lateness);
                st.counts.sent += 1;
                st.counts.cancelled += 1;
                return;
            }
        },
    };
    let done = Instant::now();
    if let Some(j) = &journey {
        let r = if outcome == Outcome::Ok {
            DONE_OK
        } else {
            FAILED
        };
        j.mark(s, r, caps);
    }
    let latency = done.saturating_duration_since(deadline).as_micros() as u64;
    let service = done.saturating_duration_since(sent).as_micros() as u64;
    {
        let mut st = ctx.stats[s].lock().expect("stats lock");
        st.lateness.saturating_record(lateness);
        st.record(outcome, latency, service);
    }
    ctx.live.done.fetch_add(1, Ordering::Relaxed);
    if outcome != Outcome::Ok {
        ctx.live.errors.fetch_add(1, Ordering::Relaxed);
    }
    if ctx.series.is_some() {
        ctx.series_at(sent, |iv| iv.sent += 1);
        ctx.series_at(done, |iv| {
            if outcome == Outcome::Ok {
                iv.ok += 1;
                iv.latency.saturating_record(latency);
            } else {
                iv.errors += 1;
            }
        });
    }
}

/// Renders a template; `None` if a capture it needs is missing.
fn render(
    ctx: &Ctx,
    t: &Template,
    esc: Escape,
    ps: &PlannedStep,
    seq: u64,
    caps: &[Option<Arc<str>>],
    out: &mut String,
) -> Option<()> {
    let plan = &ctx.plan;
    let c = &plan.contacts[ps.contact as usize];
    for part in &t.parts {
        match part {
            Part::Lit(s) => out.push_str(s),
            Part::Field(f) => match f {
                Field::ContactId => out.push_str(&c.id.to_string()),
                Field::Channel => out.push_str(c.channel.name()),
                Field::RequestType => out.push_str(c.rtype.name()),
                Field::Event => push_escaped(out, plan.event_name(c), esc),
                Field::Time => push_escaped(out, &plan.time_of(c.at_us), esc),
                Field::Seq => out.push_str(&seq.to_string()),
                Field::Repeat => out.push_str(&ps.repeat.to_string()),
                Field::Seed => out.push_str(&plan.seed.to_string()),
                Field::Capture(slot) => push_escaped(out, caps.get(*slot)?.as_deref()?, esc),
            },
        }
    }
    Some(())
}

fn build(
    ctx: &Ctx,
    ps: &PlannedStep,
    seq: u64,
    caps: &[Option<Arc<str>>],
) -> Option<Request<Full<Bytes>>> {
    let step = &ctx.profile.steps[ps.step as usize];
    let fixed = &ctx.fixed[ps.step as usize];
    let mut req = Request::builder().method(step.method.clone());
    req = match &fixed.uri {
        Some(uri) => req.uri(uri.clone()),
        None => {
            let mut url = String::with_capacity(ctx.base.len() + 64);
            url.push_str(&ctx.base);
            render(ctx, &step.path, Escape::Path, ps, seq, caps, &mut url)?;
            req.uri(url)
        }
    };
    let mut buf = String::new();
    for ((name, t), value) in step.headers.iter().zip(&fixed.headers) {
        req = match value {
            Some(v) => req.header(name, v.clone()),
            None => {
                buf.clear();
                render(ctx, t, Escape::None, ps, seq, caps, &mut buf)?;
                req.header(name, buf.as_str())
            }
        };
    }
    let body = match &step.body {
        None => Bytes::new(),
        Some(t) => {
            let mut b = String::with_capacity(256);
            render(ctx, t, Escape::Json, ps, seq, caps, &mut b)?;
            Bytes::from(b)
        }
    };
    req.body(Full::new(body)).ok()
}

async fn send(
    client: &HttpClient,
    req: Request<Full<Bytes>>,
    step: &crate::profile::Step,
) -> (Outcome, Vec<(usize, Arc<str>)>) {
    let res = match client.request(req).await {
        Ok(r) => r,
        Err(e) if e.is_connect() => return (Outcome::Connect, Vec::new()),
        Err(_) => return (Outcome::Transport, Vec::new()),
    };
    let status = res.status().as_u16();
    let (parts, body) = res.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return (Outcome::Transport, Vec::new()),
    };
    if !step.expect.contains(&status) {
        return (Outcome::Http(status), Vec::new());
    }
    if step.captures.is_empty() {
        return (Outcome::Ok, Vec::new());
    }
    let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let mut caps = Vec::with_capacity(step.captures.len());
    for c in &step.captures {
        let v: Option<String> = match &c.from {
            CaptureFrom::Json(p) => {
                json.as_ref()
                    .and_then(|j| j.pointer(p))
                    .and_then(|v| match v {
                        serde_json::Value::String(s) => Some(s.clone()),
                        serde_json::Value::Number(n) => Some(n.to_string()),
                        serde_json::Value::Bool(b) => Some(b.to_string()),
                        _ => None,
                    })
            }
            CaptureFrom::Header(h) => parts
                .headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        };
        match v {
            Some(v) => caps.push((c.slot, Arc::from(v))),
            None => return (Outcome::Capture, Vec::new()),
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
