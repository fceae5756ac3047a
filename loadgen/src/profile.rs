//! Target profiles: how a journey of a contact becomes HTTP requests against one API.
//!
//! A profile is a TOML file (see `profiles/reference.toml`, the default, and
//! `profiles/helpdesk.toml`, an API of another shape). Each `[[steps]]` entry is one kind of
//! request of the journey: method, path, headers, a body template, expected statuses, captures
//! from the response, and its timing in *scenario* time relative to its parent step (`after`):
//! a lognormal `delay`, a `probability`, a Poisson number of `repeat`s, or an exclusive `choice`
//! among siblings. The first step has no parent: it is sent at the contact's arrival time.
//!
//! Templates use `{{...}}` placeholders: `contact.id`, `contact.channel`,
//! `contact.request_type`, `contact.event`, `contact.time` (scenario time, RFC 3339), `seq`
//! (the step's position in the whole plan), `repeat`, `seed`, `capture.NAME` (a value captured
//! by an ancestor step), `var.NAME` (from `[vars]` or `--var NAME=VALUE`) and `env.NAME`.
//! Values are JSON-escaped in bodies and percent-encoded in paths (but `/` stays, so a
//! captured `Location` works as a whole path).

use crate::LoadgenError;
use crate::parse_duration;
use hyper::Method;
use hyper::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: String,
    description: Option<String>,
    /// Default request timeout, e.g. "10s".
    timeout: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    vars: BTreeMap<String, String>,
    reconcile: Option<RawReconcile>,
    steps: Vec<RawStep>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReconcile {
    step: String,
    path: String,
    pointer: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: String,
    #[serde(default = "default_method")]
    method: String,
    path: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<String>,
    #[serde(default = "default_expect")]
    expect: Vec<u16>,
    #[serde(default)]
    capture: BTreeMap<String, RawCapture>,
    after: Option<String>,
    delay: Option<RawDelay>,
    probability: Option<f64>,
    repeat: Option<f64>,
    choice: Option<RawChoice>,
}

fn default_method() -> String {
    "GET".into()
}

fn default_expect() -> Vec<u16> {
    vec![200]
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCapture {
    json: Option<String>,
    header: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDelay {
    mean: String,
    #[serde(default = "one")]
    cv: f64,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChoice {
    group: String,
    weight: f64,
}

/// A field of the contact or of the step, substituted at send time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    ContactId,
    Channel,
    RequestType,
    Event,
    Time,
    Seq,
    Repeat,
    Seed,
    /// Index into the journey's capture slots.
    Capture(usize),
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Lit(String),
    Field(Field),
}

/// A compiled template: literals (with `var.` and `env.` already substituted) and fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub parts: Vec<Part>,
}

impl Template {
    /// Capture slots the template reads.
    pub fn captures(&self) -> impl Iterator<Item = usize> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Field(Field::Capture(i)) => Some(*i),
            _ => None,
        })
    }

    /// The template when it has no fields (headers, paths that never change).
    pub fn as_literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Lit(s)] => Some(s),
            _ => None,
        }
    }
}

/// Where a captured value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureFrom {
    /// A JSON pointer into the response body (`/number`).
    Json(String),
    /// A response header.
    Header(HeaderName),
}

#[derive(Debug, Clone)]
pub struct Capture {
    pub slot: usize,
    pub from: CaptureFrom,
}

/// A lognormal delay in scenario time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delay {
    pub mean_us: f64,
    pub cv: f64,
}

/// One step of the journey, compiled.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub method: Method,
    pub path: Template,
    pub headers: Vec<(HeaderName, Template)>,
    pub body: Option<Template>,
    pub expect: Vec<u16>,
    pub captures: Vec<Capture>,
    /// The step this one follows (index into `Profile::steps`, always lower than this one's).
    pub parent: Option<usize>,
    pub delay: Option<Delay>,
    pub probability: f64,
    /// Mean of the Poisson number of occurrences, each a delay after the previous one.
    pub repeat: Option<f64>,
    /// Exclusive choice among steps with the same parent and group: (group id, weight).
    pub choice: Option<(usize, f64)>,
}

/// How to check, at the end, that every accepted root step made exactly one record.
#[derive(Debug, Clone)]
pub struct Reconcile {
    pub step: usize,
    /// GET path returning a JSON count.
    pub path: String,
    /// JSON pointer to the count in that response.
    pub pointer: String,
}

/// A validated target profile.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub description: Option<String>,
    /// Where it came from (file path or `builtin:reference`).
    pub source: String,
    pub timeout: Duration,
    pub steps: Vec<Step>,
    /// Names of the capture slots.
    pub capture_names: Vec<String>,
    pub reconcile: Option<Reconcile>,
}

