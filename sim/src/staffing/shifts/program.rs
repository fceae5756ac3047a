//! The integer program of [`super::schedule`]: blocks of linked intervals, windows of long
//! blocks, and the solve of one piece (linear relaxation, rounding, then branch and bound).

use super::Candidate;
use microlp::{ComparisonOp, LinearExpr, OptimizationDirection, Problem, Variable};

/// Everything a piece of the program is built from, shared by all pieces.
pub(super) struct Inputs<'a> {
    pub req: &'a [u32],
    pub candidates: &'a [Candidate],
    /// The intervals each candidate covers, inside the horizon.
    pub columns: &'a [Vec<usize>],
    /// Whether some candidate covers the interval; other intervals are not rows.
    pub coverable: &'a [bool],
    pub penalty: f64,
    pub node_limit: u64,
}

/// Intervals `lo..=hi` that no candidate links to any other interval with a requirement.
pub(super) struct Component {
    lo: usize,
    hi: usize,
    /// (first, last) required interval each useful candidate covers, and the candidate; sorted.
    spans: Vec<(usize, usize, usize)>,
}

/// What solving a component gave.
pub(super) struct Outcome {
    pub bound: f64,
    pub optimal: bool,
    pub pieces: usize,
}

/// Splits the horizon into components. Candidates that cover no required interval would only
/// add cost and are left out (their headcount stays 0).
pub(super) fn components(req: &[u32], columns: &[Vec<usize>]) -> Vec<Component> {
    let mut spans: Vec<(usize, usize, usize)> = columns
        .iter()
        .enumerate()
        .filter_map(|(j, rows)| {
            let mut positive = rows.iter().copied().filter(|&i| req[i] > 0);
            let lo = positive.next()?;
            Some((lo, positive.next_back().unwrap_or(lo), j))
        })
        .collect();
    spans.sort_unstable();
    let mut out = Vec::new();
    let mut k = 0;
    while k < spans.len() {
        let (lo, mut hi, _) = spans[k];
        let first = k;
        while k < spans.len() && spans[k].0 <= hi {
            hi = hi.max(spans[k].1);
            k += 1;
        }
        out.push(Component {
            lo,
            hi,
            spans: spans[first..k].to_vec(),
        });
    }
    out
}

