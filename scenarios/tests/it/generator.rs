//! The generator is an exact non-homogeneous Poisson process: counts per bin match the exact
//! integral of the rate (chi-square), the dispersion is Poisson's without busyness and Gamma-
//! Poisson's with it, and delays have their distribution.

use super::MINIMAL;
use cclab_scenarios::{Channel, Scenario};

/// Chi-square statistic of observed vs expected counts, over bins with expected >= 5.
fn chi_square(observed: &[f64], expected: &[f64]) -> (f64, usize) {
    let mut stat = 0.0;
    let mut k = 0;
    for (o, e) in observed.iter().zip(expected) {
        if *e >= 5.0 {
            stat += (o - e).powi(2) / e;
            k += 1;
        }
    }
    (stat, k)
}

/// Chi-square with k degrees of freedom: mean k, SD sqrt(2k); 4.5 SD is a false alarm rate
/// below 1e-4 at these k (the Wilson-Hilferty approximation).
fn assert_chi_square(what: &str, stat: f64, k: usize) {
    let limit = k as f64 + 4.5 * (2.0 * k as f64).sqrt();
    assert!(k > 10, "{what}: too few bins ({k})");
    assert!(
        stat < limit,
        "{what}: chi-square {stat:.1} on {k} bins exceeds {limit:.1}"
    );
}

/// No baseline: only the given top-level keys and events.
fn events_only(top: &str, events: &str) -> Scenario {
    let text = MINIMAL
        .replace("working_day = 100", "working_day = 0")
        .replace("non_working_day = 10", "non_working_day = 0")
        .replace("[calendar]", &format!("{top}\n[calendar]"));
    Scenario::from_toml("quake.toml", &format!("{text}{events}")).expect("valid")
}

#[test]
fn thinned_event_counts_match_the_exact_integral_by_hour() {
    let s = events_only(
        "propensity = [0.25, 0.18, 0.15, 0.15, 0.20, 0.30, 0.50, 0.80, 1.10, 1.30, 1.35, 1.30, 1.15, 1.05, 1.15, 1.20, 1.20, 1.15, 1.05, 1.00, 0.95, 0.85, 0.60, 0.40]",
        r#"
[[events]]
name = "q"
kind = "earthquake"
size = { total = 2000 }
omori = { c = "1h", p = 1.2 }
shocks = [{ time = "2012-03-13T10:17", magnitude = 5 }, { time = "2012-03-14T02:40", magnitude = 4.5 }]
[[events.waves]]
types = { offer = 1 }
kernel = [{ share = 0.5, gamma = { shape = 2, scale = "10h" } }, { share = 0.5, exponential = { mean = "30h" } }]
drivers = [{ time = "2012-03-13T12:00", weight = 800 }]
"#,
    );
    // Hourly bins over the horizon.
    let hours = s.calendar.horizon_h() as usize;
    let mut expected = vec![0.0; hours];
    for ev in &s.events {
        for t in &ev.terms {
            for (h, e) in expected.iter_mut().enumerate() {
                let local_hour = s
                    .calendar
                    .at(h as f64 + 0.5)
                    .format("%H")
                    .to_string()
                    .parse::<usize>()
                    .unwrap();
                let m = if t.modulated {
                    s.propensity[local_hour]
                } else {
                    1.0
                };
                *e += t.weight * m * t.atom.integral(h as f64 - t.t0, h as f64 + 1.0 - t.t0);
            }
        }
    }
    let runs = 20;
    let mut observed = vec![0.0; hours];
    for seed in 0..runs {
        for c in s.arrivals(seed) {
            observed[(c.sent_us as f64 / 3.6e9) as usize] += 1.0;
        }
    }
    let expected: Vec<f64> = expected.iter().map(|e| e * runs as f64).collect();
    let (stat, k) = chi_square(&observed, &expected);
    assert_chi_square("hourly counts", stat, k);
}

