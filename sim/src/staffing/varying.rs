//! Time-varying staffing: the agents needed in each interval of a scenario, by four methods
//! side by side.
//!
//! - **SIPP** (stationary independent period by period): each interval on its own, as a
//!   stationary Erlang queue with the interval's mean arrival rate.
//! - **Lagged SIPP** (Green, Kolesar and Soares, 2001): the same with the arrival curve shifted
//!   by one mean handle time, since the load an interval carries arrived a little earlier.
//! - **Square-root staffing**: `ceil(R + beta sqrt(R))` with `R` the interval's offered load and
//!   `beta` the smallest that meets the target in the Halfin-Whitt (QED) approximation.
//! - **ISA**, the iterative staffing algorithm (Feldman, Mandelbaum, Massey and Whitt, 2008),
//!   driven by the full simulator: simulate the current staffing, read in each interval the
//!   distribution of the number of contacts holding or wanting an agent ([`Census`]), and set the
//!   next staffing to the fewest agents whose predicted performance against that distribution
//!   meets the target; repeat to a fixed point. Redials, abandonment, written work taking agents
//!   off the phones and calls left on the voicemail all shape the distribution, so they all
//!   count. A final verification simulates the fixed point and adds an agent where an interval
//!   still misses (at most a few rounds).
//!
//! The analytic methods see the scenario's expected phone demand ([`Demand`]); staffing is
//! agents on duty (net of shrinkage) and at least one agent in every staffed interval.

use super::erlang::{ErlangError, Queue, SlDefinition, Target};
use crate::model::{Census, Model};
use crate::plan::Plan;
use crate::replicate::{RunConfig, Summary, for_each_replication, simulate};
use crate::stats::M;
use cclab_scenarios::kernel::gamma_p;
use cclab_scenarios::{Channel, Scenario};

/// A staffing method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Sipp,
    Lagged,
    Sqrt,
    Isa,
}

impl Method {
    pub const ALL: [Method; 4] = [Method::Sipp, Method::Lagged, Method::Sqrt, Method::Isa];

