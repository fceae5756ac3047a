//! The one validation step: [`RawScenario`] (as parsed) -> [`Scenario`] (known good).
//!
//! Every check reports the file, line:column, the field path and what is allowed.

use crate::calendar::{Profile, build_calendar, build_slots, italian_holiday};
use crate::error::{Location, ScenarioError, line_col};
use crate::kernel::Atom;
use crate::locate::locate;
use crate::model::*;
use crate::solve::solve_sizes;
use crate::spec::*;
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Weekday};
use chrono_tz::Tz;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// A scenario file's text and where it came from.
#[derive(Debug, Clone)]
pub struct Source {
    /// As shown in messages: the path as given, or `library/NAME.toml`.
    pub file: String,
    pub text: String,
    /// Directory for relative paths (includes, CSV files); `None` for shipped scenarios.
    pub dir: Option<PathBuf>,
}

type Result<T> = std::result::Result<T, ScenarioError>;

/// Error helper bound to one source file.
pub(crate) struct Ctx<'a> {
    pub src: &'a Source,
}

impl Ctx<'_> {
    pub fn err(&self, path: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError::Invalid {
            at: locate(&self.src.file, &self.src.text, path),
            message: message.into(),
        }
    }

    fn number(&self, path: &str, v: f64) -> Result<f64> {
        if !v.is_finite() {
            return Err(self.err(path, format!("must be a finite number, got {v}")));
        }
        Ok(v)
    }

    pub fn non_negative(&self, path: &str, v: f64) -> Result<f64> {
        if self.number(path, v)? < 0.0 {
            return Err(self.err(path, format!("must be >= 0, got {v}")));
        }
        Ok(v)
    }

    fn positive(&self, path: &str, v: f64) -> Result<f64> {
        if self.number(path, v)? <= 0.0 {
            return Err(self.err(path, format!("must be > 0, got {v}")));
        }
        Ok(v)
    }

    fn weights(&self, path: &str, w: &[f64], len_rule: &str, ok_len: bool) -> Result<Vec<f64>> {
        if w.is_empty() {
            return Err(self.err(path, format!("is empty; give {len_rule}")));
        }
        if !ok_len {
            return Err(self.err(path, format!("has {} weights; give {len_rule}", w.len())));
        }
        for (i, x) in w.iter().enumerate() {
            self.non_negative(&format!("{path}[{i}]"), *x)?;
        }
        if w.iter().sum::<f64>() <= 0.0 {
            return Err(self.err(path, "weights are all 0; at least one must be > 0"));
        }
        Ok(w.to_vec())
    }

    fn shares<const N: usize>(
        &self,
        path: &str,
        names: [&str; N],
        v: [Option<f64>; N],
    ) -> Result<Mix<N>> {
        let mut shares = [0.0; N];
        for (i, (name, x)) in names.iter().zip(v).enumerate() {
            shares[i] = self.non_negative(&format!("{path}.{name}"), x.unwrap_or(0.0))?;
        }
        let sum: f64 = shares.iter().sum();
        if (sum - 1.0).abs() > 1e-6 {
            return Err(self.err(
                path,
                format!(
                    "shares must sum to 1 (within 1e-6), they sum to {sum:.9}; allowed keys: {}",
                    names.join(", ")
                ),
            ));
        }
        Ok(Mix::new(shares))
    }

    fn channel_mix(&self, path: &str, m: &RawChannelMix) -> Result<ChannelMix> {
        let names = Channel::ALL.map(Channel::name);
        self.shares(
            path,
            names,
            [m.phone, m.web_form, m.email, m.pec, m.fax, m.letter],
        )
    }

    fn type_mix(&self, path: &str, m: &RawTypeMix) -> Result<TypeMix> {
        let names = RequestType::ALL.map(RequestType::name);
        self.shares(
            path,
            names,
            [
                m.information,
                m.report,
                m.offer,
                m.intervention_request,
                m.other,
            ],
        )
    }

    /// Hours of a duration such as `90s`, `15m`, `4h`, `3d`, `1w`.
    pub fn duration_h(&self, path: &str, s: &str) -> Result<f64> {
        parse_duration_h(s).ok_or_else(|| {
            self.err(
                path,
                format!("`{s}` is not a duration; write a number and a unit: 90s, 15m, 4h, 3d, 1w"),
            )
        })
    }

    fn positive_duration_h(&self, path: &str, s: &str) -> Result<f64> {
        let h = self.duration_h(path, s)?;
        if h <= 0.0 {
            return Err(self.err(path, format!("must be a positive duration, got `{s}`")));
        }
        Ok(h)
    }

    pub fn date(&self, path: &str, s: &str) -> Result<NaiveDate> {
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map_err(|_| self.err(path, format!("`{s}` is not a date; write YYYY-MM-DD")))
    }

    /// A local date-time (`2012-05-20T04:03:52`, seconds optional, or a bare date for midnight)
    /// in `tz`, or an RFC 3339 instant with an offset.
    pub fn datetime(&self, path: &str, s: &str, tz: &Tz) -> Result<DateTime<Tz>> {
        let s = s.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Ok(t.with_timezone(tz));
        }
        let naive = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
            .or_else(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(|d| d.and_time(NaiveTime::MIN)))
            .ok_or_else(|| {
                self.err(path, format!("`{s}` is not a date-time; write YYYY-MM-DDTHH:MM[:SS] (local time) or add an offset (Z, +02:00)"))
            })?;
        // In the autumn's repeated hour the earlier instant is taken.
        tz.from_local_datetime(&naive).earliest().ok_or_else(|| {
            self.err(
                path,
                format!("`{s}` does not exist in {tz} (the clocks jump forward over it)"),
            )
        })
    }

    /// Hours since the start of a date-time that must lie inside the calendar.
    fn instant(&self, path: &str, s: &str, cal: &Calendar) -> Result<f64> {
        let t = self.datetime(path, s, &cal.tz)?;
        if t < cal.start || t >= cal.end {
            return Err(self.err(
                path,
                format!(
                    "{} is outside the calendar ({} to {}); move it or widen calendar.start/days",
                    t.format("%Y-%m-%dT%H:%M"),
                    cal.start.format("%Y-%m-%dT%H:%M"),
                    cal.end.format("%Y-%m-%dT%H:%M")
                ),
            ));
        }
        Ok(cal.hours_of(t))
    }

    fn day_in(&self, path: &str, s: &str, cal: &Calendar) -> Result<usize> {
        let d = self.date(path, s)?;
        cal.day_index(d).ok_or_else(|| {
            self.err(
                path,
                format!(
                    "{d} is outside the calendar ({} to {})",
                    cal.days[0].date,
                    cal.days[cal.days.len() - 1].date
                ),
            )
        })
    }
}

