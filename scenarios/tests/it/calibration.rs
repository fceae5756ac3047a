//! The shipped library reproduces the dossier, checked twice: on the expected values (the exact
//! integral of the rate) and by sampling many seeds.
//!
//! Targets (issue 2; dossier [D] and calibration.md [P]): year 13,965 +-3%; phone 80.10% +-1
//! point; information 64.62% +-1.5; reports 11.64% +-1.5; peak days 23 Sep 2011 = 780,
//! 5 Nov 2011 = 256, 27 Jan 2012 = 536, 29 May 2012 = 585, each +-5% and the highest day of its
//! event window; 31 Jan-8 Feb 2012 = 1,649 and 20 May-10 Jun 2012 = 4,144, +-5%.
//!
//! Sampling tolerances: a sample mean over R seeds is compared with its target within the
//! target's tolerance widened by 4 standard errors, the standard error derived from the model's
//! variance (Poisson plus the busyness factor's: Var N_d = mu_d + cv^2 b_d^2 for baseline b_d);
//! and with the exact expected value within 4 standard errors (a false alarm rate of 6e-5 per
//! check; the seeds are fixed, so the outcome is reproducible).

use super::{day, shipped};
use cclab_scenarios::{Channel, RequestType, Scenario};

struct Peak {
    scenario: &'static str,
    date: &'static str,
    contacts: f64,
    window: (&'static str, &'static str),
}

const PEAKS: [Peak; 4] = [
    Peak {
        scenario: "uars-reentry-2011",
        date: "2011-09-23",
        contacts: 780.0,
        window: ("2011-09-22", "2011-09-24"),
    },
    Peak {
        scenario: "genoa-flood-2011",
        date: "2011-11-05",
        contacts: 256.0,
        window: ("2011-10-25", "2011-11-10"),
    },
    Peak {
        scenario: "north-quake-snow-2012",
        date: "2012-01-27",
        contacts: 536.0,
        window: ("2012-01-25", "2012-02-12"),
    },
    Peak {
        scenario: "emilia-quake-2012",
        date: "2012-05-29",
        contacts: 585.0,
        window: ("2012-05-20", "2012-07-03"),
    },
];

const WINDOWS: [(&str, &str, &str, f64); 2] = [
    ("north-quake-snow-2012", "2012-01-31", "2012-02-08", 1649.0),
    ("emilia-quake-2012", "2012-05-20", "2012-06-10", 4144.0),
];

fn expected_window(s: &Scenario, from: &str, to: &str) -> f64 {
    s.expected_days()[day(s, from)..=day(s, to)]
        .iter()
        .map(|d| d.total())
        .sum()
}

fn within(what: &str, got: f64, target: f64, rel: f64) {
    assert!(
        (got - target).abs() <= rel * target,
        "{what}: {got:.1}, target {target} +-{:.0}%",
        rel * 100.0
    );
}

#[test]
fn year_expected_values_reproduce_the_dossier() {
    let y = shipped("dpc-year-2011-12");
    let total = y.expected_total();
    within("year total", total, 13_965.0, 0.03);
    let ch = y.expected_by_channel();
    let ty = y.expected_by_type();
    let share = |x: f64| 100.0 * x / total;
    let phone = share(ch[Channel::Phone as usize]);
    assert!((phone - 80.10).abs() <= 1.0, "phone share {phone:.2}%");
    let info = share(ty[RequestType::Information as usize]);
    assert!((info - 64.62).abs() <= 1.5, "information share {info:.2}%");
    let reports = share(ty[RequestType::Report as usize]);
    assert!((reports - 11.64).abs() <= 1.5, "report share {reports:.2}%");
    // 23 Sep 2011 is the highest day of the whole year [D].
    let peak = y.peak_day(0, y.calendar.days.len() - 1);
    assert_eq!(y.calendar.days[peak].date.to_string(), "2011-09-23");
}

#[test]
fn peak_days_expected_in_event_scenarios_and_in_the_year() {
    let year = shipped("dpc-year-2011-12");
    for p in &PEAKS {
        for s in [shipped(p.scenario), year.clone()] {
            let d = day(&s, p.date);
            let got = s.expected_days()[d].total();
            within(&format!("{} {}", s.name, p.date), got, p.contacts, 0.05);
            let peak = s.peak_day(day(&s, p.window.0), day(&s, p.window.1));
            assert_eq!(
                peak, d,
                "{}: the highest day of {:?} is not {}",
                s.name, p.window, p.date
            );
        }
    }
}

