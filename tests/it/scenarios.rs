//! `cclab scenarios` and `cclab arrivals` end to end: exit codes, output, and errors that name
//! the file, line:column and field.

use std::process::{Command, Output};

fn cclab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cclab"))
        .args(args)
        .output()
        .expect("cclab runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn list_names_every_shipped_scenario() {
    let o = cclab(&["scenarios", "list"]);
    assert!(o.status.success());
    let out = stdout(&o);
    for name in [
        "dpc-year-2011-12",
        "uars-reentry-2011",
        "genoa-flood-2011",
        "north-quake-snow-2012",
        "emilia-quake-2012",
        "ordinary-week",
    ] {
        assert!(out.contains(name), "{name} missing from:\n{out}");
    }
}

#[test]
fn show_marks_29_may_as_the_emilia_peak() {
    let o = cclab(&["scenarios", "show", "emilia-quake-2012"]);
    assert!(o.status.success());
    let out = stdout(&o);
    let peak = out
        .lines()
        .find(|l| l.trim_end().ends_with('*'))
        .expect("a marked peak day");
    assert!(peak.contains("2012-05-29"), "{peak}");
    let n: f64 = peak
        .split_whitespace()
        .nth(2)
        .expect("total")
        .parse()
        .expect("number");
    assert!((n - 585.0).abs() <= 0.05 * 585.0, "{peak}");
    assert!(out.contains("phone") && out.contains("offer") && out.contains("earthquake"));

    let o = cclab(&["scenarios", "show", "emilia-quake-2012", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["peak_day"]["date"], "2012-05-29");
    assert_eq!(v["daily"].as_array().expect("daily").len(), 45);
}

#[test]
fn check_exits_2_with_the_location_of_the_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("bad.toml");
    let text = cclab_scenarios::library::get("ordinary-week")
        .expect("shipped")
        .replace("working_day = 14.2", "working_day = -14.2");
    std::fs::write(&path, &text).expect("write");
    let o = cclab(&["scenarios", "check", path.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    let line = text
        .lines()
        .position(|l| l.contains("-14.2"))
        .expect("edited")
        + 1;
    assert!(
        err.contains(&format!("bad.toml:{line}:")) && err.contains("baseline.working_day"),
        "{err}"
    );
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        cclab_scenarios::library::get("ordinary-week").expect("shipped"),
    )
    .expect("write");
    let o = cclab(&["scenarios", "check", good.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains("valid"));
}

#[test]
fn arrivals_exports_the_year_as_csv() {
    let o = cclab(&[
        "arrivals",
        "dpc-year-2011-12",
        "--seed",
        "1",
        "--format",
        "csv",
    ]);
    assert!(o.status.success());
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("id,time,offset_s,sent,channel,type,event")
    );
    let rows: Vec<&str> = lines.collect();
    // Expected 13,965 +-3% (calibration); one draw has SD ~ sqrt(mu + cv^2 sum b_d^2) ~ 130.
    assert!(
        (13_400..=14_600).contains(&rows.len()),
        "{} rows",
        rows.len()
    );
    assert!(rows[0].starts_with("0,2011-07-04T"));
    let same = cclab(&[
        "arrivals",
        "dpc-year-2011-12",
        "--seed",
        "1",
        "--format",
        "csv",
    ]);
    assert_eq!(same.stdout, o.stdout, "same seed, same file");
}

#[test]
fn arrivals_window_keeps_ids_and_jsonl_parses() {
    let all = cclab(&["arrivals", "uars-reentry-2011", "--seed", "3"]);
    let window = cclab(&[
        "arrivals",
        "uars-reentry-2011",
        "--seed",
        "3",
        "--from",
        "2011-09-23T20:00",
        "--to",
        "2011-09-23T22:00",
        "--format",
        "jsonl",
    ]);
    assert!(window.status.success());
    let ids: Vec<u64> = stdout(&window)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            assert!(
                v["time"]
                    .as_str()
                    .expect("time")
                    .starts_with("2011-09-23T2")
            );
            v["id"].as_u64().expect("id")
        })
        .collect();
    assert!(
        ids.len() > 50,
        "the peak hours of 23 Sep hold over 100 contacts: {}",
        ids.len()
    );
    // The same contacts carry the same ids in the full export.
    let full = stdout(&all);
    let first = full
        .lines()
        .find(|l| l.starts_with(&format!("{},", ids[0])))
        .expect("id in the full stream");
    assert!(first.contains("2011-09-23T20:"), "{first}");
}

#[test]
fn bad_flags_are_input_errors() {
    let o = cclab(&["arrivals", "ordinary-week", "--scale", "-2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--scale"));
    let o = cclab(&["arrivals", "ordinary-week", "--from", "2030-01-01"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("outside the scenario"));
    let o = cclab(&["scenarios", "show", "no-such-scenario"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("emilia-quake-2012"));
}