impl Profile {
    /// The shipped reference profile, with `vars` overriding its `[vars]`.
    pub fn reference(vars: &BTreeMap<String, String>) -> Result<Profile, LoadgenError> {
        Profile::parse("builtin:reference", crate::REFERENCE_PROFILE, vars)
    }

    /// Loads `builtin:reference`, `builtin:helpdesk` or a TOML file.
    pub fn load(path: &str, vars: &BTreeMap<String, String>) -> Result<Profile, LoadgenError> {
        match path {
            "builtin:reference" | "reference" => Profile::reference(vars),
            "builtin:helpdesk" | "helpdesk" => {
                Profile::parse("builtin:helpdesk", crate::HELPDESK_PROFILE, vars)
            }
            _ => {
                let text = std::fs::read_to_string(path).map_err(|source| LoadgenError::Io {
                    path: path.to_string(),
                    source,
                })?;
                Profile::parse(path, &text, vars)
            }
        }
    }

    /// Parses and validates profile text; `file` names it in errors; `vars` override `[vars]`.
    pub fn parse(
        file: &str,
        text: &str,
        vars: &BTreeMap<String, String>,
    ) -> Result<Profile, LoadgenError> {
        let err = |message: String| LoadgenError::Profile {
            file: file.to_string(),
            message,
        };
        let raw: RawProfile = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        let mut all_vars = raw.vars.clone();
        all_vars.extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        let timeout = match &raw.timeout {
            None => Duration::from_secs(10),
            Some(s) => parse_duration(s).filter(|d| !d.is_zero()).ok_or_else(|| {
                err(format!(
                    "timeout: expected a duration like \"10s\", got {s:?}"
                ))
            })?,
        };
        if raw.steps.is_empty() {
            return Err(err(
                "steps: a profile needs at least one [[steps]] entry".into()
            ));
        }
        let mut c = Compiler {
            vars: &all_vars,
            capture_names: Vec::new(),
            groups: Vec::new(),
        };
        let mut steps: Vec<Step> = Vec::new();
        let mut ancestors_caps: Vec<Vec<usize>> = Vec::new();
        for (i, rs) in raw.steps.iter().enumerate() {
            let at = |key: &str| format!("steps[{i}] ({}).{key}", rs.name);
            if rs.name.is_empty() || steps.iter().any(|s| s.name == rs.name) {
                return Err(err(format!(
                    "{}: step names must be unique and non-empty",
                    at("name")
                )));
            }
            let parent = match (&rs.after, i) {
                (None, 0) => None,
                (None, _) => {
                    return Err(err(format!(
                        "{}: every step but the first needs `after = \"<earlier step>\"`",
                        at("after")
                    )));
                }
                (Some(p), 0) => {
                    return Err(err(format!(
                        "{}: the first step is the root of the journey (sent at the contact's time) and has no parent, got {p:?}",
                        at("after")
                    )));
                }
                (Some(p), _) => {
                    let idx = steps.iter().position(|s| &s.name == p).ok_or_else(|| {
                        let names: Vec<_> = steps.iter().map(|s| s.name.as_str()).collect();
                        err(format!(
                            "{}: unknown step {p:?}; earlier steps are: {}",
                            at("after"),
                            names.join(", ")
                        ))
                    })?;
                    if steps[idx].repeat.is_some() {
                        return Err(err(format!(
                            "{}: step {p:?} repeats, so it cannot be a parent",
                            at("after")
                        )));
                    }
                    Some(idx)
                }
            };
            let method =
                Method::from_bytes(rs.method.to_ascii_uppercase().as_bytes()).map_err(|_| {
                    err(format!(
                        "{}: invalid HTTP method {:?}",
                        at("method"),
                        rs.method
                    ))
                })?;
            if !(rs.path.starts_with('/') || rs.path.starts_with("{{")) {
                return Err(err(format!(
                    "{}: must start with '/', got {:?}",
                    at("path"),
                    rs.path
                )));
            }
            let path = c
                .template(&rs.path)
                .map_err(|m| err(format!("{}: {m}", at("path"))))?;
            let mut headers = Vec::new();
            let mut merged = raw.headers.clone();
            merged.extend(rs.headers.clone());
            for (k, v) in &merged {
                let name = HeaderName::from_bytes(k.as_bytes())
                    .map_err(|_| err(format!("{}: invalid header name {k:?}", at("headers"))))?;
                let t = c
                    .template(v)
                    .map_err(|m| err(format!("{}.{k}: {m}", at("headers"))))?;
                if let Some(lit) = t.as_literal() {
                    HeaderValue::from_str(lit).map_err(|_| {
                        err(format!(
                            "{}.{k}: invalid header value {lit:?}",
                            at("headers")
                        ))
                    })?;
                }
                headers.push((name, t));
            }
            let body = match &rs.body {
                None => None,
                Some(b) => Some(
                    c.template(b)
                        .map_err(|m| err(format!("{}: {m}", at("body"))))?,
                ),
            };
            if rs.expect.is_empty() || rs.expect.iter().any(|s| !(100..=599).contains(s)) {
                return Err(err(format!(
                    "{}: a non-empty list of HTTP status codes (100-599), got {:?}",
                    at("expect"),
                    rs.expect
                )));
            }
            // Captures a step may read: those of its ancestors.
            let mut visible = parent
                .map(|p| ancestors_caps[p].clone())
                .unwrap_or_default();
            let mut used: Vec<usize> = path.captures().collect();
            for (_, t) in &headers {
                used.extend(t.captures());
            }
            if let Some(b) = &body {
                used.extend(b.captures());
            }
            for u in used {
                if !visible.contains(&u) {
                    return Err(err(format!(
                        "{}: uses {{{{capture.{}}}}}, which no ancestor step captures (ancestors: {})",
                        at("path/headers/body"),
                        c.capture_names[u],
                        ancestry(&steps, parent).join(" <- ")
                    )));
                }
            }
            let mut captures = Vec::new();
            for (name, rc) in &rs.capture {
                if c.capture_names.contains(name) {
                    return Err(err(format!("{}.{name}: captured twice", at("capture"))));
                }
                let from = match (&rc.json, &rc.header) {
                    (Some(p), None) if p.is_empty() || p.starts_with('/') => {
                        CaptureFrom::Json(p.clone())
                    }
                    (None, Some(h)) => {
                        CaptureFrom::Header(HeaderName::from_bytes(h.as_bytes()).map_err(|_| {
                            err(format!(
                                "{}.{name}.header: invalid header name {h:?}",
                                at("capture")
                            ))
                        })?)
                    }
                    _ => {
                        return Err(err(format!(
                            "{}.{name}: give exactly one of json = \"/json/pointer\" or header = \"name\"",
                            at("capture")
                        )));
                    }
                };
                c.capture_names.push(name.clone());
                let slot = c.capture_names.len() - 1;
                captures.push(Capture { slot, from });
                visible.push(slot);
            }
            let delay = match &rs.delay {
                None => None,
                Some(d) => {
                    let mean = parse_duration(&d.mean).ok_or_else(|| {
                        err(format!(
                            "{}: expected a duration like \"20m\", got {:?}",
                            at("delay.mean"),
                            d.mean
                        ))
                    })?;
                    if !(d.cv.is_finite() && d.cv >= 0.0) {
                        return Err(err(format!(
                            "{}: must be >= 0, got {}",
                            at("delay.cv"),
                            d.cv
                        )));
                    }
                    Some(Delay {
                        mean_us: mean.as_secs_f64() * 1e6,
                        cv: d.cv,
                    })
                }
            };
            if parent.is_none()
                && (delay.is_some()
                    || rs.probability.is_some()
                    || rs.repeat.is_some()
                    || rs.choice.is_some())
            {
                return Err(err(format!(
                    "{}: the root step happens once, at the contact's time: no delay, probability, repeat or choice",
                    at("after")
                )));
            }
            let probability = rs.probability.unwrap_or(1.0);
            if !(0.0..=1.0).contains(&probability) {
                return Err(err(format!(
                    "{}: must be in [0, 1], got {probability}",
                    at("probability")
                )));
            }
            if let Some(r) = rs.repeat {
                if !(0.0..=1000.0).contains(&r) {
                    return Err(err(format!(
                        "{}: mean count in [0, 1000], got {r}",
                        at("repeat")
                    )));
                }
            }
            let choice = match &rs.choice {
                None => None,
                Some(ch) => {
                    if !(0.0..=1.0).contains(&ch.weight) {
                        return Err(err(format!(
                            "{}: must be in [0, 1], got {}",
                            at("choice.weight"),
                            ch.weight
                        )));
                    }
                    let key = (parent, ch.group.clone());
                    let g = match c.groups.iter().position(|(k, _)| *k == key) {
                        Some(g) => g,
                        None => {
                            c.groups.push((key, 0.0));
                            c.groups.len() - 1
                        }
                    };
                    c.groups[g].1 += ch.weight;
                    if c.groups[g].1 > 1.0 + 1e-9 {
                        return Err(err(format!(
                            "{}: weights of group {:?} sum to more than 1",
                            at("choice.weight"),
                            ch.group
                        )));
                    }
                    Some((g, ch.weight))
                }
            };
            ancestors_caps.push(visible);
            steps.push(Step {
                name: rs.name.clone(),
                method,
                path,
                headers,
                body,
                expect: rs.expect.clone(),
                captures,
                parent,
                delay,
                probability,
                repeat: rs.repeat,
                choice,
            });
        }
        let reconcile = match &raw.reconcile {
            None => None,
            Some(r) => Some(Reconcile {
                step: steps
                    .iter()
                    .position(|s| s.name == r.step)
                    .ok_or_else(|| err(format!("reconcile.step: unknown step {:?}", r.step)))?,
                path: r.path.clone(),
                pointer: r.pointer.clone(),
            }),
        };
        Ok(Profile {
            name: raw.name,
            description: raw.description,
            source: file.to_string(),
            timeout,
            steps,
            capture_names: c.capture_names,
            reconcile,
        })
    }

