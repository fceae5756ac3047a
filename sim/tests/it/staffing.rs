//! Time-varying staffing on the shipped scenarios: the four methods run everywhere, and the
//! iterative staffing algorithm (ISA), checked by simulation, holds the target on the ramp of
//! the UARS reentry where the stationary methods breach it.
//!
//! Judgement is per interval on the simulated service level pooled over the replications
//! (answered within 20 s / calls queued), on the same seeds as the staffing itself was found
//! with (common random numbers), as `cclab staff` reports it.

use cclab_scenarios::{Channel, Scenario};
use cclab_sim::plan::Plan;
use cclab_sim::replicate::RunConfig;
use cclab_sim::staffing::erlang::{SlDefinition, Target};
use cclab_sim::staffing::varying::{self, Demand, Method, Options, Requirement};

fn load(name: &str) -> (Scenario, Plan) {
    let s = cclab_scenarios::load(name).expect("shipped scenario");
    let plan = Plan::from_scenario(&s)
        .expect("has a plan")
        .expect("valid plan");
    (s, plan)
}

fn target() -> Vec<Target> {
    vec![Target::ServiceLevel {
        fraction: 0.8,
        threshold_s: 20.0,
        definition: SlDefinition::OfferedBased,
    }]
}

fn options(staffed: Vec<bool>, replications: u64, threads: usize, interval_s: f64) -> Options {
    Options {
        targets: target(),
        staffed,
        run: RunConfig {
            seed: 7,
            replications,
            first: 0,
            interval_s,
            sl_threshold_s: 20.0,
            threads,
        },
        quantile: None,
        max_iterations: 12,
        max_corrections: 6,
    }
}

/// Per interval: whether the simulated staffing meets the target (`None`: no call queued).
fn judged(s: &Scenario, plan: &Plan, req: &Requirement, opts: &Options) -> Vec<Option<bool>> {
    let sum = varying::evaluate(s, plan, &req.agents, opts.run);
    varying::achieved(&sum)
        .iter()
        .map(|a| a.meets(&opts.targets))
        .collect()
}

#[test]
fn isa_holds_the_uars_ramp_where_the_stationary_methods_breach() {
    let (s, plan) = load("uars-reentry-2011");
    let interval_s = 1800.0;
    let d = Demand::new(&s, &plan, interval_s, None);
    // Staff the whole horizon h24, so every method faces the same intervals.
    let opts = options(vec![true; d.len()], 20, 2, interval_s);
    // The ramp: intervals whose expected calls exceed 3 and rise by at least 20% over the
    // previous interval.
    let ramp: Vec<usize> = (1..d.len())
        .filter(|&i| d.rate[i] * interval_s > 3.0 && d.rate[i] > 1.2 * d.rate[i - 1])
        .collect();
    assert!(ramp.len() >= 4, "ramp intervals: {ramp:?}");
    let isa = varying::requirement(&s, &plan, &d, Method::Isa, &opts).expect("isa");
    let isa_ok = judged(&s, &plan, &isa, &opts);
    let staffed_met: Vec<bool> = isa_ok.iter().filter_map(|x| *x).collect();
    let share = staffed_met.iter().filter(|x| **x).count() as f64 / staffed_met.len() as f64;
    assert!(
        share >= 0.95,
        "ISA meets the target in {share} of the intervals"
    );
    for &i in &ramp {
        assert_eq!(isa_ok[i], Some(true), "ISA misses ramp interval {i}");
    }
    for m in [Method::Sipp, Method::Lagged, Method::Sqrt] {
        let req = varying::requirement(&s, &plan, &d, m, &opts).expect("analytic");
        let ok = judged(&s, &plan, &req, &opts);
        let breached: Vec<usize> = ramp
            .iter()
            .copied()
            .filter(|&i| ok[i] == Some(false))
            .collect();
        assert!(
            !breached.is_empty(),
            "{} holds the whole ramp: nothing for ISA to show",
            m.name()
        );
        // Where the stationary method breaches, ISA staffs more and holds.
        for &i in &breached {
            assert!(isa.agents[i] > req.agents[i], "{} interval {i}", m.name());
        }
    }
}

