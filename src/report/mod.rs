//! Reports a planner can read: one self-contained HTML file (`--report r.html`: inline SVG and
//! CSS, no scripts, no external resources, works offline), or one chart for a document
//! (`--chart c.svg` or `--chart c.png`, chosen with `--chart-of NAME`).
//!
//! Rendering lives in the binary: `cclab-sim` and `cclab-loadgen` stay free of I/O, and this
//! module only reads their results.
//!
//! # Building a report
//!
//! A [`Report`] is a list of sections; each builder call adds to the last section opened:
//!
//! ```ignore
//! use crate::report::{Chart, Report, Table, XAxis};
//!
//! let mut r = Report::new("Staffing uars-reentry-2011", "target 80/20, 4 methods");
//! r.section("Agents required")
//!     .text("ISA holds the target in every interval of the ramp.")
//!     .chart(
//!         Chart::new("Agents required per interval", XAxis::Time { origin }, "agents")
//!             .step("ISA", isa_points)          // Vec<(hours since origin, agents)>
//!             .step("SIPP", sipp_points)
//!             .step("plan on duty", plan_points)
//!             .marker(event_h, "re-entry"),     // a labelled vertical rule
//!     )
//!     .table(Table::new("Agent-hours by method", ["method", "agent-hours"]).row(["ISA", "1,234"]));
//! r.write(path)?;
//! ```
//!
//! - [`Chart`] (in [`chart`]) carries the title, an [`XAxis`] (local time as hours since an
//!   origin, a number with its unit, or categories), the y label with its unit, and series:
//!   [`Chart::line`], [`Chart::step`], [`Chart::band`] (a shaded low-high range such as a 95%
//!   confidence interval) and [`Chart::bars`]; optionally a [`Chart::target`] line, event
//!   [`Chart::marker`]s and a fixed [`Chart::y_range`]. It renders to an SVG string
//!   ([`Chart::to_svg`]) or to an SVG or PNG file ([`Chart::write`]).
//! - Every chart in a report gets its text alternative for free: the SVG has `role="img"`, a
//!   `<title>` and a `<desc>` (the chart's [`Chart::describe`] sentence, or a summary built
//!   from the data), and a `<details>` data table follows it. Long time series are summarised
//!   per day in that table (and drawn as a min/max envelope), so a year stays small.
//! - Series are told apart by dash pattern, marker shape and a direct label as well as colour.
//!
//! To add a section for a new command (e.g. `staff`), write a function that appends sections to
//! a `Report` from the command's results, give its charts names for `--chart-of` (a list of
//! `(name, what)` pairs like [`simulate::CHARTS`]), and call [`ReportFlags::emit`] at the end of
//! the command, as `cli/simulate.rs` does.

pub mod chart;
mod html;
pub mod loadgen;
pub mod simulate;
pub mod staff;

pub use chart::{Chart, XAxis};

use anyhow::{Context, bail};
use clap::Args;
use std::path::{Path, PathBuf};

/// The report flags every command with a report shares.
#[derive(Debug, Clone, Default, Args)]
pub struct ReportFlags {
    /// Write a self-contained HTML report here (inline charts and tables; opens offline in any
    /// browser). See docs/report.md.
    #[arg(long, value_name = "PATH.html")]
    pub report: Option<PathBuf>,
    /// Write one chart here, for a document: the extension picks SVG or PNG.
    #[arg(long, value_name = "PATH.svg|png")]
    pub chart: Option<PathBuf>,
    /// Which chart --chart writes (see docs/report.md for the names; default: the first).
    #[arg(long, value_name = "NAME")]
    pub chart_of: Option<String>,
}

impl ReportFlags {
    /// Whether any report output was asked for.
    pub fn wanted(&self) -> bool {
        self.report.is_some() || self.chart.is_some()
    }