impl Inputs<'_> {
    /// Solves one component, writing the headcounts it decides into `counts` and their agents
    /// into `coverage`. A component of at most `window` intervals is one program. A longer one
    /// is first relaxed (whole when at most `whole` intervals long, else in chunks with shared
    /// costs) for its bound; if rounding that optimum does not close the gap, its plan is
    /// decided window by window.
    pub fn solve(
        &self,
        component: &Component,
        whole: usize,
        window: usize,
        counts: &mut [u32],
        coverage: &mut [u32],
    ) -> Outcome {
        let Component { lo, hi, ref spans } = *component;
        let all: Vec<usize> = spans.iter().map(|s| s.2).collect();
        // Pieces at least as long as the longest shift, so that a window and the one ahead
        // hold every row a candidate starting in the window covers.
        let longest = spans.iter().map(|s| s.1 + 1 - s.0).max().unwrap_or(1);
        let cuts = |max: usize| {
            if max == 0 {
                1
            } else {
                (hi + 1 - lo).div_ceil(max.max(longest))
            }
        };
        let (chunks, windows) = (cuts(whole), cuts(window));
        if windows == 1 {
            let solved = self
                .piece(lo..hi + 1, &all, coverage, false)
                .solve(self.node_limit);
            self.fix(&all, &solved.counts, counts, coverage);
            return Outcome {
                bound: solved.bound,
                optimal: solved.optimal,
                pieces: 1,
            };
        }
        let mut bound = 0.0;
        if chunks == 1 {
            let piece = self.piece(lo..hi + 1, &all, coverage, false);
            if let Some((value, values)) = piece.relax() {
                bound = piece.round_up(value);
                let plan = piece.round(&values);
                if close(piece.objective(&plan), bound) {
                    self.fix(&all, &plan, counts, coverage);
                    return Outcome {
                        bound,
                        optimal: true,
                        pieces: 1,
                    };
                }
            }
        } else {
            for (start, end) in ranges(lo, hi, chunks) {
                let touching: Vec<usize> = spans
                    .iter()
                    .filter(|s| s.0 < end && s.1 >= start)
                    .map(|s| s.2)
                    .collect();
                let piece = self.piece(start..end, &touching, &[], true);
                bound += piece.relax().map_or(0.0, |(value, _)| value);
            }
        }
        let cuts: Vec<(usize, usize)> = ranges(lo, hi, windows).collect();
        for (w, &(start, end)) in cuts.iter().enumerate() {
            // Decide with the next window in view, then fix only what starts in this one.
            let ahead = cuts.get(w + 1).map_or(end, |next| next.1);
            let cols: Vec<usize> = spans
                .iter()
                .filter(|s| s.0 >= start && s.0 < ahead)
                .map(|s| s.2)
                .collect();
            let decided = spans.iter().filter(|s| s.0 >= start && s.0 < end).count();
            let solved = self
                .piece(start..ahead, &cols, coverage, false)
                .solve(self.node_limit);
            self.fix(&cols[..decided], &solved.counts, counts, coverage);
        }
        Outcome {
            bound,
            optimal: false,
            pieces: windows,
        }
    }

    /// Records the headcounts of `cols` (the first of `solved`) and their coverage.
    fn fix(&self, cols: &[usize], solved: &[u32], counts: &mut [u32], coverage: &mut [u32]) {
        for (&j, &x) in cols.iter().zip(solved) {
            counts[j] = x;
            for &i in &self.columns[j] {
                coverage[i] += x;
            }
        }
    }

    /// The program over the required, coverable intervals of `range`, on the candidates `picked`,
    /// less the agents already in `coverage` (empty: none). With `share`, each candidate costs
    /// only the share of its cost that falls on `range` (for window bounds).
    fn piece(
        &self,
        range: std::ops::Range<usize>,
        picked: &[usize],
        coverage: &[u32],
        share: bool,
    ) -> Piece {
        let rows: Vec<usize> = range
            .filter(|&i| self.req[i] > 0 && self.coverable[i])
            .collect();
        let mut need: Vec<u32> = rows
            .iter()
            .map(|&i| self.req[i].saturating_sub(coverage.get(i).copied().unwrap_or(0)))
            .collect();
        let cols = picked
            .iter()
            .map(|&j| {
                let here: Vec<usize> = self.columns[j]
                    .iter()
                    .filter_map(|i| rows.binary_search(i).ok())
                    .collect();
                let peak = here.iter().map(|&r| need[r]).max().unwrap_or(0);
                let cost = if share {
                    let required = self.columns[j].iter().filter(|&&i| self.req[i] > 0).count();
                    self.candidates[j].cost * here.len() as f64 / required as f64
                } else {
                    self.candidates[j].cost
                };
                Col {
                    cost,
                    cap: self.candidates[j].max.map_or(peak, |m| m.min(peak)),
                    rows: here,
                }
            })
            .collect::<Vec<_>>();
        // A row none of these candidates covers cannot be helped here; one that an uncapped
        // candidate covers must be met; the others may fall short, at the penalty.
        let mut reached = vec![false; rows.len()];
        let mut hard = vec![false; rows.len()];
        for (col, &j) in cols.iter().zip(picked) {
            for &r in &col.rows {
                reached[r] = true;
                hard[r] |= self.candidates[j].max.is_none();
            }
        }
        need.iter_mut()
            .zip(&reached)
            .filter(|(_, r)| !**r)
            .for_each(|(n, _)| *n = 0);
        let unit = cost_unit(cols.iter().map(|c| c.cost).chain([self.penalty]));
        Piece {
            hard,
            need,
            cols,
            penalty: self.penalty,
            unit,
        }
    }
}

/// One piece of the program: rows (required intervals) and columns (candidates).
struct Piece {
    /// Agents still required on each row.
    need: Vec<u32>,
    /// Whether each row must be met; the others may fall short at `penalty` per agent.
    hard: Vec<bool>,
    cols: Vec<Col>,
    penalty: f64,
    /// Every cost is a whole multiple of this (when one exists), so is the optimum, and a
    /// fractional bound may be rounded up to the next multiple.
    unit: Option<f64>,
}

struct Col {
    cost: f64,
    /// No more agents than the template's cap or than the most any of its rows needs.
    cap: u32,
    /// Positions of the rows it covers.
    rows: Vec<usize>,
}

