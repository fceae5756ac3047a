//! cclab-scenarios: the scenario format, its validation, and the arrival generator.
//!
//! Everything cclab does starts here, in the flow scenario -> arrivals -> (simulation | load
//! replay). A planner's TOML file (or a shipped one, by name) is parsed into the raw structs of
//! [`spec`], validated once into a [`Scenario`] (the boundary type: only valid scenarios exist),
//! and turned with a seed into a time-ordered stream of [`Contact`]s by [`Arrivals`]. The
//! simulator and the load generator consume the same stream, so what staff was sized for and
//! what an API was stress-tested with are the same thing. This crate knows nothing of either.

pub mod arrivals;
pub mod calendar;
pub mod error;
pub mod kernel;
pub mod library;
pub mod locate;
pub mod model;
pub mod rng;
mod solve;
pub mod spec;
pub mod validate;

pub use arrivals::{Arrivals, Contact};
pub use error::{Location, ScenarioError};
pub use model::{
    Calendar, Channel, Day, DayExpectation, Delay, Event, EventKind, RequestType, Scenario, Term,
};
pub use validate::{Source, parse_duration_h};

use std::path::Path;

/// Loads a scenario by shipped name (`emilia-quake-2012`) or by path to a TOML file.
pub fn load(name_or_path: &str) -> Result<Scenario, ScenarioError> {
    let src = resolve(name_or_path, None)?;
    Scenario::from_source(&src)
}

/// Finds the source of a scenario: a shipped name, or a path (relative to `relative_to`'s
/// directory when given, as for `include`).
pub fn resolve(name: &str, relative_to: Option<&Source>) -> Result<Source, ScenarioError> {
    let base = relative_to.and_then(|s| s.dir.clone());
    let path = match &base {
        Some(dir) => dir.join(name),
        None => Path::new(name).to_path_buf(),
    };
    let looks_like_path = name.ends_with(".toml") || name.contains('/') || name.contains('\\');
    if looks_like_path || path.is_file() {
        if !path.is_file() && library::get(name).is_some() {
            return Ok(library::source(name).expect("listed"));
        }
        let text = std::fs::read_to_string(&path).map_err(|source| ScenarioError::Io {
            file: path.display().to_string(),
            source,
        })?;
        return Ok(Source {
            file: path.display().to_string(),
            text,
            dir: Some(path.parent().map(Path::to_path_buf).unwrap_or_default()),
        });
    }
    library::source(name).ok_or_else(|| ScenarioError::UnknownScenario {
        name: name.to_string(),
        known: library::names().join(", "),
    })
}

impl Scenario {
    /// Parses and validates a scenario from its source.
    pub fn from_source(src: &Source) -> Result<Scenario, ScenarioError> {
        validate::validate(src, &|name, from| resolve(name, Some(from)))
    }

    /// Parses and validates TOML text; `file` names it in error messages. Includes and CSV
    /// files resolve against the current directory.
    pub fn from_toml(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::from_source(&Source {
            file: file.to_string(),
            text: text.to_string(),
            dir: Some(".".into()),
        })
    }

