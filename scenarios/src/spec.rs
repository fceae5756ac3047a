//! Raw serde structs mirroring the TOML scenario format, field for field.
//!
//! Nothing here is checked beyond TOML types and unknown fields (rejected everywhere): the one
//! validation step in `validate.rs` turns a [`RawScenario`] into a [`crate::Scenario`]. The
//! format is documented for users in `docs/scenario-format.md`; keep the two in step.

use serde::Deserialize;

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// Short name, shown in reports; defaults to the file stem.
    pub name: Option<String>,
    /// One paragraph for humans.
    pub description: Option<String>,
    /// Default seed for runs that do not give `--seed`.
    pub seed: Option<u64>,
    /// Other scenarios (shipped names or paths relative to this file) whose events are added to
    /// this one's: a year scenario is its baseline plus the events of the event scenarios.
    #[serde(default)]
    pub include: Vec<String>,
    pub calendar: RawCalendar,
    pub baseline: RawBaseline,
    /// Public calling propensity by local hour (24 weights): the intraday shape of event surges.
    pub propensity: Option<Vec<f64>>,
    pub channels: RawChannels,
    pub types: RawTypes,
    /// Delay between a citizen sending a written contact and the center receiving it.
    #[serde(default)]
    pub intake_delay: RawIntakeDelays,
    #[serde(default)]
    pub events: Vec<RawEvent>,
    /// A default staffing plan. The demand model never reads it; the simulator does.
    pub plan: Option<toml::Table>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCalendar {
    /// Local date (`2012-05-20`) or date-time (`2012-05-20T06:00`) in `time_zone`.
    pub start: String,
    /// IANA time zone; default `Europe/Rome`.
    pub time_zone: Option<String>,
    /// Length of the horizon in days.
    pub days: i64,
    /// Built-in holiday calendar: `italy` (default) or `none`.
    pub holidays: Option<String>,
    /// Further non-working dates (local), e.g. a patron saint's day.
    #[serde(default)]
    pub extra_holidays: Vec<String>,
    /// Multipliers of the working-day baseline by weekday; missing days are 1.
    pub day_of_week: Option<RawDayOfWeek>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDayOfWeek {
    pub mon: Option<f64>,
    pub tue: Option<f64>,
    pub wed: Option<f64>,
    pub thu: Option<f64>,
    pub fri: Option<f64>,
    pub sat: Option<f64>,
    pub sun: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBaseline {
    /// Expected contacts on a working day (before the weekday factor).
    pub working_day: f64,
    /// Expected contacts on a weekend day or holiday.
    pub non_working_day: f64,
    /// Intraday weights of a working day: 24 (hourly) or any multiple of 24 (finer).
    pub profile: Vec<f64>,
    /// Intraday weights of a non-working day; default: `profile`.
    pub non_working_profile: Option<Vec<f64>>,
    /// Coefficient of variation of the day-level Gamma busyness factor (mean 1); 0 = Poisson.
    pub busyness_cv: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChannels {
    /// Channel mix of ordinary (baseline) contacts.
    pub ordinary: RawChannelMix,
    /// Default channel mix of event contacts; default: `ordinary`.
    pub events: Option<RawChannelMix>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChannelMix {
    pub phone: Option<f64>,
    pub web_form: Option<f64>,
    pub email: Option<f64>,
    pub pec: Option<f64>,
    pub fax: Option<f64>,
    pub letter: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTypes {
    /// Request-type mix of ordinary (baseline) contacts.
    pub ordinary: RawTypeMix,
    /// Default request-type mix of event contacts; default: `ordinary`.
    pub events: Option<RawTypeMix>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTypeMix {
    pub information: Option<f64>,
    pub report: Option<f64>,
    pub offer: Option<f64>,
    pub intervention_request: Option<f64>,
    pub other: Option<f64>,
}

/// Intake delays of the written channels (the phone has none).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIntakeDelays {
    pub web_form: Option<RawDelay>,
    pub email: Option<RawDelay>,
    pub pec: Option<RawDelay>,
    pub fax: Option<RawDelay>,
    pub letter: Option<RawDelay>,
}

/// A lognormal delay given by its mean and coefficient of variation (0 = fixed).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDelay {
    pub mean: String,
    pub cv: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawEventKind {
    SatelliteReentry,
    Flood,
    Earthquake,
    ColdWave,
    Generic,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvent {
    /// Unique within the scenario; it also names the event's random substreams.
    pub name: String,
    pub kind: RawEventKind,
    pub description: Option<String>,
    /// How big the event is; the amplitude is solved for. Without it, amplitudes are absolute.
    pub size: Option<RawSize>,
    /// CV of a Gamma factor (mean 1) on the whole event, drawn once per realisation.
    pub size_cv: Option<f64>,
    pub channels: Option<RawChannelMix>,
    pub types: Option<RawTypeMix>,
    /// Multiply the event's rate by the public calling propensity of the hour; default true,
    /// false for `curve` (your own counts already carry their intraday shape).
    pub modulate: Option<bool>,
    /// Earthquake shocks, each starting an Omori-Utsu decay.
    pub shocks: Option<Vec<RawShock>>,
    pub omori: Option<RawOmori>,
    /// Forecast build-up toward an announced window, hold, and decay after the all-clear.
    pub forecast: Option<RawForecast>,
    /// Driver waves: impulses at given times, each spread by a kernel.
    #[serde(default)]
    pub waves: Vec<RawWave>,
    /// Generic events: an explicit curve of counts per interval.
    pub curve: Option<RawCurve>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSize {
    /// With `contacts`: the expected all-contact count of this local date.
    pub peak_day: Option<String>,
    /// With `to` and `contacts`: the expected all-contact count of these dates (inclusive).
    pub from: Option<String>,
    pub to: Option<String>,
    pub contacts: Option<f64>,
    /// Alone: this event's own expected contacts over the horizon.
    pub total: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawShock {
    pub time: String,
    pub magnitude: f64,
    /// Extra multiplier (sensitisation of the public, e.g. a second mainshock); default 1.
    pub factor: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOmori {
    /// Amplitude K (contacts per hour at t = 0 is K / c^p); default 1 when `size` is given.
    pub k: Option<f64>,
    pub c: String,
    pub p: f64,
    /// Magnitude scaling: a shock weighs 10^(alpha (M - reference_magnitude)). Default 1.
    pub alpha: Option<f64>,
    /// Default: the largest shock's magnitude.
    pub reference_magnitude: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawForecast {
    /// When the public learns of the threat: the build-up starts.
    pub announced: String,
    /// The announced window (e.g. a reentry window): the build-up peaks here.
    pub window: String,
    /// Sharpness of the build-up A / (window - t + tau).
    pub tau: String,
    /// Mean life of the plateau A / tau between the window and the all-clear.
    pub hold: String,
    pub all_clear: String,
    /// Mean life of the decay after the all-clear.
    pub after: String,
    /// A; default 1 when `size` is given.
    pub amplitude: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWave {
    pub name: Option<String>,
    /// Request-type mix of this wave's contacts; default: the event's.
    pub types: Option<RawTypeMix>,
    /// Shape of the response to one driver: shares of unit-mass densities.
    pub kernel: Vec<RawKernelPart>,
    #[serde(default)]
    pub drivers: Vec<RawDriver>,
    /// Drivers on consecutive days at the same local time.
    pub daily: Option<RawDaily>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDriver {
    pub time: String,
    /// Expected contacts this driver brings (the kernel has unit mass).
    pub weight: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDaily {
    /// First local date.
    pub start: String,
    /// Local time of day, `HH:MM`.
    pub at: String,
    /// One weight per day.
    pub weights: Vec<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKernelPart {
    pub share: f64,
    pub gamma: Option<RawGamma>,
    pub exponential: Option<RawExponential>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGamma {
    pub shape: f64,
    pub scale: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExponential {
    pub mean: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCurve {
    /// Local date-time of the first interval (inline counts); a CSV gives its own.
    pub start: Option<String>,
    /// Length of one interval, e.g. `1h`, `15m`, `1d`.
    pub interval: String,
    /// Expected contacts per interval.
    pub counts: Option<Vec<f64>>,
    /// Path of a CSV file `start,count` (header required), relative to the scenario file.
    pub csv: Option<String>,
}
