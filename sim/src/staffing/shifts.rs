//! Shift scheduling: turn a per-interval requirement into shifts people can work.
//!
//! A [`Template`] is a kind of shift (09:00-18:00 with a break at 12:00, an 8-hour night shift
//! from 22:00); [`expand`] lays the templates over the days of a horizon and yields one
//! [`Candidate`] per (template, day). [`schedule`] chooses how many agents work each candidate so
//! that every interval is covered at the least cost: the set-covering integer program
//!
//! ```text
//! minimise  sum_j cost_j x_j + penalty * sum_i s_i
//! subject to sum_{j covers i} x_j + s_i >= req_i   for every interval i with req_i > 0
//!            0 <= x_j <= cap_j integer,  0 <= s_i <= req_i
//! ```
//!
//! solved with `microlp`, a pure-Rust simplex and branch and bound. The shortfall `s_i` only
//! exists on intervals whose every covering candidate has a headcount cap; elsewhere coverage can
//! always be reached by hiring more, so the row is hard. Intervals that no candidate covers at all
//! (a night requirement with only daytime templates) are left out of the program and reported as
//! uncovered with their whole requirement.
//!
//! Speed comes from decomposition, not from the solver: the program falls apart into blocks of
//! intervals that no candidate links (in ordinary mode every day is its own block; h24 runs with
//! overnight shifts link consecutive days), blocks with no requirement are skipped, and each
//! block is solved on its own. A block is first solved as a linear program; its optimum is a lower
//! bound, and rounding it up is a feasible plan because every coefficient is non-negative (a
//! second rounding, down then a greedy cover, and dropping idle agents often do better). Shift
//! columns without breaks have consecutive ones, a totally unimodular matrix, so without breaks
//! the simplex optimum is already integral and proven; when it is not, branch and bound runs
//! from the rounded plan under a node limit. Node limits, not wall-clock limits, so the same
//! input always gives the same plan. A long block whose relaxation is fractional (a month of
//! h24 days with breaks is one block) is cut into windows decided one after the other; see
//! [`schedule`] for why the reported bound stays valid.
//!
//! Costs: a candidate costs `cost_per_hour` per paid hour, and breaks are unpaid, so with the
//! default cost of 1.0 the objective is agent-hours on duty.

mod program;

/// Which kind of day a template is for: ordinary days are staffed 9 to 18 and h24 days round the
/// clock, and the caller decides which days are which (for example h24 during a surge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Office-hours days.
    Ordinary,
    /// Round-the-clock days; their late shifts may run past midnight into the next day.
    H24,
}

/// A set of weekdays as a bitmask (bit 0 = Monday, bit 6 = Sunday), so a template can be limited
/// to, say, Saturdays without a closure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weekdays(pub u8);

impl Weekdays {
    /// Every day of the week.
    pub const ALL: Weekdays = Weekdays(0x7f);
    /// Monday to Friday.
    pub const MON_FRI: Weekdays = Weekdays(0x1f);

    /// Whether `weekday` (0 = Monday .. 6 = Sunday) is in the set.
    pub fn contains(self, weekday: u8) -> bool {
        weekday < 7 && self.0 & (1 << weekday) != 0
    }
}

/// An unpaid break inside a shift, during which the agent does not count as covering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Break {
    /// Minutes from the start of the shift to the start of the break.
    pub offset_min: u32,
    /// Length of the break in minutes.
    pub length_min: u32,
}

/// A kind of shift. Staggered breaks are separate templates (one per break position), so a
/// candidate is a single column of the program and a cap is a plain bound on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// Shown in plans and reports, e.g. `"09-18 b12:00"`.
    pub name: String,
    /// The kind of day the template runs on.
    pub mode: Mode,
    /// Start, in minutes of local clock time after midnight.
    pub start_min: u32,
    /// Length including the break, in minutes; a shift may run past midnight.
    pub length_min: u32,
    /// The break, if any.
    pub break_: Option<Break>,
    /// Cost of one paid hour; 1.0 makes the objective agent-hours. Differing costs let a planner
    /// prefer, e.g., day shifts over night shifts.
    pub cost_per_hour: f64,
    /// The weekdays on which the template may run.
    pub days: Weekdays,
    /// The most agents that may work this template on one day (contracts, desks); `None` means
    /// no limit. When a cap binds, the requirement may stay partly uncovered.
    pub max_per_day: Option<u32>,
}

