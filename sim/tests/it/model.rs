//! The contact-center model against queueing theory, conservation and determinism.
//!
//! Stationary checks: a flat Poisson stream of phone calls (a scenario with a 24-hour flat
//! profile and no busyness) against a 24-hour shift of c agents; the first 2 hours are dropped
//! as warm-up; each replication gives one estimate, and the mean over R replications must lie
//! within 4 standard errors of the exact value (a false-alarm rate of 6e-5 per check; the seeds
//! are fixed, so the outcome is reproducible).

use cclab_scenarios::Scenario;
use cclab_sim::model::Model;
use cclab_sim::staffing::erlang::{Queue, SlDefinition};
use cclab_sim::stats::{M, Outcome};
use cclab_sim::{Plan, RunConfig, simulate};

/// A scenario of `calls_per_hour` phone calls, flat over `days` days.
fn flat(calls_per_hour: f64, days: u32) -> Scenario {
    let per_day = calls_per_hour * 24.0;
    let text = format!(
        r#"
[calendar]
start = "2012-03-05"
days = {days}
holidays = "none"
[baseline]
working_day = {per_day}
non_working_day = {per_day}
profile = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
[channels]
ordinary = {{ phone = 1 }}
[types]
ordinary = {{ information = 1 }}
"#
    );
    Scenario::from_toml("flat.toml", &text).expect("valid")
}

fn plan(s: &Scenario, agents: u32, aht_s: f64, patience_s: Option<f64>) -> Plan {
    let patience = match patience_s {
        Some(p) => format!("[phone.patience.default]\nwait = {{ exponential = \"{p}s\" }}\n"),
        None => String::new(),
    };
    let text = format!(
        r#"
[[shifts]]
start = "00:00"
end = "24:00"
agents = {agents}
[handling.phone.default]
exponential = "{aht_s}s"
{patience}
"#
    );
    Plan::from_toml("plan.toml", &text, s).expect("valid plan")
}

struct Est {
    p_wait: Vec<f64>,
    asa: Vec<f64>,
    sl20: Vec<f64>,
    p_abandon: Vec<f64>,
}

fn estimate(s: &Scenario, p: &Plan, reps: u64) -> Est {
    let mut e = Est {
        p_wait: vec![],
        asa: vec![],
        sl20: vec![],
        p_abandon: vec![],
    };
    for rep in 0..reps {
        // Threshold 0: "answered within 0 s" = answered without waiting.
        let r0 = Model::new(s, p, 100 + rep, 3600.0, 0.0).run();
        let r20 = Model::new(s, p, 100 + rep, 3600.0, 20.0).run();
        let sum = |r: &cclab_sim::stats::RepStats, m: M| {
            r.intervals[2..].iter().map(|i| i[m as usize]).sum::<f64>()
        };
        let answered = sum(&r0, M::Answered);
        let queued = answered + sum(&r0, M::Abandoned);
        e.p_wait.push(1.0 - sum(&r0, M::AnsweredWithin) / queued);
        e.asa.push(sum(&r0, M::WaitAnswered) / answered);
        e.sl20.push(sum(&r20, M::AnsweredWithin) / answered);
        e.p_abandon.push(sum(&r0, M::Abandoned) / queued);
    }
    e
}

fn check(what: &str, xs: &[f64], exact: f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let se = sd / n.sqrt();
    assert!(
        (mean - exact).abs() <= 4.0 * se,
        "{what}: simulated {mean:.5} +- {se:.5} (SE), exact {exact:.5}"
    );
}

#[test]
fn mmc_agrees_with_erlang_c() {
    // 100 calls per 30 min, AHT 180 s, 14 agents; and 1,900 calls/h, AHT 180 s, 100 agents.
    for (per_hour, agents) in [(200.0, 14), (1900.0, 100)] {
        let s = flat(per_hour, 2);
        let p = plan(&s, agents, 180.0, None);
        let q = Queue::new(per_hour / 3600.0, 180.0, None).expect("queue");
        let k = q.kpis(agents).expect("stable");
        let e = estimate(&s, &p, 12);
        check("P(wait)", &e.p_wait, k.p_wait);
        check("ASA", &e.asa, k.asa_served);
        check(
            "SL(20)",
            &e.sl20,
            k.service_level(20.0, SlDefinition::AnsweredBased),
        );
    }
}

