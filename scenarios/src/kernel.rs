//! Surge kernels: the shape of an event's contact rate after its trigger.
//!
//! Time is in hours since the term's trigger (`t >= 0`; every kernel is 0 before it). Each
//! [`Atom`] is unimodal on `t >= 0`, so its extremes over an interval sit at the ends or at the
//! mode: that is what lets the arrival generator bound a slot with two or three evaluations.
//! All transcendental functions come from `libm`, so results are the same on every platform.

use libm::{exp, lgamma, log, pow};

/// One unimodal kernel shape.
#[derive(Debug, Clone, PartialEq)]
pub enum Atom {
    /// Omori-Utsu decay `1 / (t + c)^p` (not normalised: the shock's weight carries K).
    Omori { c: f64, p: f64 },
    /// Gamma density with `shape >= 1` and `scale` in hours (unit mass).
    Gamma {
        shape: f64,
        scale: f64,
        ln_norm: f64,
    },
    /// Exponential density with the given mean in hours (unit mass).
    Exponential { mean: f64 },
    /// Forecast event: `1 / (window - t + tau)` up to the window, `exp(-(t - window) / hold) / tau`
    /// until the all-clear, then a decay of mean life `after`. Times relative to the trigger.
    Forecast {
        window: f64,
        tau: f64,
        hold: f64,
        all_clear: f64,
        after: f64,
    },
    /// Piecewise-constant rate (contacts per hour) on consecutive intervals of `interval` hours.
    Steps { interval: f64, rates: Vec<f64> },
}

impl Atom {
    pub fn gamma(shape: f64, scale: f64) -> Atom {
        Atom::Gamma {
            shape,
            scale,
            ln_norm: -lgamma(shape) - shape * log(scale),
        }
    }

    /// The rate at `t` hours after the trigger.
    pub fn value(&self, t: f64) -> f64 {
        if t < 0.0 {
            return 0.0;
        }
        match *self {
            Atom::Omori { c, p } => pow(t + c, -p),
            Atom::Gamma {
                shape,
                scale,
                ln_norm,
            } => {
                if t == 0.0 {
                    return if shape == 1.0 { exp(ln_norm) } else { 0.0 };
                }
                exp(ln_norm + (shape - 1.0) * log(t) - t / scale)
            }
            Atom::Exponential { mean } => exp(-t / mean) / mean,
            Atom::Forecast {
                window,
                tau,
                hold,
                all_clear,
                after,
            } => {
                if t < window {
                    1.0 / (window - t + tau)
                } else if t < all_clear {
                    exp(-(t - window) / hold) / tau
                } else {
                    exp(-(all_clear - window) / hold - (t - all_clear) / after) / tau
                }
            }
            Atom::Steps {
                interval,
                ref rates,
            } => {
                let i = (t / interval) as usize;
                rates.get(i).copied().unwrap_or(0.0)
            }
        }
    }

    /// Where the rate peaks (for unimodal atoms), in hours after the trigger.
    fn mode(&self) -> f64 {
        match *self {
            Atom::Omori { .. } | Atom::Exponential { .. } | Atom::Steps { .. } => 0.0,
            Atom::Gamma { shape, scale, .. } => (shape - 1.0) * scale,
            Atom::Forecast { window, .. } => window,
        }
    }

    /// (min, max) of the rate over `[a, b]` hours after the trigger.
    pub fn bounds(&self, a: f64, b: f64) -> (f64, f64) {
        if b <= 0.0 {
            return (0.0, 0.0);
        }
        if let Atom::Steps { interval, rates } = self {
            let first = (a.max(0.0) / interval) as usize;
            let end = ((b / interval).ceil() as usize).min(rates.len());
            let covered = rates.get(first..end).unwrap_or(&[]);
            let hi = covered.iter().fold(0.0f64, |m, r| m.max(*r));
            // Outside the curve (before its start or after its end) the rate is 0.
            let outside = a < 0.0 || b > rates.len() as f64 * interval || covered.is_empty();
            let lo = if outside {
                0.0
            } else {
                covered.iter().fold(f64::INFINITY, |m, r| m.min(*r))
            };
            return (lo, hi);
        }
        let lo_end = if a < 0.0 { 0.0 } else { self.value(a) };
        let a = a.max(0.0);
        let (fa, fb) = (self.value(a), self.value(b));
        let mode = self.mode().clamp(a, b);
        // The forecast build-up is discontinuous only at the trigger; elsewhere every atom is
        // continuous and unimodal, so the minimum is at an end and the maximum at the mode.
        let hi = fa.max(fb).max(self.value(mode));
        (lo_end.min(fa).min(fb), hi)
    }

    /// The integral of the rate over `[a, b]` hours after the trigger.
    pub fn integral(&self, a: f64, b: f64) -> f64 {
        let a = a.max(0.0);
        if b <= a {
            return 0.0;
        }
        match *self {
            Atom::Omori { c, p } => {
                if (p - 1.0).abs() < 1e-12 {
                    log((b + c) / (a + c))
                } else {
                    (pow(b + c, 1.0 - p) - pow(a + c, 1.0 - p)) / (1.0 - p)
                }
            }
            Atom::Gamma { shape, scale, .. } => {
                gamma_p(shape, b / scale) - gamma_p(shape, a / scale)
            }
            Atom::Exponential { mean } => exp(-a / mean) - exp(-b / mean),
            Atom::Forecast {
                window,
                tau,
                hold,
                all_clear,
                after,
            } => {
                let mut sum = 0.0;
                // Build-up: the antiderivative of 1/(w - t + tau) is -ln(w - t + tau).
                let (x, y) = (a.min(window), b.min(window));
                if y > x {
                    sum += log((window - x + tau) / (window - y + tau));
                }
                let (x, y) = (a.clamp(window, all_clear), b.clamp(window, all_clear));
                if y > x {
                    sum += hold / tau * (exp(-(x - window) / hold) - exp(-(y - window) / hold));
                }
                let (x, y) = (a.max(all_clear), b.max(all_clear));
                if y > x {
                    let level = exp(-(all_clear - window) / hold) / tau;
                    sum += level
                        * after
                        * (exp(-(x - all_clear) / after) - exp(-(y - all_clear) / after));
                }
                sum
            }
            Atom::Steps {
                interval,
                ref rates,
            } => {
                let mut sum = 0.0;
                let first = (a / interval) as usize;
                for (i, r) in rates.iter().enumerate().skip(first) {
                    let (s, e) = (i as f64 * interval, (i + 1) as f64 * interval);
                    if s >= b {
                        break;
                    }
                    let overlap = e.min(b) - s.max(a);
                    if overlap > 0.0 {
                        sum += r * overlap;
                    }
                }
                sum
            }
        }
    }
}

