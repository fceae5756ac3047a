//! Random substreams and the few portable samplers the generator needs.
//!
//! Every draw comes from a stream derived from `(seed, purpose, key)`, so changing one part of a
//! scenario (an event's parameters, the channel mix) leaves the draws of the other parts alone,
//! and the result never depends on thread count or work order. Samplers use `libm`, not the
//! platform's math library, so a seed gives the same stream bit for bit on every machine.

use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// The generator behind every substream: small, fast, and specified bit for bit.
pub type Stream = Xoshiro256PlusPlus;

/// SplitMix64's finaliser: a bijective mix of 64 bits.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a of a string: a stable key for named things (events keep their stream when reordered).
pub fn key_of(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What a substream is for. Adding a purpose never changes the streams of the others.
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub enum Purpose {
    /// Arrival times of one component (the baseline, or one event).
    Times = 1,
    /// Channel and request type of one component's contacts.
    Marks = 2,
    /// The day-level busyness factor of one date.
    Busyness = 3,
    /// The realisation factor of one event's size.
    EventSize = 4,
    /// Intake delays of written contacts.
    Intake = 5,
    /// Seeds of independent replications (used by the simulator).
    Replication = 6,
    /// Streams of downstream models (the simulator's caller behaviour, the load generator's
    /// journeys), keyed by what they draw for: see [`model_stream`].
    Model = 7,
}

/// The substream a downstream model uses for `(seed, what, index)`: e.g. the patience and
/// handle times of contact `index`, so two staffing plans run on one seed see the same callers.
pub fn model_stream(seed: u64, what: &str, index: u64) -> Stream {
    substream(seed, Purpose::Model, key_of(what) ^ mix64(index))
}

/// The substream for `(seed, purpose, key)`.
pub fn substream(seed: u64, purpose: Purpose, key: u64) -> Stream {
    let s = mix64(mix64(mix64(seed) ^ purpose as u64).wrapping_add(key));
    Stream::seed_from_u64(s)
}

/// The seed of replication `rep` of a run seeded `seed`: independent of how many replications
/// run, in which order, or on which thread.
pub fn replication_seed(seed: u64, rep: u64) -> u64 {
    mix64(mix64(seed ^ Purpose::Replication as u64).wrapping_add(mix64(rep)))
}

/// A uniform draw in [0, 1) with 53 random bits.
#[inline]
pub fn uniform(rng: &mut Stream) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// An Exp(1) draw by inversion.
#[inline]
pub fn exp1(rng: &mut Stream) -> f64 {
    // 1 - u is in (0, 1], so the logarithm is finite.
    -libm::log(1.0 - uniform(rng))
}

/// A standard normal draw (Marsaglia's polar method).
pub fn normal(rng: &mut Stream) -> f64 {
    loop {
        let u = 2.0 * uniform(rng) - 1.0;
        let v = 2.0 * uniform(rng) - 1.0;
        let s = u * u + v * v;
        if s > 0.0 && s < 1.0 {
            return u * libm::sqrt(-2.0 * libm::log(s) / s);
        }
    }
}

/// A Gamma draw with mean 1 and coefficient of variation `cv` (1 when `cv` is 0), by
/// Marsaglia and Tsang's method (2000), with the usual boost for shapes below 1.
pub fn gamma_mean_one(rng: &mut Stream, cv: f64) -> f64 {
    if cv <= 0.0 {
        return 1.0;
    }
    let shape = 1.0 / (cv * cv);
    if shape > 1e12 {
        // A CV below 1e-6: Marsaglia-Tsang's acceptance test cancels terms of size `shape`
        // (and never accepts once `shape` is infinite), while the Gamma is normal to far
        // below double precision: mean 1, standard deviation `cv`.
        return 1.0 + cv * normal(rng);
    }
    if shape < 1e-300 {
        // A CV beyond 1e150: all but a vanishing share of the mass is at 0.
        return 0.0;
    }
    gamma(rng, shape) / shape
}

fn gamma(rng: &mut Stream, shape: f64) -> f64 {
    if shape < 1.0 {
        let u = 1.0 - uniform(rng);
        return gamma(rng, shape + 1.0) * libm::pow(u, 1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / libm::sqrt(9.0 * d);
    loop {
        let x = normal(rng);
        let v = 1.0 + c * x;
        if v <= 0.0 {
            continue;
        }
        let v = v * v * v;
        let u = 1.0 - uniform(rng);
        if libm::log(u) < 0.5 * x * x + d - d * v + d * libm::log(v) {
            return d * v;
        }
    }
}

/// A lognormal draw with the given mean and coefficient of variation (the mean when `cv` is 0).
pub fn lognormal(rng: &mut Stream, mean: f64, cv: f64) -> f64 {
    if cv <= 0.0 {
        return mean;
    }
    let sigma2 = libm::log1p(cv * cv);
    let mu = libm::log(mean) - 0.5 * sigma2;
    libm::exp(mu + libm::sqrt(sigma2) * normal(rng))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(mut draw: impl FnMut() -> f64, n: usize) -> (f64, f64) {
        let xs: Vec<f64> = (0..n).map(|_| draw()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        (mean, var)
    }

    #[test]
    fn substreams_differ_by_purpose_and_key_and_repeat_by_seed() {
        let a = substream(7, Purpose::Times, 1).next_u64();
        assert_eq!(a, substream(7, Purpose::Times, 1).next_u64());
        assert_ne!(a, substream(7, Purpose::Marks, 1).next_u64());
        assert_ne!(a, substream(7, Purpose::Times, 2).next_u64());
        assert_ne!(a, substream(8, Purpose::Times, 1).next_u64());
    }

    /// A vanishing CV (down to a subnormal one, which once made the sampler loop for ever)
    /// gives draws at 1 within a few CVs, at once.
    #[test]
    fn gamma_with_a_vanishing_cv_returns() {
        let mut rng = substream(3, Purpose::Times, 0);
        for cv in [
            1e-7,
            1e-30,
            1e-160,
            1.31858164942517e-309,
            f64::MIN_POSITIVE,
        ] {
            for _ in 0..1000 {
                let g = gamma_mean_one(&mut rng, cv);
                assert!((g - 1.0).abs() <= 10.0 * cv, "cv {cv}: {g}");
            }
        }
        // And a huge one still gives a number >= 0, not NaN.
        for cv in [1e10, 1e200, f64::MAX] {
            let g = gamma_mean_one(&mut rng, cv);
            assert!(g >= 0.0, "cv {cv}: {g}");
        }
    }

    /// Means of n = 200,000 draws: 4 standard errors is a false-alarm rate of 6e-5 per check.
    #[test]
    fn samplers_have_their_moments() {
        let n = 200_000;
        let mut rng = substream(1, Purpose::Times, 0);
        let (m, v) = moments(|| exp1(&mut rng), n);
        assert!(
            (m - 1.0).abs() < 4.0 * (1.0 / n as f64).sqrt(),
            "exp mean {m}"
        );
        assert!((v - 1.0).abs() < 0.05, "exp var {v}");
        for cv in [0.1, 0.316, 1.0, 2.0] {
            let (m, v) = moments(|| gamma_mean_one(&mut rng, cv), n);
            let se = cv / (n as f64).sqrt();
            assert!((m - 1.0).abs() < 4.0 * se, "gamma cv {cv}: mean {m}");
            assert!(
                (v.sqrt() / cv - 1.0).abs() < 0.05,
                "gamma cv {cv}: sd {}",
                v.sqrt()
            );
        }
        let (m, v) = moments(|| lognormal(&mut rng, 3.0, 0.5), n);
        assert!(
            (m - 3.0).abs() < 4.0 * 1.5 / (n as f64).sqrt(),
            "lognormal mean {m}"
        );
        assert!(
            (v.sqrt() / 1.5 - 1.0).abs() < 0.05,
            "lognormal sd {}",
            v.sqrt()
        );
    }
}