#[test]
fn every_method_runs_on_every_shipped_scenario() {
    for name in cclab_scenarios::library::names() {
        let (s, plan) = load(name);
        // The year is long: fewer replications and hourly intervals keep the test quick.
        let (interval_s, reps) = if name == "dpc-year-2011-12" {
            (3600.0, 2)
        } else {
            (1800.0, 4)
        };
        let d = Demand::new(&s, &plan, interval_s, None);
        let opts = options(vec![true; d.len()], reps, 2, interval_s);
        for m in Method::ALL {
            let req = varying::requirement(&s, &plan, &d, m, &opts)
                .unwrap_or_else(|e| panic!("{name} {}: {e}", m.name()));
            assert_eq!(req.agents.len(), d.len(), "{name} {}", m.name());
            // At least one agent in every staffed interval, more where a surge's calls are.
            assert!(req.agents.iter().all(|&a| a >= 1), "{name} {}", m.name());
            let busiest = (0..d.len())
                .max_by(|&a, &b| d.rate[a].total_cmp(&d.rate[b]))
                .expect("intervals");
            let quietest = (0..d.len())
                .min_by(|&a, &b| d.rate[a].total_cmp(&d.rate[b]))
                .expect("intervals");
            // (An ordinary week's trickle needs one agent throughout.)
            assert!(
                req.agents[busiest] > req.agents[quietest]
                    || (s.events.is_empty() && req.agents[busiest] >= 1),
                "{name} {}: busiest {} vs quietest {}",
                m.name(),
                req.agents[busiest],
                req.agents[quietest]
            );
        }
    }
}

#[test]
fn isa_is_the_same_on_one_and_two_threads() {
    let (s, plan) = load("genoa-flood-2011");
    let d = Demand::new(&s, &plan, 1800.0, None);
    let one = varying::requirement(
        &s,
        &plan,
        &d,
        Method::Isa,
        &options(vec![true; d.len()], 6, 1, 1800.0),
    )
    .expect("isa");
    let two = varying::requirement(
        &s,
        &plan,
        &d,
        Method::Isa,
        &options(vec![true; d.len()], 6, 2, 1800.0),
    )
    .expect("isa");
    assert_eq!(one, two);
}

#[test]
fn unstaffed_intervals_get_no_agent_and_a_quantile_staffs_more() {
    let (s, plan) = load("emilia-quake-2012");
    let interval_s = 3600.0;
    let mean = Demand::new(&s, &plan, interval_s, None);
    let q90 = Demand::new(&s, &plan, interval_s, Some(0.9));
    // The 0.9 quantile of a mean-one Gamma factor is above 1 when it varies at all.
    assert!(s.busyness_cv > 0.0 && q90.factors.0 > 1.0);
    let grid = s.expected_grid(1.0, Channel::Phone);
    assert_eq!(grid.len(), mean.len());
    // Staff only every other interval.
    let staffed: Vec<bool> = (0..mean.len()).map(|i| i % 2 == 0).collect();
    let mut opts = options(staffed.clone(), 4, 2, interval_s);
    for m in [Method::Sipp, Method::Lagged, Method::Sqrt] {
        let a = varying::requirement(&s, &plan, &mean, m, &opts).expect("mean");
        let b = varying::requirement(&s, &plan, &q90, m, &opts).expect("q90");
        for (i, &open) in staffed.iter().enumerate() {
            if open {
                assert!(b.agents[i] >= a.agents[i], "{} interval {i}", m.name());
            } else {
                assert_eq!((a.agents[i], b.agents[i]), (0, 0));
            }
        }
        assert!(b.agent_hours(interval_s) > a.agent_hours(interval_s));
    }
    // ISA with a quantile takes the 0.9 quantile of the per-replication answers.
    let isa_mean = varying::requirement(&s, &plan, &mean, Method::Isa, &opts).expect("isa");
    opts.quantile = Some(0.9);
    let isa_q = varying::requirement(&s, &plan, &q90, Method::Isa, &opts).expect("isa q");
    assert!(isa_q.agent_hours(interval_s) > isa_mean.agent_hours(interval_s));
    for (i, &open) in staffed.iter().enumerate() {
        if !open {
            assert_eq!((isa_mean.agents[i], isa_q.agents[i]), (0, 0));
        }
    }
    // A mask of the wrong length is an error, not a panic.
    opts.staffed.pop();
    assert!(varying::requirement(&s, &plan, &mean, Method::Sipp, &opts).is_err());
}
