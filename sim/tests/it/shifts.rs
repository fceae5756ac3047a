//! Shift scheduling against hand-computed cases and brute-force enumeration of headcounts.

use cclab_sim::staffing::shifts::{
    Break, Candidate, Day, Mode, Schedule, SolveOptions, Template, Weekdays, expand, h24_templates,
    ordinary_templates, schedule, three_by_eight,
};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// `n` consecutive days of `mode` at `interval_min`, starting on a Monday.
fn days(n: usize, interval_min: u32, mode: Option<Mode>) -> Vec<Day> {
    let per_day = (24 * 60 / interval_min) as usize;
    (0..n)
        .map(|d| Day {
            label: format!("day {d}"),
            first_interval: d * per_day,
            intervals: per_day,
            weekday: (d % 7) as u8,
            mode,
        })
        .collect()
}

/// `value` on the intervals from `from` to `to` (clock hours) of every day, 0 elsewhere.
fn window_req(days: usize, interval_min: u32, from: u32, to: u32, value: u32) -> Vec<u32> {
    let per_day = (24 * 60 / interval_min) as usize;
    (0..days * per_day)
        .map(|i| {
            let minute = (i % per_day) as u32 * interval_min;
            if minute >= from * 60 && minute < to * 60 {
                value
            } else {
                0
            }
        })
        .collect()
}

/// Checks every promise a schedule makes about itself against the requirement.
fn check_consistent(req: &[u32], candidates: &[Candidate], s: &Schedule) {
    let mut coverage = vec![0u32; req.len()];
    for (c, &x) in candidates.iter().zip(&s.counts) {
        for i in c.covered().filter(|&i| i < req.len()) {
            coverage[i] += x;
        }
    }
    assert_eq!(coverage, s.coverage);
    let uncovered: Vec<(usize, u32)> = (0..req.len())
        .filter(|&i| coverage[i] < req[i])
        .map(|i| (i, req[i] - coverage[i]))
        .collect();
    assert_eq!(uncovered, s.uncovered);
    let cost: f64 = candidates
        .iter()
        .zip(&s.counts)
        .map(|(c, &x)| c.cost * f64::from(x))
        .sum();
    assert!((cost - s.cost).abs() < 1e-9, "{cost} vs {}", s.cost);
    assert!(
        s.lower_bound <= s.objective + 1e-9,
        "bound {} above {}",
        s.lower_bound,
        s.objective
    );
    assert!((s.gap - (s.objective - s.lower_bound)).abs() < 1e-9);
    if s.optimal {
        assert!(
            s.gap <= 1e-6 * s.objective.max(1.0),
            "optimal with gap {}",
            s.gap
        );
    }
}

#[test]
fn constant_three_from_nine_to_eighteen_takes_three_full_shifts() {
    // One full-time template without a break: 3 agents, 3 x 9 = 27 paid hours.
    let templates = vec![Template::new("09-18", Mode::Ordinary, 9 * 60, 9 * 60, None)];
    let req = window_req(1, 30, 9, 18, 3);
    let candidates = expand(&templates, &days(1, 30, Some(Mode::Ordinary)), 30);
    let s = schedule(&req, &candidates, &SolveOptions::default());
    check_consistent(&req, &candidates, &s);
    assert_eq!(s.counts, vec![3]);
    assert_eq!((s.cost, s.agent_hours), (27.0, 27.0));
    assert!(s.optimal && s.gap == 0.0 && s.uncovered.is_empty());
}

#[test]
fn large_headcounts_stay_exact() {
    // A surge-sized requirement: 4,321 agents all day on the ordinary templates, with
    // staggered breaks: e.g. 2,160 + 2,161 full-timers on the 12:00 and 13:00 breaks and 2,161
    // part-timers 10-14, 43,212 paid hours, proven optimal at this size too.
    let req = window_req(1, 15, 9, 18, 4321);
    let candidates = expand(
        &ordinary_templates(),
        &days(1, 15, Some(Mode::Ordinary)),
        15,
    );
    let s = schedule(&req, &candidates, &SolveOptions::default());
    check_consistent(&req, &candidates, &s);
    assert!(s.uncovered.is_empty());
    assert!(s.optimal, "gap {} on {}", s.gap, s.objective);
    assert_eq!(s.cost, 43_212.0);
}

