//! Expected values (the exact integral of the rate) and the solving of event sizes.
//!
//! An event's rate is linear in its scale, so "the expected count of 29 May 2012 is 585" or "the
//! event brings 4,324 contacts" are linear equations in the scales of the sized events. They are
//! solved together, so events whose windows overlap (a quake and a snow wave) are sized right.

use crate::error::ScenarioError;
use crate::model::{DayExpectation, Scenario};
use crate::validate::{Ctx, Size, Source};

/// The largest expected total a scenario may have: far beyond any contact center, small enough
/// that a mistyped count cannot make the generator run for ever.
const MAX_EXPECTED: f64 = 1e10;

/// Expected contacts of each event term on each day, unscaled: `[event][term][day]` summed to
/// `[event][day]` plus per-term totals.
struct Integrals {
    by_day: Vec<Vec<f64>>,
    by_term: Vec<Vec<f64>>,
}

fn integrate(s: &Scenario) -> Integrals {
    let days = s.calendar.days.len();
    let mut by_day = vec![vec![0.0; days]; s.events.len()];
    let mut by_term: Vec<Vec<f64>> = s.events.iter().map(|e| vec![0.0; e.terms.len()]).collect();
    for (e, event) in s.events.iter().enumerate() {
        for (k, term) in event.terms.iter().enumerate() {
            for (slot, m) in s.term_slots(term) {
                let v = term.weight
                    * m
                    * term
                        .atom
                        .integral(slot.start_h - term.t0, slot.end_h - term.t0);
                by_day[e][slot.day as usize] += v;
                by_term[e][k] += v;
            }
        }
    }
    Integrals { by_day, by_term }
}

/// Solves the sizes, rescales the sized events' terms, and stores the expected values.
pub(crate) fn solve_sizes(
    s: &mut Scenario,
    sizes: &[Option<(Size, &Source, String)>],
) -> Result<(), ScenarioError> {
    let days = s.calendar.days.len();
    let mut baseline = vec![0.0; days];
    for slot in &s.slots {
        baseline[slot.day as usize] += slot.base_rate * (slot.end_h - slot.start_h);
    }
    let ints = integrate(s);
    let sized: Vec<usize> = (0..s.events.len())
        .filter(|&e| sizes[e].is_some())
        .collect();
    let window = |v: &[f64], from: usize, to: usize| v[from..=to].iter().sum::<f64>();
    // One row per sized event: sum_k a[i][k] * scale_k = rhs[i].
    let n = sized.len();
    let mut a = vec![vec![0.0; n]; n];
    let mut rhs = vec![0.0; n];
    for (i, &e) in sized.iter().enumerate() {
        let (size, _, _) = sizes[e].as_ref().expect("sized");
        match *size {
            Size::Total(total) => {
                a[i][i] = ints.by_term[e].iter().sum();
                rhs[i] = total;
            }
            Size::Days { from, to, contacts } => {
                let mut fixed = window(&baseline, from, to);
                for (j, row) in ints.by_day.iter().enumerate() {
                    match sized.iter().position(|&k| k == j) {
                        Some(k) => a[i][k] = window(row, from, to),
                        None => fixed += window(row, from, to),
                    }
                }
                rhs[i] = contacts - fixed;
            }
        }
    }
    let scales = gauss(a, rhs);
    for (i, &e) in sized.iter().enumerate() {
        let (size, src, path) = sizes[e].as_ref().expect("sized");
        let ctx = Ctx { src };
        let scale = scales.as_ref().map(|v| v[i]);
        match scale {
            Some(x) if x.is_finite() && x > 0.0 => {
                s.events[e].scale = x;
                for t in &mut s.events[e].terms {
                    t.weight *= x;
                }
            }
            _ => {
                let why = match size {
                    Size::Total(_) => {
                        "the event brings no contacts inside the calendar".to_string()
                    }
                    Size::Days { from, to, contacts } => {
                        let others = window(&baseline, *from, *to);
                        let own: f64 = window(&ints.by_day[e], *from, *to);
                        if own <= 0.0 {
                            format!(
                                "the event brings no contacts on {}..={}; move the size to days the event covers",
                                s.calendar.days[*from].date, s.calendar.days[*to].date
                            )
                        } else {
                            format!(
                                "{contacts} contacts cannot be reached: the baseline and the other events already bring {others:.1} on those days, or another sized event claims the same days"
                            )
                        }
                    }
                };
                return Err(ctx.err(&format!("{path}.size"), why));
            }
        }
    }
    s.expected = (0..days)
        .map(|d| DayExpectation {
            baseline: baseline[d],
            events: (0..s.events.len())
                .map(|e| ints.by_day[e][d] * s.events[e].scale)
                .collect(),
        })
        .collect();
    let total: f64 = s.expected.iter().map(DayExpectation::total).sum();
    if total.is_nan() || total > MAX_EXPECTED {
        return Err(ScenarioError::Invalid {
            at: crate::locate::locate(&s.source, "", ""),
            message: format!(
                "expects {total:.3e} contacts; at most {MAX_EXPECTED:.0e} are allowed (check counts, sizes and amplitudes)"
            ),
        });
    }
    s.term_totals = ints
        .by_term
        .iter()
        .enumerate()
        .map(|(e, v)| v.iter().map(|x| x * s.events[e].scale).collect())
        .collect();
    Ok(())
}

/// Gaussian elimination with partial pivoting; `None` if singular.
fn gauss(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let (top, bottom) = a.split_at_mut(col + 1);
        let pivot_row = &top[col];
        for (offset, row) in bottom.iter_mut().enumerate() {
            let f = row[col] / pivot_row[col];
            for (x, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= f * p;
            }
            b[col + 1 + offset] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let sum: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - sum) / a[row][row];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::gauss;

    #[test]
    fn gauss_solves_and_detects_singular() {
        let x = gauss(vec![vec![2.0, 1.0], vec![1.0, 3.0]], vec![5.0, 10.0]).unwrap();
        assert!((x[0] - 1.0).abs() < 1e-12 && (x[1] - 3.0).abs() < 1e-12);
        assert!(gauss(vec![vec![1.0, 2.0], vec![2.0, 4.0]], vec![1.0, 2.0]).is_none());
    }
}