    /// Stable name, as on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Method::Sipp => "sipp",
            Method::Lagged => "lagged",
            Method::Sqrt => "sqrt",
            Method::Isa => "isa",
        }
    }

    pub fn from_name(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// The expected phone demand per interval, as the analytic methods see it.
#[derive(Debug, Clone)]
pub struct Demand {
    pub interval_s: f64,
    /// First-attempt calls per second (redials are not in the scenario's stream: only the
    /// simulator sees them).
    pub rate: Vec<f64>,
    /// The same, shifted back by one mean handle time (lagged SIPP).
    pub lagged_rate: Vec<f64>,
    /// Mean handle time of the interval's call mix, seconds.
    pub aht_s: Vec<f64>,
    /// Mean patience of the interval's callers (the harmonic mean of the types' patience, so
    /// that abandonment rates average); `None` when nobody abandons.
    pub patience_s: Vec<Option<f64>>,
    /// Share of callers who hang up at the greeting when they must wait.
    pub balk: Vec<f64>,
    /// The factors applied to ordinary and event demand for `--quantile` (1 for the mean).
    pub factors: (f64, f64),
}

impl Demand {
    /// The demand of `s` at `interval_s`, with handle times and patience from `plan`. With a
    /// `quantile`, ordinary demand is scaled by that quantile of the scenario's day-level
    /// busyness factor and event demand by that quantile of the events' size factor (the
    /// largest size CV of the scenario), so the target holds on that share of realisations.
    pub fn new(s: &Scenario, plan: &Plan, interval_s: f64, quantile: Option<f64>) -> Demand {
        let step_h = interval_s / 3600.0;
        let grid = s.expected_grid(step_h, Channel::Phone);
        let size_cv = s.events.iter().map(|e| e.size_cv).fold(0.0, f64::max);
        let factors = match quantile {
            Some(q) => (gamma_quantile(q, s.busyness_cv), gamma_quantile(q, size_cv)),
            None => (1.0, 1.0),
        };
        let n = grid.len();
        let mut d = Demand {
            interval_s,
            rate: Vec::with_capacity(n),
            lagged_rate: Vec::with_capacity(n),
            aht_s: Vec::with_capacity(n),
            patience_s: Vec::with_capacity(n),
            balk: Vec::with_capacity(n),
            factors,
        };
        let means = |table: &[crate::dist::Dist; 5]| -> [f64; 5] {
            std::array::from_fn(|k| table[k].mean())
        };
        let handle = [means(&plan.phone_time), means(&plan.phone_surge_time)];
        let patience = [&plan.patience, &plan.surge_patience];
        // Fallbacks for an interval without calls: the ordinary information call.
        let quiet_aht = handle[0][0];
        for cell in &grid {
            let (mut calls, mut work, mut theta, mut balk) = (0.0, 0.0, 0.0, 0.0);
            for g in 0..2 {
                let f = if g == 0 { factors.0 } else { factors.1 };
                for k in 0..5 {
                    let c = cell[g][k] * f;
                    calls += c;
                    work += c * handle[g][k];
                    let p = &patience[g][k];
                    theta += c * p.wait.as_ref().map_or(0.0, |w| 1.0 / w.mean().max(1e-9));
                    balk += c * p.balk;
                }
            }
            d.rate.push(calls / interval_s);
            if calls > 0.0 {
                d.aht_s.push(work / calls);
                d.patience_s
                    .push((theta > 0.0).then(|| calls / theta.max(f64::MIN_POSITIVE)));
                d.balk.push(balk / calls);
            } else {
                d.aht_s.push(quiet_aht);
                let p = &plan.patience[0];
                d.patience_s.push(p.wait.as_ref().map(|w| w.mean()));
                d.balk.push(p.balk);
            }
        }
        // Lagged rate: the mean of the rate over the interval shifted back by its mean handle
        // time, from a one-minute grid.
        let fine = s.expected_grid(1.0 / 60.0, Channel::Phone);
        let mut cum = vec![0.0; fine.len() + 1];
        for (i, cell) in fine.iter().enumerate() {
            let c: f64 = cell[0].iter().map(|x| x * factors.0).sum::<f64>()
                + cell[1].iter().map(|x| x * factors.1).sum::<f64>();
            cum[i + 1] = cum[i] + c;
        }
        let at = |min: f64| -> f64 {
            let m = min.clamp(0.0, fine.len() as f64);
            let i = (m.floor() as usize).min(fine.len().saturating_sub(1));
            cum[i] + (cum[i + 1] - cum[i]) * (m - i as f64)
        };
        let step_min = interval_s / 60.0;
        for i in 0..n {
            let lag = d.aht_s[i] / 60.0;
            let a = i as f64 * step_min - lag;
            let b = a + step_min;
            d.lagged_rate.push(((at(b) - at(a)) / interval_s).max(0.0));
        }
        d
    }

    pub fn len(&self) -> usize {
        self.rate.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rate.is_empty()
    }
}

/// The quantile `q` of a Gamma factor with mean 1 and coefficient of variation `cv`.
pub fn gamma_quantile(q: f64, cv: f64) -> f64 {
    if cv <= 0.0 {
        return 1.0;
    }
    let shape = 1.0 / (cv * cv);
    let scale = cv * cv;
    let (mut lo, mut hi) = (0.0, 1.0 + 40.0 * cv);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if gamma_p(shape, mid / scale) < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// What a staffing run needs besides the scenario and plan.
#[derive(Debug, Clone)]
pub struct Options {
    pub targets: Vec<Target>,
    /// Which intervals are staffed (the line is open); the others get no agent.
    pub staffed: Vec<bool>,
    /// Replications, seed and threads of every simulation (ISA iterations and evaluations).
    pub run: RunConfig,
    /// Staff for this quantile of demand realisations instead of the mean.
    pub quantile: Option<f64>,
    /// Most ISA iterations before giving up on a fixed point.
    pub max_iterations: usize,
    /// Most verification rounds after the fixed point.
    pub max_corrections: usize,
}

/// Agents on duty per interval, as one method found them.
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    pub method: Method,
    pub agents: Vec<u32>,
    /// ISA: iterations run, whether they reached a fixed point (or a cycle, resolved by its
    /// elementwise maximum), verification rounds, and the agent-hours after each iteration and
    /// round (the convergence trace).
    pub iterations: usize,
    pub converged: bool,
    pub corrections: usize,
    pub trace: Vec<f64>,
}

impl Requirement {
    fn analytic(method: Method, agents: Vec<u32>) -> Requirement {
        Requirement {
            method,
            agents,
            iterations: 0,
            converged: true,
            corrections: 0,
            trace: Vec::new(),
        }
    }

    pub fn agent_hours(&self, interval_s: f64) -> f64 {
        agent_hours(&self.agents, interval_s)
    }
}

pub fn agent_hours(agents: &[u32], interval_s: f64) -> f64 {
    agents.iter().map(|&a| f64::from(a)).sum::<f64>() * interval_s / 3600.0
}

/// A staffing problem that cannot be solved: names the interval and the reason.
#[derive(Debug, thiserror::Error)]
pub enum StaffingError {
    #[error("interval {interval}: {source}")]
    Erlang {
        interval: usize,
        #[source]
        source: ErlangError,
    },
    #[error("`staffed` has {got} intervals, the scenario has {want} at this interval length")]
    Mask { got: usize, want: usize },
}

/// The requirement of `method`.
pub fn requirement(
    s: &Scenario,
    plan: &Plan,
    demand: &Demand,
    method: Method,
    opts: &Options,
) -> Result<Requirement, StaffingError> {
    let n = demand.len().min(intervals(s, demand.interval_s));
    if opts.staffed.len() != n {
        return Err(StaffingError::Mask {
            got: opts.staffed.len(),
            want: n,
        });
    }
    match method {
        Method::Sipp => Ok(Requirement::analytic(
            method,
            erlang_per_interval(demand, &demand.rate, opts)?,
        )),
        Method::Lagged => Ok(Requirement::analytic(
            method,
            erlang_per_interval(demand, &demand.lagged_rate, opts)?,
        )),
        Method::Sqrt => Ok(Requirement::analytic(method, sqrt_staffing(demand, opts))),
        Method::Isa => Ok(isa(s, plan, demand, opts)),
    }
}

fn intervals(s: &Scenario, interval_s: f64) -> usize {
    let horizon = (s.calendar.horizon_h() * 3.6e9) as u64;
    horizon.div_ceil((interval_s * 1e6) as u64) as usize
}

fn erlang_per_interval(
    d: &Demand,
    rate: &[f64],
    opts: &Options,
) -> Result<Vec<u32>, StaffingError> {
    let mut out = Vec::with_capacity(opts.staffed.len());
    for (i, &open) in opts.staffed.iter().enumerate() {
        if !open {
            out.push(0);
            continue;
        }
        if rate[i] <= 0.0 {
            out.push(1);
            continue;
        }
        let q = Queue::new(rate[i], d.aht_s[i], d.patience_s[i]).map_err(|source| {
            StaffingError::Erlang {
                interval: i,
                source,
            }
        })?;
        let st = q
            .fewest_agents(&opts.targets, 0.0)
            .map_err(|source| StaffingError::Erlang {
                interval: i,
                source,
            })?;
        out.push(st.agents.max(1));
    }
    Ok(out)
}

/// Halfin-Whitt: P(wait) of an M/M/n queue with `n = R + beta sqrt(R)` in the QED regime.
fn halfin_whitt_wait(beta: f64) -> f64 {
    if beta <= 0.0 {
        return 1.0;
    }
    let phi = (-0.5 * beta * beta).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let cdf = 0.5 * libm::erfc(-beta / std::f64::consts::SQRT_2);
    1.0 / (1.0 + beta * cdf / phi)
}

fn sqrt_staffing(d: &Demand, opts: &Options) -> Vec<u32> {
    opts.staffed
        .iter()
        .enumerate()
        .map(|(i, &open)| {
            if !open {
                return 0;
            }
            let load = d.rate[i] * d.aht_s[i];
            if load <= 0.0 {
                return 1;
            }
            let root = load.sqrt();
            // The QED approximation ignores abandonment, so the abandonment target is met a
            // fortiori; service level and ASA decide beta.
            let meets = |beta: f64| {
                let p_wait = halfin_whitt_wait(beta);
                let excess = beta * root / d.aht_s[i]; // n mu - lambda
                opts.targets.iter().all(|t| match *t {
                    Target::ServiceLevel {
                        fraction,
                        threshold_s,
                        ..
                    } => 1.0 - p_wait * (-excess * threshold_s).exp() >= fraction,
                    Target::MaxAsa(s) => p_wait / excess <= s,
                    Target::MaxOccupancy(p) => load / (load + beta * root) <= p,
                    Target::MaxAbandon(_) => true,
                })
            };
            let mut beta = 0.0;
            while !meets(beta) && beta < 20.0 {
                beta += 0.01;
            }
            ((load + beta * root).ceil() as u32).max(1)
        })
        .collect()
}

/// A plan that runs exactly `agents[i]` agents on duty in interval `i`.
pub fn plan_with_levels(plan: &Plan, interval_s: f64, agents: &[u32]) -> Plan {
    let step = (interval_s * 1e6) as u64;
    let mut steps: Vec<(u64, u32)> = Vec::new();
    for (i, &a) in agents.iter().enumerate() {
        if steps.last().is_none_or(|&(_, last)| last != a) {
            steps.push((i as u64 * step, a));
        }
    }
    if steps.first().is_none_or(|&(t, _)| t != 0) {
        steps.insert(0, (0, 0));
    }
    let mut p = plan.clone();
    p.staffing.steps = steps;
    p.staffing.h24.clear();
    p
}

/// Simulates `agents` per interval and returns the combined replications.
pub fn evaluate(s: &Scenario, plan: &Plan, agents: &[u32], run: RunConfig) -> Summary {
    simulate(s, &plan_with_levels(plan, run.interval_s, agents), run)
}

/// What an interval achieved in simulation, pooled over replications.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Achieved {
    /// Mean call attempts per replication (redials included).
    pub offered: f64,
    pub sl_answered: f64,
    pub sl_offered: f64,
    pub asa_s: f64,
    pub abandon: f64,
    pub occupancy: f64,
    pub on_duty: f64,
}

