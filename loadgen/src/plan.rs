//! The plan: a scenario, a seed and the options compile into a sorted list of timed steps.
//!
//! Each contact of the stream (`cclab_scenarios::Arrivals`, scaled by `scale`) in the window
//! becomes one journey following the profile: the root step at the contact's arrival time, then
//! each other step a lognormal delay after its parent, with its probability, repeats and
//! exclusive choices. Every draw of a journey comes from a substream keyed by the contact's id,
//! so a contact's journey does not depend on the window, the shard or the other contacts, and
//! the plan is a pure function of (scenario, seed, scale, window, profile timing).
//!
//! Times are scenario microseconds; the dispatcher maps them to run time by
//! `(at - window start) / speedup`. Steps falling after the window's end (or after the
//! `duration` cap, in scenario time) are left out and counted in `beyond_window`. Low rates are
//! exact: the plan is a fixed list, so any window of it sends exactly what it lists.
//!
//! A plan is either *stored* ([`Plan::compile`], [`Plan::flat`]: every step in memory, for
//! dry runs and tests) or *streamed* ([`Plan::compile_streamed`], [`Plan::flat_streamed`]: only
//! the counts are kept, and [`Plan::stream`] regenerates the steps in time order while the run
//! goes on). Both give the very same steps in the very same order, since they share one
//! generator: contacts come in arrival order, each journey is drawn when its contact arrives,
//! and a heap holds the journeys' later steps until their time. Memory is then bounded by the
//! steps still ahead of open journeys, not by the length of the scenario.

use crate::LoadgenError;
use crate::profile::Profile;
use cclab_scenarios::rng::{self, Purpose, Stream};
use cclab_scenarios::{Arrivals, Channel, RequestType, Scenario};
use chrono::{DateTime, SecondsFormat};
use chrono_tz::Tz;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::Duration;

/// A disjoint share of the contacts: those whose id is `index` modulo `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Parses `I/N` with `0 <= I < N`.
    pub fn parse(s: &str) -> Result<Shard, LoadgenError> {
        let bad =
            || LoadgenError::Options(format!("--shard: expected I/N with 0 <= I < N, got {s:?}"));
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// Whether contact `id` belongs to this shard.
    pub fn owns(&self, id: u64) -> bool {
        id % u64::from(self.count) == u64::from(self.index)
    }
}

/// What to replay and how fast.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub seed: u64,
    /// Volume multiplier (the surge keeps its shape).
    pub scale: f64,
    /// Scenario seconds per run second (1440: a day per minute).
    pub speedup: f64,
    /// Window start and end, scenario microseconds since the start (None: whole horizon).
    pub from_us: Option<u64>,
    pub to_us: Option<u64>,
    /// Caps the run's wall-clock length (the window is cut at `duration * speedup`).
    pub duration: Option<Duration>,
    pub shard: Shard,
}

/// One contact of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanContact {
    pub id: u64,
    pub at_us: u64,
    pub channel: Channel,
    pub rtype: RequestType,
    pub event: Option<u16>,
    /// Planned steps of its journey (so the dispatcher knows when a journey is over).
    pub steps: u32,
}

/// One timed request of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PlannedStep {
    /// Scenario microseconds since the scenario start.
    pub at_us: u64,
    /// Index into [`Plan::contacts`].
    pub contact: u32,
    /// Index into the profile's steps.
    pub step: u16,
    /// Occurrence of a repeating step, from 0.
    pub repeat: u16,
}

/// A compiled plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub scenario: String,
    pub scenario_source: String,
    pub seed: u64,
    pub scale: f64,
    pub speedup: f64,
    /// The scenario's start, for `contact.time`.
    pub start: DateTime<Tz>,
    pub window_start_us: u64,
    pub window_end_us: u64,
    pub shard: Shard,
    pub step_names: Vec<String>,
    pub event_names: Vec<String>,
    pub contacts: Vec<PlanContact>,
    /// Sorted by (time, contact, step, repeat).
    pub steps: Vec<PlannedStep>,
    /// Planned requests by profile step.
    pub planned_by_step: Vec<u64>,
    /// Journey steps left out because they fall after the window's end, by profile step.
    pub beyond_window_by_step: Vec<u64>,
    /// How [`Plan::stream`] produces the steps.
    source: Source,
}

