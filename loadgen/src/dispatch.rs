//! The open-loop dispatcher: one scheduler walks the plan and sends each step at its deadline.
//!
//! Deadlines are absolute (`t0 + offset`), never "previous send + gap", so delays do not
//! accumulate. Everything runs on one thread of its own with a current-thread tokio runtime:
//! the scheduler task, and one task per request on the same thread, so handing a request over
//! costs no cross-thread wake-up and no lock is ever contended. The scheduler dispatches every
//! step already due, then sleeps to the next deadline on a precise timer (`timer`: a `timerfd`
//! on Linux, woken by the runtime's own epoll), so at 5,000 requests/s the lateness is a few
//! microseconds and at high rates several requests go per wake-up. Requests use a lean
//! HTTP/1.1 client (`http`) over keep-alive connections pooled per target (or per citizen with
//! `fresh_connections`). Lateness is measured when the request's task starts, so a saturated
//! thread shows up in it too. Each request runs in its own task, so a stalled server delays
//! nothing else.
//!
//! With an in-flight cap, `Policy::Queue` makes a request wait for a free slot in FIFO order
//! (the wait counts as lateness: the request could not go at its time) and `Policy::Drop` drops
//! it (counted). Under `Queue` the scheduler itself waits for a root step's slot (steps go out
//! in plan order anyway, and waiting tasks do not pile up); a child step takes its slot after
//! its parent answered. A step waits for its parent step's answer
//! (it needs the captured case number, and the server needs the earlier transition), at most
//! the timeout; a parent that failed makes its children `dropped.unresolved`.
//!
//! On stop (Ctrl-C), dispatching ends, requests in flight get `grace` to finish, the rest are
//! cancelled and counted (a request task that is dropped records itself as cancelled, or as
//! dropped if it had not been sent yet); steps never reached count as `dropped.stopped`.

mod http;
mod timer;

use crate::LoadgenError;
use crate::plan::{Plan, Timed};
use crate::profile::{CaptureFrom, Escape, Field, Part, Profile, Template, push_escaped};
use crate::record::{Interval, Outcome, StepStats, new_histogram};
use http::{Conn, Failure, Target};
use hyper::Uri;
use hyper::header::HeaderName;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};

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

/// Idle keep-alive connections, most recently used last.
type Pool = Mutex<Vec<Conn>>;

/// The live state of one citizen's journey, shared by its steps' tasks.
struct Journey {
    done: Mutex<Vec<u8>>,
    captures: Mutex<Vec<Option<Arc<str>>>>,
    changed: Notify,
    /// The citizen's own connections, with `--fresh-connections`.
    pool: Option<Pool>,
}

impl Journey {
    fn mark(&self, step: usize, result: u8, caps: Vec<(usize, Arc<str>)>) {
        {
            let mut done = self.done.lock().expect("journey lock");
            if done[step] == PENDING || result == FAILED {
                done[step] = result;
            }
        }
        let mut c = self.captures.lock().expect("journey lock");
        for (slot, v) in caps {
            c[slot] = Some(v);
        }
        self.changed.notify_waiters();
    }