/// Per interval: what the simulation achieved.
pub fn achieved(summary: &Summary) -> Vec<Achieved> {
    let len = summary.config.interval_s;
    summary
        .intervals
        .iter()
        .map(|row| {
            let m = |x: M| row[x as usize].mean();
            let queued = m(M::Answered) + m(M::Abandoned);
            let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
            Achieved {
                offered: m(M::Offered),
                sl_answered: ratio(m(M::AnsweredWithin), m(M::Answered)),
                sl_offered: ratio(m(M::AnsweredWithin), queued),
                asa_s: ratio(m(M::WaitAnswered), m(M::Answered)),
                abandon: ratio(m(M::Abandoned), queued),
                occupancy: ratio(m(M::Busy), m(M::OnDuty)),
                on_duty: m(M::OnDuty) / len,
            }
        })
        .collect()
}

impl Achieved {
    /// Whether the interval meets every target; `None` when no call was queued (nothing to
    /// judge). Occupancy is not judged here (it is a ceiling on the staffing, not a promise to
    /// citizens).
    pub fn meets(&self, targets: &[Target]) -> Option<bool> {
        if self.sl_offered.is_nan() {
            return None;
        }
        Some(targets.iter().all(|t| match *t {
            Target::ServiceLevel {
                fraction,
                definition,
                ..
            } => match definition {
                SlDefinition::AnsweredBased => self.sl_answered >= fraction,
                _ => self.sl_offered >= fraction,
            },
            Target::MaxAsa(s) => self.asa_s <= s,
            Target::MaxAbandon(p) => self.abandon <= p,
            Target::MaxOccupancy(_) => true,
        }))
    }
}

