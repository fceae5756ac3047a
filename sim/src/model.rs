//! The contact-center model: phone queue with patience, redials and a trunk; voicemail or the
//! closed line out of hours; written backlog worked when no call waits; front-office resolution
//! or escalation; back-office research in working days.
//!
//! Every random draw of a contact comes from a stream keyed by (replication seed, contact id,
//! attempt), so two plans simulated on one seed see the same citizens behave the same way
//! (common random numbers): their difference is the plan's effect.

use crate::dist::Dist;
use crate::engine::{Scheduler, SimTime};
use crate::plan::{OutOfHours, Plan};
use crate::stats::{Integrals, M, Outcome, PendingWaits, RepStats};
use cclab_scenarios::rng::{self, Stream};
use cclab_scenarios::{Arrivals, Channel, Contact, Scenario};
use rand_core::SeedableRng;
use std::collections::VecDeque;

const US: f64 = 1e6;

/// What the model needs of a contact while it is in the system.
#[derive(Debug, Clone, Copy)]
struct Who {
    id: u64,
    channel: u8,
    rtype: u8,
    /// 0 = ordinary, e + 1 = event e.
    event: u16,
}

impl Who {
    fn of(c: &Contact) -> Who {
        Who {
            id: c.id,
            channel: c.channel as u8,
            rtype: c.rtype as u8,
            event: c.event.map_or(0, |e| e + 1),
        }
    }

    fn surge(&self) -> bool {
        self.event != 0
    }
}

/// Work an agent does.
#[derive(Debug, Clone, Copy)]
enum Work {
    Call(Who),
    /// A written item or a voicemail callback, with its arrival time.
    Item(Who, u64, bool),
}

#[derive(Debug, Clone, Copy)]
enum Ev {
    /// The next contact of the stream is due.
    Arrival,
    Redial(Who, u16),
    /// A waiting caller's patience runs out (ignored if answered meanwhile).
    Abandon(u32, u32),
    Done(Work),
    /// The number of agents on duty changes.
    Staff(u32),
    /// A back-office case ends; `true` if it held a referent (not waiting on other bodies).
    BoDone(Who, bool),
}

/// A waiting call; `generation` tells a live abandonment timer from a stale one.
#[derive(Debug, Clone, Copy)]
struct Slot {
    who: Who,
    attempt: u16,
    since: u64,
    generation: u32,
    waiting: bool,
}

/// Cumulative working time at the start of each day, for response targets and back-office
/// research measured in working days: each day contributes its window (the whole of a working
/// day, or the back office's office hours; nothing on days off).
struct WorkClock {
    starts: Vec<u64>,
    ends: Vec<u64>,
    cum: Vec<f64>,
    /// The length of one working day in this clock's time, microseconds (the office hours,
    /// or 24 hours).
    day_us: f64,
}

impl WorkClock {
    fn new(windows: &[(u64, u64)], day_us: f64) -> Self {
        let starts: Vec<u64> = windows.iter().map(|w| w.0).collect();
        let ends: Vec<u64> = windows.iter().map(|w| w.1).collect();
        let mut cum = vec![0.0];
        for i in 0..starts.len() {
            cum.push(cum[i] + (ends[i] - starts[i]) as f64);
        }
        WorkClock {
            starts,
            ends,
            cum,
            day_us,
        }
    }

    /// Working microseconds from the start to `t`.
    fn at(&self, t: u64) -> f64 {
        let i = self.ends.partition_point(|&e| e <= t);
        if i >= self.starts.len() {
            return self.cum[self.starts.len()];
        }
        let part = t.clamp(self.starts[i], self.ends[i]) - self.starts[i];
        self.cum[i] + part as f64
    }

    /// The instant when `work` working microseconds have passed after `t`, if in the horizon.
    fn after(&self, t: u64, work: f64) -> Option<u64> {
        if work <= 0.0 {
            return Some(t);
        }
        let target = self.at(t) + work;
        let i = self.cum.partition_point(|&c| c < target);
        if i == 0 || i > self.starts.len() {
            return None;
        }
        let day = i - 1;
        let t0 = self.starts[day].max(t);
        let done = self.at(t0);
        Some(t0 + (target - done).max(0.0) as u64)
    }
}

