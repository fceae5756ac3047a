use super::series::{harmonic, ln_series};
use super::*;

/// Oracles printed to 10 decimals are checked to 1e-9 (half a unit in the last place is 5e-11;
/// 1e-9 leaves room for the last-digit rounding of whoever printed them, nothing more).
const TIGHT: f64 = 1e-9;

fn close(got: f64, want: f64, tol: f64, what: &str) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got:.12}, want {want:.12} +- {tol:e}"
    );
}

fn per_second(calls: f64, per_s: f64) -> f64 {
    calls / per_s
}

fn sl(fraction: f64, threshold_s: f64) -> Target {
    Target::ServiceLevel {
        fraction,
        threshold_s,
        definition: SlDefinition::OfferedBased,
    }
}

#[test]
fn erlang_b_small_values_by_hand() {
    // B(a, 1) = a / (1 + a); B(2, 2) = (4/2) / (1 + 2 + 2) = 0.4.
    close(erlang_b(3.0, 1), 0.75, 1e-15, "B(3,1)");
    close(erlang_b(2.0, 2), 0.4, 1e-15, "B(2,2)");
    assert_eq!(erlang_b(5.0, 0), 1.0);
}

#[test]
fn erlang_c_oracle_100_calls_per_30_min() {
    let q = Queue::new(per_second(100.0, 1800.0), 180.0, None).unwrap();
    let k = q.kpis(14).unwrap();
    close(k.p_wait, 0.1741319336, TIGHT, "P(wait)");
    // ASA printed to 6 decimals: within half a unit of the last place.
    close(k.asa_served, 7.835937, 5e-7, "ASA");
    for def in SlDefinition::ALL {
        close(k.service_level(20.0, def), 0.8883500192, TIGHT, def.name());
    }
    close(k.occupancy, 10.0 / 14.0, 1e-15, "occupancy");
    let s = q.fewest_agents(&[sl(0.8, 20.0)], 0.0).unwrap();
    assert_eq!(s.agents, 14);
    assert!(
        q.kpis(13)
            .unwrap()
            .service_level(20.0, SlDefinition::OfferedBased)
            < 0.8
    );
}

#[test]
fn erlang_c_oracle_20000_calls_per_hour() {
    let q = Queue::new(per_second(20_000.0, 3600.0), 180.0, None).unwrap();
    close(q.kpis(1030).unwrap().p_wait, 0.2489087858, TIGHT, "P(wait)");
}

#[test]
fn erlang_c_staffing_oracles_100_and_1000_erlangs() {
    for (erlangs, want) in [(100.0, 107), (1000.0, 1011)] {
        let q = Queue::new(erlangs / 180.0, 180.0, None).unwrap();
        let s = q.fewest_agents(&[sl(0.8, 20.0)], 0.0).unwrap();
        assert_eq!(s.agents, want, "{erlangs} erlangs");
    }
}

#[test]
fn erlang_c_refuses_load_at_or_above_agents_and_points_to_erlang_a() {
    let err = erlang_c(10.0, 10).unwrap_err();
    assert!(matches!(err, ErlangError::Unstable { agents: 10, .. }));
    assert!(err.to_string().contains("erlang a"), "{err}");
    let q = Queue::new(per_second(100.0, 1800.0), 180.0, None).unwrap();
    assert!(matches!(q.kpis(9), Err(ErlangError::Unstable { .. })));
    // The same load with a patience is fine: Erlang A has a steady state for any load.
    let qa = Queue::new(per_second(100.0, 1800.0), 180.0, Some(300.0)).unwrap();
    let k = qa.kpis(9).unwrap();
    assert!(k.p_abandon > 0.0 && k.p_abandon < 1.0);
}

#[test]
fn bad_inputs_are_refused_by_name() {
    let e = Queue::new(-1.0, 180.0, None).unwrap_err();
    assert!(matches!(
        e,
        ErlangError::BadParameter {
            what: "arrival rate",
            ..
        }
    ));
    assert!(matches!(
        Queue::new(1.0, f64::NAN, None),
        Err(ErlangError::BadParameter {
            what: "mean handle time",
            ..
        })
    ));
    assert!(matches!(
        Queue::new(1.0, 1.0, Some(0.0)),
        Err(ErlangError::BadParameter {
            what: "mean patience",
            ..
        })
    ));
    let q = Queue::new(1.0, 1.0, None).unwrap();
    assert!(matches!(
        q.kpis(0),
        Err(ErlangError::BadParameter { what: "agents", .. })
    ));
    assert!(matches!(
        q.fewest_agents(&[sl(0.8, 20.0)], 1.0),
        Err(ErlangError::BadParameter {
            what: "shrinkage",
            ..
        })
    ));
    assert!(matches!(
        q.fewest_agents(&[sl(1.0, 20.0)], 0.0),
        Err(ErlangError::BadParameter {
            what: "service level share",
            ..
        })
    ));
}

