//! The validated scenario: the boundary type every downstream crate consumes.
//!
//! Architecture invariant: a [`Scenario`] only exists after `validate.rs` accepted it, so its
//! fields are known good (shares sum to 1, times lie in the calendar, rates are finite and
//! non-negative) and nothing downstream re-checks them.

use crate::kernel::Atom;
use chrono::{DateTime, NaiveDate};
use chrono_tz::Tz;

/// How a contact reaches the center.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Channel {
    /// The toll-free number.
    Phone,
    /// The online form.
    WebForm,
    Email,
    /// Italian certified email (posta elettronica certificata).
    Pec,
    Fax,
    Letter,
}

impl Channel {
    pub const ALL: [Channel; 6] = [
        Channel::Phone,
        Channel::WebForm,
        Channel::Email,
        Channel::Pec,
        Channel::Fax,
        Channel::Letter,
    ];

    /// The name used in scenario files, CSV exports and the API.
    pub fn name(self) -> &'static str {
        ["phone", "web_form", "email", "pec", "fax", "letter"][self as usize]
    }

    pub fn from_name(name: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Written channels go to the back-log; the phone is answered live.
    pub fn is_written(self) -> bool {
        self != Channel::Phone
    }
}

/// What the citizen wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum RequestType {
    Information,
    /// A report ("segnalazione") of a situation.
    Report,
    /// An offer of goods, services or volunteering.
    Offer,
    InterventionRequest,
    Other,
}

impl RequestType {
    pub const ALL: [RequestType; 5] = [
        RequestType::Information,
        RequestType::Report,
        RequestType::Offer,
        RequestType::InterventionRequest,
        RequestType::Other,
    ];

    pub fn name(self) -> &'static str {
        [
            "information",
            "report",
            "offer",
            "intervention_request",
            "other",
        ][self as usize]
    }

    pub fn from_name(name: &str) -> Option<RequestType> {
        RequestType::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// The kind of an event, which decides the shape of its surge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    SatelliteReentry,
    Flood,
    Earthquake,
    ColdWave,
    Generic,
}

impl EventKind {
    pub fn name(self) -> &'static str {
        match self {
            EventKind::SatelliteReentry => "satellite_reentry",
            EventKind::Flood => "flood",
            EventKind::Earthquake => "earthquake",
            EventKind::ColdWave => "cold_wave",
            EventKind::Generic => "generic",
        }
    }
}

/// A categorical distribution over `N` outcomes, drawn with one uniform.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mix<const N: usize> {
    shares: [f64; N],
    cumulative: [f64; N],
}

impl<const N: usize> Mix<N> {
    /// `shares` must be non-negative and sum to 1 (validation checks it).
    pub(crate) fn new(shares: [f64; N]) -> Self {
        let total: f64 = shares.iter().sum();
        let mut cumulative = [0.0; N];
        let mut acc = 0.0;
        for (c, s) in cumulative.iter_mut().zip(shares) {
            acc += s / total;
            *c = acc;
        }
        cumulative[N - 1] = f64::INFINITY;
        Mix { shares, cumulative }
    }

    pub fn shares(&self) -> &[f64; N] {
        &self.shares
    }

    /// The outcome for a uniform draw `u` in [0, 1).
    #[inline]
    pub fn pick(&self, u: f64) -> usize {
        self.cumulative.iter().position(|&c| u < c).unwrap_or(N - 1)
    }
}

pub type ChannelMix = Mix<6>;
pub type TypeMix = Mix<5>;

/// One local calendar day of the horizon.
#[derive(Debug, Clone)]
pub struct Day {
    pub date: NaiveDate,
    /// Hours since the scenario start where this day's part of the horizon begins and ends
    /// (23 or 25 hours apart across DST changes; shorter for a partial first or last day).
    pub start_h: f64,
    pub end_h: f64,
    /// Mon-Fri and not a holiday.
    pub working: bool,
    /// The holiday's name, if the date is one.
    pub holiday: Option<String>,
}