#[test]
fn mmc_with_exponential_patience_agrees_with_erlang_a() {
    // Issue 3's oracles: 100/30 min, AHT 180 s, 14 agents, patience 300 s: P(wait) 0.1452601143,
    // P(abandon) 0.0139837441; 2000/h, AHT 180 s, 100 agents, patience 180 s: 0.5132987983,
    // 0.0398609968.
    for (per_hour, agents, patience, p_wait, p_ab) in [
        (200.0, 14, 300.0, 0.1452601143, 0.0139837441),
        (2000.0, 100, 180.0, 0.5132987983, 0.0398609968),
    ] {
        let s = flat(per_hour, 2);
        let p = plan(&s, agents, 180.0, Some(patience));
        let e = estimate(&s, &p, 12);
        check("P(wait)", &e.p_wait, p_wait);
        check("P(abandon)", &e.p_abandon, p_ab);
    }
}

#[test]
fn every_contact_ends_in_exactly_one_outcome() {
    let s = cclab_scenarios::load("uars-reentry-2011").expect("shipped");
    let text = r#"
[[shifts]]
days = ["mon", "tue", "wed", "thu", "fri"]
start = "09:00"
end = "18:00"
agents = 3
[phone]
capacity = 10
[phone.patience.default]
balk = 0.05
wait = { exponential = "180s" }
[phone.redial.ordinary]
probability = 0.5
delay = { exponential = "10m" }
[resolution]
default = 0.8
[back_office]
referents = 2
research = { lognormal = { mean = "2d", cv = 0.5 } }
"#;
    let p = Plan::from_toml("p.toml", text, &s).expect("valid");
    for seed in 0..3 {
        let contacts = s
            .arrivals(cclab_scenarios::rng::replication_seed(seed, 0))
            .count() as u64;
        let r = Model::new(
            &s,
            &p,
            cclab_scenarios::rng::replication_seed(seed, 0),
            1800.0,
            20.0,
        )
        .run();
        let out = r.outcomes();
        assert_eq!(
            out.iter().sum::<u64>(),
            contacts,
            "seed {seed}: outcomes {out:?}"
        );
        // Attempts: every offered call is answered, abandoned, blocked, closed or voicemail,
        // or still waiting at the horizon.
        let t = |m: M| r.total(m);
        let ended =
            t(M::Answered) + t(M::Abandoned) + t(M::Blocked) + t(M::Closed) + t(M::Voicemail);
        let waiting_at_end = t(M::Offered) - ended;
        assert!(
            (0.0..=3.0 * 10.0).contains(&waiting_at_end),
            "seed {seed}: {waiting_at_end}"
        );
        assert!(out[Outcome::Lost as usize] > 0 && out[Outcome::BoClosed as usize] > 0);
    }
}

#[test]
fn same_seed_same_summary_whatever_the_threads() {
    let s = cclab_scenarios::load("genoa-flood-2011").expect("shipped");
    let p = plan(&s, 3, 300.0, Some(120.0));
    let cfg = |threads| RunConfig {
        seed: 9,
        replications: 6,
        first: 0,
        interval_s: 1800.0,
        sl_threshold_s: 20.0,
        threads,
    };
    let one = simulate(&s, &p, cfg(1));
    let two = simulate(&s, &p, cfg(2));
    assert_eq!(one.totals, two.totals);
    assert_eq!(one.intervals, two.intervals);
    assert_eq!(one.kpis, two.kpis);
}

#[test]
fn dpc_year_default_plan_reproduces_the_closure_split() {
    // Dossier: closed at the front office 86.1%, at the back office 12.19%, open 1.70%; each
    // must hold within 1 point (issue 3). 8 replications; the CI half-widths (~0.1-0.3 points)
    // are far inside the tolerance, and the mean must also sit within 1 point plus its CI.
    let s = cclab_scenarios::load("dpc-year-2011-12").expect("shipped");
    let p = Plan::from_scenario(&s)
        .expect("a default plan")
        .expect("valid");
    let cfg = RunConfig {
        seed: 1,
        replications: 8,
        first: 0,
        interval_s: 3600.0,
        sl_threshold_s: 20.0,
        threads: 2,
    };
    let sum = simulate(&s, &p, cfg);
    let kpi = |name: &str| sum.kpis.iter().find(|(k, _)| *k == name).expect("kpi").1;
    for (name, target) in [
        ("fo_share", 0.861),
        ("bo_share", 0.1219),
        ("open_share", 0.0170),
    ] {
        let m = kpi(name);
        assert!(
            (m.mean() - target).abs() <= 0.01 + m.ci95(),
            "{name}: {:.4} ± {:.4}, dossier {target}",
            m.mean(),
            m.ci95()
        );
    }
}

