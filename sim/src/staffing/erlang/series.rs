//! The series behind Erlang A: `T(a, v) = sum_{k>=0} prod_{i=1..k} v / (a + i)` and the
//! stationary average of the served callers' wait, both summed outward from their largest term
//! so that the cost is O(sqrt(v)) and nothing overflows.

/// `ln T(a, v)` with `T(a, v) = sum_{k>=0} prod_{i=1..k} v / (a + i)`, for `a > 0`, `v >= 0`.
///
/// The terms rise while `a + k < v`, peak at `k* = floor(v - a)`, then fall ever faster. The sum
/// starts at the peak (whose logarithm comes from `ln Gamma`) and walks both ways with the terms
/// relative to it (all <= 1, so nothing overflows), each walk cut once its remaining tail,
/// bounded by the geometric series of the current ratio, is below half an ulp of the sum. Cost
/// O(sqrt(v)) terms whatever the load.
pub(super) fn ln_series(a: f64, v: f64) -> f64 {
    let peak = peak(a, v);
    let mut sum = 1.0f64;
    let mut rel = 1.0f64;
    let mut k = peak;
    while k > 0.0 {
        let q = (a + k) / v; // term(k-1) / term(k), < 1 below the peak and decreasing
        rel *= q;
        sum += rel;
        if rel * q <= (1.0 - q) * sum * HALF_EPS {
            break;
        }
        k -= 1.0;
    }
    let mut rel = 1.0f64;
    let mut k = peak;
    loop {
        k += 1.0;
        let r = v / (a + k); // term(k) / term(k-1), < 1 above the peak and decreasing
        rel *= r;
        sum += rel;
        if rel * r <= (1.0 - r) * sum * HALF_EPS {
            break;
        }
    }
    ln_peak_term(a, v, peak) + sum.ln()
}

const HALF_EPS: f64 = f64::EPSILON / 2.0;

/// The index of the largest term of `T(a, v)`.
fn peak(a: f64, v: f64) -> f64 {
    (v - a).floor().max(0.0)
}

/// `ln prod_{i=1..k} v / (a + i) = k ln v - (ln Gamma(a + k + 1) - ln Gamma(a + 1))`.
fn ln_peak_term(a: f64, v: f64, k: f64) -> f64 {
    if k == 0.0 {
        0.0
    } else {
        k * v.ln() - (libm::lgamma(a + k + 1.0) - libm::lgamma(a + 1.0))
    }
}

/// `E[theta W; served] / P(W > 0)` for Erlang A.
///
/// A caller who finds `k` waiting is served with probability `x / (x + k + 1)`, and then
/// `E[theta W; served | k] = x / (x + k + 1) * H_k` with `H_k = sum_{i=1..k+1} 1 / (x + i)`. The
/// result is the average over the stationary queue, whose weights are the terms of `T(x, y)`,
/// summed outward from the peak as in [`ln_series`].
pub(super) fn served_wait_given_wait(x: f64, y: f64) -> f64 {
    let peak = peak(x, y);
    let wait = |k: f64, h: f64| x / (x + k + 1.0) * h;
    let h_peak = harmonic(x, peak);
    let mut sum_w = 1.0f64;
    let mut sum_wait = wait(peak, h_peak);
    // Downward: weights fall with ratio q, the wait factor falls too, so the bound holds.
    let (mut rel, mut h, mut k) = (1.0f64, h_peak, peak);
    while k > 0.0 {
        let q = (x + k) / y;
        rel *= q;
        h -= 1.0 / (x + k + 1.0);
        k -= 1.0;
        let term = rel * wait(k, h);
        sum_w += rel;
        sum_wait += term;
        if rel * q <= (1.0 - q) * sum_w * HALF_EPS && term * q <= (1.0 - q) * sum_wait * HALF_EPS {
            break;
        }
    }
    // Upward: weights fall with ratio r; the wait factor grows by at most 1 + 1/(k+1).
    let (mut rel, mut h, mut k) = (1.0f64, h_peak, peak);
    loop {
        k += 1.0;
        let r = y / (x + k);
        rel *= r;
        h += 1.0 / (x + k + 1.0);
        let term = rel * wait(k, h);
        sum_w += rel;
        sum_wait += term;
        let tail_r = r * (1.0 + 1.0 / (k + 1.0));
        if tail_r < 1.0
            && rel * r <= (1.0 - r) * sum_w * HALF_EPS
            && term * tail_r <= (1.0 - tail_r) * sum_wait * HALF_EPS
        {
            break;
        }
    }
    sum_wait / sum_w
}

/// `H_k = sum_{i=1..k+1} 1 / (x + i) = psi(x + k + 2) - psi(x + 1)`.
pub(super) fn harmonic(x: f64, k: f64) -> f64 {
    if k < 4096.0 {
        (1..=(k as u32 + 1)).map(|i| 1.0 / (x + f64::from(i))).sum()
    } else {
        digamma_diff(x + k + 2.0, x + 1.0)
    }
}

/// `psi(b) - psi(c)` for `b > c > 0`: both are shifted to >= 16 by the recurrence
/// `psi(z + 1) = psi(z) + 1/z`, then the asymptotic series is differenced term by term so that
/// nothing large cancels.
fn digamma_diff(b: f64, c: f64) -> f64 {
    let mut shift = 0.0;
    let (mut b, mut c) = (b, c);
    while c < 16.0 {
        shift += 1.0 / c;
        c += 1.0;
    }
    while b < 16.0 {
        shift -= 1.0 / b;
        b += 1.0;
    }
    // psi(z) ~ ln z - 1/(2z) - 1/(12 z^2) + 1/(120 z^4) - 1/(252 z^6); error < 1e-13 / z^8.
    let tail = |z: f64| {
        let z2 = 1.0 / (z * z);
        -0.5 / z - z2 * (1.0 / 12.0 - z2 * (1.0 / 120.0 - z2 / 252.0))
    };
    shift + ((b - c) / c).ln_1p() + tail(b) - tail(c)
}
