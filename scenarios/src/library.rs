//! The shipped scenario library, embedded in the binary so a scenario can be named without a
//! path. The files live in `scenarios/library/`, each commented with its sources.

use crate::validate::Source;

/// Shipped scenarios: (name, TOML text).
const LIBRARY: &[(&str, &str)] = &[
    (
        "dpc-year-2011-12",
        include_str!("../library/dpc-year-2011-12.toml"),
    ),
    (
        "uars-reentry-2011",
        include_str!("../library/uars-reentry-2011.toml"),
    ),
    (
        "genoa-flood-2011",
        include_str!("../library/genoa-flood-2011.toml"),
    ),
    (
        "north-quake-snow-2012",
        include_str!("../library/north-quake-snow-2012.toml"),
    ),
    (
        "emilia-quake-2012",
        include_str!("../library/emilia-quake-2012.toml"),
    ),
    (
        "ordinary-week",
        include_str!("../library/ordinary-week.toml"),
    ),
];

/// Names of the shipped scenarios.
pub fn names() -> Vec<&'static str> {
    LIBRARY.iter().map(|(n, _)| *n).collect()
}

/// The TOML text of a shipped scenario.
pub fn get(name: &str) -> Option<&'static str> {
    LIBRARY.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The source of a shipped scenario.
pub fn source(name: &str) -> Option<Source> {
    get(name).map(|text| Source {
        file: format!("library/{name}.toml"),
        text: text.to_string(),
        dir: None,
    })
}