#[test]
fn an_unpaid_break_leaves_its_hour_uncovered_when_no_one_else_can_cover_it() {
    // With the break fixed at 12:00, 3 agents (24 paid hours) cover everything but 12-13,
    // which is reported short by 3 on both of its half hours.
    let brk = Some(Break {
        offset_min: 180,
        length_min: 60,
    });
    let templates = vec![Template::new(
        "09-18 b12",
        Mode::Ordinary,
        9 * 60,
        9 * 60,
        brk,
    )];
    let req = window_req(1, 30, 9, 18, 3);
    let candidates = expand(&templates, &days(1, 30, Some(Mode::Ordinary)), 30);
    assert_eq!(candidates[0].off, vec![24, 25]);
    let s = schedule(&req, &candidates, &SolveOptions::default());
    check_consistent(&req, &candidates, &s);
    assert_eq!(s.counts, vec![3]);
    assert_eq!((s.cost, s.agent_hours), (24.0, 24.0));
    assert_eq!(s.uncovered, vec![(24, 3), (25, 3)]);
    assert!(s.optimal);
}

#[test]
fn staggered_breaks_need_twice_the_agents_without_part_timers() {
    // Breaks at 12:00 and 13:00: those on the 13:00 break hold 12-13, the others 13-14, so
    // 3 + 3 agents and 48 paid hours.
    let at = |h: u32| {
        Some(Break {
            offset_min: (h - 9) * 60,
            length_min: 60,
        })
    };
    let templates = vec![
        Template::new("09-18 b12", Mode::Ordinary, 9 * 60, 9 * 60, at(12)),
        Template::new("09-18 b13", Mode::Ordinary, 9 * 60, 9 * 60, at(13)),
    ];
    let req = window_req(1, 30, 9, 18, 3);
    let candidates = expand(&templates, &days(1, 30, Some(Mode::Ordinary)), 30);
    let s = schedule(&req, &candidates, &SolveOptions::default());
    check_consistent(&req, &candidates, &s);
    assert_eq!(s.counts, vec![3, 3]);
    assert_eq!(s.cost, 48.0);
    assert!(s.optimal && s.uncovered.is_empty());
}

#[test]
fn a_binding_cap_leaves_a_priced_shortfall_and_the_rest_covered() {
    // At most 2 full-timers a day and 3 needed all day: the morning part-timer (uncapped)
    // tops up 09-13, the afternoon one is capped at 0, so 13-18 stays 1 short.
    let mut full = Template::new("09-18", Mode::Ordinary, 9 * 60, 9 * 60, None);
    full.max_per_day = Some(2);
    let mut late = Template::new("14-18", Mode::Ordinary, 14 * 60, 4 * 60, None);
    late.max_per_day = Some(0);
    let early = Template::new("09-13", Mode::Ordinary, 9 * 60, 4 * 60, None);
    let templates = vec![full, early, late];
    let req = window_req(1, 60, 9, 18, 3);
    let candidates = expand(&templates, &days(1, 60, Some(Mode::Ordinary)), 60);
    let s = schedule(&req, &candidates, &SolveOptions::default());
    check_consistent(&req, &candidates, &s);
    assert_eq!(s.counts, vec![2, 1, 0]);
    assert_eq!(s.cost, 22.0);
    assert_eq!(s.uncovered, (13..18).map(|i| (i, 1)).collect::<Vec<_>>());
    // The default penalty is one more than the dearest shift (9 h): 10 per agent-interval short.
    assert_eq!(s.objective, 22.0 + 5.0 * 10.0);
    assert!(s.optimal);
}