/// Where a plan's steps come from.
#[derive(Debug, Clone)]
enum Source {
    /// `steps` and `contacts` hold everything.
    Stored,
    /// Regenerated on demand from the scenario (or a flat rate) and the profile's timing.
    Streamed(Arc<Recipe>),
}

/// What a streamed plan regenerates its steps from.
#[derive(Debug)]
struct Recipe {
    contacts: ContactSource,
    profile: Profile,
}

#[derive(Debug)]
enum ContactSource {
    Scenario(Box<Scenario>),
    /// `total` contacts at `rate` per second from time 0, every one of them phone/information.
    Flat {
        rate: f64,
        total: u64,
    },
}

/// One planned request as the dispatcher sees it: the step and its contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timed {
    /// Scenario microseconds since the scenario start.
    pub at_us: u64,
    pub contact: PlanContact,
    /// Index into the profile's steps.
    pub step: u16,
    /// Occurrence of a repeating step, from 0.
    pub repeat: u16,
}

/// The substream of contact `id`'s journey timings. Keyed by the contact id alone, so a
/// contact's journey is the same whatever window, shard or scale-independent id it is read in.
fn journey_stream(seed: u64, id: u64) -> Stream {
    // The Marks purpose with a key of our own: the scenario crate keys its mark streams by
    // component index, which never equals this hash-derived key.
    static BASE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let base = *BASE.get_or_init(|| rng::key_of("cclab-loadgen/journey"));
    let key = base.wrapping_add(id.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    rng::substream(seed, Purpose::Marks, key)
}

impl Plan {
    /// Compiles the plan of `scenario` for `profile` with `opts`, every step in memory.
    pub fn compile(
        scenario: &Scenario,
        profile: &Profile,
        opts: &PlanOptions,
    ) -> Result<Plan, LoadgenError> {
        Plan::of_scenario(scenario, profile, opts, false)
    }

    /// The same plan as [`Plan::compile`], streamed: only the counts are computed now (one pass
    /// of the generator, nothing kept), and [`Plan::stream`] regenerates the steps during the
    /// run, so a plan of weeks at a high rate runs in bounded memory.
    pub fn compile_streamed(
        scenario: &Scenario,
        profile: &Profile,
        opts: &PlanOptions,
    ) -> Result<Plan, LoadgenError> {
        Plan::of_scenario(scenario, profile, opts, true)
    }

    fn of_scenario(
        scenario: &Scenario,
        profile: &Profile,
        opts: &PlanOptions,
        streamed: bool,
    ) -> Result<Plan, LoadgenError> {
        let mut plan = Plan::header(scenario, profile, opts)?;
        let contacts = scenario_contacts(scenario, opts, plan.window_start_us, plan.window_end_us);
        let source = streamed.then(|| ContactSource::Scenario(Box::new(scenario.clone())));
        plan.fill(profile, contacts, source);
        Ok(plan)
    }

    /// Stores every step, or with a `source` counts them and keeps the recipe to stream them.
    fn fill(
        &mut self,
        profile: &Profile,
        contacts: impl Iterator<Item = PlanContact>,
        source: Option<ContactSource>,
    ) {
        match source {
            None => self.store(profile, contacts),
            Some(contacts_again) => {
                self.count(profile, contacts);
                self.source = Source::Streamed(Arc::new(Recipe {
                    contacts: contacts_again,
                    profile: profile.clone(),
                }));
            }
        }
    }

    /// The header of a plan (window, names, zero counts) with no steps yet.
    fn header(
        scenario: &Scenario,
        profile: &Profile,
        opts: &PlanOptions,
    ) -> Result<Plan, LoadgenError> {
        if !(opts.speedup.is_finite() && opts.speedup > 0.0) {
            return Err(LoadgenError::Options(format!(
                "--speedup must be > 0, got {}",
                opts.speedup
            )));
        }
        if !(opts.scale.is_finite() && opts.scale > 0.0) {
            return Err(LoadgenError::Options(format!(
                "--scale must be > 0, got {}",
                opts.scale
            )));
        }
        let horizon_us = (scenario.calendar.horizon_h() * 3.6e9) as u64;
        let from = opts.from_us.unwrap_or(0);
        let mut to = opts.to_us.unwrap_or(horizon_us).min(horizon_us);
        if let Some(d) = opts.duration {
            let span = (d.as_secs_f64() * opts.speedup * 1e6) as u64;
            to = to.min(from.saturating_add(span));
        }
        if from >= to {
            return Err(LoadgenError::Options(format!(
                "empty window: --from is at {} h, the end at {} h of a {:.1} h scenario",
                from as f64 / 3.6e9,
                to as f64 / 3.6e9,
                horizon_us as f64 / 3.6e9
            )));
        }
        let n = profile.steps.len();
        Ok(Plan {
            scenario: scenario.name.clone(),
            scenario_source: scenario.source.clone(),
            seed: opts.seed,
            scale: opts.scale,
            speedup: opts.speedup,
            start: scenario.calendar.start,
            window_start_us: from,
            window_end_us: to,
            shard: opts.shard,
            step_names: profile.steps.iter().map(|s| s.name.clone()).collect(),
            event_names: scenario.events.iter().map(|e| e.name.clone()).collect(),
            contacts: Vec::new(),
            steps: Vec::new(),
            planned_by_step: vec![0; n],
            beyond_window_by_step: vec![0; n],
            source: Source::Stored,
        })
    }

    /// A flat plan for benchmarks: `rate` contacts per second for `duration`, each a journey
    /// of the profile (`speedup` 1, scenario time = run time), every step in memory.
    pub fn flat(
        profile: &Profile,
        rate: f64,
        duration: Duration,
        seed: u64,
        shard: Shard,
    ) -> Result<Plan, LoadgenError> {
        Plan::flat_plan(profile, rate, duration, (seed, shard), false)
    }

    /// [`Plan::flat`], streamed (see [`Plan::compile_streamed`]).
    pub fn flat_streamed(
        profile: &Profile,
        rate: f64,
        duration: Duration,
        seed: u64,
        shard: Shard,
    ) -> Result<Plan, LoadgenError> {
        Plan::flat_plan(profile, rate, duration, (seed, shard), true)
    }

    fn flat_plan(
        profile: &Profile,
        rate: f64,
        duration: Duration,
        (seed, shard): (u64, Shard),
        streamed: bool,
    ) -> Result<Plan, LoadgenError> {
        let (mut plan, total) = Plan::flat_header(profile, rate, duration, seed, shard)?;
        let source = streamed.then_some(ContactSource::Flat { rate, total });
        plan.fill(profile, flat_contacts(rate, total, shard), source);
        Ok(plan)
    }

    fn flat_header(
        profile: &Profile,
        rate: f64,
        duration: Duration,
        seed: u64,
        shard: Shard,
    ) -> Result<(Plan, u64), LoadgenError> {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(LoadgenError::Options(format!(
                "--rate must be > 0, got {rate}"
            )));
        }
        let n = profile.steps.len();
        let end_us = (duration.as_secs_f64() * 1e6) as u64;
        let start = chrono::Utc::now().with_timezone(&chrono_tz::UTC);
        let plan = Plan {
            scenario: format!("flat-{rate}/s"),
            scenario_source: "--rate".into(),
            seed,
            scale: 1.0,
            speedup: 1.0,
            start,
            window_start_us: 0,
            window_end_us: end_us,
            shard,
            step_names: profile.steps.iter().map(|s| s.name.clone()).collect(),
            event_names: Vec::new(),
            contacts: Vec::new(),
            steps: Vec::new(),
            planned_by_step: vec![0; n],
            beyond_window_by_step: vec![0; n],
            source: Source::Stored,
        };
        Ok((plan, (duration.as_secs_f64() * rate).floor() as u64))
    }

    /// Draws every contact's journey and keeps all the steps, sorted.
    fn store(&mut self, profile: &Profile, contacts: impl Iterator<Item = PlanContact>) {
        let mut scratch = Journey::new(profile.steps.len());
        for mut c in contacts {
            let idx =
                u32::try_from(self.contacts.len()).expect("fewer than 2^32 contacts per plan");
            scratch.draw(profile, self.seed, c.id, c.at_us);
            c.steps = self.tally(&scratch);
            for (s, r, t) in scratch.steps(self.window_end_us) {
                self.steps.push(PlannedStep {
                    at_us: t,
                    contact: idx,
                    step: s,
                    repeat: r,
                });
            }
            self.contacts.push(c);
        }
        self.steps.sort_unstable();
    }

    /// Draws every contact's journey and keeps only the counts.
    fn count(&mut self, profile: &Profile, contacts: impl Iterator<Item = PlanContact>) {
        let mut scratch = Journey::new(profile.steps.len());
        for c in contacts {
            scratch.draw(profile, self.seed, c.id, c.at_us);
            self.tally(&scratch);
        }
    }

    /// Adds a drawn journey to the planned and beyond-window counts; returns its planned steps.
    fn tally(&mut self, j: &Journey) -> u32 {
        let mut count = 0;
        for (s, times) in j.times.iter().enumerate() {
            let inside = times.iter().filter(|&&t| t < self.window_end_us).count();
            self.planned_by_step[s] += inside as u64;
            self.beyond_window_by_step[s] += (times.len() - inside) as u64;
            count += inside as u32;
        }
        count
    }

    /// Whether the steps are regenerated during the run rather than held in memory.
    pub fn is_streamed(&self) -> bool {
        matches!(self.source, Source::Streamed(_))
    }

    /// Every planned request in time order (then contact, step, repeat), with its contact.
    /// A stored plan reads its list; a streamed one draws the journeys as their contacts
    /// arrive, holding only the steps of journeys still open.
    pub fn stream(&self) -> PlanStream<'_> {
        match &self.source {
            Source::Stored => PlanStream::Stored {
                plan: self,
                next: 0,
            },
            Source::Streamed(recipe) => {
                let contacts: Box<dyn Iterator<Item = PlanContact> + '_> = match &recipe.contacts {
                    ContactSource::Scenario(sc) => {
                        let opts = PlanOptions {
                            seed: self.seed,
                            scale: self.scale,
                            speedup: self.speedup,
                            from_us: None,
                            to_us: None,
                            duration: None,
                            shard: self.shard,
                        };
                        Box::new(scenario_contacts(
                            sc,
                            &opts,
                            self.window_start_us,
                            self.window_end_us,
                        ))
                    }
                    ContactSource::Flat { rate, total } => {
                        Box::new(flat_contacts(*rate, *total, self.shard))
                    }
                };
                let mut live = Live {
                    window_end_us: self.window_end_us,
                    seed: self.seed,
                    profile: &recipe.profile,
                    contacts,
                    lookahead: None,
                    heap: BinaryHeap::new(),
                    scratch: Journey::new(recipe.profile.steps.len()),
                    seq: 0,
                };
                live.lookahead = live.contacts.next();
                PlanStream::Live(Box::new(live))
            }
        }
    }

    /// Run-time offset of scenario time `at_us`, in nanoseconds since the run start.
    pub fn offset_ns(&self, at_us: u64) -> u64 {
        ((at_us - self.window_start_us) as f64 * 1e3 / self.speedup) as u64
    }

    /// Planned wall-clock length of the run.
    pub fn run_length(&self) -> Duration {
        Duration::from_nanos(self.offset_ns(self.window_end_us))
    }

    /// Total planned requests.
    pub fn planned(&self) -> u64 {
        self.planned_by_step.iter().sum()
    }

    /// The event tag of a contact (empty for ordinary demand).
    pub fn event_name(&self, c: &PlanContact) -> &str {
        c.event
            .and_then(|e| self.event_names.get(e as usize))
            .map_or("", String::as_str)
    }

    /// Scenario time of `at_us`, RFC 3339 in the scenario's time zone.
    pub fn time_of(&self, at_us: u64) -> String {
        (self.start + chrono::Duration::microseconds(at_us as i64))
            .to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// Writes the plan as CSV: one row per planned request.
    pub fn write_csv(&self, out: impl std::io::Write) -> std::io::Result<()> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record([
            "run_s",
            "scenario_time",
            "contact",
            "step",
            "repeat",
            "channel",
            "request_type",
            "event",
        ])?;
        for ps in self.stream() {
            let c = &ps.contact;
            w.write_record([
                format!("{:.6}", self.offset_ns(ps.at_us) as f64 / 1e9),
                self.time_of(ps.at_us),
                c.id.to_string(),
                self.step_names[ps.step as usize].clone(),
                ps.repeat.to_string(),
                c.channel.name().to_string(),
                c.rtype.name().to_string(),
                self.event_name(c).to_string(),
            ])?;
        }
        w.flush()
    }

    /// Planned requests per interval of run time, by step (rows: intervals).
    pub fn rates(&self, interval: Duration) -> Vec<Vec<u64>> {
        let width = interval.as_nanos().max(1) as u64;
        let buckets = (self.run_length().as_nanos() as u64).div_ceil(width).max(1) as usize;
        let mut out = vec![vec![0u64; self.step_names.len()]; buckets];
        for ps in self.stream() {
            let b = ((self.offset_ns(ps.at_us) / width) as usize).min(buckets - 1);
            out[b][ps.step as usize] += 1;
        }
        out
    }

    /// Writes [`Plan::rates`] as CSV: `run_s, scenario_time, total, <one column per step>`.
    pub fn write_rates_csv(
        &self,
        interval: Duration,
        out: impl std::io::Write,
    ) -> std::io::Result<()> {
        let mut w = csv::Writer::from_writer(out);
        let mut header = vec!["run_s".to_string(), "scenario_time".into(), "total".into()];
        header.extend(self.step_names.iter().cloned());
        w.write_record(&header)?;
        for (i, row) in self.rates(interval).iter().enumerate() {
            let run_s = i as f64 * interval.as_secs_f64();
            let at = self.window_start_us + (run_s * self.speedup * 1e6) as u64;
            let mut rec = vec![
                format!("{run_s}"),
                self.time_of(at),
                row.iter().sum::<u64>().to_string(),
            ];
            rec.extend(row.iter().map(u64::to_string));
            w.write_record(&rec)?;
        }
        w.flush()
    }
}

