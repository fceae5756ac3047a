//! `cclab loadgen` end to end, against the real reference server (embedded, or `cclab serve`).
//!
//! Every run replays a few hours of the UARS re-entry at x14400 (an hour in 0.25 s), so each
//! test takes a few seconds. Lateness limits are relaxed (`--max-lateness-p99 1s`) where the
//! test is about counts, because test machines are shared and noisy.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

const SCENARIO: &str = "uars-reentry-2011";
/// Twelve hours of the peak day: 3 s of run time at x14400.
const WINDOW: [&str; 6] = [
    "--from",
    "2011-09-23T08:00",
    "--to",
    "2011-09-23T20:00",
    "--speedup",
    "14400",
];

fn cclab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cclab"))
        .args(args)
        .output()
        .expect("run cclab")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// The accounting identities of one counts object.
fn check_counts(c: &Value) {
    let dropped = u(&c["dropped"]["in_flight_cap"])
        + u(&c["dropped"]["unresolved"])
        + u(&c["dropped"]["stopped"]);
    assert_eq!(u(&c["planned"]), u(&c["sent"]) + dropped, "{c}");
    let http: u64 = c["http_errors"].as_object().unwrap().values().map(u).sum();
    let errors = http
        + [
            "timeouts",
            "connect_errors",
            "transport_errors",
            "capture_errors",
            "invalid_requests",
            "cancelled",
        ]
        .iter()
        .map(|k| u(&c[*k]))
        .sum::<u64>();
    assert_eq!(u(&c["sent"]), u(&c["ok"]) + errors, "{c}");
}

/// Planned requests per step from the dry run (`plan --format csv`).
fn planned_by_step(extra: &[&str]) -> std::collections::BTreeMap<String, u64> {
    let mut args = vec!["loadgen", "plan", SCENARIO, "--format", "csv"];
    args.extend_from_slice(&WINDOW);
    args.extend_from_slice(extra);
    let out = cclab(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut m = std::collections::BTreeMap::new();
    for line in text(&out.stdout).lines().skip(1) {
        *m.entry(line.split(',').nth(3).unwrap().to_string())
            .or_default() += 1;
    }
    m
}

#[test]
fn embedded_run_reconciles_and_follows_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let (report, series) = (dir.path().join("r.json"), dir.path().join("ts.csv"));
    let mut args = vec!["loadgen", SCENARIO];
    args.extend_from_slice(&WINDOW);
    let (r, s) = (report.to_str().unwrap(), series.to_str().unwrap());
    args.extend_from_slice(&[
        "--out",
        r,
        "--timeseries",
        s,
        "--interval",
        "500ms",
        "--max-lateness-p99",
        "1s",
    ]);
    let started = Instant::now();
    let out = cclab(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    let summary = text(&out.stdout);
    assert!(
        summary.contains("reconciliation: every accepted intake is exactly one record"),
        "{summary}"
    );

    let r = read_json(&report);
    assert_eq!(r["schema"], "cclab-loadgen-report/1");
    check_counts(&r["totals"]);
    let plan = planned_by_step(&[]);
    for step in r["steps"].as_array().unwrap() {
        let name = step["name"].as_str().unwrap();
        check_counts(&step["counts"]);
        assert_eq!(
            u(&step["counts"]["planned"]),
            plan.get(name).copied().unwrap_or(0),
            "{name}"
        );
        // The reference server answers every step of every journey as expected.
        assert_eq!(
            u(&step["counts"]["ok"]),
            u(&step["counts"]["planned"]),
            "{name}: {}",
            step["counts"]
        );
        assert_eq!(u(&step["latency"]["count"]), u(&step["counts"]["ok"]));
    }
    let rec = &r["reconciliation"];
    assert_eq!(rec["pass"], true, "{rec}");
    assert_eq!(u(&rec["after"]) - u(&rec["before"]), u(&rec["accepted"]));
    assert_eq!(u(&rec["accepted"]), plan["intake"]);

    // The achieved per-interval curve follows the plan: `planned` is the plan's own count, and
    // `sent` (by actual send time) differs only by requests sent a few ms late across an
    // interval boundary: at most 2% of all requests plus 3 over the whole series.
    let csv = std::fs::read_to_string(&series).unwrap();
    let rows: Vec<Vec<u64>> = csv
        .lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .skip(1)
                .take(2)
                .map(|x| x.parse().unwrap())
                .collect()
        })
        .collect();
    let planned: u64 = rows.iter().map(|r| r[0]).sum();
    let sent: u64 = rows.iter().map(|r| r[1]).sum();
    assert_eq!(planned, plan.values().sum::<u64>());
    assert_eq!(sent, planned);
    let drift: u64 = rows.iter().map(|r| r[0].abs_diff(r[1])).sum();
    assert!(
        drift <= planned / 50 + 3,
        "drift {drift} of {planned}: {csv}"
    );
    assert!(rows.len() >= 6, "{csv}");
}