/// Headcounts of a piece's columns and the proven bound on its objective.
struct Solved {
    counts: Vec<u32>,
    bound: f64,
    optimal: bool,
}

impl Piece {
    /// The program, with integer or continuous headcounts; returns it and their variables.
    fn build(&self, integer: bool) -> (Problem, Vec<Variable>) {
        let mut problem = Problem::new(OptimizationDirection::Minimize);
        let mut exprs: Vec<LinearExpr> = self.need.iter().map(|_| LinearExpr::empty()).collect();
        let mut vars = Vec::with_capacity(self.cols.len());
        for col in &self.cols {
            let cap = col.cap.min(i32::MAX as u32);
            let var = if integer {
                problem.add_integer_var(col.cost, (0, cap as i32))
            } else {
                problem.add_var(col.cost, (0.0, f64::from(cap)))
            };
            for &r in &col.rows {
                exprs[r].add(var, 1.0);
            }
            vars.push(var);
        }
        for (r, mut expr) in exprs.into_iter().enumerate() {
            if self.need[r] == 0 {
                continue;
            }
            if !self.hard[r] {
                let slack = problem.add_var(self.penalty, (0.0, f64::from(self.need[r])));
                expr.add(slack, 1.0);
            }
            problem.add_constraint(expr, ComparisonOp::Ge, f64::from(self.need[r]));
        }
        (problem, vars)
    }

    /// The objective of integer headcounts: their cost plus the penalised shortfall.
    fn objective(&self, counts: &[u32]) -> f64 {
        let cover = self.cover(counts);
        let cost: f64 = self
            .cols
            .iter()
            .zip(counts)
            .map(|(c, &x)| c.cost * f64::from(x))
            .sum();
        let short: u32 = self
            .need
            .iter()
            .zip(&cover)
            .map(|(n, c)| n.saturating_sub(*c))
            .sum();
        cost + self.penalty * f64::from(short)
    }

    fn cover(&self, counts: &[u32]) -> Vec<u32> {
        let mut cover = vec![0u32; self.need.len()];
        for (col, &x) in self.cols.iter().zip(counts) {
            for &r in &col.rows {
                cover[r] += x;
            }
        }
        cover
    }

    fn round_up(&self, bound: f64) -> f64 {
        self.unit.map_or(bound, |u| u * (bound / u - 1e-7).ceil())
    }

    /// The optimum of the linear relaxation (a lower bound) and its headcounts; `None` if the
    /// solver fails, which the relaxation's feasibility (hiring up to each peak meets every
    /// hard row) leaves to numerical trouble only.
    fn relax(&self) -> Option<(f64, Vec<f64>)> {
        if self.need.iter().all(|&n| n == 0) {
            return Some((0.0, vec![0.0; self.cols.len()]));
        }
        let (lp, vars) = self.build(false);
        let solution = lp.solve().ok()?.into_solution().ok()?;
        Some((
            solution.objective(),
            vars.iter().map(|&v| solution.var_value(v)).collect(),
        ))
    }

    /// The relaxation, rounded; then, unless that is proven optimal, branch and bound from it
    /// within `node_limit` nodes.
    fn solve(&self, node_limit: u64) -> Solved {
        let Some((value, values)) = self.relax() else {
            let counts = self.fill(vec![0; self.cols.len()]);
            return Solved {
                counts,
                bound: 0.0,
                optimal: false,
            };
        };
        let bound = self.round_up(value);
        let mut counts = self.round(&values);
        let mut best = self.objective(&counts);
        if close(best, bound) {
            return Solved {
                counts,
                bound,
                optimal: true,
            };
        }
        let (mip, vars) = self.build(true);
        let mut options = microlp::SolveOptions::default();
        options.node_limit = Some(node_limit);
        options.warm_start = Some(
            vars.iter()
                .zip(&counts)
                .map(|(&v, &x)| (v, f64::from(x)))
                .collect(),
        );
        let Ok(outcome) = mip.solve_with(options) else {
            return Solved {
                counts,
                bound,
                optimal: false,
            };
        };
        let bound = outcome
            .stats()
            .best_bound
            .map_or(bound, |b| bound.max(self.round_up(b)));
        if let Ok(solution) = outcome.into_solution() {
            let found: Vec<u32> = vars
                .iter()
                .map(|&v| solution.var_value(v).round().max(0.0) as u32)
                .collect();
            let value = self.objective(&found);
            if value < best {
                best = value;
                counts = found;
            }
        }
        Solved {
            counts,
            bound: bound.min(best),
            optimal: close(best, bound),
        }
    }