/// The state an arriving call finds, as a distribution over `n` (agents busy plus calls
/// waiting), and what the interval's calls are like: all ISA needs to predict the
/// performance of `s` agents.
struct Snapshot<'a> {
    p: &'a [f64],
    mu: f64,
    theta: f64,
    balk: f64,
}

/// Predicted KPIs of `s` agents in an interval whose census is `p` (normalised): an arrival
/// finding `n >= s` waits for `j = n - s + 1` departures at rate `s mu`, so its wait is
/// Erlang(j, s mu); with exponential patience `theta` it is answered within `t` with
/// probability `(r / (r + theta))^j P(Poisson((r + theta) t) >= j)`, `r = s mu`.
struct Predicted {
    p_wait: f64,
    answered: f64,
    answered_within: f64,
    virtual_within: f64,
    abandon: f64,
    wait_served: f64,
    busy: f64,
}

fn predict(snap: &Snapshot<'_>, s: u32, threshold_s: f64) -> Predicted {
    let s_f = f64::from(s);
    let r = s_f * snap.mu;
    let rt = r + snap.theta;
    let keep = if rt > 0.0 { r / rt } else { 0.0 };
    let m = rt * threshold_s;
    let mv = r * threshold_s;
    let mut out = Predicted {
        p_wait: 0.0,
        answered: 0.0,
        answered_within: 0.0,
        virtual_within: 0.0,
        abandon: 0.0,
        wait_served: 0.0,
        busy: 0.0,
    };
    // P(Poisson(x) >= j) for j = 1, 2, ...: 1 - the CDF up to j - 1, built term by term.
    let (mut term, mut cdf) = ((-m).exp(), 0.0);
    let (mut vterm, mut vcdf) = ((-mv).exp(), 0.0);
    let mut keep_j = 1.0;
    for (n, &pn) in snap.p.iter().enumerate() {
        let n_f = n as f64;
        out.busy += pn * n_f.min(s_f);
        if n < s as usize {
            out.answered += pn;
            out.answered_within += pn;
            out.virtual_within += pn;
            continue;
        }
        let j = (n - s as usize + 1) as f64;
        // Advance the Poisson sums to j - 1.
        cdf += term;
        term *= m / j;
        vcdf += vterm;
        vterm *= mv / j;
        keep_j *= keep;
        let stay = 1.0 - snap.balk;
        out.p_wait += pn;
        out.answered += pn * stay * keep_j;
        out.answered_within += pn * stay * keep_j * (1.0 - cdf).max(0.0);
        out.virtual_within += pn * (1.0 - vcdf).max(0.0);
        out.abandon += pn * (1.0 - stay * keep_j);
        if rt > 0.0 {
            out.wait_served += pn * stay * keep_j * j / rt;
        }
    }
    out
}