/// The contacts of a scenario admitted to a plan: in the window, owned by the shard.
fn scenario_contacts<'a>(
    scenario: &'a Scenario,
    opts: &PlanOptions,
    from: u64,
    to: u64,
) -> impl Iterator<Item = PlanContact> + 'a {
    let shard = opts.shard;
    Arrivals::new(scenario, opts.seed, opts.scale)
        .take_while(move |c| c.at_us < to)
        .filter(move |c| c.at_us >= from && shard.owns(c.id))
        .map(|c| PlanContact {
            id: c.id,
            at_us: c.at_us,
            channel: c.channel,
            rtype: c.rtype,
            event: c.event,
            steps: 0,
        })
}

/// The contacts of a flat plan: `total` at `rate` per second from time 0.
fn flat_contacts(rate: f64, total: u64, shard: Shard) -> impl Iterator<Item = PlanContact> {
    (0..total)
        .filter(move |id| shard.owns(*id))
        .map(move |id| PlanContact {
            id,
            at_us: (id as f64 * 1e6 / rate) as u64,
            channel: Channel::Phone,
            rtype: RequestType::Information,
            event: None,
            steps: 0,
        })
}

/// The steps of a plan in time order: read from memory, or generated.
pub enum PlanStream<'a> {
    Stored { plan: &'a Plan, next: usize },
    Live(Box<Live<'a>>),
}

impl Iterator for PlanStream<'_> {
    type Item = Timed;

    fn next(&mut self) -> Option<Timed> {
        match self {
            PlanStream::Stored { plan, next } => {
                let ps = plan.steps.get(*next)?;
                *next += 1;
                Some(Timed {
                    at_us: ps.at_us,
                    contact: plan.contacts[ps.contact as usize],
                    step: ps.step,
                    repeat: ps.repeat,
                })
            }
            PlanStream::Live(live) => live.next(),
        }
    }
}