/// `rng::model_stream(seed, what, index)` for one `what`, with everything that depends only on
/// the replication computed once: the hot path derives two or three streams per call, and
/// hashing the name and mixing the seed each time cost more than the draws. Seeding is
/// `Stream::seed_from_u64` written out (four SplitMix64 outputs), without its byte-by-byte
/// fill. `streams_match_model_stream` checks that it draws exactly what `model_stream` draws.
#[derive(Debug, Clone, Copy)]
struct Streams {
    /// `mix64(mix64(seed) ^ Purpose::Model)`: the part of `rng::substream` fixed by the seed.
    base: u64,
    /// `rng::key_of(what)`.
    what: u64,
}

/// SplitMix64's increment.
const PHI: u64 = 0x9e37_79b9_7f4a_7c15;

impl Streams {
    fn new(seed: u64, what: &str) -> Self {
        Streams {
            base: mix64(mix64(seed) ^ rng::Purpose::Model as u64),
            what: rng::key_of(what),
        }
    }

    #[inline]
    fn get(self, index: u64) -> Stream {
        let s = mix64(self.base.wrapping_add(self.what ^ mix64(index)));
        let mut seed = [0u8; 32];
        let mut x = s;
        for word in seed.chunks_exact_mut(8) {
            x = x.wrapping_add(PHI);
            word.copy_from_slice(&mix64(x).to_le_bytes());
        }
        // `from_seed` maps the all-zero seed to `seed_from_u64(0)`, as `seed_from_u64` does.
        Stream::from_seed(seed)
    }
}

/// SplitMix64's finaliser, as `cclab_scenarios::rng` applies it (private there).
#[inline]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The key of a contact's `attempt`-th call (0 = first) in the behaviour streams.
fn attempt_key(who: Who, attempt: u16) -> u64 {
    who.id.wrapping_mul(1024).wrapping_add(u64::from(attempt))
}

/// One replication of one plan on one scenario.
pub struct Model<'a> {
    s: &'a Scenario,
    plan: &'a Plan,
    seed: u64,
    attempt_streams: Streams,
    case_streams: Streams,
    resolve_streams: Streams,
    sched: Scheduler<Ev>,
    arrivals: Arrivals<'a>,
    next: Option<Contact>,
    horizon: u64,
    interval_us: u64,
    sl_threshold_us: u64,
    /// The interval holding the current time, `[start, end)` -> index (end is `u64::MAX` for
    /// the last interval, which also takes anything later): most records fall in it, and the
    /// division is skipped.
    now_interval: (u64, u64, usize),
    /// The time integrals of `now_interval` accrued so far.
    integrals: Integrals,
    /// Answered calls' waits not yet in the histograms.
    pending_waits: PendingWaits,
    /// The last calendar day a wait was recorded in, `[start_h, end_h)` -> index.
    wait_day: (f64, f64, usize),
    day_ends: Vec<u64>,
    next_day: usize,
    /// `day_ends[next_day]`, or `u64::MAX` after the last day.
    next_day_end: u64,
    work: WorkClock,
    /// The back office's clock: its office hours on working days.
    bo_work: WorkClock,
    // State.
    on_duty: u32,
    busy: u32,
    busy_calls: u32,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    queue: VecDeque<u32>,
    waiting: u32,
    callbacks: VecDeque<(Who, u64)>,
    backlog: VecDeque<(Who, u64)>,
    bo_active: u32,
    /// Cases waiting on other bodies: open, but holding no referent.
    bo_external: u32,
    bo_queue: VecDeque<Who>,
    last_t: u64,
    pub stats: RepStats,
    /// Optional record for the iterative staffing algorithm (off unless asked for).
    census: Option<Census>,
}

