//! The dispatcher's event loop: one thread, one `epoll` (through mio), every connection a
//! small state machine.
//!
//! Each turn of the loop reads what the sockets have for it, times out what waited too long,
//! then sends every step already due and sleeps to the next deadline on a precise timer
//! (`timer`). A request is a `Job` that moves from the plan to a connection and back to the
//! statistics: no task, no future, no allocation and no timer of its own on the fast path, and
//! the only system calls per request are its `send` and `recv` and a share of the
//! `epoll_wait`. Timeouts are found by a sweep over the busy connections, every hundredth of
//! the timeout (at least 1 ms, at most 100 ms apart); an answer later than the timeout counts
//! as a timeout whenever it is found.
//!
//! Journeys live here too: a step whose parent has not answered yet waits (at most the
//! timeout) without holding a slot of the in-flight cap; the parent's answer releases it with
//! the captured values, or drops it as unresolved.

use super::http::{Failure, Reader, Target};
use super::timer::Precise;
use super::{Ctx, DONE_OK, FAILED, PENDING, Policy, Prepared, WAKE_QUANTUM};
use crate::plan::{PlanStream, Timed};
use crate::profile::Profile;
use crate::record::{Dropped, Outcome};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The token of the waker that says "stop" (Ctrl-C).
pub(super) const WAKER: Token = Token(usize::MAX);
/// The token of the precise timer.
const TIMER: Token = Token(usize::MAX - 1);
/// Most steps dispatched in a row before the loop looks at its sockets again.
const BURST: usize = 64;

/// One request on its way: from its deadline to its outcome.
struct Job {
    ps: Timed,
    seq: u64,
    deadline: Instant,
    /// When the loop first handled it, and when it was ready to go (later, if it waited for
    /// its parent): the lateness is `(handled - deadline) + (start - ready)`.
    handled: Instant,
    ready: Instant,
    lateness_us: u64,
    /// The values captured by the journey's earlier steps (empty for a root step).
    captures: Vec<Option<Arc<str>>>,
    /// When it went out (connect or write), for the timeout and the service time.
    sent: Instant,
    /// Whether it already went over a new connection after a stale one.
    retried: bool,
}

impl Job {
    fn step(&self) -> usize {
        self.ps.step as usize
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Connecting,
    Writing,
    Reading,
}

struct Conn {
    stream: TcpStream,
    state: State,
    /// A request already went over it: a failure before any answer is then stale.
    used: bool,
    /// The journey whose own connection it is (`--fresh-connections`).
    owner: Option<u64>,
    /// Which of the target's addresses it goes to.
    addr: usize,
    job: Option<Job>,
    /// The rendered request (when the step's is not fixed) and how much of it went out.
    out: String,
    written: usize,
    /// The answer so far.
    buf: Vec<u8>,
    reader: Reader,
    got: Vec<Option<Arc<str>>>,
}

/// The live state of one citizen's journey.
struct Journey {
    done: Vec<u8>,
    captures: Vec<Option<Arc<str>>>,
    /// Steps due whose parent has not answered yet.
    waiting: Vec<Job>,
    /// Steps not finished yet; the journey is forgotten at 0.
    left: u32,
    /// Its own idle connections, with `--fresh-connections`.
    pool: Vec<usize>,
}

pub(super) struct Reactor {
    pub ctx: Arc<Ctx>,
    pub profile: Arc<Profile>,
    pub prepared: Vec<Prepared>,
    pub target: Target,
    /// The target's addresses, in the order to try them (none: every request fails to
    /// connect, counted).
    pub addrs: Vec<SocketAddr>,
    pub timeout: Duration,
    pub cap: Option<usize>,
    pub on_cap: Policy,
    pub fresh: bool,
    pub grace: Duration,
    /// How long before a wake-up the loop stops sleeping and polls in a loop instead.
    pub spin: Duration,
}

/// How the dispatch ended.
pub(super) struct DispatchEnd {
    pub interrupted: bool,
    pub dropped_stopped: Vec<u64>,
}

struct Loop<'a> {
    r: &'a Reactor,
    poll: Poll,
    /// The plan, in time order: its next step and the sequence number of the next request.
    stream: PlanStream<'a>,
    next: Option<Timed>,
    seq: u64,
    /// Which of the target's addresses last accepted a connection.
    preferred: usize,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    /// Idle connections of the shared pool, most recently used last.
    pool: Vec<usize>,
    journeys: HashMap<u64, Journey>,
    /// Jobs waiting for a slot of the in-flight cap, in order.
    queued: VecDeque<Job>,
    /// Parked jobs by expiry (nondecreasing: deadline order plus one timeout): journey, seq.
    /// An entry stays after its job was released; `waiting` counts the jobs still parked.
    parked: VecDeque<(Instant, u64, u64)>,
    waiting: usize,
    in_flight: usize,
    /// Requests not yet dispatched that ended with the run (by step).
    dropped_stopped: Vec<u64>,
    /// The timeout sweep's period and next time.
    sweep_every: Duration,
    next_sweep: Instant,
    tmp: String,
    /// The request being rendered, swapped into its connection.
    req: String,
    /// Where answers are read to.
    scratch: Box<[u8]>,
    /// Ctrl-C came: whatever becomes ready now is dropped as stopped.
    stopping: bool,
}