#[test]
fn a_night_requirement_with_office_templates_is_reported_and_the_day_still_solved() {
    let ordinary = days(2, 30, Some(Mode::Ordinary));
    let candidates = expand(&ordinary_templates(), &ordinary, 30);
    let day_only = window_req(2, 30, 9, 18, 4);
    let mut req = vec![2u32; day_only.len()];
    for (r, d) in req.iter_mut().zip(&day_only) {
        *r = (*r).max(*d);
    }
    let s = schedule(&req, &candidates, &SolveOptions::default());
    check_consistent(&req, &candidates, &s);
    let night: Vec<(usize, u32)> = (0..req.len())
        .filter(|&i| day_only[i] == 0)
        .map(|i| (i, 2))
        .collect();
    assert_eq!(s.uncovered, night);
    let alone = schedule(&day_only, &candidates, &SolveOptions::default());
    assert!(s.optimal && alone.optimal);
    assert_eq!(s.cost, alone.cost);
    assert_eq!(s.blocks, 2, "each office day is its own block");
}

#[test]
fn expand_places_shifts_on_the_grid_across_midnight_and_clock_changes() {
    let h24 = days(2, 30, Some(Mode::H24));
    let night = vec![Template::new("22-06", Mode::H24, 22 * 60, 8 * 60, None)];
    let c = expand(&night, &h24, 30);
    assert_eq!(
        (c[0].start, c[0].end),
        (44, 60),
        "crosses into the next day"
    );
    assert_eq!((c[1].start, c[1].end), (92, 96), "clipped at the horizon");
    assert_eq!(
        (c[1].cost, c[1].paid_hours),
        (8.0, 8.0),
        "a clipped shift is paid in full"
    );

    // A 23-hour day: 09:00 local is 8 hours after midnight.
    let mut spring = days(1, 30, Some(Mode::Ordinary));
    spring[0].intervals = 46;
    let nine = vec![Template::new("09-13", Mode::Ordinary, 9 * 60, 4 * 60, None)];
    assert_eq!(expand(&nine, &spring, 30)[0].start, 16);

    // Closed days and weekdays outside a template's set get no candidates.
    let mut week = days(7, 60, Some(Mode::Ordinary));
    week[2].mode = None;
    let mut weekdays_only = nine.clone();
    weekdays_only[0].days = Weekdays::MON_FRI;
    let placed: Vec<usize> = expand(&weekdays_only, &week, 60)
        .iter()
        .map(|c| c.day)
        .collect();
    assert_eq!(placed, vec![0, 1, 3, 4]);
    assert!(
        expand(&nine, &h24, 30).is_empty(),
        "office templates do not run on h24 days"
    );

    // Off-grid times: an agent counts only on intervals fully on duty.
    let odd = vec![Template::new("09:10-13:10", Mode::Ordinary, 550, 240, None)];
    let c = expand(&odd, &days(1, 15, Some(Mode::Ordinary)), 15);
    assert_eq!((c[0].start, c[0].end), (37, 52));
}

#[test]
fn template_sets_have_the_documented_shapes() {
    let ordinary = ordinary_templates();
    assert_eq!(ordinary.len(), 9);
    assert!(
        ordinary
            .iter()
            .all(|t| t.mode == Mode::Ordinary && t.start_min + t.length_min <= 18 * 60)
    );
    assert_eq!(ordinary[0].paid_hours(), 8.0);
    let h24 = h24_templates(60);
    assert_eq!(h24.len(), 48);
    assert!(
        h24.iter().any(|t| t.start_min + t.length_min > 24 * 60),
        "overnight shifts exist"
    );
    let starts: Vec<u32> = three_by_eight().iter().map(|t| t.start_min).collect();
    assert_eq!(starts, vec![0, 8 * 60, 16 * 60]);
}