/// Hours of a duration string, `None` if malformed or negative.
pub fn parse_duration_h(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num.trim().parse().ok()?;
    let per_hour = match unit.trim() {
        "s" | "sec" => 1.0 / 3600.0,
        "m" | "min" => 1.0 / 60.0,
        "h" => 1.0,
        "d" => 24.0,
        "w" => 168.0,
        _ => return None,
    };
    (n.is_finite() && n >= 0.0).then_some(n * per_hour)
}

/// Parses TOML into the raw structs; errors carry line:column and the field path.
pub fn parse_raw(src: &Source) -> Result<RawScenario> {
    let parse_err = |e: toml::de::Error, path: String| {
        let (line, column) = match e.span() {
            Some(span) => {
                let (l, c) = line_col(&src.text, span.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        ScenarioError::Parse {
            at: Location {
                file: src.file.clone(),
                line,
                column,
                path,
            },
            message: e.message().trim().to_string(),
        }
    };
    let de = toml::de::Deserializer::parse(&src.text).map_err(|e| parse_err(e, String::new()))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        parse_err(e.into_inner(), path)
    })
}

/// An event's raw spec with the source it came from (its own file, or an included one).
struct Origin<'a> {
    src: &'a Source,
    path: String,
    raw: RawEvent,
}

/// Validates `src`; `resolve` loads included scenarios by name or relative path.
pub fn validate(
    src: &Source,
    resolve: &dyn Fn(&str, &Source) -> Result<Source>,
) -> Result<Scenario> {
    let raw = parse_raw(src)?;
    let ctx = Ctx { src };
    let tz: Tz = match &raw.calendar.time_zone {
        None => chrono_tz::Europe::Rome,
        Some(name) => name.parse().map_err(|_| {
            ctx.err(
                "calendar.time_zone",
                format!("unknown time zone `{name}`; use an IANA name such as Europe/Rome or UTC"),
            )
        })?,
    };
    let cal = calendar(&ctx, &raw.calendar, tz)?;

    // Includes: events of other scenarios, located in their own files.
    let mut included = Vec::new();
    for (i, name) in raw.include.iter().enumerate() {
        let inc = resolve(name, src).map_err(|e| match e {
            ScenarioError::UnknownScenario { .. } | ScenarioError::Io { .. } => {
                ctx.err(&format!("include[{i}]"), format!("{e}"))
            }
            other => other,
        })?;
        let inc_raw = parse_raw(&inc)?;
        if !inc_raw.include.is_empty() {
            return Err(ctx.err(
                &format!("include[{i}]"),
                format!(
                    "`{name}` has includes of its own; include only scenarios without `include`"
                ),
            ));
        }
        included.push((inc, inc_raw.events));
    }
    let mut origins: Vec<Origin<'_>> = raw
        .events
        .iter()
        .enumerate()
        .map(|(i, e)| Origin {
            src,
            path: format!("events[{i}]"),
            raw: e.clone(),
        })
        .collect();
    for (inc, events) in &included {
        for (i, e) in events.iter().enumerate() {
            origins.push(Origin {
                src: inc,
                path: format!("events[{i}]"),
                raw: e.clone(),
            });
        }
    }

    // Baseline.
    let b = &raw.baseline;
    let working_day = ctx.non_negative("baseline.working_day", b.working_day)?;
    let non_working_day = ctx.non_negative("baseline.non_working_day", b.non_working_day)?;
    let rule = "24 hourly weights, or 48, 96... for finer steps";
    let ok = |w: &[f64]| !w.is_empty() && w.len() % 24 == 0 && 1440 % w.len() == 0;
    let profile = ctx.weights("baseline.profile", &b.profile, rule, ok(&b.profile))?;
    let nw_profile = match &b.non_working_profile {
        Some(w) => ctx.weights("baseline.non_working_profile", w, rule, ok(w))?,
        None => profile.clone(),
    };
    let busyness_cv = ctx.non_negative("baseline.busyness_cv", b.busyness_cv.unwrap_or(0.0))?;
    let dow = day_of_week(&ctx, raw.calendar.day_of_week.as_ref())?;
    let slots = build_slots(
        &cal,
        &Profile { weights: &profile },
        &Profile {
            weights: &nw_profile,
        },
        |day| {
            let weekday = day.date.weekday().num_days_from_monday() as usize;
            if day.working {
                working_day * dow[weekday]
            } else if weekday >= 5 {
                // Saturday and Sunday factors scale the weekend's count.
                non_working_day * dow[weekday]
            } else {
                // A holiday on a weekday: the plain non-working count.
                non_working_day
            }
        },
    );

    let propensity = match &raw.propensity {
        None => [1.0; 24],
        Some(p) => {
            let w = ctx.weights("propensity", p, "24 hourly weights", p.len() == 24)?;
            let mean = w.iter().sum::<f64>() / 24.0;
            std::array::from_fn(|h| w[h] / mean)
        }
    };

    let channels = ctx.channel_mix("channels.ordinary", &raw.channels.ordinary)?;
    let event_channels = match &raw.channels.events {
        Some(m) => ctx.channel_mix("channels.events", m)?,
        None => channels,
    };
    let mut type_mixes = vec![ctx.type_mix("types.ordinary", &raw.types.ordinary)?];
    let event_types = match &raw.types.events {
        Some(m) => ctx.type_mix("types.events", m)?,
        None => type_mixes[0],
    };
    let intake_delay = intake_delays(&ctx, &raw.intake_delay)?;

    let mut names = HashSet::new();
    let mut events = Vec::new();
    let mut sizes = Vec::new();
    for o in &origins {
        let ectx = Ctx { src: o.src };
        if !names.insert(o.raw.name.clone()) {
            return Err(ectx.err(&format!("{}.name", o.path), format!("event name `{}` is used twice; names must be unique (they seed the event's random streams)", o.raw.name)));
        }
        let defaults = EventDefaults {
            channels: event_channels,
            types: event_types,
        };
        let (event, size) = build_event(&ectx, &o.path, &o.raw, &cal, defaults, &mut type_mixes)?;
        events.push(event);
        sizes.push(size.map(|s| (s, o.src, o.path.clone())));
    }

    let name = raw.name.clone().unwrap_or_else(|| {
        Path::new(&src.file)
            .file_stem()
            .map_or("scenario".into(), |s| s.to_string_lossy().into_owned())
    });
    let mut scenario = Scenario {
        name,
        description: raw.description.clone(),
        source: src.file.clone(),
        seed: raw.seed.unwrap_or(1),
        calendar: cal,
        busyness_cv,
        propensity,
        channels,
        type_mixes,
        intake_delay,
        events,
        default_plan: raw.plan.clone(),
        slots,
        expected: Vec::new(),
        term_totals: Vec::new(),
    };
    solve_sizes(&mut scenario, &sizes)?;
    Ok(scenario)
}

