//! `--report` and `--chart` end to end: the HTML is self-contained and every chart carries its
//! title, axis labels and a text alternative; chart files come out in the format asked for;
//! bad flags are input errors that name the flag and what is allowed.

use std::path::Path;
use std::process::{Command, Output};

pub fn cclab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cclab"))
        .args(args)
        .output()
        .expect("cclab runs")
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Writes the simulation report of `scenario` into `dir` and returns its path.
pub fn simulate_report(dir: &Path, scenario: &str, replications: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{scenario}.html"));
    let o = cclab(&[
        "simulate",
        scenario,
        "--replications",
        replications,
        "--report",
        path.to_str().expect("utf-8 path"),
    ]);
    ok(&o);
    path
}

/// Writes the staffing report of `scenario` (all four methods) into `dir`.
pub fn staff_report(dir: &Path, scenario: &str) -> std::path::PathBuf {
    let path = dir.join(format!("staff-{scenario}.html"));
    let o = cclab(&[
        "staff",
        scenario,
        "--method",
        "all",
        "--replications",
        "4",
        "--report",
        path.to_str().expect("utf-8 path"),
    ]);
    // Exit 1 (the plan misses the target) still writes the report.
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    path
}

/// Writes a 4-second load-test report of the UARS reentry day into `dir`.
pub fn loadgen_report(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("load.html");
    let o = cclab(&[
        "loadgen",
        "uars-reentry-2011",
        "--from",
        "2011-09-23T09:00",
        "--speedup",
        "1440",
        "--duration",
        "4s",
        "--threshold",
        "errors<50%",
        // A busy test machine must not make the run invalid: this test is about the report.
        "--max-lateness-p99",
        "10s",
        "--report",
        path.to_str().expect("utf-8"),
    ]);
    ok(&o);
    path
}

/// Every occurrence of the text between `open` and the next `close`.
fn blocks<'a>(html: &'a str, open: &str, close: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(open) {
        let tail = &rest[i..];
        let end = tail.find(close).expect("every block is closed") + close.len();
        out.push(&tail[..end]);
        rest = &tail[end..];
    }
    out
}

/// Structure every report keeps, whatever the command.
fn check_structure(html: &str) {
    assert!(html.starts_with("<!DOCTYPE html>"), "doctype");
    assert!(html.trim_end().ends_with("</html>"), "closed document");
    assert!(html.contains("<meta charset=\"utf-8\">"));
    for tag in [
        "html",
        "head",
        "body",
        "main",
        "section",
        "figure",
        "figcaption",
        "svg",
        "table",
        "details",
        "summary",
        "title",
        "desc",
        "dl",
        "text",
    ] {
        let opens =
            html.matches(&format!("<{tag}>")).count() + html.matches(&format!("<{tag} ")).count();
        let closes = html.matches(&format!("</{tag}>")).count();
        assert_eq!(
            opens, closes,
            "<{tag}> opened {opens} times, closed {closes}"
        );
    }
    // Nothing leaves the file: no scripts, no stylesheets or images from elsewhere.
    let lower = html.to_ascii_lowercase();
    for bad in [
        "<script",
        "<link",
        "<iframe",
        "<img",
        "src=\"http",
        "href=\"http",
        "url(http",
        "url(\"http",
        "@import",
        "src=\"//",
        "href=\"//",
    ] {
        assert!(!lower.contains(bad), "the report contains {bad}");
    }
    // Every chart: an accessible SVG with a title and a description, axis labels, and a
    // caption with a data table.
    let figures = blocks(html, "<figure", "</figure>");
    assert!(!figures.is_empty(), "no chart");
    for f in &figures {
        let svg = blocks(f, "<svg", "</svg>");
        assert_eq!(svg.len(), 1, "one chart per figure");
        let svg = svg[0];
        let open_tag = &svg[..svg.find('>').expect("tag")];
        assert!(open_tag.contains("role=\"img\""), "{open_tag}");
        assert!(open_tag.contains("aria-labelledby="), "{open_tag}");
        assert!(!open_tag.contains("width="), "scales with the page");
        let title = blocks(svg, "<title", "</title>");
        assert!(title.len() == 1 && title[0].len() > 20, "{title:?}");
        assert!(
            blocks(svg, "<desc", "</desc>")[0].len() > 30,
            "a description"
        );
        // The y label is the text rotated a quarter turn; the x label names a unit.
        assert!(svg.contains("rotate(270"), "y axis label");
        assert!(
            [
                "local time (",
                "run time (s)",
                "journey step",
                "kind",
                "outcome of",
                "staffing method",
                "requests"
            ]
            .iter()
            .any(|x| svg.contains(x)),
            "x axis label"
        );
        assert!(svg.matches("<text").count() >= 8, "ticks, labels and title");
        assert!(f.contains("<figcaption>") && f.contains("<details>"));
        let table = blocks(f, "<table", "</table>");
        assert_eq!(table.len(), 1, "a data table beside the chart");
        assert!(table[0].matches("<tr>").count() >= 2, "with rows");
    }
}