    /// Checks the flags before the run (a typo costs nothing): the chart file's extension and
    /// the chart name against `names`, the charts this command offers.
    pub fn check(&self, names: &[(&str, &str)]) -> anyhow::Result<()> {
        if let Some(path) = &self.chart {
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase);
            if !matches!(ext.as_deref(), Some("svg" | "png")) {
                bail!(
                    "--chart {}: the file name must end in .svg or .png",
                    path.display()
                );
            }
        }
        if let Some(name) = &self.chart_of {
            if self.chart.is_none() {
                bail!("--chart-of {name} needs --chart PATH.svg|png");
            }
            if !names.iter().any(|(n, _)| n == name) {
                let allowed: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
                bail!(
                    "--chart-of `{name}` is not a chart of this command; choose one of: {}",
                    allowed.join(", ")
                );
            }
        }
        if let Some(path) = &self.report {
            let ext = path.extension().and_then(|e| e.to_str());
            if !ext.is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"))
            {
                bail!(
                    "--report {}: the file name must end in .html",
                    path.display()
                );
            }
        }
        Ok(())
    }

    /// Writes what was asked: the chart named by `--chart-of` (default: the first of `names`)
    /// through `chart`, and the report built by `report`. Each is built only if asked for.
    pub fn emit(
        &self,
        names: &[(&str, &str)],
        chart: impl FnOnce(&str) -> anyhow::Result<Chart>,
        report: impl FnOnce() -> anyhow::Result<Report>,
    ) -> anyhow::Result<()> {
        if let Some(path) = &self.chart {
            let name = self
                .chart_of
                .as_deref()
                .or(names.first().map(|n| n.0))
                .unwrap_or_default();
            chart(name)?
                .write(path)
                .with_context(|| format!("--chart {}", path.display()))?;
        }
        if let Some(path) = &self.report {
            report()?
                .write(path)
                .with_context(|| format!("--report {}", path.display()))?;
        }
        Ok(())
    }
}

/// A table: a caption, a header row and rows of cells (numbers right-aligned).
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub caption: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<S: Into<String>>(caption: &str, header: impl IntoIterator<Item = S>) -> Table {
        Table {
            caption: caption.to_string(),
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row<S: Into<String>>(mut self, cells: impl IntoIterator<Item = S>) -> Table {
        self.push(cells);
        self
    }

    pub fn push<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }
}

/// One block of a section, in order.
#[derive(Debug, Clone)]
pub enum Block {
    /// A paragraph of plain text.
    Text(String),
    /// Label-value pairs (the scenario summary, a run's settings).
    Facts(Vec<(String, String)>),
    Table(Table),
    /// A chart with its data table (built from the chart's data when `None`).
    Chart(Box<Chart>, Option<Table>),
    /// Verdicts: (what, passed, detail); shown as PASS or FAIL in words, not only colour.
    Verdicts(Vec<(String, bool, String)>),
}

#[derive(Debug, Clone)]
pub struct Section {
    pub title: String,
    pub blocks: Vec<Block>,
}

/// The document: a title, a subtitle line and sections.
#[derive(Debug, Clone)]
pub struct Report {
    pub title: String,
    pub subtitle: String,
    pub sections: Vec<Section>,
}

impl Report {
    pub fn new(title: impl Into<String>, subtitle: impl Into<String>) -> Report {
        Report {
            title: title.into(),
            subtitle: subtitle.into(),
            sections: Vec::new(),
        }
    }

    /// Opens a new section; the calls that follow add to it.
    pub fn section(&mut self, title: impl Into<String>) -> &mut Report {
        self.sections.push(Section {
            title: title.into(),
            blocks: Vec::new(),
        });
        self
    }

    fn push(&mut self, block: Block) -> &mut Report {
        if self.sections.is_empty() {
            self.section("Summary");
        }
        if let Some(s) = self.sections.last_mut() {
            s.blocks.push(block);
        }
        self
    }

    pub fn text(&mut self, text: impl Into<String>) -> &mut Report {
        self.push(Block::Text(text.into()))
    }

    pub fn facts<K: Into<String>, V: Into<String>>(
        &mut self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> &mut Report {
        let pairs = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self.push(Block::Facts(pairs))
    }

    pub fn table(&mut self, table: Table) -> &mut Report {
        self.push(Block::Table(table))
    }

    /// A chart followed by a data table of its values (summarised per day for long series).
    pub fn chart(&mut self, chart: Chart) -> &mut Report {
        self.push(Block::Chart(Box::new(chart), None))
    }

    /// A chart with a table of your own as its text alternative.
    pub fn chart_with_table(&mut self, chart: Chart, table: Table) -> &mut Report {
        self.push(Block::Chart(Box::new(chart), Some(table)))
    }

    pub fn verdicts(&mut self, items: Vec<(String, bool, String)>) -> &mut Report {
        self.push(Block::Verdicts(items))
    }

    /// The whole HTML document.
    pub fn render(&self) -> anyhow::Result<String> {
        html::render(self)
    }

    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, self.render()?)?;
        Ok(())
    }
}