fn calendar(ctx: &Ctx<'_>, c: &RawCalendar, tz: Tz) -> Result<Calendar> {
    let start = ctx.datetime("calendar.start", &c.start, &tz)?;
    if !(1900..=2200).contains(&start.year()) {
        return Err(ctx.err(
            "calendar.start",
            format!(
                "the year must be between 1900 and 2200, got {}",
                start.year()
            ),
        ));
    }
    if !(1..=3660).contains(&c.days) {
        return Err(ctx.err(
            "calendar.days",
            format!("must be between 1 and 3660 (ten years), got {}", c.days),
        ));
    }
    let italy = match c.holidays.as_deref() {
        None | Some("italy") => true,
        Some("none") => false,
        Some(other) => {
            return Err(ctx.err(
                "calendar.holidays",
                format!("unknown holiday calendar `{other}`; allowed: italy, none"),
            ));
        }
    };
    let mut extra = Vec::new();
    for (i, d) in c.extra_holidays.iter().enumerate() {
        extra.push(ctx.date(&format!("calendar.extra_holidays[{i}]"), d)?);
    }
    Ok(build_calendar(tz, start, c.days as u32, |date| {
        if extra.contains(&date) {
            Some("extra holiday".to_string())
        } else if italy {
            italian_holiday(date).map(String::from)
        } else {
            None
        }
    }))
}

