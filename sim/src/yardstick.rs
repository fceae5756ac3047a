//! Issue 3's performance yardstick, the M/M/c+M model of `shared/perf-reference/erlang-a-bare`,
//! as a scenario and a plan for the full model: a flat Poisson phone stream (UTC, so every day
//! has 24 hours) and agents on one round-the-clock shift with exponential handle time and
//! patience. Shared by the criterion benchmark and the side-by-side example.

use crate::Plan;
use cclab_scenarios::Scenario;

/// The yardstick's arrival rate: 2 calls per second.
pub const CALLS_PER_HOUR: f64 = 7200.0;

/// Phone calls at `per_hour`, flat over the first `hours_per_day` hours of each of `days` days.
pub fn scenario(days: u32, hours_per_day: u32, per_hour: f64) -> Scenario {
    let profile: Vec<&str> = (0..24)
        .map(|h| if h < hours_per_day { "1" } else { "0" })
        .collect();
    let per_day = per_hour * f64::from(hours_per_day);
    let text = format!(
        r#"
[calendar]
start = "2012-03-05"
time_zone = "UTC"
days = {days}
holidays = "none"
[baseline]
working_day = {per_day}
non_working_day = {per_day}
profile = [{}]
[channels]
ordinary = {{ phone = 1 }}
[types]
ordinary = {{ information = 1 }}
"#,
        profile.join(", ")
    );
    Scenario::from_toml("erlang-a.toml", &text).expect("the yardstick scenario is valid")
}

/// `agents` around the clock; exponential handle time `aht_s` and patience `patience_s`.
pub fn plan(s: &Scenario, agents: u32, aht_s: f64, patience_s: f64) -> Plan {
    let text = format!(
        r#"
[[shifts]]
start = "00:00"
end = "24:00"
agents = {agents}
[handling.phone.default]
exponential = "{aht_s}s"
[phone.patience.default]
wait = {{ exponential = "{patience_s}s" }}
"#
    );
    Plan::from_toml("erlang-a-plan.toml", &text, s).expect("the yardstick plan is valid")
}