    /// The contact stream for `seed` (scale 1).
    pub fn arrivals(&self, seed: u64) -> Arrivals<'_> {
        Arrivals::new(self, seed, 1.0)
    }

    /// Expected contacts per day, by component: the exact integral of the rate.
    pub fn expected_days(&self) -> &[DayExpectation] {
        &self.expected
    }

    /// Expected contacts over the horizon.
    pub fn expected_total(&self) -> f64 {
        self.expected.iter().map(DayExpectation::total).sum()
    }

    /// Expected contacts of the baseline (index 0) and of each event (1..).
    pub fn expected_by_component(&self) -> Vec<f64> {
        let mut out = vec![self.expected.iter().map(|d| d.baseline).sum()];
        out.extend((0..self.events.len()).map(|e| self.term_totals[e].iter().sum::<f64>()));
        out
    }

    /// Expected contacts by channel, in [`Channel::ALL`] order.
    pub fn expected_by_channel(&self) -> [f64; 6] {
        let comp = self.expected_by_component();
        let mut out = [0.0; 6];
        for (i, share) in self.channels.shares().iter().enumerate() {
            out[i] += comp[0] * share;
        }
        for (e, ev) in self.events.iter().enumerate() {
            for (i, share) in ev.channels.shares().iter().enumerate() {
                out[i] += comp[e + 1] * share;
            }
        }
        out
    }

    /// Expected contacts by request type, in [`RequestType::ALL`] order.
    pub fn expected_by_type(&self) -> [f64; 5] {
        let base: f64 = self.expected.iter().map(|d| d.baseline).sum();
        let mut out = [0.0; 5];
        for (i, share) in self.type_mixes[0].shares().iter().enumerate() {
            out[i] += base * share;
        }
        for (e, ev) in self.events.iter().enumerate() {
            for (k, term) in ev.terms.iter().enumerate() {
                for (i, share) in self.type_mixes[term.types].shares().iter().enumerate() {
                    out[i] += self.term_totals[e][k] * share;
                }
            }
        }
        out
    }

    /// Expected contacts of one channel per cell of `step_h` hours from the start (the last
    /// cell may be partial), by request type, split into ordinary (`[0]`, the baseline) and
    /// event (`[1]`) contacts: the exact integral of the rate at busyness and event factors 1.
    /// Intake delays of written channels are not applied (contacts count when sent). Staffing
    /// methods read the phone rate from it.
    pub fn expected_grid(&self, step_h: f64, channel: Channel) -> Vec<[[f64; 5]; 2]> {
        let cells = (self.calendar.horizon_h() / step_h).ceil().max(1.0) as usize;
        let mut out = vec![[[0.0; 5]; 2]; cells];
        let ch = channel as usize;
        // Visits the cells overlapping [a, b) with the overlap's bounds.
        let each_cell = |a: f64, b: f64, f: &mut dyn FnMut(usize, f64, f64)| {
            let mut t = a;
            while t < b {
                let i = ((t / step_h) as usize).min(cells - 1);
                let end = if i + 1 == cells {
                    b
                } else {
                    (((i + 1) as f64) * step_h).min(b)
                };
                if end <= t {
                    break;
                }
                f(i, t, end);
                t = end;
            }
        };
        let base_types = self.type_mixes[0].shares();
        let base_share = self.channels.shares()[ch];
        for slot in &self.slots {
            each_cell(slot.start_h, slot.end_h, &mut |i, a, b| {
                let v = slot.base_rate * (b - a) * base_share;
                for (k, w) in base_types.iter().enumerate() {
                    out[i][0][k] += v * w;
                }
            });
        }
        for event in &self.events {
            let share = event.channels.shares()[ch];
            for term in &event.terms {
                let types = self.type_mixes[term.types].shares();
                for (slot, m) in self.term_slots(term) {
                    each_cell(slot.start_h, slot.end_h, &mut |i, a, b| {
                        let v = term.weight * m * term.atom.integral(a - term.t0, b - term.t0);
                        for (k, w) in types.iter().enumerate() {
                            out[i][1][k] += v * share * w;
                        }
                    });
                }
            }
        }
        out
    }

    /// The slots from a term's trigger on (those before it are skipped: slots are sorted by
    /// time), each with the factor the term's rate takes there: the hour's propensity if the
    /// term is modulated, else 1.
    pub(crate) fn term_slots<'a>(
        &'a self,
        term: &'a Term,
    ) -> impl Iterator<Item = (&'a model::Slot, f64)> + 'a {
        let first = self.slots.partition_point(|sl| sl.end_h <= term.t0);
        self.slots[first..].iter().map(move |slot| {
            let m = if term.modulated {
                self.propensity[slot.hour as usize]
            } else {
                1.0
            };
            (slot, m)
        })
    }

    /// Index of the day with the most expected contacts among `from..=to`.
    pub fn peak_day(&self, from: usize, to: usize) -> usize {
        (from..=to.min(self.expected.len() - 1))
            .max_by(|&a, &b| {
                self.expected[a]
                    .total()
                    .total_cmp(&self.expected[b].total())
            })
            .unwrap_or(from)
    }
}