#[test]
fn simulation_report_is_self_contained_with_every_section() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = simulate_report(dir.path(), "emilia-quake-2012", "2");
    let html = std::fs::read_to_string(&path).expect("report");
    check_structure(&html);
    for needle in [
        "emilia-quake-2012: simulation report",
        "Scenario and run",
        "Contacts per hour",
        "Contacts per day",
        "Service level per interval",
        "target 80%",
        "Average speed of answer",
        "Abandonment per interval",
        "Agents per interval",
        "Backlogs at the end of each day",
        "How served contacts were closed",
        "95% CI",
        "Sun 20 May 2012",
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
    assert_eq!(blocks(&html, "<figure", "</figure>").len(), 8);
    // The event is marked on the demand chart.
    let first = blocks(&html, "<figure", "</figure>")[0];
    assert!(first.contains(">\nemilia-quake-2012\n</text>") || first.contains("emilia-quake-2012"));
}

#[test]
fn staffing_report_compares_methods_and_shows_the_shift_plan() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = staff_report(dir.path(), "uars-reentry-2011");
    let html = std::fs::read_to_string(&path).expect("report");
    check_structure(&html);
    for needle in [
        "uars-reentry-2011: staffing report",
        "Scenario and settings",
        "2011-09-23 (",
        "Expected phone calls per hour",
        "Requirement by method",
        "isa requirement",
        "sipp requirement",
        "shift plan on duty",
        "Agent-hours by method",
        "Shifts per day",
        "h24 8h",
        "Service level of the shift plan per interval",
        "target 80%",
        "sl_offered",
        "Shift plan meets the target",
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
    assert_eq!(blocks(&html, "<figure", "</figure>").len(), 4);
}

#[test]
fn a_year_stays_small() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = simulate_report(dir.path(), "dpc-year-2011-12", "1");
    let html = std::fs::read_to_string(&path).expect("report");
    check_structure(&html);
    let size = html.len();
    assert!(size < 5_000_000, "{size} bytes");
    // 17,568 intervals are summarised per day in the tables.
    assert!(html.contains("values summarised as mean (lowest – highest) per day"));
}

#[test]
fn load_test_report_shows_rate_latency_errors_and_verdicts() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = loadgen_report(dir.path());
    let html = std::fs::read_to_string(&path).expect("report");
    check_structure(&html);
    for needle in [
        "load test report",
        "Requests per second",
        "Latency from the intended send time, per interval",
        "Latency from the intended send time, by step",
        "Failed and dropped requests by kind",
        "threshold errors&lt;50%",
        ">PASS<",
        "valid run",
        "reconciliation of intake",
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
}

pub fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG file");
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
    (be(16), be(20))
}

#[test]
fn chart_files_and_flag_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    let svg = dir.path().join("sl.svg");
    let png = dir.path().join("agents.PNG");
    let s = |p: &Path| p.to_str().expect("utf-8").to_string();
    let base = ["simulate", "genoa-flood-2011", "--replications", "2"];
    let run = |extra: &[&str]| {
        let mut args: Vec<&str> = base.to_vec();
        args.extend_from_slice(extra);
        cclab(&args)
    };
    ok(&run(&["--chart", &s(&svg), "--chart-of", "service-level"]));
    let text = std::fs::read_to_string(&svg).expect("svg");
    assert!(text.starts_with("<?xml"));
    assert!(text.contains("role=\"img\"") && text.contains("target 80%"));
    ok(&run(&["--chart", &s(&png), "--chart-of", "agents"]));
    let bytes = std::fs::read(&png).expect("png");
    assert_eq!(png_size(&bytes), (960, 400));
    assert!(bytes.len() > 10_000, "a drawn chart, {} bytes", bytes.len());

    let input_error = |extra: &[&str], needles: &[&str]| {
        let o = run(extra);
        assert_eq!(o.status.code(), Some(2), "{extra:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        for n in needles {
            assert!(err.contains(n), "{extra:?}: {err}");
        }
    };
    let pdf = dir.path().join("x.pdf");
    input_error(&["--chart", &s(&pdf)], &["--chart", ".svg or .png"]);
    input_error(
        &["--chart", &s(&svg), "--chart-of", "latency"],
        &["--chart-of", "contacts, contacts-daily, service-level"],
    );
    input_error(
        &["--chart-of", "agents"],
        &["--chart-of agents needs --chart"],
    );
    input_error(&["--report", &s(&svg)], &["--report", ".html"]);
    input_error(&["--sl-target", "180"], &["--sl-target"]);
}