#[test]
fn every_shipped_scenario_simulates_with_its_default_plan() {
    for name in cclab_scenarios::library::names() {
        let s = cclab_scenarios::load(name).expect("shipped");
        let p = Plan::from_scenario(&s)
            .expect("a default plan")
            .expect("valid");
        let r = Model::new(&s, &p, 1, 1800.0, 20.0).run();
        let contacts = s.arrivals(1).count() as u64;
        assert_eq!(r.outcomes().iter().sum::<u64>(), contacts, "{name}");
        assert!(r.total(M::Answered) > 0.0, "{name}");
    }
}

#[test]
fn h24_rules_switch_on_after_the_lead_time() {
    let s = cclab_scenarios::load("emilia-quake-2012").expect("shipped");
    let text = r#"
[[shifts]]
days = ["mon", "tue", "wed", "thu", "fri"]
start = "09:00"
end = "18:00"
agents = 4
[h24]
shifts = [{ start = "00:00", end = "12:00", agents = 3 }, { start = "12:00", end = "24:00", agents = 5 }]
rules = [{ kind = "earthquake", lead = "2h", days = 3 }]
"#;
    let p = Plan::from_toml("p.toml", text, &s).expect("valid");
    // The first shock is at 04:03:52 on Sun 20 May: h24 from 06:03:52 for three days.
    let at = |h: f64| p.staffing.at((h * 3.6e9) as u64);
    assert_eq!(at(5.0), 0, "Sunday before the switch: closed");
    assert_eq!(at(7.0), 3);
    assert_eq!(at(13.0), 5);
    assert_eq!(at(24.0 + 3.0), 3, "Monday night inside h24");
    assert_eq!(at(4.0 * 24.0 + 3.0), 0, "Thursday night after h24: closed");
    assert_eq!(at(4.0 * 24.0 + 10.0), 4, "Thursday office hours");
    let bad = text.replace("earthquake", "volcano");
    let e = Plan::from_toml("p.toml", &bad, &s).expect_err("unknown kind");
    assert!(
        e.to_string().contains("h24.rules[0].kind") && e.to_string().contains("earthquake"),
        "{e}"
    );
}

#[test]
fn shards_merged_equal_one_run() {
    let s = cclab_scenarios::load("uars-reentry-2011").expect("shipped");
    let p = Plan::from_scenario(&s)
        .expect("a default plan")
        .expect("valid");
    let cfg = RunConfig {
        seed: 3,
        replications: 7,
        first: 0,
        interval_s: 1800.0,
        sl_threshold_s: 20.0,
        threads: 2,
    };
    let whole = simulate(&s, &p, cfg);
    // Three shards, merged in a scrambled order, through the serialisable form.
    let shards: Vec<_> = (0..3)
        .map(|i| simulate(&s, &p, cfg.shard(i, 3)).to_data())
        .collect();
    assert_eq!(shards.iter().map(|d| d.config.replications).sum::<u64>(), 7);
    let mut merged = cclab_sim::Summary::from_data(shards[2].clone()).expect("valid");
    for i in [0, 1] {
        merged.merge(&cclab_sim::Summary::from_data(shards[i].clone()).expect("valid"));
    }
    assert_eq!(merged.config, whole.config);
    assert_eq!(merged.intervals, whole.intervals);
    assert_eq!(merged.days, whole.days);
    assert_eq!(merged.kpis, whole.kpis);
    assert_eq!(merged.totals, whole.totals);
    assert_eq!(merged.by_event, whole.by_event);
    assert_eq!(merged.waits, whole.waits);
    assert_eq!(merged.day_waits, whole.day_waits);
    assert_eq!(merged.interval_waits, whole.interval_waits);
}

#[test]
fn littles_law_holds_on_the_phone_queue() {
    // The time integral of the queue length equals the sum of the waits of the calls that
    // waited (answered or abandoned), when the queue is empty at both ends of the run: a
    // sample-path identity, so the tolerance is floating-point rounding only.
    let s = cclab_scenarios::load("genoa-flood-2011").expect("shipped");
    let p = plan(&s, 2, 400.0, Some(150.0));
    for seed in 0..3 {
        let r = Model::new(&s, &p, seed, 1800.0, 20.0).run();
        let area = r.total(M::Queue);
        let waits = r.total(M::WaitAnswered) + r.total(M::WaitAbandoned);
        assert!(area > 1000.0, "the queue must be exercised: {area}");
        assert!(
            (area - waits).abs() <= 1e-6 * waits,
            "seed {seed}: area {area} vs waits {waits}"
        );
    }
}