impl Template {
    /// A template on every weekday, with no cap, at one cost unit per paid hour.
    pub fn new(
        name: &str,
        mode: Mode,
        start_min: u32,
        length_min: u32,
        break_: Option<Break>,
    ) -> Self {
        Template {
            name: name.to_owned(),
            mode,
            start_min,
            length_min,
            break_,
            cost_per_hour: 1.0,
            days: Weekdays::ALL,
            max_per_day: None,
        }
    }

    /// Paid hours of one shift: its length less its unpaid break.
    pub fn paid_hours(&self) -> f64 {
        let unpaid = self.break_.map_or(0, |b| b.length_min.min(self.length_min));
        f64::from(self.length_min - unpaid) / 60.0
    }
}

/// The ordinary-mode templates: 09:00-18:00 with a one-hour unpaid break starting at 12:00,
/// 12:30 or 13:00 (staggered, so the desk is not empty at lunch), and part-time four-hour shifts
/// starting every hour from 09:00 to 14:00.
pub fn ordinary_templates() -> Vec<Template> {
    let mut templates: Vec<Template> = [180, 210, 240]
        .into_iter()
        .map(|offset_min| {
            let at = 9 * 60 + offset_min;
            let name = format!("09-18 b{:02}:{:02}", at / 60, at % 60);
            let break_ = Break {
                offset_min,
                length_min: 60,
            };
            Template::new(&name, Mode::Ordinary, 9 * 60, 9 * 60, Some(break_))
        })
        .collect();
    templates.extend((9..=14).map(|h| {
        let name = format!("{h:02}-{:02}", h + 4);
        Template::new(&name, Mode::Ordinary, h * 60, 4 * 60, None)
    }));
    templates
}

/// The h24 templates: 8-hour and 6-hour shifts starting every `step_min` minutes round the clock
/// (a step of 480 with only the 8-hour length is the classic 3 x 8 rota, see [`three_by_eight`]).
/// Shifts that start late run past midnight into the next day. No breaks: rotating shifts of
/// this length usually take a short break in place, which does not leave the desk empty.
pub fn h24_templates(step_min: u32) -> Vec<Template> {
    let step = step_min.max(1);
    let mut templates = Vec::new();
    for hours in [8, 6] {
        for start in (0..24 * 60).step_by(step as usize) {
            let name = format!("h24 {hours}h {:02}:{:02}", start / 60, start % 60);
            templates.push(Template::new(&name, Mode::H24, start, hours * 60, None));
        }
    }
    templates
}

/// The classic h24 rota: three 8-hour shifts starting at 00:00, 08:00 and 16:00.
pub fn three_by_eight() -> Vec<Template> {
    (0..3)
        .map(|k| {
            let name = format!("h24 8h {:02}:00", 8 * k);
            Template::new(&name, Mode::H24, 8 * 60 * k, 8 * 60, None)
        })
        .collect()
}

/// One day of the horizon, as the caller lays it on the interval grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Day {
    /// Shown in reports, e.g. `"2011-09-23"`.
    pub label: String,
    /// Index of the day's first interval (its local midnight) in the requirement.
    pub first_interval: usize,
    /// Number of intervals in the day: 24 hours' worth, or 23 or 25 on the days clocks change.
    pub intervals: usize,
    /// 0 = Monday .. 6 = Sunday, matched against [`Template::days`].
    pub weekday: u8,
    /// Which templates run on the day; `None` for a closed day (no shift starts).
    pub mode: Option<Mode>,
}

/// A template placed on one day: a column of the program.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Index into the templates given to [`expand`].
    pub template: usize,
    /// Index into the days given to [`expand`].
    pub day: usize,
    /// First interval on duty (absolute index in the requirement).
    pub start: usize,
    /// One past the last interval on duty; clipped to the horizon.
    pub end: usize,
    /// Intervals inside `start..end` spent on break, sorted.
    pub off: Vec<usize>,
    /// Cost of one agent on this candidate (the template's cost per hour times its paid hours,
    /// in full even when the shift is clipped by the end of the horizon, since the agent is paid).
    pub cost: f64,
    /// Paid hours of one agent on this candidate.
    pub paid_hours: f64,
    /// The template's `max_per_day`.
    pub max: Option<u32>,
}

impl Candidate {
    /// The intervals on which one agent of this candidate counts as covering.
    pub fn covered(&self) -> impl Iterator<Item = usize> + '_ {
        (self.start..self.end).filter(|i| self.off.binary_search(i).is_err())
    }
}