#[test]
fn window_totals_expected() {
    let year = shipped("dpc-year-2011-12");
    for (name, from, to, target) in WINDOWS {
        for s in [shipped(name), year.clone()] {
            within(
                &format!("{} {from}..{to}", s.name),
                expected_window(&s, from, to),
                target,
                0.05,
            );
        }
    }
}

/// Counts per day (by sending time, as the rate is defined) and by channel and type, per seed.
struct Sample {
    days: Vec<Vec<f64>>,
    phone_share: Vec<f64>,
    info_share: Vec<f64>,
    report_share: Vec<f64>,
    totals: Vec<f64>,
}

fn sample(s: &Scenario, seeds: std::ops::Range<u64>) -> Sample {
    let mut out = Sample {
        days: Vec::new(),
        phone_share: Vec::new(),
        info_share: Vec::new(),
        report_share: Vec::new(),
        totals: Vec::new(),
    };
    for seed in seeds {
        let mut days = vec![0.0; s.calendar.days.len()];
        let (mut n, mut phone, mut info, mut report) = (0.0, 0.0, 0.0, 0.0);
        for c in s.arrivals(seed) {
            let d = s
                .calendar
                .day_of(c.sent_us as f64 / 3.6e9)
                .expect("inside the horizon");
            days[d] += 1.0;
            n += 1.0;
            phone += f64::from(c.channel == Channel::Phone);
            info += f64::from(c.rtype == RequestType::Information);
            report += f64::from(c.rtype == RequestType::Report);
        }
        out.days.push(days);
        out.totals.push(n);
        out.phone_share.push(100.0 * phone / n);
        out.info_share.push(100.0 * info / n);
        out.report_share.push(100.0 * report / n);
    }
    out
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn sd(v: &[f64]) -> f64 {
    let m = mean(v);
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
}

/// The model's variance of the count over days `from..=to` (one realisation).
fn model_var(s: &Scenario, from: usize, to: usize) -> f64 {
    let days = &s.expected_days()[from..=to];
    let mu: f64 = days.iter().map(|d| d.total()).sum();
    mu + s.busyness_cv.powi(2) * days.iter().map(|d| d.baseline.powi(2)).sum::<f64>()
}

/// `got` (a mean of `r` draws with model variance `var`) matches `expected` within 4 SE, and
/// `target` within `rel` plus 4 SE.
fn check_mean(what: &str, got: f64, expected: f64, target: f64, rel: f64, var: f64, r: usize) {
    let se = (var / r as f64).sqrt();
    assert!(
        (got - expected).abs() <= 4.0 * se,
        "{what}: sample mean {got:.2}, expected {expected:.2}, 4 SE = {:.2}",
        4.0 * se
    );
    assert!(
        (got - target).abs() <= rel * target + 4.0 * se,
        "{what}: sample mean {got:.2}, target {target} +-{:.0}% +4 SE",
        rel * 100.0
    );
}

#[test]
fn event_scenarios_sampled_over_seeds() {
    const R: usize = 200;
    for p in &PEAKS {
        let s = shipped(p.scenario);
        let smp = sample(&s, 1..1 + R as u64);
        let d = day(&s, p.date);
        let got = mean(&smp.days.iter().map(|x| x[d]).collect::<Vec<_>>());
        let exp = s.expected_days()[d].total();
        check_mean(
            &format!("{} {}", p.scenario, p.date),
            got,
            exp,
            p.contacts,
            0.05,
            model_var(&s, d, d),
            R,
        );
        let total = mean(&smp.totals);
        let all = model_var(&s, 0, s.calendar.days.len() - 1);
        check_mean(
            &format!("{} total", p.scenario),
            total,
            s.expected_total(),
            s.expected_total(),
            0.0,
            all,
            R,
        );
    }
    for (name, from, to, target) in WINDOWS {
        let s = shipped(name);
        let (f, t) = (day(&s, from), day(&s, to));
        let smp = sample(&s, 1000..1000 + R as u64);
        let got = mean(
            &smp.days
                .iter()
                .map(|x| x[f..=t].iter().sum())
                .collect::<Vec<f64>>(),
        );
        check_mean(
            &format!("{name} {from}..{to}"),
            got,
            expected_window(&s, from, to),
            target,
            0.05,
            model_var(&s, f, t),
            R,
        );
    }
}

#[test]
fn year_sampled_over_seeds() {
    const R: usize = 100;
    let y = shipped("dpc-year-2011-12");
    let smp = sample(&y, 1..1 + R as u64);
    let var = model_var(&y, 0, y.calendar.days.len() - 1);
    check_mean(
        "year total",
        mean(&smp.totals),
        y.expected_total(),
        13_965.0,
        0.03,
        var,
        R,
    );
    // Shares: standard errors from the seeds' own spread.
    let exp_total = y.expected_total();
    let shares = [
        (
            "phone",
            &smp.phone_share,
            80.10,
            1.0,
            y.expected_by_channel()[Channel::Phone as usize],
        ),
        (
            "information",
            &smp.info_share,
            64.62,
            1.5,
            y.expected_by_type()[RequestType::Information as usize],
        ),
        (
            "report",
            &smp.report_share,
            11.64,
            1.5,
            y.expected_by_type()[RequestType::Report as usize],
        ),
    ];
    for (what, v, target, points, expected) in shares {
        let (m, se) = (mean(v), sd(v) / (R as f64).sqrt());
        let exp = 100.0 * expected / exp_total;
        // The ratio of means differs from the mean of ratios by O(1/N); 0.05 points covers it.
        assert!(
            (m - exp).abs() <= 4.0 * se + 0.05,
            "{what}: sampled {m:.3}%, expected {exp:.3}%, SE {se:.3}"
        );
        assert!(
            (m - target).abs() <= points + 4.0 * se,
            "{what}: sampled {m:.3}%, dossier {target}% +-{points}"
        );
    }
    for p in &PEAKS {
        let d = day(&y, p.date);
        let got = mean(&smp.days.iter().map(|x| x[d]).collect::<Vec<_>>());
        check_mean(
            &format!("year {}", p.date),
            got,
            y.expected_days()[d].total(),
            p.contacts,
            0.05,
            model_var(&y, d, d),
            R,
        );
    }
}

/// The per-cell grid integrates the same rate as the day totals: summed over cells it gives the
/// expected contacts of each channel and type, whatever the cell length.
#[test]
fn expected_grid_sums_to_the_channel_and_type_totals() {
    for name in ["emilia-quake-2012", "uars-reentry-2011"] {
        let s = shipped(name);
        let by_channel = s.expected_by_channel();
        for step_h in [0.25, 1.0, 7.0] {
            let mut channels = 0.0;
            let mut by_type = [0.0; 5];
            for ch in Channel::ALL {
                let grid = s.expected_grid(step_h, ch);
                let total: f64 = grid.iter().flatten().flatten().sum();
                let want = by_channel[ch as usize];
                assert!(
                    (total - want).abs() <= 1e-6 * want.max(1.0),
                    "{name} {ch:?} step {step_h}: {total} vs {want}"
                );
                channels += total;
                for cell in &grid {
                    for part in cell {
                        for (k, v) in part.iter().enumerate() {
                            by_type[k] += v;
                        }
                    }
                }
            }
            assert!((channels - s.expected_total()).abs() <= 1e-6 * s.expected_total());
            for (k, want) in s.expected_by_type().iter().enumerate() {
                assert!(
                    (by_type[k] - want).abs() <= 1e-6 * want.max(1.0),
                    "{name} type {k}"
                );
            }
        }
        // Phone event contacts only where the events are: nothing before the first trigger.
        let grid = s.expected_grid(1.0, Channel::Phone);
        let first = s
            .events
            .iter()
            .map(|e| e.start_h)
            .fold(f64::INFINITY, f64::min);
        let before: f64 = grid[..first.floor() as usize]
            .iter()
            .map(|c| c[1].iter().sum::<f64>())
            .sum();
        assert_eq!(before, 0.0, "{name}");
    }
}