#[test]
fn erlang_a_oracles_from_the_simulation_issue() {
    let cases = [
        // (calls per second, aht, agents, patience, P(wait), P(abandon))
        (100.0 / 1800.0, 180.0, 14, 300.0, 0.1452601143, 0.0139837441),
        (
            2000.0 / 3600.0,
            180.0,
            100,
            180.0,
            0.5132987983,
            0.0398609968,
        ),
    ];
    for (rate, aht, agents, patience, p_wait, p_abandon) in cases {
        let k = Queue::new(rate, aht, Some(patience))
            .unwrap()
            .kpis(agents)
            .unwrap();
        close(k.p_wait, p_wait, TIGHT, "P(wait)");
        close(k.p_abandon, p_abandon, TIGHT, "P(abandon)");
    }
}

#[test]
fn erlang_a_oracles_from_the_perf_reference() {
    // lambda 2/s, service 180 s, 380 agents, patience 120 s; printed to 6 decimals, so checked
    // to half a unit of the last place.
    let q = Queue::new(2.0, 180.0, Some(120.0)).unwrap();
    let k = q.kpis(380).unwrap();
    let half_ulp = 5e-7;
    close(k.p_wait, 0.140007, half_ulp, "P(wait > 0)");
    close(k.p_abandon, 0.004917, half_ulp, "fraction abandoned");
    close(k.asa_served, 0.575011, half_ulp, "mean wait of served");
    close(
        k.service_level(20.0, SlDefinition::OfferedBased),
        0.994865,
        half_ulp,
        "SL offered",
    );
    close(k.occupancy, 0.942710, half_ulp, "occupancy");
}

#[test]
fn erlang_a_with_patience_equal_to_aht_is_m_m_infinity() {
    // When theta = mu every caller present leaves at rate mu whether served or not, so the
    // number in system is Poisson(a) and P(wait) = P(Poisson(10) >= 10).
    let q = Queue::new(200.0 / 3600.0, 180.0, Some(180.0)).unwrap();
    let k = q.kpis(10).unwrap();
    close(k.p_wait, 0.5420702855, TIGHT, "P(wait)");
    // And P(abandon) = E[(N - c)^+] / a.
    let (a, c) = (10.0f64, 10);
    let mut p = (-a).exp();
    let mut excess = 0.0;
    for n in 1..200 {
        p *= a / f64::from(n);
        if n > c {
            excess += f64::from(n - c) * p;
        }
    }
    close(k.p_abandon, excess / a, 1e-12, "P(abandon)");
}

#[test]
fn erlang_a_approaches_erlang_c_as_patience_grows() {
    let rate = 100.0 / 1800.0;
    let c = Queue::new(rate, 180.0, None).unwrap().kpis(14).unwrap();
    let a_at = |p: f64| Queue::new(rate, 180.0, Some(p)).unwrap().kpis(14).unwrap();
    // Abandonment perturbs every KPI to first order in 1/patience, so patience times the gap
    // must settle to a constant (here about -3135 s^2 for the ASA) and the gap itself vanish.
    let gaps = |a: &Kpis| {
        [
            a.p_wait - c.p_wait,
            a.asa_served - c.asa_served,
            a.p_abandon,
        ]
    };
    let (g8, g10) = (gaps(&a_at(1e8)), gaps(&a_at(1e10)));
    for (x, y) in g8.iter().zip(&g10) {
        close(x * 1e8, y * 1e10, 1e-3 * (x * 1e8).abs(), "patience x gap");
    }
    let a = a_at(1e11);
    close(a.p_wait, c.p_wait, 1e-9, "P(wait)");
    close(a.asa_served, c.asa_served, 1e-7, "ASA");
    assert!(a.p_abandon < 1e-9);
    for def in SlDefinition::ALL {
        close(
            a.service_level(20.0, def),
            c.service_level(20.0, def),
            1e-9,
            def.name(),
        );
    }
}