/// Minutes elapsed from a day's local midnight to a local clock time. On the days clocks change
/// (Europe: 02:00 -> 03:00 in spring, 03:00 -> 02:00 in autumn) the day is an hour shorter or
/// longer and clock times from 03:00 on are that hour earlier or later in elapsed time.
fn elapsed_min(day: &Day, clock_min: u32, interval_min: u32) -> u64 {
    let day_min = day.intervals as i64 * i64::from(interval_min);
    let clock = i64::from(clock_min);
    let elapsed = if clock >= 180 {
        clock + day_min - 24 * 60
    } else {
        clock
    };
    elapsed.max(0) as u64
}

/// Lays every template over every day of its mode and weekday. An agent counts on an interval
/// only if on duty for all of it (starts round up to the grid, ends round down), and a break
/// takes out every interval it touches; shifts ending past the horizon are clipped to it.
pub fn expand(templates: &[Template], days: &[Day], interval_min: u32) -> Vec<Candidate> {
    let iv = u64::from(interval_min.max(1));
    let horizon = days
        .iter()
        .map(|d| d.first_interval + d.intervals)
        .max()
        .unwrap_or(0);
    let mut out = Vec::new();
    for (d, day) in days.iter().enumerate() {
        let Some(mode) = day.mode else { continue };
        for (t, tpl) in templates.iter().enumerate() {
            if tpl.mode != mode || !tpl.days.contains(day.weekday) {
                continue;
            }
            let from = elapsed_min(day, tpl.start_min, interval_min);
            let to = from + u64::from(tpl.length_min);
            let at = |minutes: u64| day.first_interval + minutes as usize;
            let start = at(from.div_ceil(iv));
            let end = at(to / iv).min(horizon);
            if start >= end {
                continue;
            }
            let off = tpl.break_.map_or_else(Vec::new, |b| {
                let b_from = from + u64::from(b.offset_min);
                let b_to = b_from + u64::from(b.length_min);
                (at(b_from / iv).max(start)..at(b_to.div_ceil(iv)).min(end)).collect()
            });
            out.push(Candidate {
                template: t,
                day: d,
                start,
                end,
                off,
                cost: tpl.cost_per_hour * tpl.paid_hours(),
                paid_hours: tpl.paid_hours(),
                max: tpl.max_per_day,
            });
        }
    }
    out
}

/// Limits of the solve. All are counts, not durations, so results are reproducible.
#[derive(Debug, Clone, PartialEq)]
pub struct SolveOptions {
    /// Branch-and-bound nodes per program once its rounded linear optimum is not proven
    /// optimal; when they run out, the best plan found so far is kept and the gap reported.
    pub node_limit: u64,
    /// The longest block (in intervals) whose linear relaxation is solved whole for the lower
    /// bound; longer blocks are bounded in chunks of about this length (a looser bound). The
    /// default holds a month at 15-minute intervals; 0 means never cut.
    pub whole_intervals: usize,
    /// Blocks longer than this whose relaxation does not round to a proven optimum are
    /// decided window by window, each window with the next in view (branch and bound stays
    /// effective on a day or two, not on a month). 0 means never cut.
    pub window_intervals: usize,
    /// Cost of one agent-interval of shortfall where caps make coverage impossible; `None`
    /// picks one more than the dearest candidate, so that in an optimal plan no interval is left
    /// short while a candidate covering it still has headcount to spare.
    pub shortfall_penalty: Option<f64>,
}

impl Default for SolveOptions {
    fn default() -> Self {
        SolveOptions {
            node_limit: 200,
            whole_intervals: 32 * 96,
            window_intervals: 96,
            shortfall_penalty: None,
        }
    }
}

/// The chosen shifts and what they achieve.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Agents on each candidate, in the order of the candidates given.
    pub counts: Vec<u32>,
    /// Total cost of the shifts (agent-hours with the default costs).
    pub cost: f64,
    /// Total paid hours of the shifts.
    pub agent_hours: f64,
    /// `cost` plus the shortfall penalty on intervals left short because of caps; it equals
    /// `cost` whenever every interval that some candidate covers is fully covered. This is what
    /// was minimised and what `lower_bound` bounds.
    pub objective: f64,
    /// Agents on duty in each interval.
    pub coverage: Vec<u32>,
    /// Intervals with less coverage than required, with the shortfall (in agents).
    pub uncovered: Vec<(usize, u32)>,
    /// A proven lower bound on the optimal `objective`.
    pub lower_bound: f64,
    /// `objective - lower_bound`, in cost units: how far the plan may be from the optimum.
    pub gap: f64,
    /// Whether the plan is proven optimal (the gap is closed in every block).
    pub optimal: bool,
    /// How many independent blocks (or windows) were solved.
    pub blocks: usize,
}