#[test]
fn shards_and_merge_replay_exactly_what_one_process_does() {
    let dir = tempfile::tempdir().unwrap();
    let start = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        + 2.0;
    let start = format!("{start:.3}");
    let n = 3;
    let spawn = |shard: Option<usize>, out: &Path| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cclab"));
        cmd.args(["loadgen", "run", SCENARIO])
            .args([
                "--from",
                "2011-09-23T08:00",
                "--to",
                "2011-09-23T14:00",
                "--speedup",
                "14400",
            ])
            .args(["--max-lateness-p99", "1s", "--start-at", &start, "--out"])
            .arg(out)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(i) = shard {
            cmd.args(["--shard", &format!("{i}/{n}")]);
        }
        cmd.spawn().unwrap()
    };
    let whole_path = dir.path().join("whole.json");
    let mut children = vec![spawn(None, &whole_path)];
    let shard_paths: Vec<_> = (0..n)
        .map(|i| dir.path().join(format!("s{i}.json")))
        .collect();
    for (i, p) in shard_paths.iter().enumerate() {
        children.push(spawn(Some(i), p));
    }
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let merged_path = dir.path().join("merged.json");
    let mut args = vec!["loadgen", "merge"];
    let paths: Vec<String> = shard_paths
        .iter()
        .map(|p| p.to_str().unwrap().to_string())
        .collect();
    args.extend(paths.iter().map(String::as_str));
    args.extend_from_slice(&["--out", merged_path.to_str().unwrap()]);
    let out = cclab(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    let whole = read_json(&whole_path);
    let merged = read_json(&merged_path);
    let shards: Vec<Value> = shard_paths.iter().map(|p| read_json(p)).collect();
    assert_eq!(merged["run"]["shards"], serde_json::json!([0, 1, 2]));
    check_counts(&merged["totals"]);
    for (k, ws) in whole["steps"].as_array().unwrap().iter().enumerate() {
        let ms = &merged["steps"][k];
        for key in ["planned", "sent", "ok"] {
            assert_eq!(
                ms["counts"][key], ws["counts"][key],
                "step {} {key}",
                ws["name"]
            );
        }
        // The merged histograms hold every value of every shard.
        for h in ["latency", "service", "lateness"] {
            let sum: u64 = shards.iter().map(|s| u(&s["steps"][k][h]["count"])).sum();
            assert_eq!(u(&ms[h]["count"]), sum, "step {} {h}", ws["name"]);
            let max = shards
                .iter()
                .map(|s| u(&s["steps"][k][h]["max_us"]))
                .max()
                .unwrap();
            assert_eq!(u(&ms[h]["max_us"]), max);
        }
    }
    // Each shard reconciled on its own embedded server.
    for s in &shards {
        assert_eq!(s["reconciliation"]["pass"], true, "{}", s["reconciliation"]);
    }
    // An incomplete merge is refused unless asked for.
    let out = cclab(&["loadgen", "merge", &paths[0], &paths[1]]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("missing"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn thresholds_decide_the_exit_code() {
    let mut args = vec!["loadgen", SCENARIO, "--duration", "1s"];
    args.extend_from_slice(&WINDOW);
    args.extend_from_slice(&[
        "--max-lateness-p99",
        "1s",
        "--threshold",
        "dropped==0",
        "--threshold",
        "errors<0.5%",
    ]);
    let out = cclab(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("threshold dropped==0: pass"));
    args.extend_from_slice(&["--threshold", "intake.p99<1us"]);
    let out = cclab(&args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("threshold intake.p99<1us: FAIL"));
    let out = cclab(&["loadgen", SCENARIO, "--threshold", "intake.p99 about 1s"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("invalid threshold"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bad_profiles_and_targets_are_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\n[[steps]]\nname = \"a\"\npath = \"/a\"\n[[steps]]\nname = \"b\"\nafter = \"z\"\npath = \"/b\"\n").unwrap();
    let out = cclab(&["loadgen", SCENARIO, "--profile", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("steps[1] (b).after"),
        "{err}"
    );
    let out = cclab(&["loadgen", SCENARIO, "--target", "ftp://example.org"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("invalid target"),
        "{}",
        text(&out.stderr)
    );
    let out = cclab(&["loadgen", SCENARIO, "--target", "http://127.0.0.1:9"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "operator steps need a token for an external target"
    );
    assert!(
        text(&out.stderr).contains("operator_token"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_unreachable_target_gives_counted_errors_and_a_clean_exit() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let target = format!("http://{addr}");
    let mut args = vec!["loadgen", SCENARIO, "--duration", "1s", "--format", "json"];
    args.extend_from_slice(&WINDOW);
    args.extend_from_slice(&[
        "--target",
        &target,
        "--var",
        "operator_token=t0123456789abcdef",
        "--max-lateness-p99",
        "1s",
    ]);
    let out = cclab(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let intake = &r["steps"][0]["counts"];
    check_counts(intake);
    assert!(u(&intake["sent"]) > 0);
    assert_eq!(intake["connect_errors"], intake["sent"], "{intake}");
    // Later steps of those journeys had no case to act on.
    check_counts(&r["totals"]);
    assert_eq!(u(&r["totals"]["ok"]), 0);
}

#[test]
fn ctrl_c_writes_a_partial_report_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("partial.json");
    // The whole scenario at x14400 lasts 30 s; we interrupt after 1.5 s.
    let child = Command::new(env!("CARGO_BIN_EXE_cclab"))
        .args([
            "loadgen",
            SCENARIO,
            "--speedup",
            "14400",
            "--grace",
            "2s",
            "--out",
        ])
        .arg(&report)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    let r = read_json(&report);
    assert_eq!(r["run"]["interrupted"], true);
    check_counts(&r["totals"]);
    assert!(u(&r["totals"]["dropped"]["stopped"]) > 0);
}

#[test]
fn plan_dry_run_and_help() {
    let mut args = vec![
        "loadgen",
        "plan",
        SCENARIO,
        "--format",
        "rates",
        "--interval",
        "1s",
    ];
    args.extend_from_slice(&WINDOW);
    let out = cclab(&args);
    assert!(out.status.success());
    let csv = text(&out.stdout);
    let total: u64 = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, planned_by_step(&[]).values().sum::<u64>());
    assert_eq!(
        csv.lines().count(),
        1 + 3,
        "3 s of run time in 1 s rows:\n{csv}"
    );
    let help = text(&cclab(&["loadgen", "--help"]).stdout);
    for needle in [
        "Exit codes:",
        "130",
        "invalid run",
        "--shard",
        "--threshold",
        "docs/loadgen-report.md",
    ] {
        assert!(help.contains(needle), "{needle} missing from help");
    }
}
