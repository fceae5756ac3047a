//! Threshold verdicts for CI: `intake.p99<250ms`, `errors<0.5%`, `dropped==0`.
//!
//! Grammar: `[STEP.][latency.|service.|lateness.]METRIC OP VALUE` where METRIC is `pNN`
//! (`p50`, `p99`, `p99.9`), `mean` or `max` (times, VALUE a duration: `250ms`, `1s`, `800us`),
//! or one of `errors`, `dropped`, `timeouts`, `ok`, `sent`, `planned` (counts; VALUE a count,
//! or a percentage of `sent` for errors/timeouts/ok and of `planned` for dropped/sent); OP is
//! one of `<`, `<=`, `>`, `>=`, `==`, `!=`. Without STEP a metric covers every step (times from
//! the merged histogram). Time metrics read the latency from the intended send unless
//! `service.` or `lateness.` says otherwise.

use crate::LoadgenError;
use crate::record::Counts;
use crate::report::{Report, Verdict, Which};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

#[derive(Debug, Clone, PartialEq)]
enum Metric {
    Quantile(Which, f64),
    Mean(Which),
    Max(Which),
    Count(CountKind),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CountKind {
    Errors,
    Dropped,
    Timeouts,
    Ok,
    Sent,
    Planned,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Value {
    Micros(f64),
    Count(f64),
    Percent(f64),
}

/// A parsed threshold.
#[derive(Debug, Clone)]
pub struct Threshold {
    pub text: String,
    step: Option<String>,
    metric: Metric,
    op: Op,
    value: Value,
}

impl Threshold {
    /// Parses one expression; `steps` are the profile's step names.
    pub fn parse(text: &str, steps: &[String]) -> Result<Threshold, LoadgenError> {
        let bad = |reason: String| LoadgenError::Threshold {
            expr: text.to_string(),
            reason,
        };
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let ops = [
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<", Op::Lt),
            (">", Op::Gt),
        ];
        let (pos, len, op) = ops
            .iter()
            .filter_map(|(s, op)| compact.find(s).map(|p| (p, s.len(), *op)))
            .min_by_key(|(p, l, _)| (*p, usize::MAX - l))
            .ok_or_else(|| {
                bad(
                    "expected METRIC OP VALUE, e.g. intake.p99<250ms, errors<0.5%, dropped==0"
                        .into(),
                )
            })?;
        let (lhs, rhs) = (&compact[..pos], &compact[pos + len..]);
        let mut parts: Vec<String> = lhs.split('.').map(str::to_string).collect();
        // `p99.9` splits into two parts: glue them back.
        let n = parts.len();
        if n >= 2 {
            let (before, last) = (&parts[n - 2], &parts[n - 1]);
            let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
            if digits(last) && before.starts_with('p') && digits(&before[1..]) {
                let glued = format!("{before}.{last}");
                parts.truncate(n - 2);
                parts.push(glued);
            }
        }
        let mut step = None;
        if parts.len() > 1 && steps.iter().any(|s| *s == parts[0]) {
            step = Some(parts.remove(0));
        } else if parts.len() > 1
            && !matches!(parts[0].as_str(), "latency" | "service" | "lateness")
        {
            return Err(bad(format!(
                "unknown step {:?}; steps are: {}",
                parts[0],
                steps.join(", ")
            )));
        }
        let mut which = Which::Latency;
        if parts.len() > 1 {
            which = match parts.remove(0).as_str() {
                "latency" => Which::Latency,
                "service" => Which::Service,
                "lateness" => Which::Lateness,
                o => {
                    return Err(bad(format!(
                        "unknown histogram {o:?}: latency, service or lateness"
                    )));
                }
            };
        }
        let [name] = parts.as_slice() else {
            return Err(bad("too many dotted parts".into()));
        };
        let metric = match name.as_str() {
            "mean" => Metric::Mean(which),
            "max" => Metric::Max(which),
            "errors" => Metric::Count(CountKind::Errors),
            "dropped" => Metric::Count(CountKind::Dropped),
            "timeouts" => Metric::Count(CountKind::Timeouts),
            "ok" => Metric::Count(CountKind::Ok),
            "sent" => Metric::Count(CountKind::Sent),
            "planned" => Metric::Count(CountKind::Planned),
            p if p.starts_with('p') => {
                let q: f64 = p[1..]
                    .parse()
                    .map_err(|_| bad(format!("bad percentile {p:?}")))?;
                if !(0.0..=100.0).contains(&q) {
                    return Err(bad(format!("percentile out of range: {p}")));
                }
                Metric::Quantile(which, q / 100.0)
            }
            o => {
                return Err(bad(format!(
                    "unknown metric {o:?}: pNN, mean, max, errors, dropped, timeouts, ok, sent, planned"
                )));
            }
        };
        let value = if let Some(p) = rhs.strip_suffix('%') {
            Value::Percent(
                p.parse()
                    .map_err(|_| bad(format!("bad percentage {rhs:?}")))?,
            )
        } else if matches!(metric, Metric::Count(_)) {
            Value::Count(rhs.parse().map_err(|_| bad(format!("bad count {rhs:?}")))?)
        } else {
            let d = crate::parse_duration(rhs)
                .filter(|_| rhs.ends_with(|c: char| c.is_ascii_alphabetic()))
                .ok_or_else(|| bad(format!("bad duration {rhs:?}: use a unit, e.g. 250ms")))?;
            Value::Micros(d.as_secs_f64() * 1e6)
        };
        match (&metric, value) {
            (Metric::Count(_), Value::Micros(_))
            | (
                Metric::Quantile(..) | Metric::Mean(_) | Metric::Max(_),
                Value::Count(_) | Value::Percent(_),
            ) => {
                return Err(bad(
                    "time metrics take durations, count metrics counts or percentages".into(),
                ));
            }
            _ => {}
        }
        Ok(Threshold {
            text: text.to_string(),
            step,
            metric,
            op,
            value,
        })
    }

    /// Evaluates against a report.
    pub fn eval(&self, r: &Report) -> Verdict {
        let (counts, hist) = match &self.step {
            Some(name) => {
                let st = r
                    .steps
                    .iter()
                    .find(|s| &s.name == name)
                    .expect("step checked at parse");
                let w = self.which();
                (
                    st.counts.clone(),
                    st.hist(w)
                        .histogram()
                        .unwrap_or_else(|_| crate::record::new_histogram()),
                )
            }
            None => (r.totals.clone(), r.merged(self.which())),
        };
        let measured = match &self.metric {
            Metric::Quantile(_, q) => hist.value_at_quantile(*q) as f64,
            Metric::Mean(_) => hist.mean(),
            Metric::Max(_) => hist.max() as f64,
            Metric::Count(k) => {
                let (n, base) = count(&counts, *k);
                match self.value {
                    Value::Percent(_) if base == 0 => 0.0,
                    Value::Percent(_) => n as f64 * 100.0 / base as f64,
                    _ => n as f64,
                }
            }
        };
        let limit = match self.value {
            Value::Micros(v) | Value::Count(v) | Value::Percent(v) => v,
        };
        let pass = match self.op {
            Op::Lt => measured < limit,
            Op::Le => measured <= limit,
            Op::Gt => measured > limit,
            Op::Ge => measured >= limit,
            Op::Eq => measured == limit,
            Op::Ne => measured != limit,
        };
        Verdict {
            threshold: self.text.clone(),
            value: measured,
            pass,
        }
    }

    fn which(&self) -> Which {
        match self.metric {
            Metric::Quantile(w, _) | Metric::Mean(w) | Metric::Max(w) => w,
            Metric::Count(_) => Which::Latency,
        }
    }
}

/// The count and the base of its percentage.
fn count(c: &Counts, k: CountKind) -> (u64, u64) {
    match k {
        CountKind::Errors => (c.errors(), c.sent),
        CountKind::Timeouts => (c.timeouts, c.sent),
        CountKind::Ok => (c.ok, c.sent),
        CountKind::Dropped => (c.dropped.total(), c.planned),
        CountKind::Sent => (c.sent, c.planned),
        CountKind::Planned => (c.planned, c.planned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps() -> Vec<String> {
        vec!["intake".into(), "status".into()]
    }

    #[test]
    fn parses_the_grammar() {
        let t = Threshold::parse("intake.p99<250ms", &steps()).unwrap();
        assert_eq!(t.step.as_deref(), Some("intake"));
        assert_eq!(t.metric, Metric::Quantile(Which::Latency, 0.99));
        assert_eq!(t.value, Value::Micros(250_000.0));
        let t = Threshold::parse("errors < 0.5%", &steps()).unwrap();
        assert_eq!(t.value, Value::Percent(0.5));
        assert_eq!(t.op, Op::Lt);
        let t = Threshold::parse("dropped==0", &steps()).unwrap();
        assert_eq!(t.op, Op::Eq);
        let t = Threshold::parse("status.service.p99.9<=1s", &steps()).unwrap();
        assert!(
            matches!(t.metric, Metric::Quantile(Which::Service, q) if (q - 0.999).abs() < 1e-12)
        );
        assert_eq!(t.op, Op::Le);
        assert!(Threshold::parse("nope.p99<1s", &steps()).is_err());
        assert!(Threshold::parse("p99<5", &steps()).is_err());
        assert!(Threshold::parse("errors<1ms", &steps()).is_err());
        assert!(Threshold::parse("p99", &steps()).is_err());
    }
}
