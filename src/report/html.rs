//! The HTML document: one file, inline CSS and SVG, no scripts and no external resources.

use super::chart::{Chart, Series, XAxis, at, escape, fmt_num};
use super::{Block, Report, Table};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Rows a data table shows before it is summarised (per day on a time axis).
const MAX_ROWS: usize = 200;

const CSS: &str = r#"
:root { --ink: #222; --muted: #666; --rule: #ddd; --pass: #1b6e3a; --fail: #a4161a; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 15px/1.5 "Liberation Sans", Arial, Helvetica, sans-serif; }
header, main, footer { max-width: 1040px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 28px; border-bottom: 2px solid var(--ink); }
h1 { font-size: 26px; margin: 0 0 4px; }
.sub { color: var(--muted); margin: 0 0 12px; }
nav ol { margin: 0 0 16px; padding-left: 20px; columns: 2; }
nav a { color: var(--ink); }
section { padding: 8px 0 16px; border-bottom: 1px solid var(--rule); }
h2 { font-size: 20px; margin: 20px 0 8px; }
figure { margin: 16px 0 24px; }
svg.chart { width: 100%; height: auto; display: block; border: 1px solid var(--rule); }
figcaption { font-size: 14px; color: var(--muted); margin-top: 6px; }
details { margin-top: 6px; }
summary { cursor: pointer; color: var(--ink); }
.tablewrap { max-height: 420px; overflow: auto; border: 1px solid var(--rule); margin-top: 6px; }
table { border-collapse: collapse; font-size: 13px; min-width: 60%; }
caption { text-align: left; font-weight: bold; padding: 4px 0; }
th, td { padding: 3px 8px; border-bottom: 1px solid var(--rule); text-align: left; vertical-align: top; }
th { background: #f4f4f4; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0; }
dl.facts dt { font-weight: bold; }
dl.facts dd { margin: 0; }
.verdict { font-weight: bold; padding: 0 6px; border: 1px solid; border-radius: 3px; }
.pass { color: var(--pass); } .fail { color: var(--fail); }
footer { color: var(--muted); font-size: 13px; padding: 16px 24px 32px; }
@media print { nav, details { display: none; } section { break-inside: avoid-page; } }
"#;

/// Renders the whole document.
pub fn render(r: &Report) -> anyhow::Result<String> {
    let mut out = String::with_capacity(256 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<header>\n<h1>{}</h1>\n<p class=\"sub\">{}</p>\n<nav aria-label=\"Contents\"><ol>\n",
        escape(&r.title),
        escape(&r.title),
        escape(&r.subtitle)
    );
    for (i, s) in r.sections.iter().enumerate() {
        let _ = writeln!(
            out,
            "<li><a href=\"#s{}\">{}</a></li>",
            i + 1,
            escape(&s.title)
        );
    }
    out.push_str("</ol></nav>\n</header>\n<main>\n");
    let mut figure = 0;
    for (i, s) in r.sections.iter().enumerate() {
        let _ = write!(
            out,
            "<section id=\"s{n}\" aria-labelledby=\"s{n}-h\">\n<h2 id=\"s{n}-h\">{}</h2>\n",
            escape(&s.title),
            n = i + 1
        );
        for b in &s.blocks {
            match b {
                Block::Text(t) => {
                    let _ = writeln!(out, "<p>{}</p>", escape(t));
                }
                Block::Facts(pairs) => facts(&mut out, pairs),
                Block::Table(t) => table(&mut out, t),
                Block::Verdicts(v) => verdicts(&mut out, v),
                Block::Chart(c, t) => {
                    figure += 1;
                    chart(&mut out, c, t.as_ref(), figure)?;
                }
            }
        }
        out.push_str("</section>\n");
    }
    let _ = write!(
        out,
        "</main>\n<footer>Made by cclab {} on its own: every chart and table is inside this file, which needs no network and no scripts.</footer>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    );
    Ok(out)
}

fn facts(out: &mut String, pairs: &[(String, String)]) {
    out.push_str("<dl class=\"facts\">\n");
    for (k, v) in pairs {
        let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(v));
    }
    out.push_str("</dl>\n");
}

fn is_numeric(cell: &str) -> bool {
    let c = cell.trim();
    !c.is_empty()
        && c.chars()
            .next()
            .is_some_and(|ch| ch.is_ascii_digit() || ch == '-' || ch == '–')
        && c.chars()
            .all(|ch| ch.is_ascii_digit() || " .,-–±%()smsµ".contains(ch))
}

fn table(out: &mut String, t: &Table) {
    out.push_str("<div class=\"tablewrap\"><table>\n");
    if !t.caption.is_empty() {
        let _ = writeln!(out, "<caption>{}</caption>", escape(&t.caption));
    }
    out.push_str("<thead><tr>");
    for h in &t.header {
        let _ = write!(out, "<th scope=\"col\">{}</th>", escape(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &t.rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            if i == 0 {
                let _ = write!(out, "<th scope=\"row\">{}</th>", escape(cell));
            } else if is_numeric(cell) {
                let _ = write!(out, "<td class=\"num\">{}</td>", escape(cell));
            } else {
                let _ = write!(out, "<td>{}</td>", escape(cell));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
}

fn verdicts(out: &mut String, items: &[(String, bool, String)]) {
    out.push_str("<div class=\"tablewrap\"><table>\n<thead><tr><th scope=\"col\">check</th><th scope=\"col\">result</th><th scope=\"col\">detail</th></tr></thead>\n<tbody>\n");
    for (what, pass, detail) in items {
        let (class, word) = if *pass {
            ("pass", "PASS")
        } else {
            ("fail", "FAIL")
        };
        let _ = writeln!(
            out,
            "<tr><th scope=\"row\">{}</th><td><span class=\"verdict {class}\">{word}</span></td><td>{}</td></tr>",
            escape(what),
            escape(detail)
        );
    }
    out.push_str("</tbody></table></div>\n");
}

fn chart(out: &mut String, c: &Chart, t: Option<&Table>, n: usize) -> anyhow::Result<()> {
    let id = format!("fig{n}");
    let svg = c.to_svg(&id)?;
    let _ = write!(
        out,
        "<figure id=\"{id}\">\n{svg}\n<figcaption>\n<p>Figure {n}. {}</p>\n<details>\n<summary>Data table: {}</summary>\n",
        escape(&c.summary()),
        escape(&c.title)
    );
    match t {
        Some(t) => table(out, t),
        None => table(out, &data_table(c)),
    }
    out.push_str("</details>\n</figcaption>\n</figure>\n");
    Ok(())
}

/// A cell's resolution: whole numbers from 100 up, then one or two decimals.
fn cell(v: f64) -> String {
    let a = v.abs();
    let res = if a >= 100.0 {
        1.0
    } else if a >= 10.0 {
        0.1
    } else {
        0.01
    };
    fmt_num(v, res)
}

/// The plotted values as a table: one row per x, or per local day (per group of x values on
/// other axes) with the mean and the range when there are more than [`MAX_ROWS`] of them.
pub fn data_table(c: &Chart) -> Table {
    let mut header = vec![c.x_label()];
    header.extend(c.series.iter().map(|s| {
        let unit = &c.y_label;
        match s {
            Series::Band { name, .. } => format!("{name} (low – high), {unit}"),
            _ => format!("{}, {unit}", s.name()),
        }
    }));
    // x -> per series (low, high); x keyed by its bits (all x here are finite).
    let mut xs: BTreeMap<i64, Vec<Option<(f64, f64)>>> = BTreeMap::new();
    let key = |x: f64| (x * 1e6).round() as i64;
    for (i, s) in c.series.iter().enumerate() {
        for (x, lo, hi) in s.rows() {
            if x.is_finite() {
                xs.entry(key(x))
                    .or_insert_with(|| vec![None; c.series.len()])[i] = Some((lo, hi));
            }
        }
    }
    let mut t = Table::new(&c.title, header);
    let group_of = |x: f64, n: usize| -> (i64, String) {
        match &c.x {
            XAxis::Time { origin } if n > MAX_ROWS => {
                let d = at(origin, x).date_naive();
                (
                    d.num_days_from_ce_i64(),
                    d.format("%a %d %b %Y").to_string(),
                )
            }
            _ if n > MAX_ROWS => {
                let per = n.div_ceil(MAX_ROWS) as i64;
                (key(x) / per, String::new())
            }
            _ => (key(x), c.x_text(x)),
        }
    };
    let n = xs.len();
    let summarised = n > MAX_ROWS;
    // (label, first x, last x, per series the (low, high) values in the group)
    type Group = (String, f64, f64, Vec<Vec<(f64, f64)>>);
    let mut groups: Vec<Group> = Vec::new();
    let mut last_group = None;
    for (idx, (k, vals)) in xs.iter().enumerate() {
        let x = *k as f64 / 1e6;
        let (g, label) = if matches!(c.x, XAxis::Time { .. }) || !summarised {
            group_of(x, n)
        } else {
            ((idx * MAX_ROWS / n) as i64, String::new())
        };
        if last_group != Some(g) {
            groups.push((label, x, x, vec![Vec::new(); c.series.len()]));
            last_group = Some(g);
        }
        let grp = groups.last_mut().expect("pushed above");
        grp.2 = x;
        for (i, v) in vals.iter().enumerate() {
            if let Some(v) = v.filter(|v| v.0.is_finite() && v.1.is_finite()) {
                grp.3[i].push(v);
            }
        }
    }
    for (label, x0, x1, cols) in groups {
        let label = if label.is_empty() {
            format!("{} – {}", c.x_text(x0), c.x_text(x1))
        } else {
            label
        };
        let mut row = vec![label];
        for (i, vals) in cols.iter().enumerate() {
            let band = matches!(c.series[i], Series::Band { .. });
            row.push(match vals.as_slice() {
                [] => "–".to_string(),
                [(lo, hi)] if band => format!("{} – {}", cell(*lo), cell(*hi)),
                [(v, _)] => cell(*v),
                many => {
                    let lo = many.iter().map(|v| v.0).fold(f64::INFINITY, f64::min);
                    let hi = many.iter().map(|v| v.1).fold(f64::NEG_INFINITY, f64::max);
                    if band {
                        format!("{} – {}", cell(lo), cell(hi))
                    } else {
                        let mean = many.iter().map(|v| v.0).sum::<f64>() / many.len() as f64;
                        format!("{} ({} – {})", cell(mean), cell(lo), cell(hi))
                    }
                }
            });
        }
        t.push(row);
    }
    if summarised {
        t.caption = format!(
            "{}: {} values summarised as mean (lowest – highest) per {}",
            c.title,
            n,
            if matches!(c.x, XAxis::Time { .. }) {
                "day"
            } else {
                "group"
            }
        );
    }
    t
}

trait DaysFromCe {
    fn num_days_from_ce_i64(&self) -> i64;
}

impl DaysFromCe for chrono::NaiveDate {
    fn num_days_from_ce_i64(&self) -> i64 {
        i64::from(chrono::Datelike::num_days_from_ce(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_time_series_are_summarised_per_day() {
        let tz: chrono_tz::Tz = "Europe/Rome".parse().unwrap();
        let origin = chrono::TimeZone::with_ymd_and_hms(&tz, 2011, 7, 4, 0, 0, 0).unwrap();
        let pts: Vec<(f64, f64)> = (0..17_520).map(|i| (i as f64 * 0.5, 1.0)).collect();
        let c = Chart::new("calls", XAxis::Time { origin }, "calls").line("offered", pts);
        let t = data_table(&c);
        assert_eq!(t.rows.len(), 365);
        assert_eq!(t.rows[0][0], "Mon 04 Jul 2011");
        assert_eq!(t.rows[0][1], "1.00 (1.00 – 1.00)");
        assert!(t.caption.contains("per day"));
    }

    #[test]
    fn short_series_keep_every_value() {
        let c = Chart::new("x", XAxis::Number { label: "s".into() }, "r")
            .line("a", vec![(0.0, 1.0), (1.0, 2.0)])
            .band("ci", vec![(0.0, 0.5, 1.5), (1.0, 1.5, 2.5)]);
        let t = data_table(&c);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[1], vec!["1", "2.00", "1.50 – 2.50"]);
    }

    #[test]
    fn document_is_self_contained() {
        let mut r = Report::new("T & co", "sub");
        r.section("One").text("<b>").facts([("k", "v")]).chart(
            Chart::new("c", XAxis::Number { label: "s".into() }, "u").line("a", vec![(0.0, 1.0)]),
        );
        r.verdicts(vec![("p99".into(), false, "3 ms".into())]);
        let html = r.render().unwrap();
        assert!(html.contains("<title>T &amp; co</title>"));
        assert!(html.contains("&lt;b&gt;"));
        assert!(html.contains(">FAIL<"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("src=\"http"));
    }
}