/// Per interval: how long the front office spent with `n` contacts holding or wanting an
/// agent (agents busy on any work plus calls waiting), and the handle times started. A
/// call must wait exactly when this count reaches the agents on duty, so its distribution is
/// what the iterative staffing algorithm (Feldman, Mandelbaum, Massey and Whitt, 2008) sizes
/// against.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Census {
    /// `time[i][n]`: seconds of interval `i` with `n` in system.
    pub time: Vec<Vec<f64>>,
    /// Handle seconds of the work agents started in each interval (calls, callbacks, written
    /// items), and their count: how fast a busy agent frees up.
    pub handle: Vec<(f64, u32)>,
}

impl<'a> Model<'a> {
    /// A replication seeded `seed` (the contact stream and every behaviour draw derive from it),
    /// recording per `interval_s` seconds, with service level measured at `sl_threshold_s`.
    pub fn new(
        s: &'a Scenario,
        plan: &'a Plan,
        seed: u64,
        interval_s: f64,
        sl_threshold_s: f64,
    ) -> Self {
        let horizon = (s.calendar.horizon_h() * 3.6e9) as u64;
        let interval_us = (interval_s * US) as u64;
        let n_int = horizon.div_ceil(interval_us) as usize;
        let mut sched = Scheduler::with_capacity(1024);
        for &(t, n) in &plan.staffing.steps {
            if t < horizon {
                sched.schedule_at(SimTime(t), Ev::Staff(n));
            }
        }
        let mut arrivals = Arrivals::new(s, seed, 1.0);
        let next = arrivals.next();
        if let Some(c) = &next {
            sched.schedule_next_at(SimTime(c.at_us), Ev::Arrival);
        }
        Model {
            s,
            plan,
            seed,
            attempt_streams: Streams::new(seed, "sim.attempt"),
            case_streams: Streams::new(seed, "sim.case"),
            resolve_streams: Streams::new(seed, "sim.resolve"),
            sched,
            arrivals,
            next,
            horizon,
            interval_us,
            sl_threshold_us: (sl_threshold_s * US) as u64,
            now_interval: (0, if n_int > 1 { interval_us } else { u64::MAX }, 0),
            integrals: Integrals::default(),
            pending_waits: PendingWaits::default(),
            wait_day: (f64::INFINITY, f64::NEG_INFINITY, 0),
            day_ends: s
                .calendar
                .days
                .iter()
                .map(|d| (d.end_h * 3.6e9) as u64)
                .collect(),
            next_day: 0,
            next_day_end: s
                .calendar
                .days
                .first()
                .map_or(u64::MAX, |d| (d.end_h * 3.6e9) as u64),
            work: WorkClock::new(&crate::plan::office_windows(s, None), 86_400.0 * US),
            bo_work: match &plan.back_office {
                Some(bo) => WorkClock::new(
                    &bo.windows,
                    bo.hours.map_or(86_400.0, |(a, b)| f64::from(b - a) * 60.0) * US,
                ),
                None => WorkClock::new(&[], 86_400.0 * US),
            },
            on_duty: 0,
            busy: 0,
            busy_calls: 0,
            slots: Vec::new(),
            free_slots: Vec::new(),
            queue: VecDeque::new(),
            waiting: 0,
            callbacks: VecDeque::new(),
            backlog: VecDeque::new(),
            bo_active: 0,
            bo_external: 0,
            bo_queue: VecDeque::new(),
            last_t: 0,
            stats: RepStats::new(n_int, s.calendar.days.len(), s.events.len(), interval_s),
            census: None,
        }
    }

    /// Also records the [`Census`], returned by [`Model::run_with_census`].
    pub fn with_census(mut self) -> Self {
        let n = self.stats.intervals.len();
        self.census = Some(Census {
            time: vec![Vec::new(); n],
            handle: vec![(0.0, 0); n],
        });
        self
    }

    /// Runs to the horizon and returns what was recorded.
    pub fn run(self) -> RepStats {
        self.run_with_census().0
    }

