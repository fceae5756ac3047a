//! Liveness, readiness, Prometheus metrics and the OpenAPI document.

use crate::AppState;
use crate::error::{ApiError, StoreError};
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

/// The process is up and answering.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The server can take traffic: not draining, and the store answers.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    if state.draining.load(Ordering::SeqCst) {
        return Err(ApiError::Store(StoreError::Unavailable));
    }
    state.store.ready().await?;
    Ok(Json(json!({ "status": "ready" })))
}

/// Prometheus text format: HTTP series, write-path counters, cases by state.
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let mut out = String::with_capacity(16 * 1024);
    state.metrics.render_http(&mut out);
    let w = state.store.write_stats();
    let _ = write!(
        out,
        "# HELP cclab_store_commits_total Write transactions committed (one log fsync each).\n\
         # TYPE cclab_store_commits_total counter\ncclab_store_commits_total {}\n\
         # HELP cclab_store_writes_total Writes carried by those commits (group commit).\n\
         # TYPE cclab_store_writes_total counter\ncclab_store_writes_total {}\n\
         # HELP cclab_store_checkpoints_total Log checkpoints into the database file.\n\
         # TYPE cclab_store_checkpoints_total counter\ncclab_store_checkpoints_total {}\n",
        w.commits, w.writes, w.checkpoints
    );
    let counts = state.store.count_by_status().await?;
    out.push_str("# HELP cclab_cases Cases in the store, by state.\n# TYPE cclab_cases gauge\n");
    for (status, n) in counts {
        let _ = writeln!(out, "cclab_cases{{state=\"{status}\"}} {n}");
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response())
}

/// The OpenAPI document of this API.
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], super::OPENAPI).into_response()
}
