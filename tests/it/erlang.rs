//! `cclab erlang`: the calculator end to end, against the Erlang C and Erlang A oracles.

use std::process::{Command, Output};

fn cclab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cclab"))
        .args(args)
        .output()
        .expect("run cclab")
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = cclab(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

fn row(doc: &serde_json::Value, agents: u64) -> &serde_json::Value {
    doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["agents"] == agents)
        .unwrap_or_else(|| panic!("no row for {agents} agents in {doc}"))
}

#[test]
fn erlang_c_table_marks_the_fewest_agents_for_80_20() {
    let out = cclab(&[
        "erlang", "--calls", "100", "--per", "30m", "--aht", "180s", "--agents", "14",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let marked = text
        .lines()
        .find(|l| l.contains("<- fewest"))
        .expect("a marked row");
    assert!(marked.trim_start().starts_with("14 "), "{text}");
    assert!(
        marked.contains("88.8%"),
        "SL 0.8883500192 shown as 88.8%: {text}"
    );
    assert!(text.contains("10.00 erlangs"), "{text}");
}

#[test]
fn erlang_c_json_matches_the_oracles() {
    let doc = json(&[
        "erlang", "--calls", "100", "--per", "30m", "--aht", "3m", "--format", "json",
    ]);
    assert_eq!(doc["model"], "erlang-c");
    assert_eq!(doc["fewest_agents"], 14);
    let r = row(&doc, 14);
    // serde_json prints shortest round-trip floats, so the library's 1e-9 agreement carries over.
    assert!(
        (r["p_wait"].as_f64().unwrap() - 0.1741319336).abs() < 1e-9,
        "{r}"
    );
    assert!(
        (r["asa_served_s"].as_f64().unwrap() - 7.835937).abs() < 5e-7,
        "{r}"
    );
    assert!((r["service_level"]["offered"].as_f64().unwrap() - 0.8883500192).abs() < 1e-9);
    assert_eq!(r["meets_targets"], true);
    assert_eq!(row(&doc, 13)["meets_targets"], false);
}

#[test]
fn erlang_a_with_patience_and_shrinkage() {
    let doc = json(&[
        "erlang",
        "--calls",
        "100",
        "--per",
        "30m",
        "--aht",
        "180s",
        "--agents",
        "14",
        "--patience",
        "300s",
        "--shrinkage",
        "30%",
        "--format",
        "json",
    ]);
    assert_eq!(doc["model"], "erlang-a");
    let r = row(&doc, 14);
    assert!(
        (r["p_wait"].as_f64().unwrap() - 0.1452601143).abs() < 1e-9,
        "{r}"
    );
    assert!(
        (r["p_abandon"].as_f64().unwrap() - 0.0139837441).abs() < 1e-9,
        "{r}"
    );
    assert_eq!(r["scheduled"], 20, "ceil(14 / 0.7)");
    let fewest = doc["fewest_agents"].as_u64().unwrap();
    assert_eq!(
        doc["fewest_scheduled"].as_u64().unwrap(),
        (fewest as f64 / 0.7).ceil() as u64
    );
}

#[test]
fn agents_missing_the_target_exit_1() {
    let out = cclab(&[
        "erlang", "--calls", "100", "--per", "30m", "--aht", "180s", "--agents", "12",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("--agents: misses"));
}

#[test]
fn bad_input_names_the_flag_and_what_is_allowed() {
    let cases: [(&[&str], &str); 4] = [
        (&["--aht", "180"], "--aht"),
        (&["--aht", "180s", "--target", "80"], "--target"),
        (&["--aht", "180s", "--shrinkage", "120%"], "--shrinkage"),
        (&["--aht", "180s", "--format", "xml"], "--format"),
    ];
    for (extra, flag) in cases {
        let mut args = vec!["erlang", "--calls", "100", "--per", "30m"];
        args.extend_from_slice(extra);
        let out = cclab(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{args:?}: {err}");
    }
    let out = cclab(&[
        "erlang", "--calls", "100", "--per", "30m", "--aht", "180s", "--agents", "9",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("erlang a") && err.contains("patience"),
        "{err}"
    );
}
