//! The transparency view: `GET /api/v1/stats` as JSON and `GET /status` as an HTML page rendered
//! here, readable without JavaScript.

use crate::AppState;
use crate::error::ApiError;
use crate::model::{CaseRecord, Count, Stats, rfc3339};
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::fmt::Write as _;

/// Cases listed on the status page.
const RECENT: u32 = 50;
/// Days shown in the page's daily table (the JSON has every day).
const DAYS: usize = 31;

/// Totals, open and closed, FO/BO/open shares, by channel, request type and day.
pub async fn json(State(state): State<AppState>) -> Result<Json<Stats>, ApiError> {
    Ok(Json(state.store.stats().await?))
}

/// The same figures as a page, plus the newest cases and their status.
pub async fn html(State(state): State<AppState>) -> Result<Response, ApiError> {
    let stats = state.store.stats().await?;
    let recent = state.store.recent(RECENT).await?;
    let page = render(&stats, &recent);
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        page,
    )
        .into_response())
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn count_table(out: &mut String, title: &str, counts: &[Count]) {
    let _ = write!(
        out,
        "<h2>{title}</h2>\n<table><thead><tr><th>{title}</th><th>cases</th></tr></thead><tbody>\n"
    );
    for c in counts {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
            escape_html(&c.key),
            c.count
        );
    }
    out.push_str("</tbody></table>\n");
}

/// Renders the status page.
pub fn render(s: &Stats, recent: &[CaseRecord]) -> String {
    let mut out = String::with_capacity(8 * 1024);
    out.push_str(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Contact center: case status</title>\n<style>\
         body{font-family:sans-serif;max-width:60em;margin:1em auto;padding:0 1em}\
         table{border-collapse:collapse;margin-bottom:1em}\
         td,th{border:1px solid #bbb;padding:.2em .6em;text-align:left}\
         td.n{text-align:right}</style></head><body>\n\
         <h1>Contact center: case status</h1>\n",
    );
    let _ = write!(
        out,
        "<h2>Totals</h2>\n<table><tbody>\n\
         <tr><th>cases received</th><td class=\"n\">{}</td></tr>\n\
         <tr><th>open</th><td class=\"n\">{}</td></tr>\n\
         <tr><th>closed</th><td class=\"n\">{}</td></tr>\n\
         <tr><th>closed at the front office</th><td class=\"n\">{} ({:.2}%)</td></tr>\n\
         <tr><th>closed at the back office</th><td class=\"n\">{} ({:.2}%)</td></tr>\n\
         <tr><th>still open</th><td class=\"n\">{} ({:.2}%)</td></tr>\n\
         </tbody></table>\n",
        s.total,
        s.open,
        s.closed,
        s.closed_front_office,
        s.share_front_office,
        s.closed_back_office,
        s.share_back_office,
        s.open,
        s.share_open
    );
    count_table(&mut out, "status", &s.by_status);
    count_table(&mut out, "channel", &s.by_channel);
    count_table(&mut out, "request type", &s.by_request_type);
    out.push_str(
        "<h2>By day (UTC)</h2>\n<table><thead><tr><th>day</th><th>received</th>\
         <th>closed</th></tr></thead><tbody>\n",
    );
    for d in s.by_day.iter().rev().take(DAYS) {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            d.day, d.received, d.closed
        );
    }
    out.push_str(
        "</tbody></table>\n<h2>Newest cases</h2>\n<table><thead><tr><th>case</th>\
         <th>status</th><th>channel</th><th>type</th><th>received</th><th>closed</th>\
         </tr></thead><tbody>\n",
    );
    for c in recent {
        let _ = writeln!(
            out,
            "<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            c.number,
            c.status,
            c.contact.channel,
            c.contact.request_type,
            rfc3339(c.received_at),
            c.closed_at.map(rfc3339).unwrap_or_default()
        );
    }
    out.push_str("</tbody></table>\n</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape_html("<b>\"x\" & 'y'</b>"),
            "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"
        );
    }

    #[test]
    fn renders_without_cases() {
        let page = render(&Stats::default(), &[]);
        assert!(page.contains("<h1>Contact center: case status</h1>"));
        assert!(!page.contains("<script"));
    }
}
