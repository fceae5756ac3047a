//! Merging shard reports is exact: counts add up and histograms lose nothing.

use cclab_loadgen::record::{Outcome, StepStats};
use cclab_loadgen::report::{HistReport, Report, ValidityLimits};
use cclab_loadgen::{Plan, RunOptions, RunOutcome, Shard};
use std::time::{Duration, SystemTime};

/// A report for `shard` whose step stats hold `values` (latency = value, service = value / 2).
fn report(shard: Shard, values: &[u64]) -> Report {
    let profile = crate::support::get_profile();
    let plan = Plan::flat(&profile, 100.0, Duration::from_secs(1), 1, shard).unwrap();
    let mut st = StepStats::default();
    st.counts.planned = plan.planned();
    for &v in values {
        st.record(Outcome::Ok, v, v / 2);
        st.lateness.saturating_record(v % 97);
    }
    for _ in values.len() as u64..plan.planned() {
        st.record(Outcome::Http(500), 0, 0);
    }
    let out = RunOutcome {
        steps: vec![st],
        intervals: Vec::new(),
        interval: None,
        started_at: SystemTime::now(),
        wall: Duration::from_secs(1),
        interrupted: false,
        timeout: Duration::from_secs(5),
    };
    let opts = RunOptions {
        target: "http://127.0.0.1:1".into(),
        ..RunOptions::default()
    };
    Report::new(&plan, &profile, &opts, &out, ValidityLimits::default())
}

fn values(seed: u64, n: usize) -> Vec<u64> {
    // A spread of magnitudes, from microseconds to seconds.
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            1 + (x >> 33) % 10u64.pow(1 + (x % 6) as u32)
        })
        .collect()
}

#[test]
fn merged_histograms_equal_the_single_histogram() {
    let (a, b, c) = (values(1, 30), values(2, 33), values(3, 20));
    let shards = [
        report(Shard { index: 0, count: 3 }, &a),
        report(Shard { index: 1, count: 3 }, &b),
        report(Shard { index: 2, count: 3 }, &c),
    ];
    // Through JSON, as the CLI does.
    let files: Vec<(String, Report)> = shards
        .iter()
        .enumerate()
        .map(|(i, r)| {
            (
                format!("s{i}.json"),
                serde_json::from_str(&serde_json::to_string(r).unwrap()).unwrap(),
            )
        })
        .collect();
    let merged = Report::merge(&files).unwrap();
    assert!(merged.complete());
    assert_eq!(merged.run.shards, vec![0, 1, 2]);
    let all: Vec<u64> = a.iter().chain(&b).chain(&c).copied().collect();
    let single = report(Shard::WHOLE, &all);
    let (m, s) = (&merged.steps[0], &single.steps[0]);
    assert_eq!(m.counts, s.counts);
    assert_eq!(merged.totals, single.totals);
    merged.totals.check().unwrap();
    for (x, y) in [
        (&m.latency, &s.latency),
        (&m.service, &s.service),
        (&m.lateness, &s.lateness),
    ] {
        let (hx, hy) = (x.histogram().unwrap(), y.histogram().unwrap());
        assert_eq!(hx.len(), all.len() as u64);
        let bx: Vec<_> = hx
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect();
        let by: Vec<_> = hy
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect();
        assert_eq!(bx, by, "bucket by bucket");
        assert_eq!(
            (x.p50_us, x.p99_us, x.max_us, x.min_us),
            (y.p50_us, y.p99_us, y.max_us, y.min_us)
        );
    }
}

#[test]
fn merge_refuses_reports_of_other_plans_and_duplicate_shards() {
    let a = report(Shard { index: 0, count: 2 }, &values(1, 5));
    let dup = vec![
        ("a.json".to_string(), a.clone()),
        ("b.json".to_string(), a.clone()),
    ];
    assert!(
        Report::merge(&dup)
            .unwrap_err()
            .to_string()
            .contains("twice")
    );
    let mut other = report(Shard { index: 1, count: 2 }, &values(2, 5));
    other.run.seed = 99;
    let err = Report::merge(&[("a.json".into(), a.clone()), ("b.json".into(), other)])
        .unwrap_err()
        .to_string();
    assert!(err.contains("b.json") && err.contains("same plan"), "{err}");
    let partial = Report::merge(&[("a.json".into(), a)]).unwrap();
    assert!(!partial.complete());
}

#[test]
fn a_corrupt_histogram_is_refused() {
    let mut r = report(Shard::WHOLE, &values(1, 5));
    r.steps[0].latency = HistReport {
        hdr: "bm90IGEgaGlzdG9ncmFt".into(),
        ..r.steps[0].latency.clone()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    std::fs::write(&path, serde_json::to_string(&r).unwrap()).unwrap();
    let err = Report::read(path.to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("HdrHistogram"), "{err}");
}