fn day_of_week(ctx: &Ctx<'_>, d: Option<&RawDayOfWeek>) -> Result<[f64; 7]> {
    let d = d.cloned().unwrap_or_default();
    let values = [d.mon, d.tue, d.wed, d.thu, d.fri, d.sat, d.sun];
    let mut out = [1.0; 7];
    for (i, v) in values.into_iter().enumerate() {
        let day = Weekday::try_from(i as u8).expect("0..7 is a weekday");
        let key = format!("calendar.day_of_week.{}", day.to_string().to_lowercase());
        out[i] = ctx.non_negative(&key, v.unwrap_or(1.0))?;
    }
    Ok(out)
}

fn intake_delays(ctx: &Ctx<'_>, d: &RawIntakeDelays) -> Result<[Option<Delay>; 6]> {
    let mut out = [None; 6];
    let entries = [
        (Channel::WebForm, &d.web_form),
        (Channel::Email, &d.email),
        (Channel::Pec, &d.pec),
        (Channel::Fax, &d.fax),
        (Channel::Letter, &d.letter),
    ];
    for (ch, delay) in entries {
        if let Some(delay) = delay {
            let path = format!("intake_delay.{}", ch.name());
            let mean_h = ctx.duration_h(&format!("{path}.mean"), &delay.mean)?;
            let cv = ctx.non_negative(&format!("{path}.cv"), delay.cv.unwrap_or(0.0))?;
            out[ch as usize] = Some(Delay { mean_h, cv });
        }
    }
    Ok(out)
}

#[derive(Clone, Copy)]
struct EventDefaults {
    channels: ChannelMix,
    types: TypeMix,
}

/// What an event's `size` asks for, resolved to day indices.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Size {
    /// All-contact expected count over days `from..=to`.
    Days {
        from: usize,
        to: usize,
        contacts: f64,
    },
    /// The event's own expected contacts over the horizon.
    Total(f64),
}