/// Brute force: the truncated birth-death chain for the stationary law, and for each number `k`
/// found waiting, the tagged caller's absorbing chain solved by uniformisation. Independent of
/// the incomplete-gamma identities used in the code.
fn brute_force(rate: f64, aht: f64, agents: u32, patience: f64, t: f64) -> [f64; 5] {
    let (mu, theta) = (1.0 / aht, 1.0 / patience);
    let c = agents as usize;
    let kmax = 100;
    let mut pi = vec![1.0f64; c + kmax + 1];
    for j in 1..pi.len() {
        let death = mu * (j.min(c) as f64) + theta * (j.saturating_sub(c) as f64);
        pi[j] = pi[j - 1] * rate / death;
    }
    let total: f64 = pi.iter().sum();
    pi.iter_mut().for_each(|p| *p /= total);
    let p_wait: f64 = pi[c..].iter().sum();
    let mean_queue: f64 = pi[c..].iter().enumerate().map(|(k, p)| k as f64 * p).sum();
    let p_abandon = theta * mean_queue / rate;
    let (mut served_within, mut virtual_within) = (0.0, 0.0);
    for k in 0..kmax {
        // States: j = number ahead (0..=k); "served" absorbs. Uniformise at the top rate.
        let n_mu = mu * agents as f64;
        let top = n_mu + (k as f64 + 1.0) * theta;
        for tagged_patient in [false, true] {
            let mut dist = vec![0.0f64; k + 1];
            dist[k] = 1.0;
            let mut served = 0.0;
            let mut weight = (-top * t).exp();
            let mut within = 0.0;
            for step in 0..300 {
                within += weight * served;
                let mut next = vec![0.0f64; k + 1];
                let mut newly = 0.0;
                for (j, &p) in dist.iter().enumerate() {
                    let ahead_out = n_mu + j as f64 * theta;
                    let own = if tagged_patient { 0.0 } else { theta };
                    if j == 0 {
                        newly += p * n_mu / top;
                    } else {
                        next[j - 1] += p * ahead_out / top;
                    }
                    // Stay (or, for an impatient tagged caller, leave unserved: dropped).
                    let stay = top - ahead_out - own;
                    next[j] += p * stay / top;
                }
                served += newly;
                dist = next;
                weight *= top * t / (step as f64 + 1.0);
            }
            if tagged_patient {
                virtual_within += pi[c + k] * served_capped(within);
            } else {
                served_within += pi[c + k] * served_capped(within);
            }
        }
    }
    let p_below: f64 = pi[..c].iter().sum();
    [
        p_wait,
        p_abandon,
        p_below + served_within,
        p_below + virtual_within,
        mean_queue,
    ]
}

fn served_capped(x: f64) -> f64 {
    x.min(1.0)
}

#[test]
fn erlang_a_service_levels_match_a_brute_force_chain() {
    let (rate, aht, agents, patience, t) = (100.0 / 1800.0, 180.0, 12, 240.0, 25.0);
    let [p_wait, p_abandon, offered_sl, virtual_sl, _] =
        brute_force(rate, aht, agents, patience, t);
    let k = Queue::new(rate, aht, Some(patience))
        .unwrap()
        .kpis(agents)
        .unwrap();
    // The brute force truncates the queue at 100 and the Poisson sum (mean <= 12.5) at 300: both
    // remainders are far below 1e-12 for this small system; 1e-10 leaves room for rounding.
    close(k.p_wait, p_wait, 1e-10, "P(wait)");
    close(k.p_abandon, p_abandon, 1e-10, "P(abandon)");
    close(
        k.service_level(t, SlDefinition::OfferedBased),
        offered_sl,
        1e-10,
        "SL offered",
    );
    close(
        k.service_level(t, SlDefinition::VirtualWait),
        virtual_sl,
        1e-10,
        "SL virtual",
    );
    close(
        k.service_level(t, SlDefinition::AnsweredBased),
        offered_sl / (1.0 - p_abandon),
        1e-10,
        "SL answered",
    );
    // Little's law on the queue: E[W over all] = E[Q] / lambda.
    let [.., mean_queue] = brute_force(rate, aht, agents, patience, 0.0);
    close(
        k.mean_wait_all,
        mean_queue / rate,
        1e-9,
        "mean wait over all",
    );
}

