//! Exact stationary queueing formulas: Erlang B (M/M/c/c), Erlang C (M/M/c) and Erlang A
//! (M/M/c+M, exponential patience), in both directions: the KPIs for a number of agents, and the
//! fewest agents that meet a set of targets.
//!
//! Numerics: Erlang B comes from its recursion `B(n) = a B(n-1) / (n + a B(n-1))`, which only
//! ever divides numbers in (0, 1], so it is stable for any number of agents (O(c) per call).
//! Erlang A uses the Palm / Garnett-Mandelbaum-Reiman representation. With `x = c mu / theta`
//! and `y = lambda / theta`, the stationary queue is summarised by the series
//! `T(x, y) = sum_{k>=0} prod_{i=1..k} y / (x + i)` (Mandelbaum and Zeltyn's `A(x, y)`, equal to
//! `x e^y y^-x gamma(x, y)`). Its terms are positive, so it is summed without cancellation, with
//! a running rescale so that it cannot overflow, and the tail is cut with a geometric bound once
//! the terms fall. Waiting-time distributions follow from the same series: a caller who finds `k`
//! waiting has a virtual wait `V` with `theta V = -ln U`, `U ~ Beta(x, k + 1)`, which sums over the
//! stationary queue to incomplete gamma ratios, e.g.
//! `P(V > t) = P(W > 0) gamma(x, y e^{-theta t}) / gamma(x, y)`. No factorial is formed anywhere.

use series::{ln_series, served_wait_given_wait};
use std::fmt;

/// Why a queueing computation was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ErlangError {
    /// Erlang C (no abandonment) has no steady state when the offered load reaches the number of
    /// agents: the queue grows without bound. Give a patience to use Erlang A, or add agents.
    #[error(
        "erlang c needs more agents than erlangs of load, got {agents} agents for {load:.4} \
         erlangs (the queue grows without bound); use erlang a by giving a mean patience, or \
         use more than {load:.4} agents"
    )]
    Unstable {
        /// Offered load in erlangs.
        load: f64,
        /// Agents asked for.
        agents: u32,
    },
    /// A rate, a time or a fraction is out of its range.
    #[error("{what} must be {allowed}, got {value}")]
    BadParameter {
        /// Which input.
        what: &'static str,
        /// What is allowed.
        allowed: &'static str,
        /// The value given.
        value: f64,
    },
    /// No number of agents up to the search limit meets the targets (e.g. a maximum occupancy
    /// that forces more agents than the limit).
    #[error("no number of agents up to {limit} meets the targets")]
    Unreachable {
        /// The largest number of agents tried.
        limit: u32,
    },
}

/// The largest number of agents the staffing search tries.
pub const MAX_AGENTS: u32 = 2_000_000;

/// Erlang B: the blocking probability of M/M/c/c with `load` erlangs on `agents` servers.
///
/// `load` must be finite and >= 0. Exact recursion, O(agents), stable for any size.
pub fn erlang_b(load: f64, agents: u32) -> f64 {
    let mut b = 1.0;
    for n in 1..=agents {
        let ab = load * b;
        b = ab / (f64::from(n) + ab);
    }
    b
}

/// Erlang C: the probability that a caller waits in M/M/c with `load` erlangs and `agents`
/// agents. Refuses `load >= agents` (no steady state); Erlang A handles that case.
pub fn erlang_c(load: f64, agents: u32) -> Result<f64, ErlangError> {
    check(load, "load", ">= 0 and finite", |v| v >= 0.0)?;
    let n = f64::from(agents);
    if load >= n {
        return Err(ErlangError::Unstable { load, agents });
    }
    let b = erlang_b(load, agents);
    Ok(n * b / (n - load * (1.0 - b)))
}

/// How a service level counts callers. The three agree when nobody abandons (Erlang C).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlDefinition {
    /// Answered within the threshold / answered: abandoned callers are left out.
    AnsweredBased,
    /// Answered within the threshold / offered: an abandoned caller counts as a miss, however
    /// early they hung up. The conservative reading, and the default.
    #[default]
    OfferedBased,
    /// The chance that a caller with unlimited patience would reach an agent within the threshold
    /// (the "virtual" wait): what the queue offers, independent of who hangs up.
    VirtualWait,
}

impl SlDefinition {
    /// All definitions, in display order.
    pub const ALL: [SlDefinition; 3] = [Self::AnsweredBased, Self::OfferedBased, Self::VirtualWait];

