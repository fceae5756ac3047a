//! One chart type for every report: [`Chart`] holds the data and labels, plotters draws it to an
//! SVG string (the HTML report) or a PNG file (`--chart x.png`) from the same code.
//!
//! Readable without colour: each series has its own dash pattern and marker shape as well as its
//! colour (Okabe-Ito, safe for colour-blind readers), a legend row names them, and each line is
//! labelled directly at its right end. Long series are drawn as a min/max envelope per pixel
//! column, so a year at 30-minute intervals costs no more than a week.

use anyhow::anyhow;
use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Timelike};
use chrono_tz::Tz;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::ops::Range;
use std::path::Path;

/// Size of every chart, in SVG user units and PNG pixels.
pub const WIDTH: u32 = 960;
pub const HEIGHT: u32 = 400;

/// The font of every chart's text; the PNG backend draws with the embedded copy of it.
const FONT: &str = "sans-serif";
/// Liberation Sans (SIL Open Font License, `font/LICENSE-OFL.txt`), metrically like the
/// browsers' default sans-serif, so SVG layouts measured with it fit in the page too.
const FONT_BYTES: &[u8] = include_bytes!("font/LiberationSans-Regular.ttf");

/// What the x axis is.
#[derive(Debug, Clone)]
pub enum XAxis {
    /// Local time: x is hours since `origin`, ticks fall on round local hours, midnights or
    /// the first of a month.
    Time { origin: DateTime<Tz> },
    /// A number with its label and unit, e.g. "run time (s)".
    Number { label: String },
    /// Named categories, for bars: category i spans x in [i, i + 1).
    Category { label: String, names: Vec<String> },
}

/// One plotted series. Bands are drawn first, then bars, steps and lines.
#[derive(Debug, Clone)]
pub enum Series {
    /// A polyline through (x, y).
    Line {
        name: String,
        points: Vec<(f64, f64)>,
    },
    /// A step function: y holds from each x to the next (agents on duty, backlogs).
    Step {
        name: String,
        points: Vec<(f64, f64)>,
    },
    /// A shaded band (x, low, high), e.g. a 95% confidence interval.
    Band {
        name: String,
        points: Vec<(f64, f64, f64)>,
    },
    /// One bar per category (needs [`XAxis::Category`]).
    Bars { name: String, values: Vec<f64> },
}

impl Series {
    pub fn name(&self) -> &str {
        match self {
            Series::Line { name, .. }
            | Series::Step { name, .. }
            | Series::Band { name, .. }
            | Series::Bars { name, .. } => name,
        }
    }

    /// (x, low, high) of every point: low = high = y except for bands.
    pub fn rows(&self) -> Vec<(f64, f64, f64)> {
        match self {
            Series::Line { points, .. } | Series::Step { points, .. } => {
                points.iter().map(|&(x, y)| (x, y, y)).collect()
            }
            Series::Band { points, .. } => points.clone(),
            Series::Bars { values, .. } => values
                .iter()
                .enumerate()
                .map(|(i, &v)| (i as f64, v, v))
                .collect(),
        }
    }
}

/// A chart: title, axes with units, series, an optional target line and event markers, and the
/// sentence that describes it to a reader who cannot see it.
#[derive(Debug, Clone)]
pub struct Chart {
    pub title: String,
    pub x: XAxis,
    /// The y axis label, with its unit: "calls per hour", "service level (%)".
    pub y_label: String,
    pub series: Vec<Series>,
    /// A horizontal reference line and its label ("target 80%").
    pub target: Option<(f64, String)>,
    /// Vertical markers at x with a label (the scenario's events).
    pub markers: Vec<(f64, String)>,
    /// A fixed y range (e.g. 0..100 for percentages); default: from zero to the data's top.
    pub y_range: Option<(f64, f64)>,
    /// The text alternative: what the chart shows, in a sentence or two. Built from the data
    /// when left empty (see [`Chart::summary`]).
    pub description: String,
}

impl Chart {
    pub fn new(title: impl Into<String>, x: XAxis, y_label: impl Into<String>) -> Chart {
        Chart {
            title: title.into(),
            x,
            y_label: y_label.into(),
            series: Vec::new(),
            target: None,
            markers: Vec::new(),
            y_range: None,
            description: String::new(),
        }
    }

    pub fn line(mut self, name: impl Into<String>, points: Vec<(f64, f64)>) -> Chart {
        let name = name.into();
        self.series.push(Series::Line { name, points });
        self
    }

    pub fn step(mut self, name: impl Into<String>, points: Vec<(f64, f64)>) -> Chart {
        let name = name.into();
        self.series.push(Series::Step { name, points });
        self
    }

