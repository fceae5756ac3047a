//! Staffing plans and the behaviour of callers and cases: what the center puts in front of the
//! demand. A plan is its own TOML file (`--plan`) or the `[plan]` table of a scenario.
//!
//! The plan is resolved against a scenario into a [`Staffing`] step function (front-office
//! agents on duty over the horizon, ordinary shifts or h24 shifts when h24 is active) and the
//! behaviour tables the model reads per contact.

use crate::dist::{Dist, RawDist, seconds};
use cclab_scenarios::{EventKind, RequestType, Scenario};
use chrono::{Datelike, NaiveDate, NaiveTime, TimeZone};
use serde::Deserialize;

/// A plan that cannot be used: the message names the file, the field and what is allowed.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {path}: {message}")]
pub struct PlanError {
    pub file: String,
    pub path: String,
    pub message: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlan {
    pub name: Option<String>,
    /// Share of scheduled front-office agents absent (breaks aside): 0.1 = 10%.
    pub shrinkage: Option<f64>,
    #[serde(default)]
    pub shifts: Vec<RawShift>,
    pub h24: Option<RawH24>,
    #[serde(default)]
    pub phone: RawPhone,
    #[serde(default)]
    pub handling: RawHandling,
    /// Probability that the front office closes a request of each type (else the back office).
    #[serde(default)]
    pub resolution: RawPerType<f64>,
    pub back_office: Option<RawBackOffice>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawShift {
    pub name: Option<String>,
    /// `mon`..`sun`; default every day. Ignored when `dates` is given.
    pub days: Option<Vec<String>>,
    /// Local dates the shift runs on.
    pub dates: Option<Vec<String>>,
    pub start: String,
    /// `24:00` for midnight; an end before the start crosses midnight.
    pub end: String,
    pub agents: u32,
    #[serde(rename = "break")]
    pub break_: Option<RawBreak>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBreak {
    pub at: String,
    pub length: String,
    /// How many of the shift's agents are on break at once.
    pub agents: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawH24 {
    /// The shifts that replace the ordinary ones while h24 is active.
    pub shifts: Vec<RawShift>,
    /// Fixed activations: local dates, inclusive.
    #[serde(default)]
    pub dates: Vec<RawDateRange>,
    /// Rules: when an event of `kind` starts, switch to h24 after `lead` for `days`.
    #[serde(default)]
    pub rules: Vec<RawRule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDateRange {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// An event kind (`earthquake`, `flood`, ...) or `any`.
    pub kind: String,
    pub lead: String,
    pub days: f64,
}

/// A value per request type, with a `default` for the types not named.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPerType<T> {
    pub default: Option<T>,
    pub information: Option<T>,
    pub report: Option<T>,
    pub offer: Option<T>,
    pub intervention_request: Option<T>,
    pub other: Option<T>,
}

impl<T> Default for RawPerType<T> {
    fn default() -> Self {
        RawPerType {
            default: None,
            information: None,
            report: None,
            offer: None,
            intervention_request: None,
            other: None,
        }
    }
}

impl<T: Clone> RawPerType<T> {
    fn get(&self, t: RequestType) -> Option<&T> {
        match t {
            RequestType::Information => self.information.as_ref(),
            RequestType::Report => self.report.as_ref(),
            RequestType::Offer => self.offer.as_ref(),
            RequestType::InterventionRequest => self.intervention_request.as_ref(),
            RequestType::Other => self.other.as_ref(),
        }
        .or(self.default.as_ref())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPhone {
    /// `voicemail` (default: messages are called back at the next opening) or `closed`.
    pub out_of_hours: Option<String>,
    /// Trunk: the most calls in the system (waiting plus in service); beyond it, busy tone.
    pub capacity: Option<u32>,
    /// Agents kept for calls: written work is taken only while more than this many are free.
    pub reserved: Option<u32>,
    #[serde(default)]
    pub patience: RawPerType<RawPatience>,
    /// Patience of event (surge) callers; default: `patience`.
    pub surge_patience: Option<RawPerType<RawPatience>>,
    pub redial: Option<RawRedials>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPatience {
    /// Probability of hanging up at the greeting when the call must wait.
    pub balk: Option<f64>,
    /// The patience of those who wait; absent = infinitely patient.
    pub wait: Option<RawDist>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRedials {
    pub ordinary: RawRedial,
    pub surge: Option<RawRedial>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRedial {
    pub probability: f64,
    pub delay: RawDist,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHandling {
    /// Phone handle time (talk plus wrap-up) by request type, ordinary contacts.
    #[serde(default)]
    pub phone: RawPerType<RawDist>,
    /// Phone handle time of event contacts; default: `phone`.
    pub phone_surge: Option<RawPerType<RawDist>>,
    /// Written items (web form, email) by request type.
    #[serde(default)]
    pub written: RawPerType<RawDist>,
    /// Protocol channels (PEC, fax, letter) by request type; default: `written`.
    pub protocol: Option<RawPerType<RawDist>>,
    /// Response target of written items, in working-day time (Mon-Fri, not holidays), e.g. `3d`.
    pub written_target: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBackOffice {
    pub referents: u32,
    /// Cases one referent researches at once.
    pub cases_per_referent: Option<u32>,
    /// Research time in working days (Mon-Fri, not holidays).
    pub research: RawDist,
    /// Probability, by type, that a case waits on other bodies for `stall` instead.
    #[serde(default)]
    pub stall_probability: RawPerType<f64>,
    pub stall: Option<RawDist>,
    /// Referents' office hours on working days, local: research advances only then, so a
    /// working day of research is one office day. Default: the whole working day.
    pub hours: Option<RawHours>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHours {
    pub start: String,
    pub end: String,
}

/// Where a call that finds the line closed goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutOfHours {
    Voicemail,
    Closed,
}

#[derive(Debug, Clone)]
pub struct Patience {
    pub balk: f64,
    pub wait: Option<Dist>,
}

#[derive(Debug, Clone)]
pub struct Redial {
    pub probability: f64,
    pub delay: Dist,
}

#[derive(Debug, Clone)]
pub struct BackOffice {
    pub capacity: u32,
    /// Research time in working days.
    pub research: Dist,
    pub stall_probability: [f64; 5],
    pub stall: Dist,
    /// Office hours (start, end) as local times of day: the `[start, end)` of a working day
    /// (microseconds from the scenario start) when research advances, or `None` for the whole
    /// working day. Resolved against the scenario's calendar, per day.
    pub hours: Option<(u32, u32)>,
    /// Per calendar day, the office window in microseconds since the start (empty on days
    /// off): what the model's research clock runs on.
    pub windows: Vec<(u64, u64)>,
}

/// Front-office agents on duty: a step function of time (microseconds since the start).
#[derive(Debug, Clone, PartialEq)]
pub struct Staffing {
    /// (from, agents) sorted by time; the first entry is at 0.
    pub steps: Vec<(u64, u32)>,
    /// (from, to) of the h24 activations, microseconds.
    pub h24: Vec<(u64, u64)>,
}

impl Staffing {
    pub fn at(&self, t: u64) -> u32 {
        let i = self.steps.partition_point(|s| s.0 <= t);
        if i == 0 { 0 } else { self.steps[i - 1].1 }
    }
}

/// A validated plan, resolved against a scenario.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub staffing: Staffing,
    /// Share of scheduled agents absent: `staffing` is already net of it; staffing methods
    /// gross their requirement up by it to schedule shifts.
    pub shrinkage: f64,
    pub out_of_hours: OutOfHours,
    pub capacity: Option<u32>,
    pub reserved: u32,
    pub patience: [Patience; 5],
    pub surge_patience: [Patience; 5],
    pub redial: Option<(Redial, Redial)>,
    pub phone_time: [Dist; 5],
    pub phone_surge_time: [Dist; 5],
    pub written_time: [Dist; 5],
    pub protocol_time: [Dist; 5],
    pub written_target_s: f64,
    pub resolution: [f64; 5],
    pub back_office: Option<BackOffice>,
}

struct Ctx<'a> {
    file: &'a str,
}

impl Ctx<'_> {
    fn err(&self, path: impl Into<String>, message: impl Into<String>) -> PlanError {
        PlanError {
            file: self.file.to_string(),
            path: path.into(),
            message: message.into(),
        }
    }
}

impl Plan {
    /// Parses a standalone plan file's text.
    pub fn from_toml(file: &str, text: &str, scenario: &Scenario) -> Result<Plan, PlanError> {
        let raw: RawPlan = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| {
                let before = &text[..s.start.min(text.len())];
                format!(
                    "{}:{}",
                    before.matches('\n').count() + 1,
                    before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1
                )
            });
            PlanError {
                file: file.to_string(),
                path: at.unwrap_or_default(),
                message: e.message().trim().to_string(),
            }
        })?;
        Plan::build(&Ctx { file }, "", &raw, scenario)
    }

    /// The scenario's own `[plan]` table, if it has one.
    pub fn from_scenario(scenario: &Scenario) -> Option<Result<Plan, PlanError>> {
        let table = scenario.default_plan.as_ref()?;
        let ctx = Ctx {
            file: &scenario.source,
        };
        Some(
            serde_path_to_error::deserialize::<_, RawPlan>(toml::Value::Table(table.clone()))
                .map_err(|e| {
                    let path = format!("plan.{}", e.path());
                    ctx.err(path, e.into_inner().message().trim().to_string())
                })
                .and_then(|raw| Plan::build(&ctx, "plan.", &raw, scenario)),
        )
    }

    fn build(ctx: &Ctx<'_>, pre: &str, raw: &RawPlan, s: &Scenario) -> Result<Plan, PlanError> {
        let p = |f: &str| format!("{pre}{f}");
        let shrinkage = raw.shrinkage.unwrap_or(0.0);
        if !(0.0..1.0).contains(&shrinkage) {
            return Err(ctx.err(
                p("shrinkage"),
                format!("must be in [0, 1), got {shrinkage}"),
            ));
        }
        let ordinary = shift_steps(ctx, &p("shifts"), &raw.shifts, s)?;
        let (h24_steps, h24) = match &raw.h24 {
            None => (Vec::new(), Vec::new()),
            Some(h) => (
                shift_steps(ctx, &p("h24.shifts"), &h.shifts, s)?,
                activations(ctx, &p("h24"), h, s)?,
            ),
        };
        let staffing = merge_layers(&ordinary, &h24_steps, &h24, shrinkage);

        let ph = &raw.phone;
        let out_of_hours = match ph.out_of_hours.as_deref() {
            None | Some("voicemail") => OutOfHours::Voicemail,
            Some("closed") => OutOfHours::Closed,
            Some(x) => {
                return Err(ctx.err(
                    p("phone.out_of_hours"),
                    format!("`{x}` is not allowed; use voicemail or closed"),
                ));
            }
        };
        let infinite: [Patience; 5] = std::array::from_fn(|_| Patience {
            balk: 0.0,
            wait: None,
        });
        let patience = patience_table(ctx, &p("phone.patience"), &ph.patience, &infinite)?;
        // Types the surge table leaves out keep their ordinary patience.
        let surge_patience = match &ph.surge_patience {
            Some(t) => patience_table(ctx, &p("phone.surge_patience"), t, &patience)?,
            None => patience.clone(),
        };
        let redial = match &ph.redial {
            None => None,
            Some(r) => {
                let one = |path: String, x: &RawRedial| -> Result<Redial, PlanError> {
                    if !(0.0..=1.0).contains(&x.probability) {
                        return Err(ctx.err(
                            format!("{path}.probability"),
                            format!("must be in [0, 1], got {}", x.probability),
                        ));
                    }
                    let delay = x
                        .delay
                        .build()
                        .map_err(|m| ctx.err(format!("{path}.delay"), m))?;
                    Ok(Redial {
                        probability: x.probability,
                        delay,
                    })
                };
                let o = one(p("phone.redial.ordinary"), &r.ordinary)?;
                let surge = match &r.surge {
                    Some(x) => one(p("phone.redial.surge"), x)?,
                    None => o.clone(),
                };
                Some((o, surge))
            }
        };
        let h = &raw.handling;
        let default_phone = Dist::Lognormal {
            mean: 300.0,
            cv: 0.8,
        };
        let phone_time = dist_table(
            ctx,
            &p("handling.phone"),
            &h.phone,
            &std::array::from_fn(|_| default_phone.clone()),
        )?;
        // Tables that refine another (surge phone, protocol channels) fall back type by type.
        let phone_surge_time = match &h.phone_surge {
            Some(t) => dist_table(ctx, &p("handling.phone_surge"), t, &phone_time)?,
            None => phone_time.clone(),
        };
        let written_time = dist_table(
            ctx,
            &p("handling.written"),
            &h.written,
            &std::array::from_fn(|_| Dist::Lognormal {
                mean: 480.0,
                cv: 0.8,
            }),
        )?;
        let protocol_time = match &h.protocol {
            Some(t) => dist_table(ctx, &p("handling.protocol"), t, &written_time)?,
            None => written_time.clone(),
        };
        let written_target_s = match &h.written_target {
            None => 3.0 * 86_400.0,
            Some(x) => seconds(x).ok_or_else(|| {
                ctx.err(
                    p("handling.written_target"),
                    format!("`{x}` is not a duration"),
                )
            })?,
        };
        let mut resolution = [1.0; 5];
        for t in RequestType::ALL {
            if let Some(x) = raw.resolution.get(t) {
                if !(0.0..=1.0).contains(x) {
                    return Err(ctx.err(
                        p(&format!("resolution.{}", t.name())),
                        format!("must be a probability in [0, 1], got {x}"),
                    ));
                }
                resolution[t as usize] = *x;
            }
        }
        let back_office = match &raw.back_office {
            None => None,
            Some(b) => {
                let research = b
                    .research
                    .build()
                    .map_err(|m| ctx.err(p("back_office.research"), m))?;
                let stall = match &b.stall {
                    Some(d) => d.build().map_err(|m| ctx.err(p("back_office.stall"), m))?,
                    None => Dist::Exponential {
                        mean: 180.0 * 86_400.0,
                    },
                };
                let mut stall_probability = [0.0; 5];
                for t in RequestType::ALL {
                    if let Some(x) = b.stall_probability.get(t) {
                        if !(0.0..=1.0).contains(x) {
                            return Err(ctx.err(
                                p(&format!("back_office.stall_probability.{}", t.name())),
                                format!("must be in [0, 1], got {x}"),
                            ));
                        }
                        stall_probability[t as usize] = *x;
                    }
                }
                if b.referents == 0 {
                    return Err(ctx.err(p("back_office.referents"), "must be at least 1"));
                }
                let hours = match &b.hours {
                    None => None,
                    Some(h) => {
                        let start = clock(ctx, &p("back_office.hours.start"), &h.start)?;
                        let end = clock(ctx, &p("back_office.hours.end"), &h.end)?;
                        if end <= start {
                            return Err(ctx.err(
                                p("back_office.hours"),
                                format!(
                                    "end {} must be after start {} (office hours within one day)",
                                    h.end, h.start
                                ),
                            ));
                        }
                        Some((start, end))
                    }
                };
                let windows = office_windows(s, hours);
                Some(BackOffice {
                    capacity: b.referents * b.cases_per_referent.unwrap_or(5).max(1),
                    research,
                    stall_probability,
                    stall,
                    hours,
                    windows,
                })
            }
        };
        Ok(Plan {
            name: raw.name.clone().unwrap_or_else(|| "plan".into()),
            staffing,
            shrinkage,
            out_of_hours,
            capacity: ph.capacity,
            reserved: ph.reserved.unwrap_or(0),
            patience,
            surge_patience,
            redial,
            phone_time,
            phone_surge_time,
            written_time,
            protocol_time,
            written_target_s,
            resolution,
            back_office,
        })
    }
}

fn patience_table(
    ctx: &Ctx<'_>,
    path: &str,
    t: &RawPerType<RawPatience>,
    base: &[Patience; 5],
) -> Result<[Patience; 5], PlanError> {
    let mut out = base.clone();
    for ty in RequestType::ALL {
        if let Some(p) = t.get(ty) {
            let balk = p.balk.unwrap_or(0.0);
            if !(0.0..=1.0).contains(&balk) {
                return Err(ctx.err(
                    format!("{path}.{}.balk", ty.name()),
                    format!("must be a probability in [0, 1], got {balk}"),
                ));
            }
            let wait = p
                .wait
                .as_ref()
                .map(|d| d.build())
                .transpose()
                .map_err(|m| ctx.err(format!("{path}.{}.wait", ty.name()), m))?;
            out[ty as usize] = Patience { balk, wait };
        }
    }
    Ok(out)
}

fn dist_table(
    ctx: &Ctx<'_>,
    path: &str,
    t: &RawPerType<RawDist>,
    base: &[Dist; 5],
) -> Result<[Dist; 5], PlanError> {
    let mut out = base.clone();
    for ty in RequestType::ALL {
        if let Some(d) = t.get(ty) {
            out[ty as usize] = d
                .build()
                .map_err(|m| ctx.err(format!("{path}.{}", ty.name()), m))?;
        }
    }
    Ok(out)
}

fn clock(ctx: &Ctx<'_>, path: &str, s: &str) -> Result<u32, PlanError> {
    if s.trim() == "24:00" {
        return Ok(24 * 60);
    }
    NaiveTime::parse_from_str(s.trim(), "%H:%M")
        .map(|t| chrono::Timelike::hour(&t) * 60 + chrono::Timelike::minute(&t))
        .map_err(|_| {
            ctx.err(
                path,
                format!("`{s}` is not a time of day; write HH:MM (24:00 for midnight)"),
            )
        })
}

/// Per calendar day, the working window in microseconds since the start: the whole day, or
/// `hours` of it, on working days; an empty window on days off. Clipped to the day's part of
/// the horizon.
pub fn office_windows(s: &Scenario, hours: Option<(u32, u32)>) -> Vec<(u64, u64)> {
    s.calendar
        .days
        .iter()
        .map(|d| {
            let (lo, hi) = ((d.start_h * 3.6e9) as u64, (d.end_h * 3.6e9) as u64);
            if !d.working {
                return (lo, lo);
            }
            match hours {
                None => (lo, hi),
                Some((a, b)) => {
                    let open = micros_at(s, d.date, a).unwrap_or(lo).clamp(lo, hi);
                    let close = micros_at(s, d.date, b).unwrap_or(hi).clamp(open, hi);
                    (open, close)
                }
            }
        })
        .collect()
}

fn micros_at(s: &Scenario, date: NaiveDate, minute: u32) -> Option<u64> {
    let day = date + chrono::Duration::days(i64::from(minute / 1440));
    let m = minute % 1440;
    let naive = day.and_time(NaiveTime::from_hms_opt(m / 60, m % 60, 0)?);
    let t = s.calendar.tz.from_local_datetime(&naive).earliest()?;
    let us = (t - s.calendar.start).num_microseconds()?;
    Some(us.max(0) as u64)
}

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Agent deltas (time, +/-n) of a set of shifts over the horizon.
fn shift_steps(
    ctx: &Ctx<'_>,
    path: &str,
    shifts: &[RawShift],
    s: &Scenario,
) -> Result<Vec<(u64, i64)>, PlanError> {
    let mut deltas = Vec::new();
    for (i, sh) in shifts.iter().enumerate() {
        let sp = format!("{path}[{i}]");
        let start = clock(ctx, &format!("{sp}.start"), &sh.start)?;
        let mut end = clock(ctx, &format!("{sp}.end"), &sh.end)?;
        if end <= start {
            end += 24 * 60; // crosses midnight
        }
        let dates: Vec<NaiveDate> = match (&sh.dates, &sh.days) {
            (Some(dates), _) => dates
                .iter()
                .enumerate()
                .map(|(k, d)| {
                    NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                        ctx.err(
                            format!("{sp}.dates[{k}]"),
                            format!("`{d}` is not a date; write YYYY-MM-DD"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
            (None, days) => {
                let mut allowed = [days.is_none(); 7];
                for (k, d) in days.iter().flatten().enumerate() {
                    let w = WEEKDAYS
                        .iter()
                        .position(|x| x == &d.to_lowercase())
                        .ok_or_else(|| {
                            ctx.err(
                                format!("{sp}.days[{k}]"),
                                format!(
                                    "`{d}` is not a weekday; use mon, tue, wed, thu, fri, sat, sun"
                                ),
                            )
                        })?;
                    allowed[w] = true;
                }
                // Ordinary weekday shifts do not run on holidays.
                let first = s.calendar.days[0].date - chrono::Duration::days(1);
                std::iter::once(first)
                    .chain(s.calendar.days.iter().map(|d| d.date))
                    .filter(|d| allowed[d.weekday().num_days_from_monday() as usize])
                    .filter(|d| {
                        days.is_none()
                            || s.calendar.day_index(*d).is_none_or(|i| {
                                s.calendar.days[i].holiday.is_none()
                                    || d.weekday().num_days_from_monday() >= 5
                            })
                    })
                    .collect()
            }
        };
        let brk = match &sh.break_ {
            None => None,
            Some(b) => {
                let at = clock(ctx, &format!("{sp}.break.at"), &b.at)?;
                let len = seconds(&b.length).ok_or_else(|| {
                    ctx.err(
                        format!("{sp}.break.length"),
                        format!("`{}` is not a duration", b.length),
                    )
                })?;
                if b.agents > sh.agents {
                    return Err(ctx.err(
                        format!("{sp}.break.agents"),
                        format!(
                            "{} on break but the shift has {} agents",
                            b.agents, sh.agents
                        ),
                    ));
                }
                let at = if at < start { at + 24 * 60 } else { at };
                let end_b = at + (len / 60.0).round() as u32;
                if end_b > end {
                    return Err(
                        ctx.err(format!("{sp}.break"), "the break must end within the shift")
                    );
                }
                Some((at, end_b, b.agents))
            }
        };
        for date in dates {
            if let (Some(a), Some(b)) = (micros_at(s, date, start), micros_at(s, date, end)) {
                deltas.push((a, i64::from(sh.agents)));
                deltas.push((b, -i64::from(sh.agents)));
                if let Some((x, y, n)) = brk {
                    if let (Some(x), Some(y)) = (micros_at(s, date, x), micros_at(s, date, y)) {
                        deltas.push((x, -i64::from(n)));
                        deltas.push((y, i64::from(n)));
                    }
                }
            }
        }
    }
    Ok(deltas)
}

fn activations(
    ctx: &Ctx<'_>,
    path: &str,
    h: &RawH24,
    s: &Scenario,
) -> Result<Vec<(u64, u64)>, PlanError> {
    let mut out = Vec::new();
    for (i, r) in h.dates.iter().enumerate() {
        let d = |f: &str, v: &str| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
                ctx.err(
                    format!("{path}.dates[{i}].{f}"),
                    format!("`{v}` is not a date; write YYYY-MM-DD"),
                )
            })
        };
        let (from, to) = (d("from", &r.from)?, d("to", &r.to)?);
        if to < from {
            return Err(ctx.err(format!("{path}.dates[{i}].to"), "is before `from`"));
        }
        let a = micros_at(s, from, 0).unwrap_or(0);
        let b = micros_at(s, to + chrono::Duration::days(1), 0).unwrap_or(u64::MAX);
        out.push((a, b));
    }
    for (i, r) in h.rules.iter().enumerate() {
        let kinds = [
            EventKind::SatelliteReentry,
            EventKind::Flood,
            EventKind::Earthquake,
            EventKind::ColdWave,
            EventKind::Generic,
        ];
        if r.kind != "any" && !kinds.iter().any(|k| k.name() == r.kind) {
            return Err(ctx.err(format!("{path}.rules[{i}].kind"), format!("`{}` is not an event kind; use satellite_reentry, flood, earthquake, cold_wave, generic or any", r.kind)));
        }
        let lead = seconds(&r.lead).ok_or_else(|| {
            ctx.err(
                format!("{path}.rules[{i}].lead"),
                format!("`{}` is not a duration", r.lead),
            )
        })?;
        if !(r.days.is_finite() && r.days > 0.0) {
            return Err(ctx.err(
                format!("{path}.rules[{i}].days"),
                format!("must be > 0, got {}", r.days),
            ));
        }
        for ev in s
            .events
            .iter()
            .filter(|e| r.kind == "any" || e.kind.name() == r.kind)
        {
            let a = ((ev.start_h * 3600.0 + lead) * 1e6) as u64;
            out.push((a, a + (r.days * 86_400e6) as u64));
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Agents on duty: the ordinary layer, replaced by the h24 layer inside activations, times
/// (1 - shrinkage) rounded to the nearest agent.
fn merge_layers(
    ordinary: &[(u64, i64)],
    h24: &[(u64, i64)],
    active: &[(u64, u64)],
    shrinkage: f64,
) -> Staffing {
    let level = |deltas: &[(u64, i64)], t: u64| -> i64 {
        deltas.iter().filter(|d| d.0 <= t).map(|d| d.1).sum()
    };
    let mut points: Vec<u64> = vec![0];
    points.extend(ordinary.iter().map(|d| d.0));
    points.extend(h24.iter().map(|d| d.0));
    points.extend(active.iter().flat_map(|a| [a.0, a.1]));
    points.sort_unstable();
    points.dedup();
    let mut ord = ordinary.to_vec();
    ord.sort_unstable();
    let mut h = h24.to_vec();
    h.sort_unstable();
    let mut steps: Vec<(u64, u32)> = Vec::new();
    for t in points {
        let on = active.iter().any(|a| a.0 <= t && t < a.1);
        let raw = if on { level(&h, t) } else { level(&ord, t) }.max(0) as f64;
        let n = (raw * (1.0 - shrinkage)).round() as u32;
        if steps.last().is_none_or(|l| l.1 != n) {
            steps.push((t, n));
        }
    }
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for &(a, b) in active {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    Staffing { steps, h24: merged }
}