#[test]
fn without_busyness_days_are_poisson_and_with_it_gamma_poisson() {
    // Seven days, repeated over seeds: the variance of a day's count is mu without busyness,
    // and mu + cv^2 mu^2 with it.
    for (cv, label) in [(0.0, "poisson"), (0.5, "gamma-poisson")] {
        let text = MINIMAL.replace("[channels]", &format!("busyness_cv = {cv}\n[channels]"));
        let s = Scenario::from_toml("d.toml", &text).expect("valid");
        let mu = s.expected_days()[0].total();
        let r = 2000;
        let counts: Vec<f64> = (0..r)
            .map(|seed| {
                s.arrivals(seed)
                    .filter(|c| c.at_us < (24.0 * 3.6e9) as u64)
                    .count() as f64
            })
            .collect();
        let mean = counts.iter().sum::<f64>() / r as f64;
        let var = counts.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (r - 1) as f64;
        let model = mu + cv * cv * mu * mu;
        // SE of the sample variance: var * sqrt(2/(r-1) + excess kurtosis / r); the Gamma's
        // excess kurtosis is 6 cv^2, Poisson's 1/mu. Tolerance 4 SE.
        let kurt = 6.0 * cv * cv + 1.0 / mu;
        let se = model * (2.0 / (r - 1) as f64 + kurt / r as f64).sqrt();
        assert!(
            (mean - mu).abs() < 4.0 * (model / r as f64).sqrt(),
            "{label}: mean {mean} vs {mu}"
        );
        assert!(
            (var - model).abs() < 4.0 * se,
            "{label}: variance {var:.1} vs model {model:.1} (4 SE {:.1})",
            4.0 * se
        );
    }
}

#[test]
fn letters_arrive_after_their_intake_delay() {
    let text = MINIMAL.replace(
        "ordinary = { phone = 0.8, email = 0.2 }",
        "ordinary = { letter = 1 }",
    ) + "[intake_delay]\nletter = { mean = \"2d\", cv = 0.5 }\n";
    let text = text.replace("days = 7", "days = 60");
    let s = Scenario::from_toml("l.toml", &text).expect("valid");
    let delays: Vec<f64> = (0..5)
        .flat_map(|seed| s.arrivals(seed).collect::<Vec<_>>())
        .inspect(|c| assert_eq!(c.channel, Channel::Letter))
        // Letters sent in the last days may arrive after the horizon; count the first 40 days.
        .filter(|c| (c.sent_us as f64) < 40.0 * 24.0 * 3.6e9)
        .map(|c| (c.at_us - c.sent_us) as f64 / 3.6e9)
        .collect();
    let n = delays.len() as f64;
    let mean = delays.iter().sum::<f64>() / n;
    // Lognormal with mean 48 h and CV 0.5: SD 24 h; 4 SE.
    assert!(
        (mean - 48.0).abs() < 4.0 * 24.0 / n.sqrt(),
        "mean delay {mean:.2} h over {n} letters"
    );
}

#[test]
fn dst_days_keep_their_expected_totals_and_sampled_hours() {
    // 25 Mar 2012 (23 h) and 28 Oct 2012 (25 h) in Europe/Rome; a flat 24 h profile.
    for (start, hours) in [("2012-03-25", 23.0), ("2012-10-28", 25.0)] {
        let text = MINIMAL
            .replace("start = \"2012-03-12\"", &format!("start = \"{start}\""))
            .replace("days = 7", "days = 1")
            .replace("non_working_day = 10", "non_working_day = 240")
            .replace("profile = [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]", "profile = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]");
        let s = Scenario::from_toml("dst.toml", &text).expect("valid");
        assert_eq!(s.calendar.horizon_h(), hours);
        assert!(
            (s.expected_total() - 240.0).abs() < 1e-9,
            "{start}: {}",
            s.expected_total()
        );
        // Every real hour of the day gets its share (240 / hours per hour).
        let runs = 50;
        let mut per_hour = vec![0.0; hours as usize];
        for seed in 0..runs {
            for c in s.arrivals(seed) {
                per_hour[(c.at_us as f64 / 3.6e9) as usize] += 1.0;
            }
        }
        let expected = vec![240.0 / hours * runs as f64; hours as usize];
        let (stat, k) = chi_square(&per_hour, &expected);
        let limit = k as f64 + 4.5 * (2.0 * k as f64).sqrt();
        assert!(stat < limit, "{start}: chi-square {stat:.1} > {limit:.1}");
    }
}
