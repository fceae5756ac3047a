//! Distributions of durations (handle times, patience, research times), drawn with portable
//! samplers (`libm`, not the platform's math library) so a seed gives the same run on every
//! machine: Exp(1) by a ziggurat ([`ziggurat`]), the others by `cclab_scenarios::rng`.

use cclab_scenarios::rng::{self, Stream};
use serde::Deserialize;

mod ziggurat;

/// A distribution of a non-negative duration, in seconds.
#[derive(Debug, Clone, PartialEq)]
pub enum Dist {
    Fixed(f64),
    Exponential {
        mean: f64,
    },
    Lognormal {
        mean: f64,
        cv: f64,
    },
    Gamma {
        mean: f64,
        cv: f64,
    },
    Weibull {
        shape: f64,
        scale: f64,
    },
    /// Observed values, drawn uniformly.
    Empirical(Vec<f64>),
}

impl Dist {
    #[inline]
    pub fn sample(&self, r: &mut Stream) -> f64 {
        match self {
            Dist::Fixed(x) => *x,
            Dist::Exponential { mean } => mean * ziggurat::exp1(r),
            Dist::Lognormal { mean, cv } => rng::lognormal(r, *mean, *cv),
            Dist::Gamma { mean, cv } => mean * rng::gamma_mean_one(r, *cv),
            Dist::Weibull { shape, scale } => scale * libm::pow(ziggurat::exp1(r), 1.0 / shape),
            Dist::Empirical(values) => {
                values[((rng::uniform(r) * values.len() as f64) as usize).min(values.len() - 1)]
            }
        }
    }

    pub fn mean(&self) -> f64 {
        match self {
            Dist::Fixed(x) => *x,
            Dist::Exponential { mean }
            | Dist::Lognormal { mean, .. }
            | Dist::Gamma { mean, .. } => *mean,
            Dist::Weibull { shape, scale } => scale * libm::tgamma(1.0 + 1.0 / shape),
            Dist::Empirical(v) => v.iter().sum::<f64>() / v.len() as f64,
        }
    }
}

/// The TOML form: exactly one key.
/// `{ exponential = "180s" }`, `{ lognormal = { mean = "5m", cv = 0.8 } }`,
/// `{ gamma = { mean = "5m", cv = 0.5 } }`, `{ weibull = { shape = 0.8, scale = "3m" } }`,
/// `{ empirical = ["95s", "3m", "270s"] }`, `{ fixed = "8m" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDist {
    pub fixed: Option<String>,
    pub exponential: Option<String>,
    pub lognormal: Option<RawMeanCv>,
    pub gamma: Option<RawMeanCv>,
    pub weibull: Option<RawWeibull>,
    pub empirical: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMeanCv {
    pub mean: String,
    pub cv: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeibull {
    pub shape: f64,
    pub scale: String,
}

/// Seconds of a duration string (`90s`, `15m`, `4h`, `3d`; `4m30s` is not accepted).
pub fn seconds(s: &str) -> Option<f64> {
    cclab_scenarios::parse_duration_h(s).map(|h| h * 3600.0)
}

impl RawDist {
    /// Validates; the error says what is wrong (the caller adds the field path).
    pub fn build(&self) -> Result<Dist, String> {
        let dur = |s: &str| {
            seconds(s).ok_or_else(|| format!("`{s}` is not a duration; write 90s, 15m, 4h or 3d"))
        };
        let cv = |c: f64| {
            if c.is_finite() && c >= 0.0 {
                Ok(c)
            } else {
                Err(format!("cv must be >= 0, got {c}"))
            }
        };
        let given = [
            self.fixed.is_some(),
            self.exponential.is_some(),
            self.lognormal.is_some(),
            self.gamma.is_some(),
            self.weibull.is_some(),
            self.empirical.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(
                "give exactly one of fixed, exponential, lognormal, gamma, weibull, empirical"
                    .into(),
            );
        }
        if let Some(x) = &self.fixed {
            return Ok(Dist::Fixed(dur(x)?));
        }
        if let Some(m) = &self.exponential {
            return Ok(Dist::Exponential { mean: dur(m)? });
        }
        if let Some(p) = &self.lognormal {
            let mean = dur(&p.mean)?;
            if mean <= 0.0 {
                return Err("a lognormal needs mean > 0".into());
            }
            return Ok(Dist::Lognormal {
                mean,
                cv: cv(p.cv)?,
            });
        }
        if let Some(p) = &self.gamma {
            return Ok(Dist::Gamma {
                mean: dur(&p.mean)?,
                cv: cv(p.cv)?,
            });
        }
        if let Some(w) = &self.weibull {
            if !(w.shape.is_finite() && w.shape > 0.0) {
                return Err(format!("weibull shape must be > 0, got {}", w.shape));
            }
            return Ok(Dist::Weibull {
                shape: w.shape,
                scale: dur(&w.scale)?,
            });
        }
        let values = self.empirical.as_ref().expect("one is given");
        if values.is_empty() {
            return Err("empirical needs at least one observed value".into());
        }
        Ok(Dist::Empirical(
            values.iter().map(|v| dur(v)).collect::<Result<_, _>>()?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_means_match() {
        let mut r = rng::substream(1, rng::Purpose::Model, 0);
        let n = 100_000;
        for d in [
            Dist::Exponential { mean: 180.0 },
            Dist::Lognormal {
                mean: 300.0,
                cv: 0.8,
            },
            Dist::Gamma {
                mean: 60.0,
                cv: 0.5,
            },
            Dist::Weibull {
                shape: 0.8,
                scale: 100.0,
            },
            Dist::Empirical(vec![10.0, 20.0, 60.0]),
        ] {
            let m = (0..n).map(|_| d.sample(&mut r)).sum::<f64>() / n as f64;
            // CV at most ~1.3 here: 4 SE < 2% of the mean.
            assert!(
                (m / d.mean() - 1.0).abs() < 0.02,
                "{d:?}: {m} vs {}",
                d.mean()
            );
        }
    }
}