fn predicted_meets(snap: &Snapshot<'_>, s: u32, targets: &[Target]) -> bool {
    targets.iter().all(|t| match *t {
        Target::ServiceLevel {
            fraction,
            threshold_s,
            definition,
        } => {
            let k = predict(snap, s, threshold_s);
            let sl = match definition {
                SlDefinition::OfferedBased => k.answered_within,
                SlDefinition::AnsweredBased => {
                    if k.answered > 0.0 {
                        k.answered_within / k.answered
                    } else {
                        0.0
                    }
                }
                SlDefinition::VirtualWait => k.virtual_within,
            };
            sl >= fraction
        }
        Target::MaxAsa(limit) => {
            let k = predict(snap, s, 0.0);
            k.answered <= 0.0 || k.wait_served / k.answered <= limit
        }
        Target::MaxAbandon(limit) => predict(snap, s, 0.0).abandon <= limit,
        Target::MaxOccupancy(limit) => predict(snap, s, 0.0).busy / f64::from(s) <= limit,
    })
}

/// The fewest agents (at least one) predicted to meet the targets against `snap`. The count in
/// system never exceeds the support of `p`, so `p.len()` agents always suffice.
fn isa_agents(snap: &Snapshot<'_>, targets: &[Target]) -> u32 {
    let most = snap.p.len().max(1) as u32;
    (1..=most)
        .find(|&s| predicted_meets(snap, s, targets))
        .unwrap_or(most)
}

fn normalised(time: &[f64]) -> Vec<f64> {
    let total: f64 = time.iter().sum();
    if total > 0.0 {
        time.iter().map(|t| t / total).collect()
    } else {
        vec![1.0]
    }
}