    /// Runs to the horizon and returns the statistics and the census (`None` unless
    /// [`Model::with_census`] was called).
    pub fn run_with_census(mut self) -> (RepStats, Option<Census>) {
        while let Some(ev) = self
            .sched
            .next_until(SimTime(self.horizon.saturating_sub(1)))
        {
            let now = self.sched.now().0;
            self.advance(now);
            match ev {
                Ev::Arrival => self.on_arrival(now),
                Ev::Redial(who, attempt) => self.on_call(now, who, attempt),
                Ev::Abandon(slot, generation) => self.on_abandon(now, slot, generation),
                Ev::Done(work) => self.on_done(now, work),
                Ev::Staff(n) => {
                    self.on_duty = n;
                    self.dispatch(now);
                }
                Ev::BoDone(who, held) => {
                    self.outcome(who, Outcome::BoClosed);
                    if held {
                        self.bo_active -= 1;
                        if let Some(next) = self.bo_queue.pop_front() {
                            self.start_research(now, next);
                        }
                    } else {
                        self.bo_external -= 1;
                    }
                }
            }
        }
        self.advance(self.horizon);
        self.integrals
            .close(&mut self.stats.intervals[self.now_interval.2]);
        self.pending_waits.flush(&mut self.stats);
        self.finish();
        (self.stats, self.census)
    }

    #[inline]
    fn interval(&self, t: u64) -> usize {
        let (start, end, i) = self.now_interval;
        if start <= t && t < end {
            return i;
        }
        ((t / self.interval_us) as usize).min(self.stats.intervals.len() - 1)
    }

    fn add(&mut self, t: u64, m: M, x: f64) {
        let i = self.interval(t);
        self.stats.intervals[i][m as usize] += x;
    }

    /// Accrues the time integrals up to `now` and takes the day-end snapshots passed.
    #[inline(always)]
    fn advance(&mut self, now: u64) {
        let (_, end, _) = self.now_interval;
        if now < end && self.census.is_none() {
            // Most events fall in the interval of the one before.
            self.accrue(now);
        } else {
            self.advance_across(now);
        }
        if now >= self.next_day_end {
            self.end_days(now);
        }
        self.last_t = now;
    }

    /// Accrues the state since the last event, inside the current interval.
    #[inline]
    fn accrue(&mut self, now: u64) {
        let items = (self.backlog.len() + self.callbacks.len()) as u64;
        self.integrals.accrue(
            now - self.last_t,
            self.busy,
            // Agents finishing a contact after their shift ended still count as on duty.
            self.on_duty.max(self.busy),
            items,
            self.waiting,
        );
    }

    /// `advance` when `now` is past the current interval, or the census is kept: closes each
    /// interval passed.
    fn advance_across(&mut self, now: u64) {
        let mut t = self.last_t;
        while t < now {
            let (_, end, i) = self.now_interval;
            let upto = end.min(now);
            if let Some(c) = &mut self.census {
                let dt = (upto - t) as f64 / US;
                let n = (self.busy + self.waiting) as usize;
                let h = &mut c.time[i];
                if h.len() <= n {
                    h.resize(n + 1, 0.0);
                }
                h[n] += dt;
            }
            self.accrue(upto);
            self.last_t = upto;
            t = upto;
            if upto == end {
                self.close_interval();
            }
        }
    }

    /// Moves the current interval's integrals into its row and steps to the next interval.
    fn close_interval(&mut self) {
        let (_, end, i) = self.now_interval;
        self.integrals.close(&mut self.stats.intervals[i]);
        let last = self.stats.intervals.len() - 1;
        let next = (i + 1).min(last);
        self.now_interval = (
            end,
            if next == last {
                u64::MAX
            } else {
                end + self.interval_us
            },
            next,
        );
    }

    /// The day-end snapshots of every day ended by `now`.
    fn end_days(&mut self, now: u64) {
        let items = (self.backlog.len() + self.callbacks.len()) as f64;
        while self.next_day < self.day_ends.len() && self.day_ends[self.next_day] <= now {
            self.stats.day_end_backlog[self.next_day] = items;
            // The backlogs are FIFO: the front item is the oldest.
            let oldest = self
                .callbacks
                .front()
                .map(|x| x.1)
                .into_iter()
                .chain(self.backlog.front().map(|x| x.1))
                .min();
            self.stats.day_end_backlog_age_h[self.next_day] = oldest.map_or(0.0, |since| {
                self.day_ends[self.next_day].saturating_sub(since) as f64 / 3.6e9
            });
            self.stats.day_end_bo[self.next_day] =
                f64::from(self.bo_active + self.bo_external) + self.bo_queue.len() as f64;
            self.next_day += 1;
        }
        self.next_day_end = self
            .day_ends
            .get(self.next_day)
            .copied()
            .unwrap_or(u64::MAX);
    }