fn size(ctx: &Ctx<'_>, path: &str, s: &RawSize, cal: &Calendar) -> Result<Size> {
    let p = |f: &str| format!("{path}.size.{f}");
    let allowed = "write { peak_day = \"YYYY-MM-DD\", contacts = N }, { from = \"YYYY-MM-DD\", to = \"YYYY-MM-DD\", contacts = N } or { total = N }";
    match (&s.peak_day, &s.from, &s.to, s.contacts, s.total) {
        (Some(day), None, None, Some(c), None) => {
            let d = ctx.day_in(&p("peak_day"), day, cal)?;
            Ok(Size::Days {
                from: d,
                to: d,
                contacts: ctx.positive(&p("contacts"), c)?,
            })
        }
        (None, Some(from), Some(to), Some(c), None) => {
            let (f, t) = (
                ctx.day_in(&p("from"), from, cal)?,
                ctx.day_in(&p("to"), to, cal)?,
            );
            if t < f {
                return Err(ctx.err(&p("to"), format!("{to} is before from = {from}")));
            }
            Ok(Size::Days {
                from: f,
                to: t,
                contacts: ctx.positive(&p("contacts"), c)?,
            })
        }
        (None, None, None, None, Some(total)) => Ok(Size::Total(ctx.positive(&p("total"), total)?)),
        _ => Err(ctx.err(&format!("{path}.size"), format!("is not a size; {allowed}"))),
    }
}