    pub fn band(mut self, name: impl Into<String>, points: Vec<(f64, f64, f64)>) -> Chart {
        let name = name.into();
        self.series.push(Series::Band { name, points });
        self
    }

    pub fn bars(mut self, name: impl Into<String>, values: Vec<f64>) -> Chart {
        let name = name.into();
        self.series.push(Series::Bars { name, values });
        self
    }

    pub fn target(mut self, value: f64, label: impl Into<String>) -> Chart {
        self.target = Some((value, label.into()));
        self
    }

    pub fn marker(mut self, x: f64, label: impl Into<String>) -> Chart {
        self.markers.push((x, label.into()));
        self
    }

    pub fn y_range(mut self, lo: f64, hi: f64) -> Chart {
        self.y_range = Some((lo, hi));
        self
    }

    pub fn describe(mut self, text: impl Into<String>) -> Chart {
        self.description = text.into();
        self
    }

    /// The x value as a reader sees it: a local date-time, a number or a category name.
    pub fn x_text(&self, x: f64) -> String {
        match &self.x {
            XAxis::Time { origin } => at(origin, x).format("%a %d %b %Y %H:%M").to_string(),
            XAxis::Number { .. } => fmt_num(x, if x.fract() == 0.0 { 1.0 } else { 0.01 }),
            XAxis::Category { names, .. } => names.get(x as usize).cloned().unwrap_or_default(),
        }
    }

    pub fn x_label(&self) -> String {
        match &self.x {
            XAxis::Time { origin } => format!("local time ({})", origin.timezone().name()),
            XAxis::Number { label } | XAxis::Category { label, .. } => label.clone(),
        }
    }

    /// The description, or one built from the data: per series its range, peak and mean.
    pub fn summary(&self) -> String {
        if !self.description.is_empty() {
            return self.description.clone();
        }
        let mut parts = Vec::new();
        for s in &self.series {
            let rows: Vec<(f64, f64)> = s
                .rows()
                .into_iter()
                .map(|(x, lo, hi)| (x, (lo + hi) / 2.0))
                .filter(|(_, y)| y.is_finite())
                .collect();
            if rows.is_empty() || matches!(s, Series::Band { .. }) {
                continue;
            }
            let (px, peak) = rows
                .iter()
                .copied()
                .fold(
                    (f64::NAN, f64::NEG_INFINITY),
                    |a, b| if b.1 > a.1 { b } else { a },
                );
            let low = rows.iter().map(|r| r.1).fold(f64::INFINITY, f64::min);
            let mean = rows.iter().map(|r| r.1).sum::<f64>() / rows.len() as f64;
            parts.push(format!(
                "{}: from {} to {} (peak at {}), mean {}",
                s.name(),
                fmt_num(low, 0.01),
                fmt_num(peak, 0.01),
                self.x_text(px),
                fmt_num(mean, 0.01)
            ));
        }
        if let Some((v, label)) = &self.target {
            parts.push(format!("{label}: {}", fmt_num(*v, 0.01)));
        }
        format!("{}: {}.", self.title, parts.join("; "))
    }

    /// The chart as an SVG element (`role="img"` with `<title>` and `<desc>`), sized by CSS.
    pub fn to_svg(&self, id: &str) -> anyhow::Result<String> {
        register_font();
        let mut buf = String::new();
        {
            let root = SVGBackend::with_string(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
            draw(self, &root, false).map_err(|e| anyhow!("drawing chart {:?}: {e}", self.title))?;
            root.present()
                .map_err(|e| anyhow!("drawing chart {:?}: {e}", self.title))?;
        }
        Ok(accessible_svg(&buf, id, &self.title, &self.summary()))
    }

    /// Writes the chart to `path`: SVG (standalone, with its XML declaration) or PNG.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("svg") => {
                let svg = self.to_svg("chart")?;
                std::fs::write(
                    path,
                    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{svg}"),
                )?;
            }
            Some("png") => {
                register_font();
                let root = BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
                draw(self, &root, true)
                    .map_err(|e| anyhow!("drawing chart {:?}: {e}", self.title))?;
                root.present()
                    .map_err(|e| anyhow!("writing {}: {e}", path.display()))?;
            }
            _ => anyhow::bail!(
                "--chart {}: the file name must end in .svg or .png",
                path.display()
            ),
        }
        Ok(())
    }
}

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType font compiled in; a failure would show as missing text.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES);
    });
}