    /// Index of the step named `name`.
    pub fn step_index(&self, name: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.name == name)
    }
}

fn ancestry(steps: &[Step], mut at: Option<usize>) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(i) = at {
        out.push(steps[i].name.clone());
        at = steps[i].parent;
    }
    if out.is_empty() {
        out.push("none".into());
    }
    out
}

struct Compiler<'a> {
    vars: &'a BTreeMap<String, String>,
    capture_names: Vec<String>,
    /// Choice groups: ((parent, group name), weight so far).
    groups: Vec<((Option<usize>, String), f64)>,
}

impl Compiler<'_> {
    fn template(&self, s: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = s;
        while let Some(open) = rest.find("{{") {
            lit.push_str(&rest[..open]);
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| format!("unclosed placeholder after {:?}", &rest[open..]))?;
            let name = after[..close].trim();
            rest = &after[close + 2..];
            let field = match name {
                "contact.id" => Field::ContactId,
                "contact.channel" => Field::Channel,
                "contact.request_type" => Field::RequestType,
                "contact.event" => Field::Event,
                "contact.time" => Field::Time,
                "seq" => Field::Seq,
                "repeat" => Field::Repeat,
                "seed" => Field::Seed,
                _ => {
                    if let Some(v) = name.strip_prefix("var.") {
                        let value = self.vars.get(v).ok_or_else(|| {
                            format!("{{{{{name}}}}} has no value: set it in [vars] or pass --var {v}=VALUE")
                        })?;
                        lit.push_str(value);
                        continue;
                    }
                    if let Some(v) = name.strip_prefix("env.") {
                        let value = std::env::var(v).map_err(|_| {
                            format!("{{{{{name}}}}}: environment variable {v} is not set")
                        })?;
                        lit.push_str(&value);
                        continue;
                    }
                    if let Some(c) = name.strip_prefix("capture.") {
                        let slot =
                            self.capture_names
                                .iter()
                                .position(|n| n == c)
                                .ok_or_else(|| {
                                    format!("{{{{{name}}}}}: no earlier step captures {c:?}")
                                })?;
                        Field::Capture(slot)
                    } else {
                        return Err(format!(
                            "unknown placeholder {{{{{name}}}}}; known: contact.id, contact.channel, contact.request_type, contact.event, contact.time, seq, repeat, seed, capture.NAME, var.NAME, env.NAME"
                        ));
                    }
                }
            };
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut lit)));
            }
            parts.push(Part::Field(field));
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Template { parts })
    }
}