/// A stretch of the horizon where the baseline rate and the hour of day are constant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    pub start_h: f64,
    pub end_h: f64,
    pub day: u32,
    /// Local hour of day, 0-23: selects the propensity of event surges.
    pub hour: u8,
    /// Expected baseline contacts per hour in this slot (busyness factor 1, scale 1).
    pub base_rate: f64,
}

/// The calendar: time zone, start, days.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub tz: Tz,
    pub start: DateTime<Tz>,
    pub end: DateTime<Tz>,
    pub days: Vec<Day>,
}

impl Calendar {
    /// Length of the horizon in hours.
    pub fn horizon_h(&self) -> f64 {
        (self.end - self.start).num_milliseconds() as f64 / 3.6e6
    }

    /// The local date-time at `hours` after the start.
    pub fn at(&self, hours: f64) -> DateTime<Tz> {
        self.start + chrono::Duration::microseconds((hours * 3.6e9).round() as i64)
    }

    /// Hours since the start of an instant.
    pub fn hours_of(&self, t: DateTime<Tz>) -> f64 {
        (t - self.start).num_microseconds().unwrap_or(i64::MAX) as f64 / 3.6e9
    }

    /// Index of the day holding `hours`, if inside the horizon.
    pub fn day_of(&self, hours: f64) -> Option<usize> {
        if hours < 0.0 {
            return None;
        }
        let i = self.days.partition_point(|d| d.end_h <= hours);
        (i < self.days.len()).then_some(i)
    }

    pub fn day_index(&self, date: NaiveDate) -> Option<usize> {
        self.days.iter().position(|d| d.date == date)
    }
}

/// One additive piece of an event's rate: `weight * atom(t - t0)`, optionally times the
/// propensity of the hour.
#[derive(Debug, Clone)]
pub struct Term {
    /// Trigger time, hours since the scenario start.
    pub t0: f64,
    /// Contacts (or contacts per hour for Omori and forecast atoms), after solving the size.
    pub weight: f64,
    pub atom: Atom,
    pub modulated: bool,
    /// Index into [`Scenario::type_mixes`].
    pub types: usize,
    /// What the term stands for, for `scenarios show` (`shock M5.9 2012-05-20 04:03`).
    pub label: String,
}

/// An event of the scenario.
#[derive(Debug, Clone)]
pub struct Event {
    pub name: String,
    pub kind: EventKind,
    pub description: Option<String>,
    /// The factor that the size constraint solved for (1 when the file gives no size).
    pub scale: f64,
    /// CV of the per-realisation size factor.
    pub size_cv: f64,
    pub channels: ChannelMix,
    pub terms: Vec<Term>,
    /// First trigger time, hours since the start.
    pub start_h: f64,
}

/// The expected contacts of one day, split by component.
#[derive(Debug, Clone)]
pub struct DayExpectation {
    pub baseline: f64,
    /// One entry per event, in scenario order.
    pub events: Vec<f64>,
}

impl DayExpectation {
    pub fn total(&self) -> f64 {
        self.baseline + self.events.iter().sum::<f64>()
    }
}

/// A written channel's intake delay: lognormal with this mean (hours) and CV.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delay {
    pub mean_h: f64,
    pub cv: f64,
}

/// A validated scenario. Build one with [`crate::load`] or [`crate::Scenario::from_toml`].
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    /// Where it came from: a path, or `library/NAME.toml`.
    pub source: String,
    pub seed: u64,
    pub calendar: Calendar,
    pub busyness_cv: f64,
    /// Propensity by local hour, normalised to mean 1.
    pub propensity: [f64; 24],
    pub channels: ChannelMix,
    /// Index 0 is the ordinary mix; events and waves refer to the others by index.
    pub type_mixes: Vec<TypeMix>,
    pub intake_delay: [Option<Delay>; 6],
    pub events: Vec<Event>,
    /// The default staffing plan section, untouched (the simulator reads it).
    pub default_plan: Option<toml::Table>,
    pub(crate) slots: Vec<Slot>,
    /// Expected contacts per day by component (busyness 1, event factors 1, scale 1).
    pub(crate) expected: Vec<DayExpectation>,
    /// Expected contacts of each event term over the horizon: `[event][term]`.
    pub(crate) term_totals: Vec<Vec<f64>>,
}
