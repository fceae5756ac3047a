//! Local calendar: days across DST changes, Italian holidays, and the slot grid that carries
//! the baseline's piecewise-constant rate.

use crate::model::{Calendar, Day, Slot};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Weekday};
use chrono_tz::Tz;

/// Easter Sunday of a Gregorian year (the anonymous Gregorian algorithm, "Meeus/Jones/Butcher").
pub fn easter(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("computus gives a valid date")
}

/// The Italian national holiday on `date`, if any (law 260/1949 and later amendments).
pub fn italian_holiday(date: NaiveDate) -> Option<&'static str> {
    let fixed = match (date.month(), date.day()) {
        (1, 1) => Some("Capodanno"),
        (1, 6) => Some("Epifania"),
        (4, 25) => Some("Festa della Liberazione"),
        (5, 1) => Some("Festa del Lavoro"),
        (6, 2) => Some("Festa della Repubblica"),
        (8, 15) => Some("Ferragosto"),
        (11, 1) => Some("Ognissanti"),
        (12, 8) => Some("Immacolata Concezione"),
        (12, 25) => Some("Natale"),
        (12, 26) => Some("Santo Stefano"),
        _ => None,
    };
    fixed.or_else(|| {
        let easter = easter(date.year());
        if date == easter {
            Some("Pasqua")
        } else if date == easter + Duration::days(1) {
            Some("Lunedì dell'Angelo")
        } else {
            None
        }
    })
}

/// The first instant of local `date`: midnight, or the first valid hour after it where midnight
/// falls in a DST gap; `None` for a date the zone skipped altogether (Pacific/Apia, 30 Dec 2011).
pub fn local_midnight(tz: &Tz, date: NaiveDate) -> Option<DateTime<Tz>> {
    (0..24).find_map(|h| {
        let time = NaiveTime::from_hms_opt(h, 0, 0)?;
        tz.from_local_datetime(&date.and_time(time)).earliest()
    })
}

/// The real-time bounds of local `date`: its first instant and the next existing date's.
fn day_bounds(tz: &Tz, date: NaiveDate) -> Option<(DateTime<Tz>, DateTime<Tz>)> {
    let start = local_midnight(tz, date)?;
    let end = (1..=3).find_map(|k| local_midnight(tz, date + Duration::days(k)))?;
    Some((start, end))
}

/// Builds the days of the horizon `[start, start + days)`.
pub fn build_calendar(
    tz: Tz,
    start: DateTime<Tz>,
    days: u32,
    holiday: impl Fn(NaiveDate) -> Option<String>,
) -> Calendar {
    let first = start.date_naive();
    let end_date = first + Duration::days(i64::from(days));
    let end = tz
        .from_local_datetime(&end_date.and_time(start.time()))
        .earliest()
        .or_else(|| day_bounds(&tz, end_date).map(|b| b.0))
        .unwrap_or(start + Duration::days(i64::from(days)));
    let hours = |t: DateTime<Tz>| (t - start).num_microseconds().unwrap_or(0) as f64 / 3.6e9;
    let mut out = Vec::new();
    let mut date = first;
    while date <= end_date {
        if let Some((from, to)) = day_bounds(&tz, date) {
            let (from, to) = (from.max(start), to.min(end));
            if from < to {
                let holiday = holiday(date);
                let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
                out.push(Day {
                    date,
                    start_h: hours(from),
                    end_h: hours(to),
                    working: !weekend && holiday.is_none(),
                    holiday,
                });
            }
        }
        date += Duration::days(1);
    }
    Calendar {
        tz,
        start,
        end,
        days: out,
    }
}

/// Intraday weights of one day type, at any resolution that divides the day.
pub(crate) struct Profile<'a> {
    pub(crate) weights: &'a [f64],
}

impl Profile<'_> {
    fn step_minutes(&self) -> u32 {
        1440 / self.weights.len() as u32
    }

    fn weight_at(&self, minute_of_day: u32) -> f64 {
        self.weights[(minute_of_day / self.step_minutes()) as usize]
    }
}