#[test]
fn erlang_a_asa_is_the_integral_of_the_served_tail() {
    // E[W; served] = integral of P(served, W > t) dt; trapezoids on a fine grid.
    let k = Queue::new(100.0 / 1800.0, 180.0, Some(300.0))
        .unwrap()
        .kpis(13)
        .unwrap();
    let p_served = 1.0 - k.p_abandon;
    let tail = |t: f64| p_served - k.service_level(t, SlDefinition::OfferedBased);
    let (h, steps) = (0.05, 60_000); // out to 3000 s, where the tail is below 1e-15
    let mut integral = 0.5 * (tail(0.0) + tail(h * steps as f64));
    for i in 1..steps {
        integral += tail(h * i as f64);
    }
    integral *= h;
    // Trapezoid error is O(h^2 |f''|) ~ 1e-8 s here; the kink at 0 is in the integrand's value,
    // not a discontinuity, so 1e-6 s relative is a safe bound.
    close(
        integral / p_served,
        k.asa_served,
        1e-6 * k.asa_served,
        "ASA served",
    );
}

#[test]
fn stable_beyond_ten_thousand_agents() {
    for patience in [None, Some(120.0), Some(1e7)] {
        let q = Queue::new(12_000.0 / 180.0, 180.0, patience).unwrap();
        for agents in [12_010, 12_100, 13_000, 20_000] {
            let k = q.kpis(agents).unwrap();
            for v in [
                k.p_wait,
                k.p_abandon,
                k.occupancy,
                k.service_level(20.0, SlDefinition::OfferedBased),
            ] {
                assert!(
                    v.is_finite() && (0.0..=1.0).contains(&v),
                    "{patience:?} {agents}: {k:?}"
                );
            }
            assert!(k.asa_served.is_finite() && k.asa_served >= 0.0);
        }
        let s = q.fewest_agents(&[sl(0.8, 20.0)], 0.0).unwrap();
        let below = q.kpis(s.agents - 1);
        assert!(below.map_or(true, |k| !sl(0.8, 20.0).met_by(&k)));
    }
    // Erlang A far above capacity: 12,000 erlangs on 6,000 agents.
    let k = Queue::new(12_000.0 / 180.0, 180.0, Some(120.0))
        .unwrap()
        .kpis(6000)
        .unwrap();
    assert!(
        k.p_wait > 0.999_999 && (k.p_abandon - 0.5).abs() < 0.01,
        "{k:?}"
    );
}

#[test]
fn staffing_meets_every_target_and_one_fewer_does_not() {
    let q = Queue::new(2.0, 180.0, Some(120.0)).unwrap();
    let targets = [
        sl(0.9, 20.0),
        Target::MaxAsa(10.0),
        Target::MaxAbandon(0.02),
        Target::MaxOccupancy(0.95),
    ];
    for t in targets {
        let s = q.fewest_agents(&[t], 0.0).unwrap();
        assert!(t.met_by(&s.kpis), "{t:?}");
        assert!(
            !t.met_by(&q.kpis(s.agents - 1).unwrap()),
            "{t:?} at {}",
            s.agents - 1
        );
    }
    let all = q.fewest_agents(&targets, 0.0).unwrap();
    let each = targets.map(|t| q.fewest_agents(&[t], 0.0).unwrap().agents);
    assert_eq!(all.agents, *each.iter().max().unwrap());
}

#[test]
fn max_occupancy_and_shrinkage_by_hand() {
    // 10 erlangs at most 85% busy: ceil(10 / 0.85) = 12 agents; 30% shrinkage: ceil(12/0.7) = 18.
    let q = Queue::new(10.0 / 180.0, 180.0, None).unwrap();
    let s = q.fewest_agents(&[Target::MaxOccupancy(0.85)], 0.3).unwrap();
    assert_eq!((s.agents, s.scheduled), (12, 18));
    assert_eq!(scheduled(14, 0.3), 20);
    assert_eq!(scheduled(7, 0.3), 10);
    assert_eq!(scheduled(7, 0.0), 7);
}

