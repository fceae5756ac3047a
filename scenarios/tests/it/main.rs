//! Integration tests of cclab-scenarios: one binary, a module per behaviour.

mod calibration;
mod determinism;
mod generator;
mod properties;
mod validation;

use cclab_scenarios::Scenario;

/// A shipped scenario, which must load.
pub fn shipped(name: &str) -> Scenario {
    cclab_scenarios::load(name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Day index of a local date in a scenario.
pub fn day(s: &Scenario, date: &str) -> usize {
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("date");
    s.calendar
        .day_index(d)
        .unwrap_or_else(|| panic!("{date} outside {}", s.name))
}

/// A minimal valid scenario text; tests append events or replace lines.
pub const MINIMAL: &str = r#"
name = "minimal"
[calendar]
start = "2012-03-12"
days = 7
[baseline]
working_day = 100
non_working_day = 10
profile = [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
[channels]
ordinary = { phone = 0.8, email = 0.2 }
[types]
ordinary = { information = 0.7, report = 0.3 }
"#;