fn build_event(
    ctx: &Ctx<'_>,
    path: &str,
    e: &RawEvent,
    cal: &Calendar,
    defaults: EventDefaults,
    type_mixes: &mut Vec<TypeMix>,
) -> Result<(Event, Option<Size>)> {
    let kind = match e.kind {
        RawEventKind::SatelliteReentry => EventKind::SatelliteReentry,
        RawEventKind::Flood => EventKind::Flood,
        RawEventKind::Earthquake => EventKind::Earthquake,
        RawEventKind::ColdWave => EventKind::ColdWave,
        RawEventKind::Generic => EventKind::Generic,
    };
    if e.name.trim().is_empty() {
        return Err(ctx.err(&format!("{path}.name"), "must not be empty"));
    }
    let sized = e.size.is_some();
    let size = e
        .size
        .as_ref()
        .map(|s| size(ctx, path, s, cal))
        .transpose()?;
    let size_cv = ctx.non_negative(&format!("{path}.size_cv"), e.size_cv.unwrap_or(0.0))?;
    let channels = match &e.channels {
        Some(m) => ctx.channel_mix(&format!("{path}.channels"), m)?,
        None => defaults.channels,
    };
    let types = match &e.types {
        Some(m) => ctx.type_mix(&format!("{path}.types"), m)?,
        None => defaults.types,
    };
    type_mixes.push(types);
    let event_types = type_mixes.len() - 1;
    let modulated = e.modulate.unwrap_or(e.curve.is_none());
    let mut terms = Vec::new();
    let mut term = |t0: f64, weight: f64, atom: Atom, types: usize, label: String| {
        terms.push(Term {
            t0,
            weight,
            atom,
            modulated,
            types,
            label,
        });
    };
    let only = |field: &str, present: bool, kinds: &[EventKind]| -> Result<()> {
        if present && !kinds.contains(&kind) {
            let names: Vec<_> = kinds.iter().map(|k| k.name()).collect();
            return Err(ctx.err(
                &format!("{path}.{field}"),
                format!(
                    "is not allowed for kind = {}; it is for kind = {}",
                    kind.name(),
                    names.join(" or ")
                ),
            ));
        }
        Ok(())
    };
    only(
        "shocks",
        e.shocks.is_some() || e.omori.is_some(),
        &[EventKind::Earthquake],
    )?;
    only(
        "forecast",
        e.forecast.is_some(),
        &[
            EventKind::SatelliteReentry,
            EventKind::Flood,
            EventKind::ColdWave,
            EventKind::Generic,
        ],
    )?;
    only("curve", e.curve.is_some(), &[EventKind::Generic])?;
    let amplitude = |field: &str, v: Option<f64>| -> Result<f64> {
        match v {
            Some(v) => ctx.positive(&format!("{path}.{field}"), v),
            None if sized => Ok(1.0),
            None => Err(ctx.err(
                &format!("{path}.{field}"),
                "is required when the event has no size; give the amplitude or a size",
            )),
        }
    };

    if kind == EventKind::Earthquake {
        let shocks = match &e.shocks {
            Some(s) if !s.is_empty() => s,
            _ => return Err(ctx.err(&format!("{path}.shocks"), "an earthquake needs at least one shock: shocks = [{ time = \"...\", magnitude = 5.9 }]")),
        };
        let Some(om) = &e.omori else {
            return Err(ctx.err(
                &format!("{path}.omori"),
                "an earthquake needs omori = { c = \"4h\", p = 1.1 } (Omori-Utsu decay K/(t+c)^p)",
            ));
        };
        let op = |f: &str| format!("{path}.omori.{f}");
        let c = ctx.positive_duration_h(&op("c"), &om.c)?;
        let p = ctx.positive(&op("p"), om.p)?;
        if p > 5.0 {
            return Err(ctx.err(
                &op("p"),
                format!("must be at most 5 (observed sequences have 0.5-1.5), got {p}"),
            ));
        }
        let k = amplitude("omori.k", om.k)?;
        let alpha = ctx.non_negative(&op("alpha"), om.alpha.unwrap_or(1.0))?;
        let mut mags = Vec::new();
        for (i, s) in shocks.iter().enumerate() {
            let m = ctx.number(&format!("{path}.shocks[{i}].magnitude"), s.magnitude)?;
            if !(-2.0..=10.0).contains(&m) {
                return Err(ctx.err(
                    &format!("{path}.shocks[{i}].magnitude"),
                    format!("must be between -2 and 10, got {m}"),
                ));
            }
            mags.push(m);
        }
        let m_ref = match om.reference_magnitude {
            Some(m) => ctx.number(&op("reference_magnitude"), m)?,
            None => mags.iter().cloned().fold(f64::MIN, f64::max),
        };
        for (i, s) in shocks.iter().enumerate() {
            let sp = format!("{path}.shocks[{i}]");
            let t0 = ctx.instant(&format!("{sp}.time"), &s.time, cal)?;
            let factor = ctx.non_negative(&format!("{sp}.factor"), s.factor.unwrap_or(1.0))?;
            let weight = k * factor * libm::pow(10.0, alpha * (mags[i] - m_ref));
            let label = format!(
                "shock M{:.1} {}",
                mags[i],
                cal.at(t0).format("%Y-%m-%d %H:%M")
            );
            term(t0, weight, Atom::Omori { c, p }, event_types, label);
        }
    }

    if let Some(f) = &e.forecast {
        let fp = |x: &str| format!("{path}.forecast.{x}");
        let announced = ctx.instant(&fp("announced"), &f.announced, cal)?;
        let window = ctx.instant(&fp("window"), &f.window, cal)?;
        let all_clear = ctx.instant(&fp("all_clear"), &f.all_clear, cal)?;
        if window < announced {
            return Err(ctx.err(&fp("window"), "must not be before `announced`"));
        }
        if all_clear < window {
            return Err(ctx.err(&fp("all_clear"), "must not be before `window`"));
        }
        let atom = Atom::Forecast {
            window: window - announced,
            tau: ctx.positive_duration_h(&fp("tau"), &f.tau)?,
            hold: ctx.positive_duration_h(&fp("hold"), &f.hold)?,
            all_clear: all_clear - announced,
            after: ctx.positive_duration_h(&fp("after"), &f.after)?,
        };
        let a = amplitude("forecast.amplitude", f.amplitude)?;
        term(
            announced,
            a,
            atom,
            event_types,
            format!(
                "forecast window {}",
                cal.at(window).format("%Y-%m-%d %H:%M")
            ),
        );
    }

    for (w, wave) in e.waves.iter().enumerate() {
        let wp = format!("{path}.waves[{w}]");
        let types = match &wave.types {
            Some(m) => {
                type_mixes.push(ctx.type_mix(&format!("{wp}.types"), m)?);
                type_mixes.len() - 1
            }
            None => event_types,
        };
        let kernel = kernel(ctx, &wp, &wave.kernel)?;
        let mut drivers = Vec::new();
        for (i, d) in wave.drivers.iter().enumerate() {
            let t0 = ctx.instant(&format!("{wp}.drivers[{i}].time"), &d.time, cal)?;
            drivers.push((
                t0,
                ctx.non_negative(&format!("{wp}.drivers[{i}].weight"), d.weight)?,
            ));
        }
        if let Some(daily) = &wave.daily {
            let start = ctx.date(&format!("{wp}.daily.start"), &daily.start)?;
            let at = NaiveTime::parse_from_str(daily.at.trim(), "%H:%M").map_err(|_| {
                ctx.err(
                    &format!("{wp}.daily.at"),
                    format!("`{}` is not a time of day; write HH:MM", daily.at),
                )
            })?;
            if daily.weights.is_empty() {
                return Err(ctx.err(
                    &format!("{wp}.daily.weights"),
                    "is empty; give one weight per day",
                ));
            }
            for (i, wt) in daily.weights.iter().enumerate() {
                let date = start + chrono::Duration::days(i as i64);
                let stamp = date.and_time(at).format("%Y-%m-%dT%H:%M").to_string();
                let t0 = ctx.instant(&format!("{wp}.daily.weights[{i}]"), &stamp, cal)?;
                drivers.push((
                    t0,
                    ctx.non_negative(&format!("{wp}.daily.weights[{i}]"), *wt)?,
                ));
            }
        }
        if drivers.is_empty() {
            return Err(ctx.err(&wp, "a wave needs drivers = [{ time = \"...\", weight = N }] or daily = { start, at, weights }"));
        }
        let name = wave.name.clone().unwrap_or_else(|| format!("wave {w}"));
        for (t0, weight) in drivers {
            for (share, atom) in &kernel {
                let label = format!("{name} {}", cal.at(t0).format("%Y-%m-%d %H:%M"));
                term(t0, weight * share, atom.clone(), types, label);
            }
        }
    }

    if let Some(c) = &e.curve {
        let (t0, atom) = curve(ctx, path, c, cal)?;
        // Counts are absolute; a size rescales them like any other event.
        term(
            t0,
            1.0,
            atom,
            event_types,
            format!("curve from {}", cal.at(t0).format("%Y-%m-%d %H:%M")),
        );
    }

    if terms.is_empty() {
        return Err(ctx.err(path, "the event has no shape: give shocks (earthquake), a forecast, waves or a curve (generic)"));
    }
    let start_h = terms.iter().map(|t| t.t0).fold(f64::INFINITY, f64::min);
    let event = Event {
        name: e.name.clone(),
        kind,
        description: e.description.clone(),
        scale: 1.0,
        size_cv,
        channels,
        terms,
        start_h,
    };
    Ok((event, size))
}

