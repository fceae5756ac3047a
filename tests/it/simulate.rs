//! `cclab simulate` end to end: default plans, plan files, formats and input errors.

use std::process::{Command, Output};

fn cclab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cclab"))
        .args(args)
        .output()
        .expect("cclab runs")
}

#[test]
fn simulate_reports_the_surge_with_confidence_intervals() {
    let o = cclab(&["simulate", "uars-reentry-2011", "--replications", "4"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "sl_answered",
        "sl_offered",
        "asa_served_s",
        "fo_share",
        "2011-09-23 Fri",
        "worst intervals",
        "±",
    ] {
        assert!(out.contains(needle), "missing {needle}:\n{out}");
    }
}

#[test]
fn json_is_identical_whatever_the_threads() {
    let run = |threads: &str| {
        let o = cclab(&[
            "simulate",
            "genoa-flood-2011",
            "--replications",
            "4",
            "--threads",
            threads,
            "--format",
            "json",
        ]);
        assert!(o.status.success());
        o.stdout
    };
    let one = run("1");
    assert_eq!(one, run("2"));
    let v: serde_json::Value = serde_json::from_slice(&one).expect("json");
    assert_eq!(v["replications"], 4);
    assert_eq!(v["days"].as_array().expect("days").len(), 17);
    assert!(v["kpis"]["fo_share"]["mean"].as_f64().expect("fo share") > 0.5);
}

#[test]
fn plan_files_and_their_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    let plan = dir.path().join("plan.toml");
    std::fs::write(
        &plan,
        "[[shifts]]\nstart = \"08:00\"\nend = \"20:00\"\nagents = 2\n",
    )
    .expect("write");
    // The ordinary week against the plan file, two replications, as CSV.
    let run = |plan: &std::path::Path| {
        cclab(&[
            "simulate",
            "ordinary-week",
            "--plan",
            plan.to_str().expect("utf-8"),
            "--replications",
            "2",
            "--format",
            "csv",
        ])
    };
    let o = run(&plan);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        csv.lines().count(),
        1 + 7 * 48,
        "a header and one row per 30-minute interval"
    );

    std::fs::write(
        &plan,
        "[[shifts]]\nstart = \"8 am\"\nend = \"20:00\"\nagents = 2\n",
    )
    .expect("write");
    let o = cclab(&[
        "simulate",
        "ordinary-week",
        "--plan",
        plan.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("plan.toml") && err.contains("shifts[0].start") && err.contains("HH:MM"),
        "{err}"
    );

    // Back-office office hours: valid ones run, reversed ones name the field.
    let bo = "[back_office]\nreferents = 2\nresearch = { exponential = \"2d\" }\n";
    for (hours, ok) in [
        ("hours = { start = \"09:00\", end = \"17:00\" }", true),
        ("hours = { start = \"18:00\", end = \"09:00\" }", false),
    ] {
        std::fs::write(
            &plan,
            format!("[[shifts]]\nstart = \"08:00\"\nend = \"20:00\"\nagents = 2\n{bo}{hours}\n"),
        )
        .expect("write");
        let o = run(&plan);
        let err = String::from_utf8_lossy(&o.stderr);
        if ok {
            assert!(o.status.success(), "{err}");
        } else {
            assert_eq!(o.status.code(), Some(2));
            assert!(err.contains("back_office.hours"), "{err}");
        }
    }

    let o = cclab(&["simulate", "ordinary-week", "--interval", "20m"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--interval"));
}

#[test]
fn shard_processes_merged_equal_one_run() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().to_str().expect("utf-8");
    for i in 0..3 {
        let shard = format!("{i}/3");
        let o = cclab(&[
            "simulate",
            "uars-reentry-2011",
            "--replications",
            "7",
            "--shard",
            &shard,
            "--out",
            out,
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let files: Vec<String> = (0..3)
        .map(|i| {
            dir.path()
                .join(format!("shard-{i}-of-3.json"))
                .display()
                .to_string()
        })
        .collect();
    let mut args = vec!["merge", "--format", "json"];
    args.extend(files.iter().map(String::as_str));
    let merged = cclab(&args);
    assert!(
        merged.status.success(),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    let whole = cclab(&[
        "simulate",
        "uars-reentry-2011",
        "--replications",
        "7",
        "--format",
        "json",
    ]);
    assert_eq!(
        merged.stdout, whole.stdout,
        "3 shards + merge must equal one run, bit for bit"
    );

    // A shard given twice, and a file that is not a shard, are refused.
    let twice = cclab(&["merge", &files[0], &files[0]]);
    assert_eq!(twice.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&twice.stderr).contains("given twice"));
    let bogus = dir.path().join("bogus.json");
    std::fs::write(&bogus, "{}").expect("write");
    let o = cclab(&["merge", bogus.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a shard file"));
    let o = cclab(&["simulate", "uars-reentry-2011", "--shard", "3/3"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn from_to_restricts_the_report() {
    let o = cclab(&[
        "simulate",
        "emilia-quake-2012",
        "--replications",
        "2",
        "--from",
        "2012-05-29",
        "--to",
        "2012-05-30",
        "--format",
        "csv",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = String::from_utf8_lossy(&o.stdout);
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 48, "one day of 30-minute intervals");
    assert!(
        rows.iter().all(|r| r.starts_with("2012-05-29T")),
        "{}",
        rows[0]
    );
    let o = cclab(&["simulate", "emilia-quake-2012", "--from", "2013-01-01"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("outside the scenario"));
}