/// Makes plotters' SVG scalable and accessible: no fixed size (CSS decides), an image role,
/// and a title and description that screen readers announce.
fn accessible_svg(svg: &str, id: &str, title: &str, desc: &str) -> String {
    let body = svg.find('>').map_or(svg, |i| &svg[i + 1..]);
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" class=\"chart\">\n<title id=\"{id}-title\">{}</title>\n<desc id=\"{id}-desc\">{}</desc>{body}",
        escape(title),
        escape(desc)
    )
}

/// Escapes text for HTML and XML content and attribute values (the server's status page and
/// these reports escape alike).
pub use cclab_server::routes::escape_html as escape;

pub fn at(origin: &DateTime<Tz>, hours: f64) -> DateTime<Tz> {
    *origin + Duration::microseconds((hours * 3.6e9).round() as i64)
}

/// A number with as many decimals as `resolution` needs, thousands grouped with a thin space.
pub fn fmt_num(x: f64, resolution: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    let decimals = if resolution >= 1.0 {
        0
    } else {
        (-resolution.log10()).ceil().clamp(0.0, 4.0) as usize
    };
    let s = format!("{:.*}", decimals, x.abs());
    let (int, frac) = s
        .split_once('.')
        .map_or((s.as_str(), None), |(a, b)| (a, Some(b)));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if x < 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// An axis with ticks chosen here (round numbers, or calendar-aligned times) rather than by
/// plotters, which knows nothing of local midnights.
#[derive(Clone)]
struct Axis {
    range: Range<f64>,
    ticks: Vec<f64>,
}

impl Ranged for Axis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        let t = if span > 0.0 {
            (v - self.range.start) / span
        } else {
            0.0
        };
        (f64::from(limit.0) + t * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.max_num_points() == 0 {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

// Labels come from the mesh's label formatters; this default is never used.
impl ValueFormatter<f64> for Axis {
    fn format(v: &f64) -> String {
        v.to_string()
    }
}

/// Round ticks over [lo, hi] (steps of 1, 2, 2.5 or 5 times a power of ten), and the step.
pub fn nice_ticks(lo: f64, hi: f64, max: usize) -> (Vec<f64>, f64) {
    let span = (hi - lo).max(1e-9);
    let raw = span / max.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    ((first..=last).map(|k| k as f64 * step).collect(), step)
}

/// Calendar-aligned ticks over hours [lo, hi] after `origin`, with their labels.
pub fn time_ticks(origin: &DateTime<Tz>, lo: f64, hi: f64, max: usize) -> Vec<(f64, String)> {
    let span = hi - lo;
    let hours_of = |t: DateTime<Tz>| (t - *origin).num_seconds() as f64 / 3600.0;
    let hour_steps = [1u32, 2, 3, 6, 12];
    if let Some(&step) = hour_steps
        .iter()
        .find(|s| span / f64::from(**s) <= max as f64)
    {
        let mut out = Vec::new();
        let mut h = lo.ceil();
        while h <= hi {
            let t = at(origin, h);
            if t.minute() == 0 && t.hour() % step == 0 {
                let label = if t.hour() == 0 {
                    t.format("%a %d %b").to_string()
                } else {
                    t.format("%H:%M").to_string()
                };
                out.push((hours_of(t), label));
            }
            h += 1.0;
        }
        return out;
    }
    let midnight = |d: chrono::NaiveDate| {
        origin
            .timezone()
            .from_local_datetime(&d.and_time(NaiveTime::MIN))
            .earliest()
    };
    let first = at(origin, lo).date_naive();
    let last = at(origin, hi).date_naive();
    let days = (last - first).num_days() as f64 + 1.0;
    let day_steps = [1i64, 2, 7, 14];
    let mut out = Vec::new();
    if let Some(&step) = day_steps.iter().find(|s| days / **s as f64 <= max as f64) {
        let mut d = first;
        while d <= last {
            // Weekly ticks fall on Mondays.
            let keep = if step >= 7 {
                d.weekday() == chrono::Weekday::Mon && (d - first).num_days() / 7 % (step / 7) == 0
            } else {
                (d - first).num_days() % step == 0
            };
            if let Some(t) = midnight(d).filter(|_| keep) {
                let x = hours_of(t);
                if x >= lo && x <= hi {
                    out.push((x, t.format("%d %b").to_string()));
                }
            }
            d = d.succ_opt().unwrap_or(d);
            if d == last && d == first {
                break;
            }
        }
        return out;
    }
    let months = days / 30.4;
    let step = [1u32, 2, 3, 6, 12]
        .into_iter()
        .find(|s| months / f64::from(*s) <= max as f64)
        .unwrap_or(12);
    let mut d = first.with_day(1).unwrap_or(first);
    while d <= last {
        if let Some(t) = midnight(d).filter(|_| d.month0() % step == 0) {
            let x = hours_of(t);
            if x >= lo && x <= hi {
                out.push((x, t.format("%b %Y").to_string()));
            }
        }
        d = d
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(last.succ_opt().unwrap_or(last));
    }
    out
}

/// At most about `buckets` x columns: within each, the points holding the minimum and the
/// maximum, in x order, so peaks survive. A column with no finite y breaks the line (NaN kept).
pub fn envelope(points: &[(f64, f64)], buckets: usize) -> Vec<(f64, f64)> {
    if points.len() <= 2 * buckets || buckets == 0 {
        return points.to_vec();
    }
    let (x0, x1) = (points[0].0, points[points.len() - 1].0);
    let width = (x1 - x0).max(1e-12) / buckets as f64;
    let mut out = Vec::with_capacity(2 * buckets + 2);
    let bucket = |k: usize| ((points[k].0 - x0) / width).floor();
    let mut i = 0;
    while i < points.len() {
        let b = bucket(i);
        let mut j = i;
        let (mut lo, mut hi): (Option<usize>, Option<usize>) = (None, None);
        while j < points.len() && bucket(j) == b {
            let y = points[j].1;
            if y.is_finite() {
                if lo.is_none_or(|l| y < points[l].1) {
                    lo = Some(j);
                }
                if hi.is_none_or(|h| y > points[h].1) {
                    hi = Some(j);
                }
            }
            j += 1;
        }
        match (lo, hi) {
            (Some(l), Some(h)) => {
                out.push(points[l.min(h)]);
                if l != h {
                    out.push(points[l.max(h)]);
                }
            }
            // A column without a value is a gap in the line.
            _ => out.push((points[i].0, f64::NAN)),
        }
        i = j;
    }
    out
}

/// The band's low and high reduced to the same columns: the lowest low and highest high.
fn band_envelope(points: &[(f64, f64, f64)], buckets: usize) -> Vec<(f64, f64, f64)> {
    if points.len() <= 2 * buckets || buckets == 0 {
        return points.to_vec();
    }
    let (x0, x1) = (points[0].0, points[points.len() - 1].0);
    let width = (x1 - x0).max(1e-12) / buckets as f64;
    let mut out: Vec<(f64, f64, f64)> = Vec::with_capacity(buckets + 1);
    let mut last_b = f64::NAN;
    for &(x, lo, hi) in points {
        let b = ((x - x0) / width).floor();
        match out.last_mut() {
            Some(p) if b == last_b => {
                p.1 = p.1.min(lo);
                p.2 = p.2.max(hi);
            }
            _ => out.push((x, lo, hi)),
        }
        last_b = b;
    }
    out
}

/// The look of each series: lines, steps and bars in order; the k-th band takes the look of the
/// k-th other series, the one it is the confidence band of.
fn looks(series: &[Series]) -> Vec<Look> {
    let (mut bands, mut others) = (0, 0);
    series
        .iter()
        .map(|s| {
            let k = if matches!(s, Series::Band { .. }) {
                &mut bands
            } else {
                &mut others
            };
            *k += 1;
            look(*k - 1)
        })
        .collect()
}

/// How series i looks: colour, dash (segment length, gap; 0 = solid) and marker shape.
struct Look {
    color: RGBColor,
    dash: (u32, u32),
    marker: Marker,
}

#[derive(Clone, Copy)]
enum Marker {
    None,
    Circle,
    Triangle,
    Square,
    Cross,
}

fn look(i: usize) -> Look {
    // Okabe-Ito: blue, vermillion, bluish green, reddish purple, orange.
    const COLORS: [RGBColor; 5] = [
        RGBColor(0, 114, 178),
        RGBColor(213, 94, 0),
        RGBColor(0, 158, 115),
        RGBColor(204, 121, 167),
        RGBColor(230, 159, 0),
    ];
    const DASHES: [(u32, u32); 5] = [(0, 0), (9, 5), (2, 4), (14, 4), (5, 5)];
    const MARKERS: [Marker; 5] = [
        Marker::None,
        Marker::Triangle,
        Marker::Circle,
        Marker::Square,
        Marker::Cross,
    ];
    Look {
        color: COLORS[i % 5],
        dash: DASHES[i % 5],
        marker: MARKERS[i % 5],
    }
}

const INK: RGBColor = RGBColor(34, 34, 34);
const GRID: RGBColor = RGBColor(225, 225, 225);
const MUTED: RGBColor = RGBColor(110, 110, 110);

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Draws a marker of the given shape centred on a backend pixel.
fn draw_marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    m: Marker,
    (x, y): (i32, i32),
    color: RGBColor,
) -> DrawResult<DB> {
    let style = ShapeStyle::from(&color).stroke_width(2);
    match m {
        Marker::None => Ok(()),
        Marker::Circle => area.draw(&Circle::new((x, y), 4, style)),
        Marker::Triangle => area.draw(&TriangleMarker::new((x, y), 5, style.filled())),
        Marker::Square => area.draw(&Rectangle::new([(x - 4, y - 4), (x + 4, y + 4)], style)),
        Marker::Cross => area.draw(&Cross::new((x, y), 4, style)),
    }
}

/// Draws a polyline with the look's dash pattern, in backend pixels.
fn draw_polyline<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    pts: &[(i32, i32)],
    lk: &Look,
    width: u32,
) -> DrawResult<DB> {
    let style = ShapeStyle::from(&lk.color).stroke_width(width);
    if lk.dash.0 == 0 {
        return area.draw(&PathElement::new(pts.to_vec(), style));
    }
    area.draw(&DashedPathElement::new(
        pts.iter().copied(),
        lk.dash.0,
        lk.dash.1,
        style,
    ))
}

/// Draws the chart. `bitmap`: lines go segment by segment, since the bitmap backend joins the
/// segments of a thick polyline with miters that spike far out at the envelope's reversals.
fn draw<DB: DrawingBackend>(
    c: &Chart,
    root: &DrawingArea<DB, Shift>,
    bitmap: bool,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let title_style = TextStyle::from((FONT, 21).into_font()).color(&INK);
    root.draw_text(&c.title, &title_style, (16, 10))?;
    // The legend row, under the title: each series' line pattern, marker and name.
    let legend_style = TextStyle::from((FONT, 14).into_font()).color(&INK);
    let mut lx = 16;
    let ly = 46;
    let looks = looks(&c.series);
    for (s, lk) in c.series.iter().zip(&looks) {
        match s {
            Series::Band { .. } => {
                root.draw(&Rectangle::new(
                    [(lx, ly - 6), (lx + 28, ly + 6)],
                    lk_band(lk).filled(),
                ))?;
            }
            Series::Bars { .. } => {
                root.draw(&Rectangle::new(
                    [(lx, ly - 6), (lx + 28, ly + 6)],
                    ShapeStyle::from(&lk.color.mix(0.8)).filled(),
                ))?;
                draw_marker(root, lk.marker, (lx + 14, ly), WHITE)?;
            }
            _ => {
                draw_polyline(root, &[(lx, ly), (lx + 28, ly)], lk, 2)?;
                draw_marker(root, lk.marker, (lx + 14, ly), lk.color)?;
            }
        }
        lx += 36;
        root.draw_text(s.name(), &legend_style.pos(text_left_center()), (lx, ly))?;
        let (w, _) = root.estimate_text_size(s.name(), &legend_style)?;
        lx += w as i32 + 22;
    }
    if let Some((_, label)) = &c.target {
        draw_polyline(root, &[(lx, ly), (lx + 28, ly)], &target_look(), 2)?;
        lx += 36;
        root.draw_text(label, &legend_style.pos(text_left_center()), (lx, ly))?;
    }
    let (_, plot_area) = root.split_vertically(62);

    let (x_range, x_ticks) = x_axis(c);
    let (y_range, y_ticks, y_step) = y_axis(c);
    let right_margin = if c.series.iter().any(|s| matches!(s, Series::Bars { .. })) {
        20
    } else {
        140
    };
    let mut chart = ChartBuilder::on(&plot_area)
        .margin_left(12)
        .margin_top(8)
        .margin_bottom(8)
        .margin_right(right_margin)
        .x_label_area_size(48)
        .y_label_area_size(78)
        .build_cartesian_2d(
            Axis {
                range: x_range.clone(),
                ticks: x_ticks.iter().map(|t| t.0).collect(),
            },
            Axis {
                range: y_range.clone(),
                ticks: y_ticks.clone(),
            },
        )?;
    let x_fmt = |x: &f64| {
        x_ticks
            .iter()
            .find(|t| (t.0 - x).abs() < 1e-6)
            .map(|t| t.1.clone())
            .unwrap_or_default()
    };
    let y_fmt = |y: &f64| fmt_num(*y, y_step);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .axis_style(MUTED)
        .x_desc(c.x_label())
        .y_desc(c.y_label.clone())
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .label_style(TextStyle::from((FONT, 13).into_font()).color(&INK))
        .axis_desc_style(TextStyle::from((FONT, 14).into_font()).color(&INK))
        .draw()?;

    let area = chart.plotting_area();
    let px_width = (area.dim_in_pixel().0 as usize).max(1);
    let to_px = |x: f64, y: f64| area.map_coordinate(&(x, y.clamp(y_range.start, y_range.end)));
    // Event markers: a dotted vertical rule now, its label (drawn last, over the data) in the
    // first of a few rows along the top where it does not run into another label.
    let marker_text = TextStyle::from((FONT, 12).into_font()).color(&INK);
    let mut sorted: Vec<&(f64, String)> = c
        .markers
        .iter()
        .filter(|(x, _)| x_range.contains(x))
        .collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let plot_right = to_px(x_range.end, y_range.end).0;
    let mut lanes: Vec<i32> = vec![i32::MIN; 4];
    let mut labels = Vec::new();
    for (x, label) in sorted {
        let top = to_px(*x, y_range.end);
        let bottom = to_px(*x, y_range.start);
        root.draw(&DashedPathElement::new(
            [top, bottom],
            3,
            3,
            ShapeStyle::from(&MUTED).stroke_width(1),
        ))?;
        let w = root.estimate_text_size(label, &marker_text)?.0 as i32 + 6;
        // Near the right edge a label goes to the rule's left.
        let left = if top.0 + 3 + w > plot_right {
            top.0 - 3 - w
        } else {
            top.0 + 3
        };
        let lane = (0..lanes.len())
            .find(|&l| lanes[l] < left)
            .unwrap_or_else(|| (0..lanes.len()).min_by_key(|&l| lanes[l]).unwrap_or(0));
        lanes[lane] = left + w;
        labels.push((left, top.1 + 3 + 16 * lane as i32, w, label.clone()));
    }
    // Bands, then bars, then steps and lines on top.
    for (i, s) in c.series.iter().enumerate() {
        if let Series::Band { points, .. } = s {
            for run in finite_runs3(&band_envelope(points, px_width)) {
                let mut poly: Vec<(i32, i32)> = run.iter().map(|p| to_px(p.0, p.2)).collect();
                poly.extend(run.iter().rev().map(|p| to_px(p.0, p.1)));
                root.draw(&Polygon::new(poly, lk_band(&looks[i]).filled()))?;
            }
        }
    }
    let value_style = TextStyle::from((FONT, 13).into_font()).color(&INK);
    // Several bar series stand side by side in each category, each with its own marker.
    let bar_series = c
        .series
        .iter()
        .filter(|s| matches!(s, Series::Bars { .. }))
        .count()
        .max(1);
    let bar_w = 0.64 / bar_series as f64;
    let mut j = 0;
    for (i, s) in c.series.iter().enumerate() {
        if let Series::Bars { values, .. } = s {
            let lk = &looks[i];
            let left = 0.18 + j as f64 * bar_w;
            j += 1;
            for (k, v) in values.iter().enumerate().filter(|(_, v)| v.is_finite()) {
                let x = k as f64;
                let a = to_px(x + left, 0f64.max(y_range.start));
                let b = to_px(x + left + bar_w, *v);
                root.draw(&Rectangle::new(
                    [a, b],
                    ShapeStyle::from(&lk.color.mix(0.8)).filled(),
                ))?;
                root.draw(&Rectangle::new(
                    [a, b],
                    ShapeStyle::from(&INK).stroke_width(1),
                ))?;
                if bar_series > 1 && a.1 - b.1 > 14 {
                    draw_marker(root, lk.marker, ((a.0 + b.0) / 2, b.1 + 9), WHITE)?;
                }
                root.draw_text(
                    &fmt_num(
                        *v,
                        if v.fract() == 0.0 {
                            1.0
                        } else {
                            y_step / 100.0
                        },
                    ),
                    &value_style.pos(Pos::new(HPos::Center, VPos::Bottom)),
                    ((a.0 + b.0) / 2, b.1 - 4),
                )?;
            }
        }
    }
    let mut end_labels: Vec<(i32, i32, String, RGBColor)> = Vec::new();
    for (i, s) in c.series.iter().enumerate() {
        let (points, step) = match s {
            Series::Line { points, .. } => (points, false),
            Series::Step { points, .. } => (points, true),
            _ => continue,
        };
        let lk = &looks[i];
        let reduced = envelope(points, px_width);
        for run in finite_runs(&reduced) {
            let mut px: Vec<(i32, i32)> = Vec::with_capacity(run.len() * 2);
            for (k, p) in run.iter().enumerate() {
                let here = to_px(p.0, p.1);
                if step && k > 0 {
                    px.push((here.0, px[px.len() - 1].1));
                }
                px.push(here);
            }
            if px.len() == 1 {
                // A lone value between gaps: a short tick, so it is seen.
                let p = px[0];
                draw_polyline(root, &[(p.0 - 3, p.1), (p.0 + 3, p.1)], lk, 2)?;
            } else if bitmap {
                for seg in px.windows(2) {
                    draw_polyline(root, seg, lk, 2)?;
                }
            } else {
                draw_polyline(root, &px, lk, 2)?;
            }
            // Markers about every 90 pixels, offset per series so they do not coincide.
            let mut next = px.first().map_or(0, |p| p.0) + 20 * i as i32;
            for p in &px {
                if p.0 >= next {
                    draw_marker(root, lk.marker, *p, lk.color)?;
                    next = p.0 + 90;
                }
            }
        }
        if let Some(last) = reduced.iter().rev().find(|p| p.1.is_finite()) {
            let p = to_px(last.0, last.1);
            end_labels.push((p.0, p.1, s.name().to_string(), lk.color));
        }
    }
    if let Some((v, label)) = &c.target {
        let a = to_px(x_range.start, *v);
        let b = to_px(x_range.end, *v);
        draw_polyline(root, &[a, b], &target_look(), 2)?;
        end_labels.push((b.0, b.1, label.clone(), INK));
    }
    for (left, y, w, label) in labels {
        root.draw(&Rectangle::new(
            [(left, y), (left + w, y + 15)],
            ShapeStyle::from(&WHITE.mix(0.85)).filled(),
        ))?;
        root.draw_text(
            &label,
            &marker_text.pos(Pos::new(HPos::Left, VPos::Top)),
            (left + 3, y + 2),
        )?;
    }
    // Direct labels at the right end, pushed apart (upwards from the x axis, where the tick
    // labels are) so they never overlap.
    let (right, bottom) = to_px(x_range.end, y_range.start);
    end_labels.sort_by_key(|l| std::cmp::Reverse(l.1));
    let mut ceiling = bottom - 6;
    for (_, y, label, color) in &end_labels {
        let y = (*y).min(ceiling);
        ceiling = y - 16;
        let style = TextStyle::from((FONT, 13).into_font())
            .color(color)
            .pos(text_left_center());
        root.draw_text(&clip_label(label), &style, (right + 8, y))?;
    }
    Ok(())
}

fn clip_label(s: &str) -> String {
    if s.chars().count() > 18 {
        format!("{}…", s.chars().take(17).collect::<String>())
    } else {
        s.to_string()
    }
}

fn text_left_center() -> Pos {
    Pos::new(HPos::Left, VPos::Center)
}

fn lk_band(lk: &Look) -> ShapeStyle {
    ShapeStyle::from(&lk.color.mix(0.22))
}

fn target_look() -> Look {
    Look {
        color: INK,
        dash: (12, 4),
        marker: Marker::None,
    }
}

/// Splits at non-finite y values (a gap in the data draws as a gap).
fn finite_runs(points: &[(f64, f64)]) -> Vec<&[(f64, f64)]> {
    points
        .split(|p| !p.1.is_finite() || !p.0.is_finite())
        .filter(|r| !r.is_empty())
        .collect()
}

fn finite_runs3(points: &[(f64, f64, f64)]) -> Vec<&[(f64, f64, f64)]> {
    points
        .split(|p| !(p.1.is_finite() && p.2.is_finite()))
        .filter(|r| !r.is_empty())
        .collect()
}

fn x_axis(c: &Chart) -> (Range<f64>, Vec<(f64, String)>) {
    if let XAxis::Category { names, .. } = &c.x {
        let ticks = names
            .iter()
            .enumerate()
            .map(|(i, n)| (i as f64 + 0.5, n.clone()))
            .collect();
        return (0.0..names.len().max(1) as f64, ticks);
    }
    let xs = c
        .series
        .iter()
        .flat_map(|s| s.rows().into_iter().map(|r| r.0))
        .chain(c.markers.iter().map(|m| m.0));
    let (mut lo, mut hi) = xs
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
    // Markers outside the data widen nothing: the data decides the range.
    let data = c
        .series
        .iter()
        .flat_map(|s| s.rows().into_iter().map(|r| r.0))
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
    if data.0.is_finite() {
        (lo, hi) = data;
    }
    if !lo.is_finite() || hi <= lo {
        lo = if lo.is_finite() { lo } else { 0.0 };
        hi = lo + 1.0;
    }
    let ticks = match &c.x {
        XAxis::Time { origin } => time_ticks(origin, lo, hi, 12),
        _ => {
            let (t, step) = nice_ticks(lo, hi, 10);
            t.into_iter().map(|x| (x, fmt_num(x, step))).collect()
        }
    };
    (lo..hi, ticks)
}

fn y_axis(c: &Chart) -> (Range<f64>, Vec<f64>, f64) {
    let (lo, hi) = c.y_range.unwrap_or_else(|| {
        let mut hi = c
            .series
            .iter()
            .flat_map(|s| s.rows().into_iter().map(|r| r.2))
            .chain(c.target.iter().map(|t| t.0))
            .filter(|y| y.is_finite())
            .fold(0.0f64, f64::max);
        let lo = c
            .series
            .iter()
            .flat_map(|s| s.rows().into_iter().map(|r| r.1))
            .filter(|y| y.is_finite())
            .fold(0.0f64, f64::min);
        if hi <= lo {
            hi = lo + 1.0;
        }
        // Headroom for the bars' value labels and the top line.
        let (_, step) = nice_ticks(lo, hi * 1.06, 6);
        (lo, (hi * 1.06 / step).ceil() * step)
    });
    let (ticks, step) = nice_ticks(lo, hi, 6);
    (lo..hi, ticks, step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_keeps_extremes_and_bounds_size() {
        let pts: Vec<(f64, f64)> = (0..17_520)
            .map(|i| {
                (
                    i as f64 * 0.5,
                    if i == 9_001 { 500.0 } else { (i % 48) as f64 },
                )
            })
            .collect();
        let out = envelope(&pts, 800);
        assert!(out.len() <= 2 * 800 + 2, "{} points", out.len());
        assert!(out.iter().any(|p| p.1 == 500.0), "the peak survives");
        assert!(out.iter().any(|p| p.1 == 0.0), "the troughs survive");
        assert!(out.windows(2).all(|w| w[0].0 <= w[1].0), "x stays ordered");
        let short = [(0.0, 1.0), (1.0, 2.0)];
        assert_eq!(envelope(&short, 800), short.to_vec());
    }

    #[test]
    fn envelope_keeps_gaps() {
        let mut pts: Vec<(f64, f64)> = (0..5_000).map(|i| (i as f64, 1.0)).collect();
        pts[2_500].1 = f64::NAN;
        // One missing value among the 50 of a column leaves no visible gap...
        assert!(envelope(&pts, 100).iter().all(|p| p.1.is_finite()));
        // ...a column without values does.
        for p in &mut pts[2_400..2_600] {
            p.1 = f64::NAN;
        }
        assert!(envelope(&pts, 100).iter().any(|p| p.1.is_nan()));
    }

    #[test]
    fn nice_ticks_are_round() {
        assert_eq!(
            nice_ticks(0.0, 100.0, 6).0,
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        let (t, step) = nice_ticks(0.0, 7.3, 6);
        assert_eq!(step, 2.0);
        assert_eq!(t.last(), Some(&6.0));
    }

    #[test]
    fn time_ticks_fall_on_local_midnights_and_hours() {
        let tz: Tz = "Europe/Rome".parse().unwrap();
        let origin = tz.with_ymd_and_hms(2012, 5, 20, 0, 0, 0).unwrap();
        let days = time_ticks(&origin, 0.0, 24.0 * 10.0, 12);
        assert_eq!(days.len(), 11);
        assert_eq!(days[9].1, "29 May");
        let hours = time_ticks(&origin, 0.0, 24.0, 12);
        assert_eq!(hours[0].1, "Sun 20 May");
        assert_eq!(hours[1].1, "02:00");
        let year = time_ticks(&origin, 0.0, 24.0 * 366.0, 12);
        assert!(year.iter().all(|t| t.1.contains(' ')));
        assert!(year.len() <= 12 && year.len() >= 6, "{year:?}");
    }

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(fmt_num(13_965.4, 1.0), "13,965");
        assert_eq!(fmt_num(0.126, 0.01), "0.13");
        assert_eq!(fmt_num(-2.0, 1.0), "-2");
        assert_eq!(fmt_num(f64::NAN, 1.0), "–");
    }

    #[test]
    fn svg_is_accessible() {
        let c = Chart::new(
            "Calls",
            XAxis::Number {
                label: "t (s)".into(),
            },
            "calls per s",
        )
        .line("planned", vec![(0.0, 1.0), (1.0, 3.0)])
        .target(2.0, "target 2/s");
        let svg = c.to_svg("c1").unwrap();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox"));
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("<title id=\"c1-title\">Calls</title>"));
        assert!(svg.contains("<desc id=\"c1-desc\">Calls: planned: from 1.00 to 3.00"));
        assert!(svg.contains("calls per s") && svg.contains("t (s)"));
        assert!(svg.trim_end().ends_with("</svg>"));
    }
}
