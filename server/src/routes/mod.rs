//! The route table and the router built from it.
//!
//! `table()` is the single list of (method, path, handler): the router is folded from it and
//! [`route_list`] reads it, so the OpenAPI sync test compares the document with what is really
//! served.

mod cases;
mod contacts;
mod health;
mod operator;
mod stats;

/// HTML escaping of the status page, shared with the CLI's HTML report.
pub use stats::escape_html;

use crate::AppState;
use crate::error::ApiError;
use crate::metrics;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use std::any::Any;

/// Prefix of the JSON API.
pub const API: &str = "/api/v1";

/// The OpenAPI document, served at `/api/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// Every route: method, path template, handler.
fn table() -> Vec<(Method, String, MethodRouter<AppState>)> {
    let api = |p: &str| format!("{API}{p}");
    vec![
        (Method::POST, api("/contacts"), post(contacts::create)),
        (Method::GET, api("/cases/{number}"), get(cases::show)),
        (Method::GET, api("/stats"), get(stats::json)),
        (Method::GET, api("/openapi.json"), get(health::openapi)),
        (
            Method::GET,
            api("/operator/cases/{number}"),
            get(operator::show),
        ),
        (
            Method::POST,
            api("/operator/cases/{number}/take"),
            post(operator::take),
        ),
        (
            Method::POST,
            api("/operator/cases/{number}/answer"),
            post(operator::answer),
        ),
        (
            Method::POST,
            api("/operator/cases/{number}/escalate"),
            post(operator::escalate),
        ),
        (
            Method::POST,
            api("/operator/cases/{number}/close"),
            post(operator::close),
        ),
        (
            Method::GET,
            api("/operator/queues/{status}"),
            get(operator::queue),
        ),
        (Method::GET, "/status".into(), get(stats::html)),
        (Method::GET, "/healthz".into(), get(health::healthz)),
        (Method::GET, "/readyz".into(), get(health::readyz)),
        (Method::GET, "/metrics".into(), get(health::metrics)),
    ]
}

/// (method, path) of every route, for documentation checks.
pub fn route_list() -> Vec<(Method, String)> {
    table().into_iter().map(|(m, p, _)| (m, p)).collect()
}

/// Builds the router: routes, JSON 404/405, body limit, metrics and timeout, panic catcher.
pub(crate) fn router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    let mut router = Router::new();
    for (_, path, handler) in table() {
        router = router.route(&path, handler);
    }
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(on_panic))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::RouteNotFound(uri.path().to_owned())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

fn on_panic(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(%detail, "handler panicked");
    let body = crate::error::error_body("internal", "internal error");
    (
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        axum::Json(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn each_path_has_one_method() {
        // `Router::route` panics on a second registration of a path; the table must not have one.
        let paths: HashSet<String> = route_list().into_iter().map(|(_, p)| p).collect();
        assert_eq!(paths.len(), route_list().len());
    }
}