    /// Waits for `parent`'s answer: its captures if it succeeded, `None` if it failed or did
    /// not answer within `timeout`.
    async fn parent(&self, parent: usize, timeout: Duration) -> Option<Vec<Option<Arc<str>>>> {
        let wait = async {
            loop {
                let notified = self.changed.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let state = self.done.lock().expect("journey lock")[parent];
                match state {
                    PENDING => {}
                    DONE_OK => return Some(self.captures.lock().expect("journey lock").clone()),
                    _ => return None,
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.ok().flatten()
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

/// The dispatcher thread's state, shared by its tasks. They all run on that one thread, so
/// its locks are never contended; they are `Send` only so that the tasks can be spawned on the
/// runtime itself (a `LocalSet` would wake the runtime through its event fd at every turn).
struct Engine {
    ctx: Arc<Ctx>,
    profile: Arc<Profile>,
    target: Target,
    timeout: Duration,
    pool: Pool,
    prepared: Vec<Prepared>,
    /// Spare request buffers (they keep their capacity).
    bufs: Mutex<Vec<String>>,
    /// The in-flight cap, taken by each request after its parent answered (by the scheduler
    /// itself for a root step under `Policy::Queue`).
    cap: Option<Arc<Semaphore>>,
    on_cap: Policy,
    idle: Notify,
}

impl Engine {
    fn finish_task(&self) {
        if self.ctx.live.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
        }
    }

    fn buf(&self) -> String {
        let mut b = self
            .bufs
            .lock()
            .expect("buffers lock")
            .pop()
            .unwrap_or_default();
        b.clear();
        b
    }

    fn give_back(&self, b: String) {
        self.bufs.lock().expect("buffers lock").push(b);
    }

    async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.ctx.live.in_flight.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
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
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_task = tokio::spawn({
        let ctx = ctx.clone();
        async move {
            stop.await;
            ctx.stopped.store(true, Ordering::SeqCst);
            let _ = stop_tx.send(true);
        }
    });
    let progress = opts
        .progress
        .then(|| crate::report::progress::spawn(ctx_view(&ctx)));

    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let setup = Setup {
        ctx: ctx.clone(),
        profile: profile.clone(),
        target,
        timeout,
        max_in_flight: opts.max_in_flight,
        on_cap: opts.on_cap,
        fresh: opts.fresh_connections,
        spin: opts.spin,
        grace: opts.grace,
        stop: stop_rx,
    };
    std::thread::Builder::new()
        .name("cclab-dispatch".into())
        .spawn(move || {
            let _ = done_tx.send(setup.run());
        })
        .map_err(|e| LoadgenError::Options(format!("cannot start the dispatcher thread: {e}")))?;
    let end = done_rx
        .await
        .map_err(|_| LoadgenError::Options("the dispatcher panicked".into()))??;
    let wall = end.wall;
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
struct Setup {
    ctx: Arc<Ctx>,
    profile: Arc<Profile>,
    target: Target,
    timeout: Duration,
    max_in_flight: Option<usize>,
    on_cap: Policy,
    fresh: bool,
    spin: Duration,
    grace: Duration,
    stop: watch::Receiver<bool>,
}

/// What the dispatcher thread hands back.
struct DispatchEnd {
    /// Stopped before every step was dispatched.
    interrupted: bool,
    dropped_stopped: Vec<u64>,
    /// From t0 to the last request's completion (or cancellation).
    wall: Duration,
}

impl Setup {
    /// The dispatcher thread: a current-thread runtime running the scheduler and every
    /// request task. Tasks still running at the end (after the grace period) are dropped with
    /// the task set, and each records itself as cancelled or dropped.
    fn run(self) -> Result<DispatchEnd, LoadgenError> {
        // I/O and time only: the signal and process drivers would be polled at every turn.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| LoadgenError::Options(format!("cannot start the dispatcher: {e}")))?;
        let engine = Arc::new(Engine {
            ctx: self.ctx.clone(),
            profile: self.profile.clone(),
            prepared: prepare(&self.profile, &self.target),
            target: self.target.clone(),
            timeout: self.timeout,
            pool: Mutex::new(Vec::new()),
            bufs: Mutex::new(Vec::new()),
            cap: self
                .max_in_flight
                .map(|c| Arc::new(Semaphore::new(c.max(1)))),
            on_cap: self.on_cap,
            idle: Notify::new(),
        });
        let mut end = rt.block_on(self.main(engine.clone()));
        // Dropping the runtime drops the tasks still running; their guards record them.
        drop(rt);
        end.wall = self.ctx.t0.elapsed();
        drop(engine);
        Ok(end)
    }

    async fn main(&self, engine: Arc<Engine>) -> DispatchEnd {
        let mut stop = self.stop.clone();
        let end = self.schedule(&engine, &mut stop).await;
        // Requests in flight end within their timeouts (parent waits too), and requests
        // queued at the in-flight cap drain as slots free up, so a normal end waits for all of
        // them. Only a stop (before or during the drain) limits the wait to the grace period.
        let grace = self.grace;
        let drain = async move {
            let _ = stop.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            _ = engine.wait_idle() => {}
            _ = drain => {}
        }
        end
    }

    /// Walks the plan: dispatches every step already due, then sleeps to the next deadline.
    async fn schedule(&self, e: &Arc<Engine>, stop: &mut watch::Receiver<bool>) -> DispatchEnd {
        let ctx = &self.ctx;
        let plan = &*ctx.plan;
        let n = plan.step_names.len();
        let mut timer = timer::Timer::new();
        let mut journeys: HashMap<u64, (Arc<Journey>, u32)> = HashMap::new();
        let mut stream = plan.stream();
        let mut next = stream.next();
        let mut seq = 0u64;
        let mut burst = 0u32;
        let mut interrupted = false;
        let mut last_wake = ctx.t0;
        while let Some(ps) = next {
            let deadline = ctx.t0 + Duration::from_nanos(plan.offset_ns(ps.at_us));
            if Instant::now() < deadline {
                burst = 0;
                // Timer coalescing: at most one wake-up per `WAKE_QUANTUM`, each dispatching
                // everything due by then.
                let wake = deadline.max(last_wake + WAKE_QUANTUM);
                tokio::select! {
                    biased;
                    _ = stop.wait_for(|s| *s) => {}
                    _ = timer.sleep_until(wake, self.spin) => {}
                }
                last_wake = Instant::now();
            } else if burst >= 64 {
                // Behind schedule: let the request tasks run between batches.
                burst = 0;
                tokio::task::yield_now().await;
            }
            if ctx.stopped.load(Ordering::Relaxed) {
                interrupted = true;
                break;
            }
            // A root step under the queue policy waits for its slot here, in plan order: the
            // wait is lateness all the same, and a saturated target does not pile up waiting
            // tasks (memory) ahead of the plan.
            let mut slot = None;
            if let (Some(sem), Policy::Queue, None) = (
                &e.cap,
                e.on_cap,
                self.profile.steps[ps.step as usize].parent,
            ) {
                slot = match sem.clone().try_acquire_owned() {
                    Ok(p) => Some(p),
                    Err(_) => tokio::select! {
                        biased;
                        _ = stop.wait_for(|s| *s) => None,
                        p = sem.clone().acquire_owned() => p.ok(),
                    },
                };
                if slot.is_none() {
                    interrupted = true;
                    break;
                }
            }
            burst += 1;
            let journey = self.journey_for(&mut journeys, &ps);
            ctx.live.in_flight.fetch_add(1, Ordering::AcqRel);
            ctx.live.dispatched.fetch_add(1, Ordering::Relaxed);
            ctx.series_at(deadline, |iv| iv.planned += 1);
            tokio::spawn(execute(e.clone(), ps, seq, deadline, journey, slot));
            seq += 1;
            next = stream.next();
        }
        // Steps never dispatched (stopped): counted, and their journeys' waiting children must
        // not wait.
        let mut dropped_stopped = vec![0u64; n];
        for ps in next.into_iter().chain(stream) {
            dropped_stopped[ps.step as usize] += 1;
            ctx.series_at(
                ctx.t0 + Duration::from_nanos(plan.offset_ns(ps.at_us)),
                |iv| iv.planned += 1,
            );
            if let Some((j, _)) = journeys.get(&ps.contact.id) {
                j.mark(ps.step as usize, FAILED, Vec::new());
            }
        }
        DispatchEnd {
            interrupted,
            dropped_stopped,
            wall: Duration::ZERO,
        }
    }

    fn journey_for(
        &self,
        journeys: &mut HashMap<u64, (Arc<Journey>, u32)>,
        ps: &Timed,
    ) -> Option<Arc<Journey>> {
        let c = &ps.contact;
        if c.steps <= 1 && !self.fresh {
            return None;
        }
        let entry = journeys.entry(c.id).or_insert_with(|| {
            let j = Journey {
                done: Mutex::new(vec![PENDING; self.profile.steps.len()]),
                captures: Mutex::new(vec![None; self.profile.capture_names.len()]),
                changed: Notify::new(),
                pool: self.fresh.then(|| Mutex::new(Vec::new())),
            };
            (Arc::new(j), c.steps)
        });
        let j = entry.0.clone();
        entry.1 -= 1;
        if entry.1 == 0 {
            journeys.remove(&c.id);
        }
        Some(j)
    }
}

/// Where a request task is, for the record it leaves if it is dropped (cancelled).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for its parent or for a slot: not sent.
    Waiting,
    /// Sent, no answer yet.
    Sent,
    /// Recorded.
    Done,
}

/// Keeps the in-flight count and the accounting right however a request task ends: a task
/// dropped at the end of the grace period records itself here.
struct Guard<'a> {
    e: &'a Engine,
    step: usize,
    lateness_us: u64,
    phase: Phase,
    journey: Option<&'a Journey>,
}

impl Guard<'_> {
    /// Records a request that was not sent (`Phase::Waiting` to `Phase::Done`).
    fn dropped(&mut self, count: impl FnOnce(&mut crate::record::Dropped)) {
        if let Some(j) = self.journey {
            j.mark(self.step, FAILED, Vec::new());
        }
        let ctx = &self.e.ctx;
        {
            let mut st = ctx.stats[self.step].lock().expect("stats lock");
            st.lateness.saturating_record(self.lateness_us);
            count(&mut st.counts.dropped);
        }
        ctx.series_at(Instant::now(), |iv| iv.dropped += 1);
        self.phase = Phase::Done;
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        match self.phase {
            Phase::Waiting => self.dropped(|d| d.stopped += 1),
            Phase::Sent => {
                if let Some(j) = self.journey {
                    j.mark(self.step, FAILED, Vec::new());
                }
                let mut st = self.e.ctx.stats[self.step].lock().expect("stats lock");
                st.lateness.saturating_record(self.lateness_us);
                st.counts.sent += 1;
                st.counts.cancelled += 1;
            }
            Phase::Done => {}
        }
        self.e.finish_task();
    }
}

/// One planned request: waits for its parent and a slot, sends, records.
async fn execute(
    e: Arc<Engine>,
    ps: Timed,
    seq: u64,
    deadline: Instant,
    journey: Option<Arc<Journey>>,
    slot: Option<OwnedSemaphorePermit>,
) {
    let s = ps.step as usize;
    let step = &e.profile.steps[s];
    let mut g = Guard {
        e: &e,
        step: s,
        lateness_us: Instant::now()
            .saturating_duration_since(deadline)
            .as_micros() as u64,
        phase: Phase::Waiting,
        journey: journey.as_deref(),
    };
    // Wait for the parent step's answer, and take the journey's captures.
    let mut captures: Vec<Option<Arc<str>>> = Vec::new();
    if let (Some(parent), Some(j)) = (step.parent, &journey) {
        match j.parent(parent, e.timeout).await {
            Some(caps) => captures = caps,
            None => return g.dropped(|d| d.unresolved += 1),
        }
    }
    // The in-flight cap: a request waiting here (queue) is late by the wait, since it could
    // not go at its time; a dropped one is counted.
    let _permit = match (&e.cap, slot) {
        (None, _) => None,
        (Some(_), Some(p)) => Some(p),
        (Some(sem), None) => match sem.clone().try_acquire_owned() {
            Ok(p) => Some(p),
            Err(_) if e.on_cap == Policy::Drop => {
                return g.dropped(|d| d.in_flight_cap += 1);
            }
            Err(_) => {
                let waited = Instant::now();
                let p = sem.clone().acquire_owned().await.ok();
                g.lateness_us += waited.elapsed().as_micros() as u64;
                p
            }
        },
    };
    let pool = journey
        .as_ref()
        .and_then(|j| j.pool.as_ref())
        .unwrap_or(&e.pool);
    g.phase = Phase::Sent;
    let sent = Instant::now();
    let (outcome, caps) =
        match tokio::time::timeout(e.timeout, send(&e, pool, &ps, seq, &captures)).await {
            Ok(r) => r,
            Err(_) => (Outcome::Timeout, Vec::new()),
        };
    let done = Instant::now();
    g.phase = Phase::Done;
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
    let ctx = &e.ctx;
    {
        let mut st = ctx.stats[s].lock().expect("stats lock");
        st.lateness.saturating_record(g.lateness_us);
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

/// Builds and sends one request on a pooled connection (a new one if none is idle), and
/// judges the answer. A reused connection that turns out closed is retried once on a new one.
async fn send(
    e: &Engine,
    pool: &Pool,
    ps: &Timed,
    seq: u64,
    caps: &[Option<Arc<str>>],
) -> (Outcome, Vec<(usize, Arc<str>)>) {
    let s = ps.step as usize;
    let p = &e.prepared[s];
    let mut req = String::new();
    let bytes = match &p.fixed {
        Some(f) => f.as_bytes(),
        None => {
            req = e.buf();
            let mut tmp = e.buf();
            let plan = &*e.ctx.plan;
            let built = write_request(
                &mut req,
                &mut tmp,
                p,
                &e.profile.steps[s],
                &e.target,
                |t, esc, out| render(plan, t, esc, ps, seq, caps, out),
            );
            e.give_back(tmp);
            if built.is_none() {
                e.give_back(req);
                return (Outcome::Invalid, Vec::new());
            }
            req.as_bytes()
        }
    };
    let mut got = Vec::new();
    let mut result = Err(Failure::Stale);
    for attempt in 0..2 {
        // The retry after a stale connection goes on a new one: other idle connections may
        // have been closed by the server just the same.
        let popped = if attempt == 0 {
            pool.lock().expect("pool lock").pop()
        } else {
            None
        };
        let mut conn = match popped {
            Some(c) => c,
            None => match Conn::connect(&e.target).await {
                Ok(c) => c,
                Err(f) => {
                    result = Err(f);
                    break;
                }
            },
        };
        result = conn.exchange(bytes, p.head, &p.want, &mut got).await;
        match result {
            Ok(reply) => {
                let judged = judge(e, s, reply.status, conn.body(), &got);
                if reply.keep_alive {
                    pool.lock().expect("pool lock").push(conn);
                }
                if p.fixed.is_none() {
                    e.give_back(req);
                }
                return judged;
            }
            Err(Failure::Stale) => continue,
            Err(_) => break,
        }
    }
    if p.fixed.is_none() {
        e.give_back(req);
    }
    let outcome = match result {
        Err(Failure::Connect) => Outcome::Connect,
        _ => Outcome::Transport,
    };
    (outcome, Vec::new())
}

/// The outcome of an answer: expected status, then captures.
fn judge(
    e: &Engine,
    s: usize,
    status: u16,
    body: &[u8],
    headers: &[Option<Arc<str>>],
) -> (Outcome, Vec<(usize, Arc<str>)>) {
    let step = &e.profile.steps[s];
    let p = &e.prepared[s];
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