    fn draws(&self, who: Who, attempt: u16) -> Stream {
        self.attempt_streams.get(attempt_key(who, attempt))
    }

    fn case_draws(&self, who: Who) -> Stream {
        self.case_streams.get(who.id)
    }

    /// `Calendar::day_of(t)` (day 0 outside the horizon), remembering the last day found:
    /// consecutive answered calls mostly arrived on the same day.
    fn wait_day(&mut self, t: u64) -> usize {
        let h = t as f64 / 3.6e9;
        let (start, end, day) = self.wait_day;
        if start <= h && h < end {
            return day;
        }
        let days = &self.s.calendar.days;
        match self.s.calendar.day_of(h) {
            Some(i) => {
                let start = if i == 0 { 0.0 } else { days[i - 1].end_h };
                self.wait_day = (start, days[i].end_h, i);
                i
            }
            None => 0,
        }
    }

    fn on_arrival(&mut self, now: u64) {
        let c = self.next.take().expect("an arrival is pending");
        self.next = self.arrivals.next();
        if let Some(n) = &self.next {
            self.sched.schedule_next_at(SimTime(n.at_us), Ev::Arrival);
        }
        let who = Who::of(&c);
        if c.channel == Channel::Phone {
            self.on_call(now, who, 0);
        } else {
            self.add(now, M::WrittenIn, 1.0);
            self.backlog.push_back((who, now));
            self.dispatch(now);
        }
    }

    fn on_call(&mut self, now: u64, who: Who, attempt: u16) {
        self.add(now, M::Offered, 1.0);
        if attempt > 0 {
            self.add(now, M::Redials, 1.0);
        }
        if self.on_duty == 0 {
            match self.plan.out_of_hours {
                OutOfHours::Voicemail => {
                    self.add(now, M::Voicemail, 1.0);
                    self.callbacks.push_back((who, now));
                }
                OutOfHours::Closed => {
                    self.add(now, M::Closed, 1.0);
                    self.outcome(who, Outcome::Lost);
                }
            }
            return;
        }
        if let Some(cap) = self.plan.capacity {
            if self.waiting + self.busy_calls >= cap {
                self.add(now, M::Blocked, 1.0);
                self.give_up(now, who, attempt);
                return;
            }
        }
        if self.busy < self.on_duty && self.waiting == 0 {
            self.start_call(now, who, now);
            return;
        }
        let mut r = self.draws(who, attempt);
        // A copy of the `&'a Plan`, so the borrow is not of `self`.
        let plan = self.plan;
        let patience = &if who.surge() {
            &plan.surge_patience
        } else {
            &plan.patience
        }[who.rtype as usize];
        if rng::uniform(&mut r) < patience.balk {
            self.add(now, M::Abandoned, 1.0);
            self.give_up(now, who, attempt);
            return;
        }
        let slot = self.free_slots.pop().unwrap_or_else(|| {
            self.slots.push(Slot {
                who,
                attempt,
                since: now,
                generation: 0,
                waiting: false,
            });
            (self.slots.len() - 1) as u32
        });
        let s = &mut self.slots[slot as usize];
        s.generation = s.generation.wrapping_add(1);
        *s = Slot {
            who,
            attempt,
            since: now,
            generation: s.generation,
            waiting: true,
        };
        let generation = s.generation;
        self.queue.push_back(slot);
        self.waiting += 1;
        if let Some(d) = &patience.wait {
            let p = d.sample(&mut r);
            self.sched.schedule_at(
                SimTime(now + (p * US) as u64),
                Ev::Abandon(slot, generation),
            );
        }
    }