impl Reactor {
    /// Runs the plan to its end (or to a stop) on `poll`, whose waker says stop.
    pub fn run(&self, poll: Poll) -> DispatchEnd {
        let r = self;
        let sweep_every =
            (r.timeout / 100).clamp(Duration::from_millis(1), Duration::from_millis(100));
        let mut stream = r.ctx.plan.stream();
        let next = stream.next();
        let mut l = Loop {
            r,
            poll,
            stream,
            next,
            seq: 0,
            preferred: 0,
            conns: Vec::new(),
            free: Vec::new(),
            pool: Vec::new(),
            journeys: HashMap::new(),
            queued: VecDeque::new(),
            parked: VecDeque::new(),
            waiting: 0,
            in_flight: 0,
            dropped_stopped: vec![0; r.profile.steps.len()],
            sweep_every,
            next_sweep: r.ctx.t0 + sweep_every,
            tmp: String::new(),
            req: String::new(),
            scratch: vec![0u8; 64 * 1024].into_boxed_slice(),
            stopping: false,
        };
        l.run()
    }
}

impl Loop<'_> {
    fn run(&mut self) -> DispatchEnd {
        let r = self.r;
        let ctx = &*r.ctx;
        let mut events = Events::with_capacity(1024);
        let mut timer = Precise::new(self.poll.registry(), TIMER);
        let mut last_wake = ctx.t0;
        let mut stop_at: Option<Instant> = None;
        let mut interrupted = false;
        loop {
            let now = Instant::now();
            if stop_at.is_none() && ctx.stopped.load(Ordering::Relaxed) {
                interrupted = true;
                stop_at = Some(now + r.grace);
                self.stop(now);
            }
            if now >= self.next_sweep {
                self.sweep(now);
            }
            while let Some(&(expiry, id, s)) = self.parked.front() {
                if expiry > now && self.waiting > 0 {
                    break;
                }
                self.parked.pop_front();
                self.expire(id, s, now);
            }
            // Dispatch what is due: queued jobs first (they are older), then the plan.
            let mut burst = 0;
            while burst < BURST && !self.queued.is_empty() && self.has_slot() {
                let job = self.queued.pop_front().expect("not empty");
                self.start(job);
                burst += 1;
            }
            let mut due_next = None;
            while burst < BURST {
                match self.next_due(now) {
                    Ok(()) => burst += 1,
                    Err(t) => {
                        due_next = t;
                        break;
                    }
                }
            }
            let blocked = self.next.is_some() && due_next.is_none();
            if self.next.is_none()
                && self.in_flight == 0
                && self.queued.is_empty()
                && self.waiting == 0
            {
                break;
            }
            if let Some(end) = stop_at {
                if self.in_flight == 0 || now >= end {
                    self.cancel_in_flight();
                    break;
                }
            }

            // Sleep until the next thing to do, or not at all.
            let busy = burst >= BURST || (blocked && self.has_slot() && r.on_cap == Policy::Queue);
            let mut wake = due_next.map(|d| d.max(last_wake + WAKE_QUANTUM));
            let mut earliest = |t: Instant| wake = Some(wake.map_or(t, |w| w.min(t)));
            if self.in_flight > 0 {
                earliest(self.next_sweep);
            }
            if let Some(&(expiry, _, _)) = self.parked.front() {
                earliest(expiry);
            }
            if let Some(end) = stop_at {
                earliest(end);
            }
            let timeout = if busy {
                Some(Duration::ZERO)
            } else {
                match wake {
                    Some(w) if w <= now + r.spin => Some(Duration::ZERO),
                    Some(w) => timer.arm(w - r.spin, now),
                    None => None,
                }
            };
            events.clear();
            if timeout != Some(Duration::ZERO) && self.in_flight > 0 && !r.spin.is_zero() {
                // With a spin, answers are polled for too before the thread sleeps: a thread
                // that never sleeps spares the server the wake-up of its peer (on a virtual
                // machine, an interrupt to another processor for every answer).
                let until = now + r.spin;
                while Instant::now() < until {
                    let _ = self.poll.poll(&mut events, Some(Duration::ZERO));
                    if !events.is_empty() {
                        break;
                    }
                }
            }
            if events.is_empty() {
                if let Err(e) = self.poll.poll(&mut events, timeout) {
                    if e.kind() != io::ErrorKind::Interrupted {
                        // The loop cannot wait any more: end as if stopped.
                        ctx.stopped.store(true, Ordering::SeqCst);
                    }
                }
            }
            for ev in events.iter() {
                match ev.token() {
                    TIMER => {
                        timer.fired();
                        last_wake = Instant::now();
                    }
                    WAKER => {}
                    Token(i) => self.ready(i),
                }
            }
        }
        DispatchEnd {
            interrupted,
            dropped_stopped: std::mem::take(&mut self.dropped_stopped),
        }
    }

    /// Dispatches the plan's next step if it is due and may go (under `Queue`, nothing waits
    /// for a slot and one is free). `Err(Some(t))`: nothing due before `t`; `Err(None)`: the
    /// plan is over, or its next step waits for a slot.
    fn next_due(&mut self, now: Instant) -> Result<(), Option<Instant>> {
        let ctx = &*self.r.ctx;
        let Some(ps) = self.next else {
            return Err(None);
        };
        let deadline = ctx.t0 + Duration::from_nanos(ctx.plan.offset_ns(ps.at_us));
        if deadline > now {
            return Err(Some(deadline));
        }
        if self.r.on_cap == Policy::Queue && (!self.queued.is_empty() || !self.has_slot()) {
            // Wait for a slot: the plan stays in order and what waits does not pile up.
            return Err(None);
        }
        ctx.live.dispatched.fetch_add(1, Ordering::Relaxed);
        ctx.series_at(deadline, |iv| iv.planned += 1);
        let seq = self.seq;
        self.seq += 1;
        self.next = self.stream.next();
        self.due(ps, seq, deadline, now);
        Ok(())
    }

    /// An answer just freed a slot: fill it at once with a queued job or a step already due,
    /// as a closed loop sends its next request on the answer, rather than at the end of the
    /// turn; the server is not left waiting while the rest of the turn's answers are read.
    fn refill(&mut self, now: Instant) {
        if self.stopping || !self.has_slot() {
            return;
        }
        match self.queued.pop_front() {
            Some(job) => self.start(job),
            None => {
                let _ = self.next_due(now);
            }
        }
    }

    fn has_slot(&self) -> bool {
        self.r.cap.is_none_or(|c| self.in_flight < c.max(1))
    }

    /// A step's deadline has come: resolve its journey, then send, queue or park it.
    fn due(&mut self, ps: Timed, seq: u64, deadline: Instant, now: Instant) {
        let r = self.r;
        let mut job = Job {
            ps,
            seq,
            deadline,
            handled: now,
            ready: now,
            lateness_us: 0,
            captures: Vec::new(),
            sent: now,
            retried: false,
        };
        let c = &ps.contact;
        if c.steps > 1 || r.fresh {
            let j = self.journeys.entry(c.id).or_insert_with(|| Journey {
                done: vec![PENDING; r.profile.steps.len()],
                captures: vec![None; r.profile.capture_names.len()],
                waiting: Vec::new(),
                left: c.steps,
                pool: Vec::new(),
            });
            if let Some(parent) = r.profile.steps[job.step()].parent {
                match j.done[parent] {
                    DONE_OK => job.captures = j.captures.clone(),
                    PENDING => {
                        j.waiting.push(job);
                        self.waiting += 1;
                        self.parked.push_back((now + r.timeout, c.id, seq));
                        return;
                    }
                    _ => return self.drop_job(job, now, |d| d.unresolved += 1),
                }
            }
        }
        self.go(job, now);
    }

    /// A job ready to go: now, after the others waiting, or dropped at the cap.
    fn go(&mut self, job: Job, now: Instant) {
        if self.stopping {
            self.drop_job(job, now, |d| d.stopped += 1);
        } else if self.has_slot() && self.queued.is_empty() {
            self.start(job);
        } else if self.r.on_cap == Policy::Drop {
            self.drop_job(job, now, |d| d.in_flight_cap += 1);
        } else {
            self.queued.push_back(job);
        }
    }

    /// Sends a job: renders the request, takes an idle connection or opens one.
    fn start(&mut self, mut job: Job) {
        let r = self.r;
        // Its own reading of the clock: in a burst, the last request goes out later than the
        // first, and its lateness and service time say so.
        let now = Instant::now();
        let late = now.saturating_duration_since(job.ready)
            + job.handled.saturating_duration_since(job.deadline);
        job.lateness_us = late.as_micros() as u64;
        job.sent = now;
        self.in_flight += 1;
        r.ctx.live.in_flight.fetch_add(1, Ordering::Relaxed);
        if !self.render(&job) {
            return self.finish(job, Outcome::Invalid, Vec::new(), now);
        }
        let owner = r.fresh.then_some(job.ps.contact.id);
        let idle = match owner {
            Some(id) => self.journeys.get_mut(&id).and_then(|j| j.pool.pop()),
            None => self.pool.pop(),
        };
        let slot = match idle {
            Some(i) => i,
            None => match self.connect(owner) {
                Some(i) => i,
                None => return self.finish(job, Outcome::Connect, Vec::new(), now),
            },
        };
        self.send(slot, job);
    }

    /// Renders the request of `job` into `req` unless its step's is fixed; false if the
    /// placeholders gave an invalid request.
    fn render(&mut self, job: &Job) -> bool {
        let r = self.r;
        let s = job.step();
        if r.prepared[s].fixed.is_some() {
            return true;
        }
        self.req.clear();
        let plan = &*r.ctx.plan;
        super::write_request(
            &mut self.req,
            &mut self.tmp,
            &r.prepared[s],
            &r.profile.steps[s],
            &r.target,
            |t, esc, out| super::render(plan, t, esc, &job.ps, job.seq, &job.captures, out),
        )
        .is_some()
    }

    /// Hands `job` (rendered into `req`) to connection `slot`: written at once if the
    /// connection is idle, once connected otherwise.
    fn send(&mut self, slot: usize, job: Job) {
        let conn = self.conns[slot].as_mut().expect("live connection");
        if self.r.prepared[job.step()].fixed.is_none() {
            std::mem::swap(&mut conn.out, &mut self.req);
        }
        conn.job = Some(job);
        conn.written = 0;
        if conn.state == State::Idle {
            conn.state = State::Writing;
            self.write(slot);
        }
    }

    /// Opens a connection (the answer comes as an event); `None` if it failed at once.
    fn connect(&mut self, owner: Option<u64>) -> Option<usize> {
        self.connect_from(owner, self.preferred)
    }

    /// Opens a connection to the first of the target's addresses from `first` on that does
    /// not refuse at once. A host name may resolve to several (`localhost`: `::1` and
    /// `127.0.0.1`); one refused later, by an event, makes the request try the next.
    fn connect_from(&mut self, owner: Option<u64>, first: usize) -> Option<usize> {
        let addrs = &self.r.addrs;
        let (addr, mut stream) =
            (first..addrs.len()).find_map(|i| TcpStream::connect(addrs[i]).ok().map(|s| (i, s)))?;
        let slot = self.free.pop().unwrap_or_else(|| {
            self.conns.push(None);
            self.conns.len() - 1
        });
        if self
            .poll
            .registry()
            .register(
                &mut stream,
                Token(slot),
                Interest::READABLE | Interest::WRITABLE,
            )
            .is_err()
        {
            self.free.push(slot);
            return None;
        }
        self.conns[slot] = Some(Conn {
            stream,
            state: State::Connecting,
            used: false,
            owner,
            addr,
            job: None,
            out: String::new(),
            written: 0,
            buf: Vec::with_capacity(4096),
            reader: Reader::default(),
            got: Vec::new(),
        });
        Some(slot)
    }

    /// Something happened on connection `slot`.
    fn ready(&mut self, slot: usize) {
        let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        match conn.state {
            State::Connecting => {
                if let Ok(Some(_)) | Err(_) = conn.stream.take_error() {
                    return self.fail(slot, Failure::Connect);
                }
                match conn.stream.peer_addr() {
                    Ok(_) => self.preferred = conn.addr,
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                    Err(_) => return self.fail(slot, Failure::Connect),
                }
                let _ = conn.stream.set_nodelay(true);
                conn.state = State::Writing;
                self.write(slot);
            }
            State::Writing => self.write(slot),
            State::Reading => self.read(slot),
            State::Idle => {
                // An idle connection has nothing to say but its end: close it.
                let mut b = [0u8; 64];
                match conn.stream.read(&mut b) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    _ => {
                        let owner = conn.owner;
                        let pool = match owner {
                            Some(id) => self.journeys.get_mut(&id).map(|j| &mut j.pool),
                            None => Some(&mut self.pool),
                        };
                        if let Some(p) = pool {
                            p.retain(|&i| i != slot);
                        }
                        self.close(slot);
                    }
                }
            }
        }
    }

    fn write(&mut self, slot: usize) {
        let r = self.r;
        let conn = self.conns[slot].as_mut().expect("live connection");
        let job = conn.job.as_ref().expect("a job to write");
        let bytes = match &r.prepared[job.step()].fixed {
            Some(f) => f.as_bytes(),
            None => conn.out.as_bytes(),
        };
        while conn.written < bytes.len() {
            match conn.stream.write(&bytes[conn.written..]) {
                Ok(0) => return self.fail(slot, Failure::Stale),
                Ok(n) => conn.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.fail(slot, Failure::Stale),
            }
        }
        conn.state = State::Reading;
        conn.buf.clear();
        conn.reader.reset();
    }

    fn read(&mut self, slot: usize) {
        let r = self.r;
        let conn = self.conns[slot].as_mut().expect("live connection");
        let mut eof = false;
        loop {
            match conn.stream.read(&mut self.scratch) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    conn.buf.extend_from_slice(&self.scratch[..n]);
                    if n < self.scratch.len() {
                        break;
                    }
                }
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock => break,
                    io::ErrorKind::Interrupted => {}
                    _ => {
                        let f = if conn.buf.is_empty() {
                            Failure::Stale
                        } else {
                            Failure::Transport
                        };
                        return self.fail(slot, f);
                    }
                },
            }
        }
        if conn.buf.is_empty() {
            if eof {
                self.fail(slot, Failure::Stale);
            }
            return;
        }
        let s = conn.job.as_ref().expect("a job to read for").step();
        let p = &r.prepared[s];
        match conn
            .reader
            .advance(&mut conn.buf, eof, p.head, &p.want, &mut conn.got)
        {
            Ok(None) => {}
            Err(f) => self.fail(slot, f),
            Ok(Some(reply)) => {
                let now = Instant::now();
                let (outcome, caps) = super::judge(
                    &r.profile,
                    &r.prepared,
                    s,
                    reply.status,
                    conn.reader.body(&conn.buf),
                    &conn.got,
                );
                let job = conn.job.take().expect("a job to read for");
                if reply.keep_alive {
                    self.park_idle(slot);
                } else {
                    self.close(slot);
                }
                self.finish(job, outcome, caps, now);
                self.refill(now);
            }
        }
    }

    /// Puts connection `slot` back in its pool, idle.
    fn park_idle(&mut self, slot: usize) {
        let conn = self.conns[slot].as_mut().expect("live connection");
        conn.state = State::Idle;
        conn.used = true;
        conn.job = None;
        match conn.owner {
            Some(id) => match self.journeys.get_mut(&id) {
                Some(j) => j.pool.push(slot),
                None => self.close(slot),
            },
            None => self.pool.push(slot),
        }
    }

    fn close(&mut self, slot: usize) {
        if let Some(mut c) = self.conns[slot].take() {
            let _ = self.poll.registry().deregister(&mut c.stream);
            self.free.push(slot);
        }
    }

    /// The exchange on `slot` failed: close it; a stale reused connection gets one more try
    /// on a new connection (the server closed it while idle, and saw nothing).
    fn fail(&mut self, slot: usize, f: Failure) {
        let conn = self.conns[slot].as_mut().expect("live connection");
        let (used, addr, owner) = (conn.used, conn.addr, conn.owner);
        let job = conn.job.take();
        self.close(slot);
        let Some(mut job) = job else { return };
        let now = Instant::now();
        if f == Failure::Connect && addr + 1 < self.r.addrs.len() {
            if let Some(slot) = self.connect_from(owner, addr + 1) {
                self.render(&job);
                return self.send(slot, job);
            }
        }
        let f = match f {
            Failure::Stale if !used => Failure::Transport,
            f => f,
        };
        if f == Failure::Stale && !job.retried {
            job.retried = true;
            let owner = self.r.fresh.then_some(job.ps.contact.id);
            if let Some(slot) = self.connect(owner) {
                self.render(&job);
                return self.send(slot, job);
            }
            return self.finish(job, Outcome::Connect, Vec::new(), now);
        }
        let outcome = match f {
            Failure::Connect => Outcome::Connect,
            _ => Outcome::Transport,
        };
        self.finish(job, outcome, Vec::new(), now)
    }

    /// Times out every request in flight longer than the timeout.
    fn sweep(&mut self, now: Instant) {
        self.next_sweep = now + self.sweep_every;
        let timeout = self.r.timeout;
        for slot in 0..self.conns.len() {
            let late = matches!(&self.conns[slot], Some(Conn { job: Some(j), .. })
                if now.saturating_duration_since(j.sent) >= timeout);
            if late {
                let job = self.conns[slot].as_mut().and_then(|c| c.job.take());
                self.close(slot);
                if let Some(job) = job {
                    self.finish(job, Outcome::Timeout, Vec::new(), now);
                }
            }
        }
    }

    /// A request is over: count it, tell its journey, free its slot.
    fn finish(
        &mut self,
        job: Job,
        mut outcome: Outcome,
        caps: Vec<(usize, Arc<str>)>,
        done: Instant,
    ) {
        let ctx = &*self.r.ctx;
        self.in_flight -= 1;
        ctx.live.in_flight.fetch_sub(1, Ordering::Relaxed);
        if done.saturating_duration_since(job.sent) > self.r.timeout {
            outcome = Outcome::Timeout;
        }
        let s = job.step();
        let latency = done.saturating_duration_since(job.deadline).as_micros() as u64;
        let service = done.saturating_duration_since(job.sent).as_micros() as u64;
        {
            let mut st = ctx.stats[s].lock().expect("stats lock");
            st.lateness.saturating_record(job.lateness_us);
            st.record(outcome, latency, service);
        }
        ctx.live.done.fetch_add(1, Ordering::Relaxed);
        if outcome != Outcome::Ok {
            ctx.live.errors.fetch_add(1, Ordering::Relaxed);
        }
        if ctx.series.is_some() {
            ctx.series_at(job.sent, |iv| iv.sent += 1);
            ctx.series_at(done, |iv| {
                if outcome == Outcome::Ok {
                    iv.ok += 1;
                    iv.latency.saturating_record(latency);
                } else {
                    iv.errors += 1;
                }
            });
        }
        let result = if outcome == Outcome::Ok {
            DONE_OK
        } else {
            FAILED
        };
        self.mark(&job, result, caps, done);
    }

    /// A job is dropped before it went out.
    fn drop_job(&mut self, job: Job, now: Instant, count: impl FnOnce(&mut Dropped)) {
        let ctx = &*self.r.ctx;
        {
            let late = job
                .handled
                .saturating_duration_since(job.deadline)
                .as_micros() as u64;
            let mut st = ctx.stats[job.step()].lock().expect("stats lock");
            st.lateness.saturating_record(late);
            count(&mut st.counts.dropped);
        }
        ctx.series_at(now, |iv| iv.dropped += 1);
        self.mark(&job, FAILED, Vec::new(), now);
    }

    /// Tells the journey of `job` how its step ended: records the captures, releases or
    /// drops the steps waiting for it, forgets the journey after its last step.
    fn mark(&mut self, job: &Job, result: u8, caps: Vec<(usize, Arc<str>)>, now: Instant) {
        let id = job.ps.contact.id;
        let Some(j) = self.journeys.get_mut(&id) else {
            return;
        };
        let s = job.step();
        if j.done[s] == PENDING || result == FAILED {
            j.done[s] = result;
        }
        for (slot, v) in caps {
            j.captures[slot] = Some(v);
        }
        j.left = j.left.saturating_sub(1);
        let mut released = Vec::new();
        if !j.waiting.is_empty() {
            let profile = &self.r.profile;
            let (mine, rest) = std::mem::take(&mut j.waiting)
                .into_iter()
                .partition(|w| profile.steps[w.step()].parent == Some(s));
            released = mine;
            j.waiting = rest;
            self.waiting -= released.len();
        }
        let ok = j.done[s] == DONE_OK;
        let captures = ok.then(|| j.captures.clone());
        let over = j.left == 0 && j.waiting.is_empty();
        for mut w in released {
            match &captures {
                Some(c) => {
                    w.captures = c.clone();
                    w.ready = now;
                    self.go(w, now);
                }
                None => self.drop_job(w, now, |d| d.unresolved += 1),
            }
        }
        if over {
            if let Some(j) = self.journeys.remove(&id) {
                for slot in j.pool {
                    self.close(slot);
                }
            }
        }
    }

    /// The parked job `seq` of journey `id` waited its timeout for its parent.
    fn expire(&mut self, id: u64, seq: u64, now: Instant) {
        let Some(j) = self.journeys.get_mut(&id) else {
            return;
        };
        if let Some(i) = j.waiting.iter().position(|w| w.seq == seq) {
            let job = j.waiting.swap_remove(i);
            self.waiting -= 1;
            self.drop_job(job, now, |d| d.unresolved += 1);
        }
    }

    /// Ctrl-C: the rest of the plan, the queued and the parked jobs end as stopped.
    fn stop(&mut self, now: Instant) {
        self.stopping = true;
        let ctx = &*self.r.ctx;
        let plan = &*ctx.plan;
        while let Some(ps) = self.next.take().or_else(|| self.stream.next()) {
            self.dropped_stopped[ps.step as usize] += 1;
            ctx.series_at(
                ctx.t0 + Duration::from_nanos(plan.offset_ns(ps.at_us)),
                |iv| iv.planned += 1,
            );
        }
        let waiting: Vec<Job> = self
            .queued
            .drain(..)
            .chain(self.journeys.values_mut().flat_map(|j| j.waiting.drain(..)))
            .collect();
        self.parked.clear();
        self.waiting = 0;
        for job in waiting {
            self.drop_job(job, now, |d| d.stopped += 1);
        }
    }

    /// The grace period is over: what is still in flight is cancelled (sent, no answer).
    fn cancel_in_flight(&mut self) {
        let ctx = &*self.r.ctx;
        for slot in 0..self.conns.len() {
            let job = self.conns[slot].as_mut().and_then(|c| c.job.take());
            self.close(slot);
            if let Some(job) = job {
                self.in_flight -= 1;
                ctx.live.in_flight.fetch_sub(1, Ordering::Relaxed);
                let mut st = ctx.stats[job.step()].lock().expect("stats lock");
                st.lateness.saturating_record(job.lateness_us);
                st.counts.sent += 1;
                st.counts.cancelled += 1;
            }
        }
    }
}
