//! The report in a real browser: headless Chromium opens it from a file:// URL, logs nothing
//! to its console, and renders a screenshot of the size asked for.
//!
//! Without Chromium the test is skipped with a notice, except in CI (the `CI` variable set),
//! where `.ci/run` installs it and its absence is a failure.

use super::report::{loadgen_report, png_size, simulate_report, staff_report};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Opens `page` headless and screenshots it; returns Chromium's stderr (its log).
fn screenshot(chromium: &Path, page: &Path, png: &Path, size: (u32, u32)) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let url = format!("file://{}", page.canonicalize().expect("page").display());
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size={},{}", size.0, size.1))
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let stderr = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = reader.join().expect("log");
    assert!(status.success(), "chromium failed: {status}\n{log}");
    log
}

/// Console messages in Chromium's log: `...:INFO:CONSOLE(1)] "message", source: ...`.
fn console_lines(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains(":CONSOLE")).collect()
}

#[test]
fn report_renders_in_chromium_without_console_errors() {
    let Some(chromium) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but Chromium is missing: .ci/run must install it (apt-get install chromium)"
        );
        eprintln!("notice: Chromium not found (/usr/bin/chromium); browser test skipped");
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    // The console check must be able to fail: a page that logs an error is caught.
    let probe = dir.path().join("probe.html");
    std::fs::write(
        &probe,
        "<!DOCTYPE html><html><body><p>probe</p><script>console.error('cclab-probe')</script></body></html>",
    )
    .expect("probe");
    let log = screenshot(&chromium, &probe, &dir.path().join("probe.png"), (400, 300));
    assert!(
        console_lines(&log)
            .iter()
            .any(|l| l.contains("cclab-probe")),
        "Chromium's console log is not readable: the check would be blind\n{log}"
    );

    // The three reports the issue names: simulate, staff and loadgen.
    for page in [
        simulate_report(dir.path(), "emilia-quake-2012", "2"),
        staff_report(dir.path(), "emilia-quake-2012"),
        loadgen_report(dir.path()),
    ] {
        let png = page.with_extension("png");
        let log = screenshot(&chromium, &page, &png, (1280, 4000));
        // The reports have no scripts: any console message (an error, a blocked or missing
        // resource) is a fault.
        let console = console_lines(&log);
        assert!(
            console.is_empty(),
            "{}: console messages:\n{}",
            page.display(),
            console.join("\n")
        );
        let bytes = std::fs::read(&png).expect("screenshot");
        assert_eq!(png_size(&bytes), (1280, 4000));
        assert!(
            bytes.len() > 20_000,
            "{}: a screenshot of a drawn page, got {} bytes",
            page.display(),
            bytes.len()
        );
    }
}