/// A random small instance: a few candidates (some with breaks, some capped) on a short grid.
fn random_instance(rng: &mut Xoshiro256PlusPlus, caps: bool) -> (Vec<u32>, Vec<Candidate>) {
    let n: usize = rng.random_range(4..12);
    let req: Vec<u32> = (0..n).map(|_| rng.random_range(0..4)).collect();
    let k = rng.random_range(1..8);
    let candidates = (0..k)
        .map(|t| {
            let start = rng.random_range(0..n);
            let end = rng.random_range(start + 1..=n);
            // Breaks anywhere inside (several at times) make the relaxation fractional, as
            // cyclic coverage patterns do, so that rounding alone does not suffice.
            let off: Vec<usize> = (start + 1..end - 1)
                .filter(|_| rng.random_bool(0.3))
                .collect();
            let hours = (end - start - off.len()) as f64;
            let cost = hours * [1.0, 1.0, 1.25, 0.8][rng.random_range(0..4)];
            let max = (caps && rng.random_bool(0.5)).then(|| rng.random_range(0..3));
            Candidate {
                template: t,
                day: 0,
                start,
                end,
                off,
                cost,
                paid_hours: hours,
                max,
            }
        })
        .collect();
    (req, candidates)
}

/// The least objective over every headcount vector (0..=3 each, within caps), with shortfall
/// on coverable intervals priced as [`schedule`] prices it.
fn brute_force(req: &[u32], candidates: &[Candidate]) -> f64 {
    let penalty = candidates.iter().map(|c| c.cost).fold(0.0, f64::max) + 1.0;
    let coverable: Vec<bool> = (0..req.len())
        .map(|i| candidates.iter().any(|c| c.covered().any(|j| j == i)))
        .collect();
    let limits: Vec<u32> = candidates
        .iter()
        .map(|c| c.max.unwrap_or(3).min(3))
        .collect();
    let mut counts = vec![0u32; candidates.len()];
    let mut best = f64::INFINITY;
    loop {
        let mut coverage = vec![0u32; req.len()];
        for (c, &x) in candidates.iter().zip(&counts) {
            c.covered().for_each(|i| coverage[i] += x);
        }
        let short: u32 = (0..req.len())
            .filter(|&i| coverable[i])
            .map(|i| req[i].saturating_sub(coverage[i]))
            .sum();
        let cost: f64 = candidates
            .iter()
            .zip(&counts)
            .map(|(c, &x)| c.cost * f64::from(x))
            .sum();
        best = best.min(cost + penalty * f64::from(short));
        // Next headcount vector, odometer style.
        let Some(k) = (0..counts.len()).find(|&k| counts[k] < limits[k]) else {
            return best;
        };
        counts[k] += 1;
        counts[..k].iter_mut().for_each(|x| *x = 0);
    }
}

#[test]
fn the_program_matches_brute_force_on_small_instances() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(20_111_123);
    for case in 0..400 {
        let (req, candidates) = random_instance(&mut rng, case % 2 == 1);
        let s = schedule(&req, &candidates, &SolveOptions::default());
        check_consistent(&req, &candidates, &s);
        let best = brute_force(&req, &candidates);
        assert!(
            s.optimal && s.gap <= 1e-9,
            "case {case}: not proven optimal: {s:?}"
        );
        assert!(
            (s.objective - best).abs() < 1e-9,
            "case {case}: {} vs brute force {best}",
            s.objective
        );
        if candidates.iter().all(|c| c.max.is_none()) {
            // Without caps an interval is short exactly when no candidate covers it.
            for (i, &r) in req.iter().enumerate() {
                let covered = candidates.iter().any(|c| c.covered().any(|j| j == i));
                assert_eq!(
                    covered || r == 0,
                    s.coverage[i] >= r,
                    "case {case}, interval {i}"
                );
            }
            assert_eq!(s.objective, s.cost);
        }
    }
}