impl Schedule {
    /// Headcount per (template, day) with at least one agent, in candidate order: the shift plan.
    pub fn shifts<'a>(
        &'a self,
        candidates: &'a [Candidate],
    ) -> impl Iterator<Item = (&'a Candidate, u32)> + 'a {
        candidates
            .iter()
            .zip(&self.counts)
            .filter(|(_, n)| **n > 0)
            .map(|(c, n)| (c, *n))
    }
}

/// Chooses a headcount for every candidate so that coverage meets `req` at the least cost.
///
/// It never fails: intervals that cannot be covered are listed in [`Schedule::uncovered`] and
/// the rest is still covered at least cost. When the node limit or a cut into windows keeps a
/// block from being proven optimal, the plan is still feasible and [`Schedule::gap`] says how
/// far from optimal it may be.
///
/// A block longer than [`SolveOptions::window_intervals`] whose relaxation is fractional is
/// decided in windows, in order: each window is solved together with the next one (so shifts
/// near the cut are chosen knowing what follows), and only the candidates starting in the window
/// are fixed; later windows count their agents as already on duty. Its bound is still the
/// relaxation of the whole block, or, past [`SolveOptions::whole_intervals`], the sum of one
/// relaxation per chunk in which every candidate's cost is shared among the chunks in
/// proportion to the required intervals it covers in each. Any plan's cost is the sum of those
/// shares, and its part in one chunk is at least that chunk's bound, so the sum is a valid (if
/// looser) bound on the whole block.
pub fn schedule(req: &[u32], candidates: &[Candidate], opts: &SolveOptions) -> Schedule {
    let n = req.len();
    let columns: Vec<Vec<usize>> = candidates
        .iter()
        .map(|c| c.covered().filter(|&i| i < n).collect())
        .collect();
    let mut coverable = vec![false; n];
    columns.iter().flatten().for_each(|&i| coverable[i] = true);
    let penalty = opts
        .shortfall_penalty
        .unwrap_or_else(|| candidates.iter().map(|c| c.cost).fold(0.0, f64::max) + 1.0);
    let inputs = program::Inputs {
        req,
        candidates,
        columns: &columns,
        coverable: &coverable,
        penalty,
        node_limit: opts.node_limit,
    };
    let mut counts = vec![0u32; candidates.len()];
    let mut coverage = vec![0u32; n];
    let mut lower_bound = 0.0;
    let mut proven = true;
    let mut blocks = 0;
    for component in program::components(req, &columns) {
        let (whole, window) = (opts.whole_intervals, opts.window_intervals);
        let outcome = inputs.solve(&component, whole, window, &mut counts, &mut coverage);
        lower_bound += outcome.bound;
        proven &= outcome.optimal;
        blocks += outcome.pieces;
    }
    let mut uncovered = Vec::new();
    let mut objective = 0.0;
    for i in 0..n {
        if coverage[i] < req[i] {
            uncovered.push((i, req[i] - coverage[i]));
            if coverable[i] {
                objective += penalty * f64::from(req[i] - coverage[i]);
            }
        }
    }
    let total = |per: fn(&Candidate) -> f64| -> f64 {
        candidates
            .iter()
            .zip(&counts)
            .map(|(c, &x)| per(c) * f64::from(x))
            .sum()
    };
    let cost = total(|c| c.cost);
    let agent_hours = total(|c| c.paid_hours);
    objective += cost;
    // Bounds are computed in floating point: round-off above the plan itself is noise, and
    // anything larger is left visible (a bug, caught by the tests).
    let tolerance = 1e-6 * objective.max(1.0);
    let lower_bound = if lower_bound > objective && lower_bound <= objective + tolerance {
        objective
    } else {
        lower_bound
    };
    let gap = objective - lower_bound;
    Schedule {
        counts,
        cost,
        agent_hours,
        objective,
        coverage,
        uncovered,
        lower_bound,
        gap,
        optimal: proven || gap <= tolerance,
        blocks,
    }
}