/// Regularised lower incomplete gamma function P(s, x), by its series for x < s + 1 and by
/// Lentz's continued fraction otherwise (Numerical Recipes, section 6.2); relative error ~1e-15.
pub fn gamma_p(s: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let ln_prefix = s * log(x) - x - lgamma(s);
    if x < s + 1.0 {
        let (mut term, mut sum, mut n) = (1.0 / s, 1.0 / s, s);
        for _ in 0..1000 {
            n += 1.0;
            term *= x / n;
            sum += term;
            if term.abs() < sum.abs() * 1e-17 {
                break;
            }
        }
        (sum * exp(ln_prefix)).min(1.0)
    } else {
        let tiny = 1e-300;
        let mut b = x + 1.0 - s;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - s);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (1.0 - exp(ln_prefix) * h).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Midpoint-rule integral, fine enough to check the closed forms to 1e-6 relative.
    fn numeric(atom: &Atom, a: f64, b: f64) -> f64 {
        let n = 200_000;
        let h = (b - a) / n as f64;
        (0..n)
            .map(|i| atom.value(a + (i as f64 + 0.5) * h) * h)
            .sum()
    }

    fn atoms() -> Vec<Atom> {
        vec![
            Atom::Omori { c: 4.0, p: 1.1 },
            Atom::Omori { c: 2.0, p: 1.0 },
            Atom::gamma(1.5, 6.0),
            Atom::gamma(2.0, 24.0),
            Atom::Exponential { mean: 48.0 },
            Atom::Forecast {
                window: 37.4,
                tau: 2.35,
                hold: 6.0,
                all_clear: 43.7,
                after: 1.73,
            },
            Atom::Steps {
                interval: 1.5,
                rates: vec![1.0, 3.0, 0.5, 7.0],
            },
        ]
    }

    #[test]
    fn closed_form_integrals_match_quadrature() {
        // Steps jump, which the midpoint rule cannot resolve to 1e-6: checked by hand below.
        for atom in atoms()
            .into_iter()
            .filter(|a| !matches!(a, Atom::Steps { .. }))
        {
            for (a, b) in [(0.0, 1.0), (0.3, 5.2), (2.0, 60.0), (36.0, 50.0)] {
                let exact = atom.integral(a, b);
                let approx = numeric(&atom, a, b);
                assert!(
                    (exact - approx).abs() <= 1e-6 * approx.abs().max(1e-3),
                    "{atom:?} on [{a}, {b}]: closed form {exact}, quadrature {approx}"
                );
            }
        }
    }

    #[test]
    fn steps_integral_by_hand() {
        let steps = atoms().pop().unwrap();
        // [0.3, 5.2]: 1 x 1.2 + 3 x 1.5 + 0.5 x 1.5 + 7 x 0.7 = 11.35; past the end rates are 0.
        assert!((steps.integral(0.3, 5.2) - 11.35).abs() < 1e-12);
        assert!((steps.integral(-2.0, 100.0) - 17.25).abs() < 1e-12);
        assert_eq!(steps.integral(6.0, 9.0), 0.0);
    }

    #[test]
    fn bounds_enclose_the_rate() {
        for atom in atoms() {
            for (a, b) in [
                (0.0, 1.0),
                (0.3, 5.2),
                (2.0, 60.0),
                (36.5, 38.5),
                (-1.0, 0.5),
            ] {
                let (lo, hi) = atom.bounds(a, b);
                for i in 0..=1000 {
                    let t = a + (b - a) * i as f64 / 1000.0;
                    let v = atom.value(t);
                    assert!(v <= hi * (1.0 + 1e-12), "{atom:?} at {t}: {v} > bound {hi}");
                    assert!(v >= lo * (1.0 - 1e-12), "{atom:?} at {t}: {v} < bound {lo}");
                }
            }
        }
    }

    #[test]
    fn densities_have_unit_mass() {
        assert!((Atom::gamma(1.5, 6.0).integral(0.0, 1e4) - 1.0).abs() < 1e-12);
        assert!((Atom::Exponential { mean: 48.0 }.integral(0.0, 1e5) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn incomplete_gamma_known_values() {
        // P(1, x) = 1 - e^-x; P(2, x) = 1 - e^-x (1 + x); P(0.5, x) = erf(sqrt x).
        for x in [0.01, 0.5, 1.0, 3.0, 10.0, 40.0] {
            assert!((gamma_p(1.0, x) - (1.0 - (-x).exp())).abs() < 1e-14);
            assert!((gamma_p(2.0, x) - (1.0 - (-x).exp() * (1.0 + x))).abs() < 1e-14);
            assert!((gamma_p(0.5, x) - libm::erf(x.sqrt())).abs() < 1e-14);
        }
    }
}