/// The generator of a streamed plan. Contacts arrive in time order and a journey's steps are
/// never earlier than its contact's arrival, so a queued step whose time is not after the next
/// contact's arrival can go: nothing still to be drawn comes before it.
pub struct Live<'a> {
    window_end_us: u64,
    seed: u64,
    profile: &'a Profile,
    contacts: Box<dyn Iterator<Item = PlanContact> + 'a>,
    /// The next contact, not drawn yet.
    lookahead: Option<PlanContact>,
    heap: BinaryHeap<Reverse<Queued>>,
    scratch: Journey,
    /// Admission order of contacts: the tie-break after time, as in a stored plan.
    seq: u64,
}

impl Live<'_> {
    fn next(&mut self) -> Option<Timed> {
        loop {
            let top_ready = match (self.heap.peek(), &self.lookahead) {
                (Some(Reverse(top)), Some(c)) => top.at_us <= c.at_us,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if top_ready {
                let q = self.heap.pop().expect("peeked").0;
                return Some(Timed {
                    at_us: q.at_us,
                    contact: q.contact,
                    step: q.step,
                    repeat: q.repeat,
                });
            }
            let mut c = self.lookahead.take()?;
            self.lookahead = self.contacts.next();
            self.scratch.draw(self.profile, self.seed, c.id, c.at_us);
            c.steps = self.scratch.steps(self.window_end_us).count() as u32;
            for (step, repeat, at_us) in self.scratch.steps(self.window_end_us) {
                self.heap.push(Reverse(Queued {
                    at_us,
                    seq: self.seq,
                    step,
                    repeat,
                    contact: c,
                }));
            }
            self.seq += 1;
        }
    }
}