#[test]
fn cut_blocks_keep_a_valid_bound_and_a_feasible_plan() {
    // Windows and chunks of 3 intervals force every cut path on instances brute force can
    // still check: the bound must stay below the true optimum, the plan above it.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(23_092_011);
    let cut = SolveOptions {
        whole_intervals: 3,
        window_intervals: 3,
        ..SolveOptions::default()
    };
    for case in 0..400 {
        let (req, candidates) = random_instance(&mut rng, case % 3 == 2);
        let s = schedule(&req, &candidates, &cut);
        check_consistent(&req, &candidates, &s);
        let best = brute_force(&req, &candidates);
        assert!(
            s.lower_bound <= best + 1e-9,
            "case {case}: bound {} above optimum {best}",
            s.lower_bound
        );
        assert!(
            s.objective >= best - 1e-9,
            "case {case}: plan {} below optimum {best}",
            s.objective
        );
        if candidates.iter().all(|c| c.max.is_none()) {
            assert!(
                s.uncovered
                    .iter()
                    .all(|&(i, _)| !candidates.iter().any(|c| c.covered().any(|j| j == i)))
            );
        }
    }
}

/// A month of h24 days at 15 minutes with a daily wave and seeded noise.
fn h24_month() -> (Vec<u32>, Vec<Day>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2012);
    let req = (0..30 * 96)
        .map(|i| {
            let hour = (i % 96) as f64 / 4.0;
            let wave = 6.0 + 10.0 * (-(hour - 13.0) * (hour - 13.0) / 20.0).exp();
            (wave + rng.random_range(-2.0..2.0)).max(0.0) as u32
        })
        .collect();
    (req, days(30, 15, Some(Mode::H24)))
}

#[test]
fn a_month_of_h24_days_is_solved_to_optimality_and_deterministically() {
    let (req, days) = h24_month();
    let candidates = expand(&h24_templates(60), &days, 15);
    let s = schedule(&req, &candidates, &SolveOptions::default());
    check_consistent(&req, &candidates, &s);
    assert!(s.optimal && s.uncovered.is_empty(), "gap {}", s.gap);
    assert_eq!(s.blocks, 1, "overnight shifts link the whole month");
    assert_eq!(s, schedule(&req, &candidates, &SolveOptions::default()));
}

#[test]
fn shifts_with_breaks_on_a_long_block_report_a_small_gap() {
    // Breaks make the relaxation fractional, so the month is decided day by day; the plan
    // stays feasible and within 2% of the whole month's bound.
    let (req, days) = h24_month();
    let mut templates = h24_templates(60);
    for t in &mut templates {
        t.break_ = Some(Break {
            offset_min: t.length_min / 2,
            length_min: 30,
        });
    }
    let candidates = expand(&templates, &days[..10], 15);
    let req = &req[..10 * 96];
    let s = schedule(req, &candidates, &SolveOptions::default());
    check_consistent(req, &candidates, &s);
    assert!(s.uncovered.is_empty());
    assert!(
        s.gap <= 0.02 * s.objective,
        "gap {} on {}",
        s.gap,
        s.objective
    );
}

#[test]
fn a_year_of_office_days_is_one_block_per_open_day_and_proven_optimal() {
    // Weekends closed: their requirement (a few calls still come in) is reported, not staffed.
    let mut year = days(365, 30, Some(Mode::Ordinary));
    for day in year.iter_mut().filter(|d| d.weekday >= 5) {
        day.mode = None;
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2011);
    let req: Vec<u32> = window_req(365, 30, 9, 18, 1)
        .into_iter()
        .map(|open| open * rng.random_range(2..9))
        .collect();
    let candidates = expand(&ordinary_templates(), &year, 30);
    let s = schedule(&req, &candidates, &SolveOptions::default());
    check_consistent(&req, &candidates, &s);
    let open_days = year.iter().filter(|d| d.mode.is_some()).count();
    assert_eq!(s.blocks, open_days);
    assert!(s.optimal, "gap {}", s.gap);
    let weekend = |i: usize| year[i / 48].mode.is_none();
    assert!(s.uncovered.iter().all(|&(i, _)| weekend(i)));
    let short: u32 = s.uncovered.iter().map(|u| u.1).sum();
    let weekend_need: u32 = (0..req.len()).filter(|&i| weekend(i)).map(|i| req[i]).sum();
    assert_eq!(short, weekend_need);
}