/// Builds the slot grid: steps of the finest profile resolution (at most one hour), walked in
/// real time from each local midnight, so a 23- or 25-hour day has 23 or 25 hours of slots and
/// the repeated hour of the autumn change is counted twice. Each day's weights are normalised
/// over the slots the day really has, so its expected total is exactly `day_count(day)` even
/// across DST changes; a partial first or last day gets its share of a whole day.
pub(crate) fn build_slots(
    cal: &Calendar,
    working: &Profile<'_>,
    non_working: &Profile<'_>,
    day_count: impl Fn(&Day) -> f64,
) -> Vec<Slot> {
    // Slots never cross a profile step or a local hour (the propensity is hourly).
    let step = gcd(gcd(working.step_minutes(), non_working.step_minutes()), 60);
    let horizon = cal.horizon_h();
    let mut slots = Vec::new();
    for (index, day) in cal.days.iter().enumerate() {
        let profile = if day.working { working } else { non_working };
        let Some((midnight, next)) = day_bounds(&cal.tz, day.date) else {
            continue;
        };
        // Walk the whole local day in real time to normalise over the slots it really has.
        let mut walk = Vec::new();
        let mut t = midnight;
        while t < next {
            let local = t.with_timezone(&cal.tz);
            let minute = local.hour() * 60 + local.minute();
            let slot_end = (t + Duration::minutes(i64::from(step))).min(next);
            let len_h = (slot_end - t).num_seconds() as f64 / 3600.0;
            let share =
                profile.weight_at(minute) * len_h * 60.0 / f64::from(profile.step_minutes());
            walk.push((
                cal.hours_of(t),
                cal.hours_of(slot_end),
                local.hour() as u8,
                share,
            ));
            t = slot_end;
        }
        let norm: f64 = walk.iter().map(|w| w.3).sum();
        let count = day_count(day);
        for (s, e, hour, share) in walk {
            let (s_clip, e_clip) = (s.max(0.0), e.min(horizon));
            if e_clip <= s_clip {
                continue;
            }
            let rate = if norm > 0.0 {
                count * share / norm / (e - s)
            } else {
                0.0
            };
            slots.push(Slot {
                start_h: s_clip,
                end_h: e_clip,
                day: index as u32,
                hour,
                base_rate: rate,
            });
        }
    }
    slots
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn easter_dates() {
        assert_eq!(easter(2011), NaiveDate::from_ymd_opt(2011, 4, 24).unwrap());
        assert_eq!(easter(2012), NaiveDate::from_ymd_opt(2012, 4, 8).unwrap());
        assert_eq!(easter(2024), NaiveDate::from_ymd_opt(2024, 3, 31).unwrap());
        assert_eq!(easter(2025), NaiveDate::from_ymd_opt(2025, 4, 20).unwrap());
    }

    #[test]
    fn italian_holidays() {
        let d = |m, day| NaiveDate::from_ymd_opt(2012, m, day).unwrap();
        assert_eq!(italian_holiday(d(4, 9)), Some("Lunedì dell'Angelo"));
        assert_eq!(italian_holiday(d(6, 2)), Some("Festa della Repubblica"));
        assert_eq!(italian_holiday(d(6, 4)), None);
    }

    fn rome_calendar(date: (i32, u32, u32), days: u32) -> Calendar {
        let tz: Tz = "Europe/Rome".parse().unwrap();
        let start = local_midnight(
            &tz,
            NaiveDate::from_ymd_opt(date.0, date.1, date.2).unwrap(),
        )
        .unwrap();
        build_calendar(tz, start, days, |d| italian_holiday(d).map(String::from))
    }

    #[test]
    fn dst_days_have_23_and_25_hours_and_keep_their_totals() {
        // 25 Mar 2012 (spring forward) and 28 Oct 2012 (fall back) in Europe/Rome.
        for (date, hours) in [((2012, 3, 25), 23.0), ((2012, 10, 28), 25.0)] {
            let cal = rome_calendar(date, 1);
            assert_eq!(cal.days[0].end_h - cal.days[0].start_h, hours);
            let flat = vec![1.0; 24];
            let p = Profile { weights: &flat };
            let slots = build_slots(&cal, &p, &p, |_| 100.0);
            assert_eq!(slots.len(), hours as usize);
            let total: f64 = slots
                .iter()
                .map(|s| s.base_rate * (s.end_h - s.start_h))
                .sum();
            assert!((total - 100.0).abs() < 1e-9, "{date:?}: {total}");
        }
    }

    #[test]
    fn quarter_hour_profile_gives_quarter_hour_slots() {
        let cal = rome_calendar((2012, 3, 12), 2);
        let mut w = vec![0.0; 96];
        w[36] = 1.0; // 09:00-09:15 only
        let p = Profile { weights: &w };
        let slots = build_slots(&cal, &p, &p, |_| 10.0);
        assert_eq!(slots.len(), 2 * 96);
        let busy: Vec<_> = slots.iter().filter(|s| s.base_rate > 0.0).collect();
        assert_eq!(busy.len(), 2);
        assert!((busy[0].start_h - 9.0).abs() < 1e-9 && (busy[0].base_rate - 40.0).abs() < 1e-9);
    }
}