    fn on_abandon(&mut self, now: u64, slot: u32, generation: u32) {
        let s = self.slots[slot as usize];
        if !s.waiting || s.generation != generation {
            return;
        }
        self.slots[slot as usize].waiting = false;
        self.waiting -= 1;
        let waited = (now - s.since) as f64 / US;
        self.add(s.since, M::Abandoned, 1.0);
        self.add(s.since, M::WaitAbandoned, waited);
        self.give_up(now, s.who, s.attempt);
    }

    /// An abandoned or blocked attempt: redial or give up for good.
    fn give_up(&mut self, now: u64, who: Who, attempt: u16) {
        if let Some((ordinary, surge)) = &self.plan.redial {
            let r = if who.surge() { surge } else { ordinary };
            let mut d = rng::model_stream(self.seed, "sim.redial", attempt_key(who, attempt));
            if attempt < 50 && rng::uniform(&mut d) < r.probability {
                let delay = (r.delay.sample(&mut d) * US) as u64;
                self.sched
                    .schedule_at(SimTime(now + delay.max(1)), Ev::Redial(who, attempt + 1));
                return;
            }
        }
        self.outcome(who, Outcome::Lost);
    }

    fn handle_time(&self, who: Who, table: &[Dist; 5]) -> u64 {
        let mut r = self.case_draws(who);
        (table[who.rtype as usize].sample(&mut r) * US).max(1.0) as u64
    }

    fn start_call(&mut self, now: u64, who: Who, since: u64) {
        let wait = now - since;
        let i = self.interval(since);
        let row = &mut self.stats.intervals[i];
        row[M::Answered as usize] += 1.0;
        row[M::WaitAnswered as usize] += wait as f64 / US;
        if wait <= self.sl_threshold_us {
            row[M::AnsweredWithin as usize] += 1.0;
        }
        let day = self.wait_day(since);
        self.pending_waits
            .record(&mut self.stats, i, day, wait / 1000);
        self.busy += 1;
        self.busy_calls += 1;
        let table = if who.surge() {
            &self.plan.phone_surge_time
        } else {
            &self.plan.phone_time
        };
        let h = self.handle_time(who, table);
        self.census_handle(now, h);
        self.sched
            .schedule_at(SimTime(now + h), Ev::Done(Work::Call(who)));
    }

    fn start_item(&mut self, now: u64, who: Who, since: u64, callback: bool) {
        self.busy += 1;
        let table = if callback {
            if who.surge() {
                &self.plan.phone_surge_time
            } else {
                &self.plan.phone_time
            }
        } else if matches!(
            Channel::ALL[who.channel as usize],
            Channel::WebForm | Channel::Email
        ) {
            &self.plan.written_time
        } else {
            &self.plan.protocol_time
        };
        let h = self.handle_time(who, table);
        self.census_handle(now, h);
        self.sched
            .schedule_at(SimTime(now + h), Ev::Done(Work::Item(who, since, callback)));
    }

    /// Counts a piece of work of `h` microseconds started at `now` in the census, if kept.
    fn census_handle(&mut self, now: u64, h: u64) {
        if self.census.is_some() {
            let i = self.interval(now);
            if let Some(c) = &mut self.census {
                c.handle[i].0 += h as f64 / US;
                c.handle[i].1 += 1;
            }
        }
    }

    /// Gives free agents work: waiting calls first, then callbacks, then written items (these
    /// only while more than the reserved agents are free).
    fn dispatch(&mut self, now: u64) {
        while self.busy < self.on_duty {
            if self.waiting > 0 {
                let slot = self.queue.pop_front().expect("a waiting call is queued");
                let s = self.slots[slot as usize];
                self.slots[slot as usize].waiting = false;
                self.free_slots.push(slot);
                if s.waiting {
                    self.waiting -= 1;
                    self.start_call(now, s.who, s.since);
                }
                continue;
            }
            // Abandoned slots left at the head are recycled lazily above; drop stale ones here.
            while let Some(&slot) = self.queue.front() {
                if self.slots[slot as usize].waiting {
                    break;
                }
                self.queue.pop_front();
                self.free_slots.push(slot);
            }
            if self.on_duty - self.busy <= self.plan.reserved {
                break;
            }
            if let Some((who, since)) = self.callbacks.pop_front() {
                self.start_item(now, who, since, true);
            } else if let Some((who, since)) = self.backlog.pop_front() {
                self.start_item(now, who, since, false);
            } else {
                break;
            }
        }
    }