fn kernel(ctx: &Ctx<'_>, wp: &str, parts: &[RawKernelPart]) -> Result<Vec<(f64, Atom)>> {
    if parts.is_empty() {
        return Err(ctx.err(&format!("{wp}.kernel"), "is empty; give shares of densities, e.g. [{ share = 1, exponential = { mean = \"12h\" } }]"));
    }
    let mut out = Vec::new();
    let mut sum = 0.0;
    for (i, k) in parts.iter().enumerate() {
        let kp = format!("{wp}.kernel[{i}]");
        let share = ctx.non_negative(&format!("{kp}.share"), k.share)?;
        sum += share;
        let atom = match (&k.gamma, &k.exponential) {
            (Some(g), None) => {
                let shape = ctx.number(&format!("{kp}.gamma.shape"), g.shape)?;
                if !(1.0..=1000.0).contains(&shape) {
                    return Err(ctx.err(&format!("{kp}.gamma.shape"), format!("must be between 1 and 1000 (below 1 the rate is infinite at the trigger), got {shape}")));
                }
                Atom::gamma(
                    shape,
                    ctx.positive_duration_h(&format!("{kp}.gamma.scale"), &g.scale)?,
                )
            }
            (None, Some(x)) => Atom::Exponential {
                mean: ctx.positive_duration_h(&format!("{kp}.exponential.mean"), &x.mean)?,
            },
            _ => {
                return Err(ctx.err(
                    &kp,
                    "give exactly one of gamma = { shape, scale } or exponential = { mean }",
                ));
            }
        };
        out.push((share, atom));
    }
    if (sum - 1.0).abs() > 1e-6 {
        return Err(ctx.err(
            &format!("{wp}.kernel"),
            format!("shares must sum to 1 (within 1e-6), they sum to {sum:.9}"),
        ));
    }
    Ok(out)
}