    /// Short stable name (used by the CLI and in JSON).
    pub fn name(self) -> &'static str {
        match self {
            Self::AnsweredBased => "answered",
            Self::OfferedBased => "offered",
            Self::VirtualWait => "virtual",
        }
    }
}

impl fmt::Display for SlDefinition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A stationary single-skill queue: Poisson arrivals, exponential handle time, `agents` agents,
/// FIFO, and optionally exponential patience (M/M/c+M). Without patience it is M/M/c.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Queue {
    /// Calls per second.
    arrival_rate: f64,
    /// Mean handle time (talk plus wrap-up) in seconds.
    aht: f64,
    /// Mean patience in seconds; `None` means nobody abandons (Erlang C).
    patience: Option<f64>,
}

impl Queue {
    /// A queue with `arrival_rate` calls per second, mean handle time `aht` seconds and, if
    /// given, mean patience `patience` seconds (Erlang A); without it, Erlang C.
    pub fn new(arrival_rate: f64, aht: f64, patience: Option<f64>) -> Result<Self, ErlangError> {
        check(arrival_rate, "arrival rate", "> 0 and finite", |v| v > 0.0)?;
        check(aht, "mean handle time", "> 0 and finite", |v| v > 0.0)?;
        if let Some(p) = patience {
            check(p, "mean patience", "> 0 and finite", |v| v > 0.0)?;
        }
        Ok(Self {
            arrival_rate,
            aht,
            patience,
        })
    }

    /// Offered load in erlangs (arrival rate times handle time).
    pub fn load(&self) -> f64 {
        self.arrival_rate * self.aht
    }

    /// Calls per second.
    pub fn arrival_rate(&self) -> f64 {
        self.arrival_rate
    }

    /// Mean handle time in seconds.
    pub fn aht(&self) -> f64 {
        self.aht
    }

    /// Mean patience in seconds, if callers abandon.
    pub fn patience(&self) -> Option<f64> {
        self.patience
    }

    /// The stationary KPIs with `agents` agents. Erlang C refuses `agents <= load`.
    pub fn kpis(&self, agents: u32) -> Result<Kpis, ErlangError> {
        if agents == 0 {
            return Err(ErlangError::BadParameter {
                what: "agents",
                allowed: ">= 1",
                value: 0.0,
            });
        }
        match self.patience {
            None => self.kpis_c(agents),
            Some(patience) => Ok(self.kpis_a(agents, patience)),
        }
    }

    fn kpis_c(&self, agents: u32) -> Result<Kpis, ErlangError> {
        let load = self.load();
        let p_wait = erlang_c(load, agents)?;
        let n = f64::from(agents);
        let asa = p_wait * self.aht / (n - load);
        Ok(Kpis {
            agents,
            load,
            p_wait,
            p_abandon: 0.0,
            asa_served: asa,
            mean_wait_all: asa,
            occupancy: load / n,
            shape: Shape::C {
                decay: (n - load) / self.aht,
            },
        })
    }

    fn kpis_a(&self, agents: u32, patience: f64) -> Kpis {
        let load = self.load();
        let n = f64::from(agents);
        let theta = 1.0 / patience;
        let x = n * patience / self.aht; // c mu / theta
        let y = self.arrival_rate * patience; // lambda / theta
        let b = erlang_b(load, agents);
        let ln_t = ln_series(x, y);
        // P(W > 0) = T B / (1 + (T - 1) B), written so that a huge T or a tiny B cannot overflow.
        let p_wait = if b > 0.0 {
            1.0 / (1.0 + ((1.0 - b).ln() - ln_t - b.ln()).exp())
        } else {
            0.0
        };
        // P(served | W > 0) = S(x+1, y) / S(x, y) with S(a, v) = T(a, v) / a.
        let served_given_wait = (x / (x + 1.0)) * (ln_series(x + 1.0, y) - ln_t).exp();
        let p_abandon = p_wait * (1.0 - served_given_wait).max(0.0);
        let served_wait = p_wait * served_wait_given_wait(x, y) / theta; // E[W; served]
        let p_served = 1.0 - p_abandon;
        Kpis {
            agents,
            load,
            p_wait,
            p_abandon,
            asa_served: if p_served > 0.0 {
                served_wait / p_served
            } else {
                0.0
            },
            // Little's law on the queue plus theta E[Q] = lambda P(Ab): E[W] = P(Ab) / theta.
            mean_wait_all: p_abandon * patience,
            // Rounding can put a saturated system a hair above 1.
            occupancy: (load * p_served / n).min(1.0),
            shape: Shape::A { x, y, theta, ln_t },
        }
    }