    fn on_done(&mut self, now: u64, work: Work) {
        self.busy -= 1;
        let who = match work {
            Work::Call(who) => {
                self.busy_calls -= 1;
                who
            }
            Work::Item(who, since, callback) => {
                if !callback {
                    self.add(now, M::WrittenDone, 1.0);
                    let worked = self.work.at(now) - self.work.at(since);
                    if worked <= self.plan.written_target_s * US {
                        self.add(now, M::WrittenInTarget, 1.0);
                    }
                }
                who
            }
        };
        self.resolve(now, who);
        if self.busy < self.on_duty {
            self.dispatch(now);
        }
    }

    /// Front-office resolution or escalation to the back office.
    fn resolve(&mut self, now: u64, who: Who) {
        // Without a back office, or when the front office always resolves (a uniform draw is
        // below 1), the outcome is certain: skip the stream, which no other draw shares.
        let p = self.plan.resolution[who.rtype as usize];
        if self.plan.back_office.is_none() || p >= 1.0 {
            self.outcome(who, Outcome::FoClosed);
            return;
        }
        let mut r = self.resolve_streams.get(who.id);
        let fo = rng::uniform(&mut r) < p;
        if fo {
            self.outcome(who, Outcome::FoClosed);
            return;
        }
        let bo = self.plan.back_office.as_ref().expect("checked");
        // Cases waiting on other bodies hold no referent.
        let mut r = rng::model_stream(self.seed, "sim.stall", who.id);
        if rng::uniform(&mut r) < bo.stall_probability[who.rtype as usize] {
            let days = bo.stall.sample(&mut r) / 86_400.0;
            self.bo_external += 1;
            self.close_after(now, who, days, false);
        } else if self.bo_active < bo.capacity {
            self.start_research(now, who);
        } else {
            self.bo_queue.push_back(who);
        }
    }

    fn start_research(&mut self, now: u64, who: Who) {
        let bo = self
            .plan
            .back_office
            .as_ref()
            .expect("escalation needs a back office");
        let mut r = rng::model_stream(self.seed, "sim.research", who.id);
        let days = bo.research.sample(&mut r) / 86_400.0;
        self.bo_active += 1;
        self.close_after(now, who, days, true);
    }

    /// Schedules the closing of a back-office case `days` working days from now. Research that
    /// ends past the horizon stays queued: `finish` counts it as open.
    fn close_after(&mut self, now: u64, who: Who, days: f64, held: bool) {
        let t = self
            .bo_work
            .after(now, days * self.bo_work.day_us)
            .unwrap_or(self.horizon);
        self.sched
            .schedule_at(SimTime(t.max(now)), Ev::BoDone(who, held));
    }

    fn outcome(&mut self, who: Who, o: Outcome) {
        self.stats.by_channel[who.channel as usize][o as usize] += 1;
        self.stats.by_type[who.rtype as usize][o as usize] += 1;
        self.stats.by_event[who.event as usize][o as usize] += 1;
    }

    /// At the horizon: open back-office cases and everything still pending.
    fn finish(&mut self) {
        // Cases in research (their completion is past the horizon) or waiting for a referent.
        let mut pending = Vec::new();
        let mut open = Vec::new();
        while let Some((_, ev)) = self.sched_pop_any() {
            match ev {
                Ev::BoDone(who, _) => open.push(who),
                Ev::Done(Work::Call(who))
                | Ev::Done(Work::Item(who, _, _))
                | Ev::Redial(who, _) => pending.push(who),
                _ => {}
            }
        }
        open.extend(self.bo_queue.drain(..));
        for who in open {
            self.outcome(who, Outcome::BoOpen);
        }
        for &slot in &self.queue {
            let s = self.slots[slot as usize];
            if s.waiting {
                pending.push(s.who);
            }
        }
        pending.extend(self.callbacks.iter().chain(&self.backlog).map(|x| x.0));
        if let Some(n) = &self.next {
            pending.push(Who::of(n));
        }
        for who in pending {
            self.outcome(who, Outcome::Pending);
        }
    }