#[test]
fn service_levels_order_and_limits() {
    let k = Queue::new(100.0 / 1800.0, 180.0, Some(300.0))
        .unwrap()
        .kpis(11)
        .unwrap();
    let [answered, offered, virtual_] = SlDefinition::ALL.map(|d| k.service_level(20.0, d));
    // Offered-based counts abandoned callers as misses, so it is the lowest.
    assert!(
        offered < answered && offered < virtual_,
        "{answered} {offered} {virtual_}"
    );
    // At threshold 0 the answered-within share is the share answered at once.
    close(
        k.service_level(0.0, SlDefinition::OfferedBased),
        1.0 - k.p_wait,
        1e-12,
        "SL(0)",
    );
    close(
        k.service_level(0.0, SlDefinition::VirtualWait),
        1.0 - k.p_wait,
        1e-12,
        "V(0)",
    );
    // A very long threshold: everyone served is served within it.
    close(
        k.service_level(1e6, SlDefinition::AnsweredBased),
        1.0,
        1e-12,
        "SL(inf)",
    );
    close(
        k.service_level(1e6, SlDefinition::OfferedBased),
        1.0 - k.p_abandon,
        1e-12,
        "SL(inf)",
    );
}

#[test]
fn series_from_the_peak_matches_a_plain_sum() {
    // Plain left-to-right sums in f64 (fine at these sizes: the peak term is about e^250).
    for (a, v) in [
        (0.5, 0.0),
        (10.0, 3.0),
        (23.3, 16.7),
        (10.0, 300.0),
        (250.0, 600.0),
    ] {
        let (mut term, mut sum) = (1.0f64, 1.0f64);
        for i in 1..5000 {
            term *= v / (a + f64::from(i));
            sum += term;
        }
        let got = ln_series(a, v);
        close(
            got,
            sum.ln(),
            1e-12 * sum.ln().abs().max(1.0),
            &format!("ln T({a}, {v})"),
        );
    }
}

#[test]
fn harmonic_numbers_by_digamma_match_the_plain_sum() {
    for x in [0.3, 7.0, 1234.5] {
        let k = 10_000.0;
        let plain: f64 = (1..=10_001).map(|i| 1.0 / (x + f64::from(i))).sum();
        close(
            harmonic(x, k),
            plain,
            1e-12 * plain,
            &format!("H({x}, {k})"),
        );
    }
}

#[test]
fn heavy_overload_with_long_patience_is_cheap_and_sane() {
    // 12,000 erlangs, 100 agents, patience 10^7 s: the stationary queue peaks near 6.6e8
    // callers; the sum around the peak takes O(sqrt) terms. Nearly everyone abandons.
    let q = Queue::new(12_000.0 / 180.0, 180.0, Some(1e7)).unwrap();
    let k = q.kpis(100).unwrap();
    assert!(k.p_wait > 0.999_999, "{k:?}");
    close(k.p_abandon, 1.0 - 100.0 / 12_000.0, 1e-6, "P(abandon)");
    close(k.occupancy, 1.0, 1e-6, "occupancy");
}

#[test]
fn kpis_improve_monotonically_with_agents() {
    // The staffing search bisects, which is only right if every KPI it targets moves one way as
    // agents are added. Checked on a sweep through under- and over-staffing.
    for patience in [Some(60.0), Some(300.0), Some(3600.0), None] {
        let q = Queue::new(50.0 / 180.0, 180.0, patience).unwrap();
        let first = if patience.is_some() { 1 } else { 51 };
        let mut prev: Option<Kpis> = None;
        for n in first..=120 {
            let k = q.kpis(n).unwrap();
            if let Some(p) = &prev {
                // Deep in overload occupancy is 1 - O(1e-13) and P(abandon) = 1 - (served share)
                // rounds at the 1e-12 level; real decreases here are far larger than 1e-10.
                let eps = 1e-10;
                assert!(k.p_wait <= p.p_wait + eps, "{patience:?} {n}: P(wait)");
                assert!(
                    k.p_abandon <= p.p_abandon + eps,
                    "{patience:?} {n}: P(abandon)"
                );
                assert!(k.asa_served <= p.asa_served + eps, "{patience:?} {n}: ASA");
                assert!(
                    k.occupancy <= p.occupancy + eps,
                    "{patience:?} {n}: occupancy"
                );
                for def in SlDefinition::ALL {
                    let (now, before) = (k.service_level(20.0, def), p.service_level(20.0, def));
                    assert!(now >= before - eps, "{patience:?} {n}: SL {def}");
                }
            }
            prev = Some(k);
        }
    }
}