/// How substituted values are escaped.
#[derive(Debug, Clone, Copy)]
pub enum Escape {
    /// Header values: as is.
    None,
    /// Inside a JSON string in a body.
    Json,
    /// A path segment.
    Path,
}

/// Appends `value` to `out`, escaped.
pub fn push_escaped(out: &mut String, value: &str, esc: Escape) {
    match esc {
        Escape::None => out.push_str(value),
        Escape::Json => {
            for ch in value.chars() {
                match ch {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c => out.push(c),
                }
            }
        }
        Escape::Path => {
            for b in value.bytes() {
                // Unreserved characters, sub-delimiters, ':', '@' and '/' stay (a captured
                // `Location` is a path); everything else is percent-encoded.
                if b.is_ascii_alphanumeric() || b"-_.~/:@!$&'()*+,;=".contains(&b) {
                    out.push(b as char);
                } else {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_profiles_parse() {
        let mut vars = BTreeMap::new();
        vars.insert("operator_token".to_string(), "x".repeat(20));
        let p = Profile::reference(&vars).unwrap();
        assert_eq!(p.steps[0].name, "intake");
        assert!(p.reconcile.is_some());
        Profile::load("builtin:helpdesk", &vars).unwrap();
    }

    #[test]
    fn escapes() {
        let mut s = String::new();
        push_escaped(&mut s, "a\"b\\c\n", Escape::Json);
        assert_eq!(s, "a\\\"b\\\\c\\n");
        s.clear();
        push_escaped(&mut s, "a b/c?d#", Escape::Path);
        assert_eq!(s, "a%20b/c%3Fd%23");
    }
}