    /// The fewest agents meeting every target, and the agents to schedule once `shrinkage`
    /// (the share of paid time not on the phones, in [0, 1)) is allowed for.
    ///
    /// Every KPI here improves as agents are added, so the search doubles until the targets hold
    /// and then bisects: O(log c) evaluations of O(c) each.
    pub fn fewest_agents(
        &self,
        targets: &[Target],
        shrinkage: f64,
    ) -> Result<Staffing, ErlangError> {
        check(shrinkage, "shrinkage", "in [0, 1)", |v| {
            (0.0..1.0).contains(&v)
        })?;
        for t in targets {
            t.validate()?;
        }
        let meets = |n: u32| -> Result<Option<Kpis>, ErlangError> {
            let k = self.kpis(n)?;
            Ok(targets.iter().all(|t| t.met_by(&k)).then_some(k))
        };
        // Erlang C is only defined above the load; Erlang A from one agent.
        let mut lo = match self.patience {
            None => (self.load().floor() as u32).saturating_add(1),
            Some(_) => 1,
        };
        if lo > MAX_AGENTS {
            return Err(ErlangError::Unreachable { limit: MAX_AGENTS });
        }
        if let Some(kpis) = meets(lo)? {
            return Ok(Staffing::new(kpis, shrinkage));
        }
        // Invariant: `lo` fails; find a `hi` that meets, then bisect.
        let mut step = 1u32;
        let (mut hi, mut hi_kpis) = loop {
            let cand = lo.saturating_add(step).min(MAX_AGENTS);
            if let Some(k) = meets(cand)? {
                break (cand, k);
            }
            if cand == MAX_AGENTS {
                return Err(ErlangError::Unreachable { limit: MAX_AGENTS });
            }
            lo = cand;
            step = step.saturating_mul(2);
        };
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            match meets(mid)? {
                Some(k) => (hi, hi_kpis) = (mid, k),
                None => lo = mid,
            }
        }
        Ok(Staffing::new(hi_kpis, shrinkage))
    }
}

/// What a staffing search must achieve. Several targets are met together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// At least `fraction` of calls answered within `threshold_s` seconds, counted by `definition`
    /// (e.g. 80/20: fraction 0.8, threshold 20 s).
    ServiceLevel {
        /// Share in (0, 1).
        fraction: f64,
        /// Seconds, >= 0.
        threshold_s: f64,
        /// Which callers count.
        definition: SlDefinition,
    },
    /// Average speed of answer over served calls at most this many seconds.
    MaxAsa(f64),
    /// Share of callers who abandon at most this (trivially met without abandonment).
    MaxAbandon(f64),
    /// Agent occupancy at most this share (caps the load carried per agent).
    MaxOccupancy(f64),
}

impl Target {
    fn validate(&self) -> Result<(), ErlangError> {
        match *self {
            Self::ServiceLevel {
                fraction,
                threshold_s,
                ..
            } => {
                check(fraction, "service level share", "in (0, 1)", |v| {
                    v > 0.0 && v < 1.0
                })?;
                check(
                    threshold_s,
                    "service level threshold",
                    ">= 0 seconds",
                    |v| v >= 0.0,
                )
            }
            Self::MaxAsa(s) => check(s, "maximum asa", "> 0 seconds", |v| v > 0.0),
            Self::MaxAbandon(p) => check(p, "maximum abandonment", "in (0, 1]", |v| {
                v > 0.0 && v <= 1.0
            }),
            Self::MaxOccupancy(p) => {
                check(p, "maximum occupancy", "in (0, 1]", |v| v > 0.0 && v <= 1.0)
            }
        }
    }

    /// Whether `kpis` meet this target.
    pub fn met_by(&self, kpis: &Kpis) -> bool {
        match *self {
            Self::ServiceLevel {
                fraction,
                threshold_s,
                definition,
            } => kpis.service_level(threshold_s, definition) >= fraction,
            Self::MaxAsa(s) => kpis.asa_served <= s,
            Self::MaxAbandon(p) => kpis.p_abandon <= p,
            Self::MaxOccupancy(p) => kpis.occupancy <= p,
        }
    }
}