    fn sched_pop_any(&mut self) -> Option<(SimTime, Ev)> {
        self.sched.next_event().map(|e| (self.sched.now(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Office hours 09:00-18:00: research time advances only inside the windows, a working day
    /// of research is nine office hours, and every completion falls inside a window.
    #[test]
    fn the_back_office_clock_runs_in_office_hours() {
        let s = cclab_scenarios::load("ordinary-week").expect("library");
        let windows = crate::plan::office_windows(&s, Some((9 * 60, 18 * 60)));
        let day_us = 9.0 * 3600.0 * US;
        let clock = WorkClock::new(&windows, day_us);
        let open: Vec<&(u64, u64)> = windows.iter().filter(|w| w.1 > w.0).collect();
        assert!(open.len() >= 5, "working days in an ordinary week");
        for w in &open {
            assert_eq!(w.1 - w.0, 9 * 3_600_000_000, "nine office hours");
        }
        // One working day from an opening ends at that day's close; one and a half ends four
        // and a half office hours into the next office day.
        let first = open[0];
        assert_eq!(clock.after(first.0, day_us), Some(first.1));
        let next = open[1];
        assert_eq!(
            clock.after(first.0, 1.5 * day_us),
            Some(next.0 + (4.5 * 3600.0 * US) as u64)
        );
        // From the evening (after the close), work starts at the next opening.
        assert_eq!(
            clock.after(first.1 + 3_600_000_000, 3600.0 * US),
            Some(next.0 + 3_600_000_000)
        );
        // Any amount of work ends inside a window.
        for k in 1..200u64 {
            let end = clock.after(first.0 + k * 7_919_000_000, k as f64 * 0.37 * day_us);
            if let Some(t) = end {
                assert!(
                    windows.iter().any(|w| w.0 <= t && t <= w.1),
                    "completion at {t} outside office hours"
                );
            }
        }
        // Without office hours the day is 24 hours of each working day.
        let whole = crate::plan::office_windows(&s, None);
        let all = WorkClock::new(&whole, 86_400.0 * US);
        let w = whole.iter().find(|w| w.1 > w.0).expect("a working day");
        assert_eq!(all.after(w.0, 86_400.0 * US), Some(w.1));
    }

    /// The census is recorded on the slow path of `advance`: the statistics must not notice,
    /// and each interval's census must cover its whole length.
    #[test]
    fn the_census_changes_nothing_else_and_covers_every_interval() {
        let s = crate::yardstick::scenario(1, 3, 2000.0);
        let p = crate::yardstick::plan(&s, 9, 60.0, 120.0);
        let plain = Model::new(&s, &p, 5, 1800.0, 20.0).run();
        let (stats, census) = Model::new(&s, &p, 5, 1800.0, 20.0)
            .with_census()
            .run_with_census();
        assert_eq!(format!("{plain:?}"), format!("{stats:?}"));
        let census = census.expect("asked for");
        assert_eq!(census.time.len(), 48);
        for (i, t) in census.time.iter().enumerate() {
            let total: f64 = t.iter().sum();
            assert!((total - 1800.0).abs() < 1e-6, "interval {i}: {total} s");
        }
        let handled: u32 = census.handle.iter().map(|h| h.1).sum();
        assert_eq!(f64::from(handled), stats.total(M::Answered));
    }

    #[test]
    fn streams_match_model_stream() {
        for seed in [0, 1, 7, 0x9e37_79b9_7f4a_7c15, u64::MAX] {
            for what in ["sim.attempt", "sim.case", "sim.resolve"] {
                let fast = Streams::new(seed, what);
                for index in [0, 1, 1023, 1024, 1 << 40, u64::MAX] {
                    let (mut a, mut b) = (fast.get(index), rng::model_stream(seed, what, index));
                    for _ in 0..4 {
                        assert_eq!(rng::uniform(&mut a), rng::uniform(&mut b));
                    }
                }
            }
        }
    }
}