/// The iterative staffing algorithm against the simulator; see the module docs.
fn isa(s: &Scenario, plan: &Plan, d: &Demand, opts: &Options) -> Requirement {
    let n = opts.staffed.len();
    let run = opts.run;
    // Start generously, near the infinite-server regime the algorithm starts from: twice the
    // offered load plus a few agents.
    let mut agents: Vec<u32> = (0..n)
        .map(|i| {
            if opts.staffed[i] {
                (2.0 * d.rate[i] * d.aht_s[i]).ceil() as u32 + 3
            } else {
                0
            }
        })
        .collect();
    let mut trace = Vec::new();
    let mut iterations = 0;
    let mut converged = false;
    // The iterates so far: on common random numbers the map is deterministic, so coming back
    // to an earlier iterate means a cycle (typically one agent flipping in a few intervals);
    // the cycle's elementwise maximum is taken as the fixed point.
    let mut seen: Vec<Vec<u32>> = vec![agents.clone()];
    while iterations < opts.max_iterations {
        iterations += 1;
        let censuses = run_censuses(s, plan, &agents, run);
        let next = isa_step(d, opts, &agents, &censuses);
        trace.push(agent_hours(&next, d.interval_s));
        if let Some(k) = seen.iter().position(|x| *x == next) {
            agents = seen[k..].iter().fold(next, |mut acc, x| {
                for (a, b) in acc.iter_mut().zip(x) {
                    *a = (*a).max(*b);
                }
                acc
            });
            converged = true;
            break;
        }
        // A period-two oscillation (an agent or two flipping back and forth in a few intervals,
        // as staffing one interval shifts the load of the next ones) counts as converged too:
        // at most 0.5% of the staffed intervals (at least one) differ from the iterate before
        // last by more than one agent. The last two iterates' maximum is taken.
        if seen.len() >= 2 {
            let before = &seen[seen.len() - 2];
            let staffed = opts.staffed.iter().filter(|x| **x).count();
            let flipping = next
                .iter()
                .zip(before)
                .filter(|(a, b)| a.abs_diff(**b) > 1)
                .count();
            if flipping <= (staffed / 200).max(1) {
                agents = next
                    .iter()
                    .zip(&agents)
                    .map(|(a, b)| (*a).max(*b))
                    .collect();
                converged = true;
                break;
            }
        }
        seen.push(next.clone());
        agents = next;
    }
    // Verification: simulate the fixed point on the same seeds; add an agent wherever the
    // interval still misses.
    let mut corrections = 0;
    while corrections < opts.max_corrections {
        let got = achieved(&evaluate(s, plan, &agents, run));
        let mut changed = false;
        for (i, a) in got.iter().enumerate().take(n) {
            if opts.staffed[i] && a.meets(&opts.targets) == Some(false) {
                agents[i] += 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
        corrections += 1;
        trace.push(agent_hours(&agents, d.interval_s));
    }
    Requirement {
        method: Method::Isa,
        agents,
        iterations,
        converged,
        corrections,
        trace,
    }
}

/// One ISA update: per staffed interval, the fewest agents predicted to meet the targets
/// against the census pooled over replications (or, with a quantile, that quantile of the
/// per-replication answers).
fn isa_step(d: &Demand, opts: &Options, agents: &[u32], censuses: &[Census]) -> Vec<u32> {
    (0..agents.len())
        .map(|i| {
            if !opts.staffed[i] {
                return 0;
            }
            // How fast a busy agent frees up: the mean handle time of all work started.
            let (handle, count) = censuses
                .iter()
                .map(|c| c.handle[i])
                .fold((0.0, 0u32), |a, b| (a.0 + b.0, a.1 + b.1));
            let aht = if count > 0 {
                handle / f64::from(count)
            } else {
                d.aht_s[i]
            };
            let snap = |p: &[f64]| -> u32 {
                isa_agents(
                    &Snapshot {
                        p,
                        mu: 1.0 / aht.max(1e-9),
                        theta: d.patience_s[i].map_or(0.0, |x| 1.0 / x.max(1e-9)),
                        balk: d.balk[i],
                    },
                    &opts.targets,
                )
            };
            match opts.quantile {
                None => {
                    let mut pooled: Vec<f64> = Vec::new();
                    for c in censuses {
                        let t = &c.time[i];
                        if pooled.len() < t.len() {
                            pooled.resize(t.len(), 0.0);
                        }
                        for (x, y) in pooled.iter_mut().zip(t) {
                            *x += y;
                        }
                    }
                    snap(&normalised(&pooled))
                }
                Some(q) => {
                    let mut each: Vec<u32> = censuses
                        .iter()
                        .map(|c| snap(&normalised(&c.time[i])))
                        .collect();
                    each.sort_unstable();
                    let k = ((q * each.len() as f64).ceil() as usize).clamp(1, each.len());
                    each[k - 1]
                }
            }
        })
        .collect()
}

fn run_censuses(s: &Scenario, plan: &Plan, agents: &[u32], run: RunConfig) -> Vec<Census> {
    let p = plan_with_levels(plan, run.interval_s, agents);
    let mut out = Vec::with_capacity(run.replications as usize);
    for_each_replication(
        run,
        |seed| {
            Model::new(s, &p, seed, run.interval_s, run.sl_threshold_s)
                .with_census()
                .run_with_census()
                .1
                .unwrap_or_default()
        },
        |_, c| out.push(c.clone()),
        &|_| {},
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_quantile_matches_known_values() {
        // cv = 1 is the unit exponential: q = -ln(1 - p).
        for p in [0.1, 0.5, 0.9, 0.99] {
            let want = -(1.0f64 - p).ln();
            assert!((gamma_quantile(p, 1.0) - want).abs() < 1e-9, "p {p}");
        }
        assert_eq!(gamma_quantile(0.9, 0.0), 1.0);
        // Larger cv, wider upper quantile.
        assert!(gamma_quantile(0.9, 0.5) > gamma_quantile(0.9, 0.2));
    }

    #[test]
    fn halfin_whitt_is_one_at_zero_and_falls() {
        assert_eq!(halfin_whitt_wait(0.0), 1.0);
        let mut last = 1.0;
        for k in 1..40 {
            let w = halfin_whitt_wait(f64::from(k) * 0.1);
            assert!(w < last);
            last = w;
        }
        // beta = 1: 1 / (1 + Phi(1) / phi(1)) = 1 / (1 + 0.8413447 / 0.2419707) = 0.2233605.
        assert!((halfin_whitt_wait(1.0) - 0.2233605).abs() < 1e-6);
    }

    /// Against a stationary M/M/c census (Poisson arrivals, exponential service, no
    /// abandonment) the prediction is exact: with the stationary distribution of M/M/s the
    /// predicted P(wait) and SL equal Erlang C's.
    #[test]
    fn prediction_is_exact_on_the_erlang_c_census() {
        let (lambda, aht, s) = (100.0 / 1800.0, 180.0, 14u32);
        let a = lambda * aht;
        // Stationary M/M/14 probabilities, truncated far in the tail.
        let mut p = vec![1.0];
        for n in 1..400usize {
            let rate = (n.min(s as usize)) as f64;
            let next = p[n - 1] * a / rate;
            p.push(next);
        }
        let p = normalised(&p);
        let snap = Snapshot {
            p: &p,
            mu: 1.0 / aht,
            theta: 0.0,
            balk: 0.0,
        };
        let k = predict(&snap, s, 20.0);
        assert!((k.p_wait - 0.1741319336).abs() < 1e-8, "{}", k.p_wait);
        assert!(
            (k.answered_within - 0.8883500192).abs() < 1e-8,
            "{}",
            k.answered_within
        );
        let asa = k.wait_served / k.answered;
        assert!((asa - 7.835937).abs() < 1e-5, "{asa}");
    }

    #[test]
    fn levels_become_steps() {
        let s = cclab_scenarios::load("ordinary-week").expect("library");
        let plan = Plan::from_scenario(&s).expect("plan").expect("valid");
        let p = plan_with_levels(&plan, 1800.0, &[0, 0, 2, 2, 3, 0]);
        assert_eq!(
            p.staffing.steps,
            vec![
                (0, 0),
                (3_600_000_000, 2),
                (7_200_000_000, 3),
                (9_000_000_000, 0)
            ]
        );
    }
}