/// The answer of a staffing search.
#[derive(Debug, Clone, PartialEq)]
pub struct Staffing {
    /// Agents needed on the phones.
    pub agents: u32,
    /// Agents to schedule: `ceil(agents / (1 - shrinkage))`.
    pub scheduled: u32,
    /// The KPIs at `agents`.
    pub kpis: Kpis,
}

impl Staffing {
    fn new(kpis: Kpis, shrinkage: f64) -> Self {
        Self {
            agents: kpis.agents,
            scheduled: scheduled(kpis.agents, shrinkage),
            kpis,
        }
    }
}

/// Agents to schedule so that `agents` remain on the phones after `shrinkage` (in [0, 1)).
pub fn scheduled(agents: u32, shrinkage: f64) -> u32 {
    // The small slack keeps e.g. 7 / 0.7 = 10.000000000000002 from rounding up to 11.
    (f64::from(agents) / (1.0 - shrinkage) - 1e-9)
        .ceil()
        .max(f64::from(agents)) as u32
}

/// Stationary KPIs of a queue with a given number of agents. Times are in seconds, shares in
/// [0, 1]; for the service level call [`Kpis::service_level`].
#[derive(Debug, Clone, PartialEq)]
pub struct Kpis {
    /// Agents on the phones.
    pub agents: u32,
    /// Offered load in erlangs.
    pub load: f64,
    /// Probability that a caller waits at all (finds every agent busy).
    pub p_wait: f64,
    /// Share of callers who hang up before being answered (0 under Erlang C).
    pub p_abandon: f64,
    /// Average speed of answer over served calls: the mean wait of those who reach an agent.
    pub asa_served: f64,
    /// Mean wait over all offered calls, counting an abandoned caller's time until hanging up.
    pub mean_wait_all: f64,
    /// Share of agent time spent handling calls.
    pub occupancy: f64,
    /// What the waiting-time distribution needs.
    shape: Shape,
}

/// The parameters of the waiting-time distribution, kept for [`Kpis::service_level`].
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    /// Erlang C: `P(W > t) = P(W > 0) e^{-decay t}`, `decay = (c - a) / aht`.
    C { decay: f64 },
    /// Erlang A: `x = c mu / theta`, `y = lambda / theta`, `ln_t = ln T(x, y)`.
    A {
        x: f64,
        y: f64,
        theta: f64,
        ln_t: f64,
    },
}

impl Kpis {
    /// Service level with threshold `threshold_s` seconds (a negative threshold counts as 0),
    /// under `definition`.
    pub fn service_level(&self, threshold_s: f64, definition: SlDefinition) -> f64 {
        let t = threshold_s.max(0.0);
        match self.shape {
            Shape::C { decay } => 1.0 - self.p_wait * (-decay * t).exp(),
            Shape::A { x, y, theta, ln_t } => {
                if self.p_wait == 0.0 {
                    return 1.0;
                }
                let th_t = theta * t;
                let z = (-th_t).exp();
                // y (1 - z), accurate for small theta t.
                let y_one_minus_z = -y * (-th_t).exp_m1();
                match definition {
                    SlDefinition::VirtualWait => {
                        // P(V > t) = P(W>0) z^x e^{y(1-z)} T(x, yz) / T(x, y)
                        let ln_tail = -x * th_t + y_one_minus_z + ln_series(x, y * z) - ln_t;
                        1.0 - self.p_wait * ln_tail.exp()
                    }
                    SlDefinition::OfferedBased | SlDefinition::AnsweredBased => {
                        // P(served, W > t) = P(W>0) (x/(x+1)) z^{x+1} e^{y(1-z)} T(x+1, yz) / T(x, y)
                        let ln_tail = (x / (x + 1.0)).ln() - (x + 1.0) * th_t
                            + y_one_minus_z
                            + ln_series(x + 1.0, y * z)
                            - ln_t;
                        let p_served = 1.0 - self.p_abandon;
                        let answered_within = (p_served - self.p_wait * ln_tail.exp()).max(0.0);
                        if definition == SlDefinition::OfferedBased {
                            answered_within
                        } else if p_served > 0.0 {
                            answered_within / p_served
                        } else {
                            0.0
                        }
                    }
                }
            }
        }
    }
}

fn check(
    value: f64,
    what: &'static str,
    allowed: &'static str,
    ok: impl Fn(f64) -> bool,
) -> Result<(), ErlangError> {
    if value.is_finite() && ok(value) {
        Ok(())
    } else {
        Err(ErlangError::BadParameter {
            what,
            allowed,
            value,
        })
    }
}

mod series;
#[cfg(test)]
mod tests;