    /// Turns a fractional optimum into headcounts, two ways, and keeps the cheaper: rounding
    /// every value up (feasible, since every coefficient is non-negative), and rounding down
    /// then covering what is left greedily. Both then drop agents nobody needs.
    fn round(&self, values: &[f64]) -> Vec<u32> {
        let up: Vec<u32> = values
            .iter()
            .map(|v| (v - 1e-6).ceil().max(0.0) as u32)
            .collect();
        let down: Vec<u32> = values
            .iter()
            .map(|v| (v + 1e-6).floor().max(0.0) as u32)
            .collect();
        let up = self.trim(up, values);
        let down = self.trim(self.fill(down), values);
        if self.objective(&down) < self.objective(&up) {
            down
        } else {
            up
        }
    }

    /// Drops agents whose every row is over-covered, those furthest above the fractional
    /// optimum first, then the dearest.
    fn trim(&self, mut counts: Vec<u32>, values: &[f64]) -> Vec<u32> {
        let mut cover = self.cover(&counts);
        let mut order: Vec<usize> = (0..counts.len()).filter(|&k| counts[k] > 0).collect();
        let excess = |k: usize| f64::from(counts[k]) - values[k];
        order.sort_by(|&a, &b| {
            let by_excess = excess(b).total_cmp(&excess(a));
            by_excess
                .then(self.cols[b].cost.total_cmp(&self.cols[a].cost))
                .then(a.cmp(&b))
        });
        for k in order {
            while counts[k] > 0 && self.cols[k].rows.iter().all(|&r| cover[r] > self.need[r]) {
                counts[k] -= 1;
                for &r in &self.cols[k].rows {
                    cover[r] -= 1;
                }
            }
        }
        counts
    }

    /// Adds agents until every row is met (or capped out): each time on the candidate with the
    /// least cost per short row it covers, the classic greedy for set covering.
    fn fill(&self, mut counts: Vec<u32>) -> Vec<u32> {
        let mut cover = self.cover(&counts);
        loop {
            let gain = |k: usize| {
                let col = &self.cols[k];
                let short = col
                    .rows
                    .iter()
                    .filter(|&&r| cover[r] < self.need[r])
                    .count();
                (counts[k] < col.cap && short > 0).then(|| col.cost / short as f64)
            };
            let best = (0..self.cols.len())
                .filter_map(|k| gain(k).map(|g| (g, k)))
                .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let Some((_, k)) = best else { return counts };
            counts[k] += 1;
            for &r in &self.cols[k].rows {
                cover[r] += 1;
            }
        }
    }
}

/// The largest unit (a multiple of 0.001) of which every cost is a whole multiple, if any.
fn cost_unit(costs: impl Iterator<Item = f64>) -> Option<f64> {
    let mut g = 0u64;
    for c in costs {
        let milli = c * 1000.0;
        let whole = milli.round();
        if !(0.0..1e15).contains(&whole) || (milli - whole).abs() > 1e-6 {
            return None;
        }
        g = gcd(g, whole as u64);
    }
    (g > 0).then(|| g as f64 / 1000.0)
}

/// `lo..=hi` cut into `parts` ranges of equal length (the last may be shorter), as (start, end).
fn ranges(lo: usize, hi: usize, parts: usize) -> impl Iterator<Item = (usize, usize)> {
    let width = (hi + 1 - lo).div_ceil(parts);
    (0..parts).map(move |p| (lo + p * width, (lo + (p + 1) * width).min(hi + 1)))
}

/// Whether a plan's value is within round-off of a bound, i.e. proven optimal.
fn close(value: f64, bound: f64) -> bool {
    value <= bound + 1e-6 * value.max(1.0)
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_unit_is_the_common_multiple() {
        assert_eq!(cost_unit([8.0, 4.0, 7.5].into_iter()), Some(0.5));
        assert_eq!(cost_unit([8.0, 6.0].into_iter()), Some(2.0));
        assert_eq!(cost_unit([8.0, 1.0 / 3.0].into_iter()), None);
        assert_eq!(cost_unit(std::iter::empty()), None);
    }
}