/// A step waiting in the generator's heap, ordered like [`PlannedStep`].
#[derive(Debug, PartialEq, Eq)]
struct Queued {
    at_us: u64,
    seq: u64,
    step: u16,
    repeat: u16,
    contact: PlanContact,
}

impl Ord for Queued {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at_us, self.seq, self.step, self.repeat).cmp(&(o.at_us, o.seq, o.step, o.repeat))
    }
}

impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

/// Scratch space for one journey's draws: occurrence times by step.
struct Journey {
    times: Vec<Vec<u64>>,
    /// Chosen member per (choice group), drawn once per journey.
    chosen: Vec<Option<Option<usize>>>,
}

impl Journey {
    fn new(n: usize) -> Self {
        Journey {
            times: vec![Vec::new(); n],
            chosen: Vec::new(),
        }
    }

    /// The drawn steps before the window's end: (step, repeat, time).
    fn steps(&self, end_us: u64) -> impl Iterator<Item = (u16, u16, u64)> + '_ {
        self.times.iter().enumerate().flat_map(move |(s, ts)| {
            ts.iter()
                .enumerate()
                .filter(move |(_, t)| **t < end_us)
                .map(move |(r, &t)| (s as u16, r as u16, t))
        })
    }

    /// Draws the journey of contact `id` arriving at `at_us`, step by step in profile order,
    /// from the contact's own substream: it depends on (seed, id, profile timing) alone.
    fn draw(&mut self, profile: &Profile, seed: u64, id: u64, at_us: u64) {
        let mut rng = journey_stream(seed, id);
        for t in &mut self.times {
            t.clear();
        }
        self.chosen.clear();
        for (s, step) in profile.steps.iter().enumerate() {
            let Some(parent) = step.parent else {
                self.times[s].push(at_us);
                continue;
            };
            let Some(&base) = self.times[parent].first() else {
                continue;
            };
            if let Some((group, _)) = step.choice {
                if self.chosen.len() <= group {
                    self.chosen.resize(group + 1, None);
                }
                let pick = *self.chosen[group].get_or_insert_with(|| {
                    let u = rng::uniform(&mut rng);
                    let mut acc = 0.0;
                    profile.steps.iter().position(|st| match st.choice {
                        Some((g, w)) if g == group => {
                            acc += w;
                            u < acc
                        }
                        _ => false,
                    })
                });
                if pick != Some(s) {
                    continue;
                }
            }
            if step.probability < 1.0 && rng::uniform(&mut rng) >= step.probability {
                continue;
            }
            let count = match step.repeat {
                None => 1,
                Some(mean) => poisson(&mut rng, mean),
            };
            let mut t = base;
            for _ in 0..count {
                let d = match step.delay {
                    None => 0.0,
                    Some(d) => rng::lognormal(&mut rng, d.mean_us, d.cv),
                };
                t = t.saturating_add(d.max(0.0) as u64);
                self.times[s].push(t);
            }
        }
    }
}

/// A Poisson draw: the number of rate-1 arrivals in `[0, mean]` (means are small here).
fn poisson(rng: &mut Stream, mean: f64) -> u32 {
    let mut t = rng::exp1(rng);
    let mut k = 0;
    while t <= mean && k < u16::MAX as u32 {
        k += 1;
        t += rng::exp1(rng);
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_parse() {
        assert_eq!(Shard::parse("1/3").unwrap(), Shard { index: 1, count: 3 });
        assert!(Shard::parse("3/3").is_err());
        assert!(Shard::parse("0/0").is_err());
        assert!(Shard::parse("x").is_err());
    }

    #[test]
    fn poisson_mean() {
        // Mean 1.5 over 20,000 draws: the standard error is sqrt(1.5 / 20000) = 0.0087, so a
        // 5-sigma band is +-0.043.
        let mut rng = journey_stream(1, 2);
        let n = 20_000;
        let sum: u32 = (0..n).map(|_| poisson(&mut rng, 1.5)).sum();
        let mean = f64::from(sum) / f64::from(n);
        assert!((mean - 1.5).abs() < 0.043, "{mean}");
    }
}