fn curve(ctx: &Ctx<'_>, path: &str, c: &RawCurve, cal: &Calendar) -> Result<(f64, Atom)> {
    let cp = |f: &str| format!("{path}.curve.{f}");
    let interval = ctx.positive_duration_h(&cp("interval"), &c.interval)?;
    let (start, counts) = match (&c.counts, &c.csv) {
        (Some(counts), None) => {
            let Some(start) = &c.start else {
                return Err(ctx.err(&cp("start"), "is required with inline counts"));
            };
            let t0 = ctx.instant(&cp("start"), start, cal)?;
            for (i, x) in counts.iter().enumerate() {
                ctx.non_negative(&format!("{path}.curve.counts[{i}]"), *x)?;
            }
            (t0, counts.clone())
        }
        (None, Some(_)) if c.start.is_some() => {
            return Err(ctx.err(
                &cp("start"),
                "is not allowed with csv: the file's first row gives the start",
            ));
        }
        (None, Some(file)) => read_curve_csv(ctx, &cp("csv"), file, interval, cal)?,
        _ => {
            return Err(ctx.err(
                &format!("{path}.curve"),
                "give exactly one of counts = [...] (with start) or csv = \"file.csv\"",
            ));
        }
    };
    if counts.is_empty() {
        return Err(ctx.err(&cp("counts"), "is empty; give one count per interval"));
    }
    let rates = counts.iter().map(|n| n / interval).collect();
    Ok((start, Atom::Steps { interval, rates }))
}

/// Reads `start,count` rows (header required), equally spaced by `interval`.
fn read_curve_csv(
    ctx: &Ctx<'_>,
    path: &str,
    file: &str,
    interval: f64,
    cal: &Calendar,
) -> Result<(f64, Vec<f64>)> {
    let Some(dir) = &ctx.src.dir else {
        return Err(ctx.err(
            path,
            "a shipped scenario cannot read CSV files; use inline counts",
        ));
    };
    let full = dir.join(file);
    let shown = full.display().to_string();
    let text = std::fs::read_to_string(&full)
        .map_err(|e| ctx.err(path, format!("cannot read {shown}: {e}")))?;
    let csv_err = |line: usize, message: String| ScenarioError::Csv {
        file: shown.clone(),
        line,
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| csv_err(1, e.to_string()))?
        .clone();
    if headers.len() != 2 || &headers[0] != "start" || &headers[1] != "count" {
        return Err(csv_err(1, "the header must be `start,count`".into()));
    }
    let mut start = None;
    let mut counts = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let line = i + 2;
        let row = row.map_err(|e| csv_err(line, e.to_string()))?;
        let t = Ctx { src: ctx.src }
            .datetime(path, &row[0], &cal.tz)
            .map_err(|_| {
                csv_err(
                    line,
                    format!("`{}` is not a date-time; write YYYY-MM-DDTHH:MM", &row[0]),
                )
            })?;
        let h = cal.hours_of(t);
        let n: f64 = row[1]
            .parse()
            .ok()
            .filter(|n: &f64| n.is_finite() && *n >= 0.0)
            .ok_or_else(|| csv_err(line, format!("count `{}` must be a number >= 0", &row[1])))?;
        let first = *start.get_or_insert(h);
        let expected = first + counts.len() as f64 * interval;
        if (h - expected).abs() > 1e-6 {
            return Err(csv_err(
                line,
                format!(
                    "rows must be consecutive intervals of {interval} h; expected {}",
                    cal.at(expected).naive_local()
                ),
            ));
        }
        counts.push(n);
    }
    let start = start.ok_or_else(|| csv_err(2, "no rows".into()))?;
    if !(0.0..cal.horizon_h()).contains(&start) {
        return Err(csv_err(
            2,
            format!(
                "the first interval is outside the calendar ({} to {})",
                cal.start.naive_local(),
                cal.end.naive_local()
            ),
        ));
    }
    Ok((start, counts))
}
