//! Request counters and latency histograms, rendered in the Prometheus text format.
//!
//! Routes are labelled by their template (`/api/v1/cases/{number}`), never by the raw path, so a
//! scanner probing random URLs cannot blow up the number of series: unmatched paths share the
//! label `unmatched`.

use crate::AppState;
use crate::error::ApiError;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Default)]
struct RouteStats {
    by_status: BTreeMap<u16, u64>,
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

/// The process-wide metrics.
#[derive(Debug)]
pub struct Metrics {
    started: Instant,
    /// route template -> method -> stats. Nested so that lookups borrow `&str` and only the
    /// first request of a (route, method) allocates.
    routes: Mutex<BTreeMap<String, BTreeMap<&'static str, RouteStats>>>,
    in_flight: AtomicI64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            started: Instant::now(),
            routes: Mutex::new(BTreeMap::new()),
            in_flight: AtomicI64::new(0),
        }
    }
}

impl Metrics {
    /// Records one finished request.
    pub fn record(&self, method: &'static str, route: &str, status: u16, seconds: f64) {
        let Ok(mut routes) = self.routes.lock() else {
            return;
        };
        if !routes.contains_key(route) {
            routes.insert(route.to_owned(), BTreeMap::new());
        }
        let Some(methods) = routes.get_mut(route) else {
            return;
        };
        let stats = methods.entry(method).or_default();
        *stats.by_status.entry(status).or_default() += 1;
        stats.count += 1;
        stats.sum_seconds += seconds;
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            stats.buckets[i] += 1;
        }
    }

    /// Renders the HTTP series (the case gauges are appended by the handler).
    pub fn render_http(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP cclab_uptime_seconds Seconds since the server started.\n\
             # TYPE cclab_uptime_seconds gauge\ncclab_uptime_seconds {:.3}",
            self.started.elapsed().as_secs_f64()
        );
        let _ = writeln!(
            out,
            "# HELP cclab_http_requests_in_flight Requests being served now.\n\
             # TYPE cclab_http_requests_in_flight gauge\ncclab_http_requests_in_flight {}",
            self.in_flight.load(Ordering::Relaxed)
        );
        let Ok(routes) = self.routes.lock() else {
            return;
        };
        out.push_str(
            "# HELP cclab_http_requests_total HTTP requests served, by method, route and status.\n\
             # TYPE cclab_http_requests_total counter\n",
        );
        let series = || {
            routes
                .iter()
                .flat_map(|(route, methods)| methods.iter().map(move |(m, s)| (*m, route, s)))
        };
        for (method, route, s) in series() {
            for (status, n) in &s.by_status {
                let _ = writeln!(
                    out,
                    "cclab_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                    escape(method),
                    escape(route)
                );
            }
        }
        out.push_str(
            "# HELP cclab_http_request_duration_seconds Time from request to response head.\n\
             # TYPE cclab_http_request_duration_seconds histogram\n",
        );
        for (method, route, s) in series() {
            let labels = format!("method=\"{}\",route=\"{}\"", escape(method), escape(route));
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(s.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "cclab_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "cclab_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\n\
                 cclab_http_request_duration_seconds_sum{{{labels}}} {:.6}\n\
                 cclab_http_request_duration_seconds_count{{{labels}}} {}",
                s.count, s.sum_seconds, s.count
            );
        }
    }
}

/// Escapes a Prometheus label value.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Middleware: counts, times, and bounds every request with the configured timeout.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    // Only standard methods become label values: a client inventing methods must not be able
    // to create series.
    let method = match *req.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    };
    // `MatchedPath` is a shared string: cloning it does not allocate.
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("unmatched", |m| m.as_str());
    state.metrics.in_flight.fetch_add(1, Ordering::Relaxed);
    let response = match tokio::time::timeout(state.config.request_timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => {
            tracing::warn!(%method, %route, "request timed out");
            ApiError::Timeout(state.config.request_timeout.as_secs()).into_response()
        }
    };
    state.metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
    state.metrics.record(
        method,
        route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_cumulative_buckets() {
        let m = Metrics::default();
        m.record("GET", "/a", 200, 0.0007);
        m.record("GET", "/a", 404, 0.02);
        let mut out = String::new();
        m.render_http(&mut out);
        assert!(
            out.contains("cclab_http_requests_total{method=\"GET\",route=\"/a\",status=\"200\"} 1")
        );
        assert!(out.contains("route=\"/a\",le=\"0.001\"} 1"));
        assert!(out.contains("route=\"/a\",le=\"0.025\"} 2"));
        assert!(out.contains("route=\"/a\",le=\"+Inf\"} 2"));
        assert!(
            out.contains(
                "cclab_http_request_duration_seconds_count{method=\"GET\",route=\"/a\"} 2"
            )
        );
    }
}
