//! Errors at the crate's two boundaries: [`StoreError`] from storage, [`ApiError`] to HTTP.
//!
//! Every [`ApiError`] becomes `{"error": {"code": "...", "message": "..."}}`. Client mistakes are
//! 4xx with a message that says what to fix; anything else is a 500 that says only
//! "internal error" and logs the cause.

use crate::model::{CaseStatus, FieldError};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Failures of a [`crate::store::Store`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The case number does not exist. Remedy: check the number the 201 returned.
    #[error("case {0} not found")]
    NotFound(i64),
    /// The move does not fit the case's current status (e.g. closing a case twice).
    #[error("cannot {verb} case {number}: it is {actual}, and {verb} needs {expected}")]
    InvalidTransition {
        number: i64,
        verb: &'static str,
        actual: CaseStatus,
        expected: CaseStatus,
    },
    /// The idempotency key was first used with a different body. Remedy: use a fresh key per
    /// distinct request.
    #[error("idempotency key was already used with a different request body")]
    IdempotencyMismatch,
    /// The store is shutting down or its writer stopped. Remedy: retry against a live instance.
    #[error("store is unavailable")]
    Unavailable,
    /// The database failed (disk full, corruption, I/O error). Remedy: see the server log.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// A batch's commit failed (disk full, I/O error); every write in it was refused.
    #[error("batch commit failed: {0}")]
    Commit(String),
    /// Stored data could not be read back (e.g. a replayed response). Remedy: check the file.
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// Opening or migrating the database failed at start.
    #[error("cannot open database {path}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    /// The database was written by a newer server. Remedy: run that version, or a new file.
    #[error("database schema version {found} is newer than this server's {supported}")]
    SchemaTooNew { found: u32, supported: u32 },
    /// The store's writer thread could not be started.
    #[error("cannot start the store writer: {0}")]
    Thread(std::io::Error),
}

/// An error answer of the HTTP API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON (400).
    #[error("{0}")]
    MalformedJson(String),
    /// JSON of the wrong shape or type (422).
    #[error("{0}")]
    InvalidBody(String),
    /// A field failed validation (422).
    #[error("{0}")]
    InvalidField(FieldError),
    /// Content-Type is not application/json (415).
    #[error("expected content-type application/json")]
    UnsupportedMediaType,
    /// The body exceeds the configured limit (413).
    #[error("request body exceeds {0} bytes")]
    PayloadTooLarge(usize),
    /// A path or query parameter could not be read (400).
    #[error("{0}")]
    BadParameter(String),
    /// A header value is invalid (400).
    #[error("{0}")]
    BadHeader(String),
    /// No bearer token was sent (401).
    #[error("missing bearer token: send 'authorization: bearer <token>'")]
    MissingToken,
    /// The bearer token matches no operator (401).
    #[error("invalid bearer token")]
    InvalidToken,
    /// No route has this path (404).
    #[error("no route for {0}")]
    RouteNotFound(String),
    /// The route exists but not for this method (405).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The client did not send its body in time (408).
    #[error("request body not received within {0} s")]
    BodyTimeout(u64),
    /// The server did not finish the request in time (503). Remedy: retry, with an
    /// idempotency key for POSTs.
    #[error("request not completed within {0} s")]
    Timeout(u64),
    /// Too many public POSTs from this client (429).
    #[error("rate limit exceeded, retry in {0} s")]
    RateLimited(u64),
    /// From the store: unknown case, bad transition, key mismatch, outage.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApiError {
    /// HTTP status and stable machine-readable code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::MalformedJson(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
            ApiError::InvalidBody(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
            ApiError::InvalidField(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            ApiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::BadParameter(_) => (StatusCode::BAD_REQUEST, "bad_parameter"),
            ApiError::BadHeader(_) => (StatusCode::BAD_REQUEST, "bad_header"),
            ApiError::MissingToken => (StatusCode::UNAUTHORIZED, "missing_token"),
            ApiError::InvalidToken => (StatusCode::UNAUTHORIZED, "invalid_token"),
            ApiError::RouteNotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::BodyTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            ApiError::Timeout(_) => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
            ApiError::Store(e) => match e {
                StoreError::NotFound(_) => (StatusCode::NOT_FOUND, "case_not_found"),
                StoreError::InvalidTransition { .. } => {
                    (StatusCode::CONFLICT, "invalid_transition")
                }
                StoreError::IdempotencyMismatch => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused")
                }
                StoreError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
                StoreError::Database(_)
                | StoreError::Commit(_)
                | StoreError::Corrupt(_)
                | StoreError::Open { .. }
                | StoreError::SchemaTooNew { .. }
                | StoreError::Thread(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            },
        }
    }
}

/// Builds the JSON error body.
pub fn error_body(code: &str, message: &str) -> serde_json::Value {
    json!({ "error": { "code": code, "message": message } })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(error = %self, "internal error");
            "internal error".to_owned()
        } else {
            self.to_string()
        };
        let mut response = (status, Json(error_body(code, &message))).into_response();
        if let ApiError::RateLimited(secs) = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if matches!(self, ApiError::MissingToken | ApiError::InvalidToken) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"cclab-operators\""),
            );
        }
        response
    }
}

/// Failures of running the server as a whole ([`crate::serve`]).
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Accepting connections failed. Remedy: check the address and file-descriptor limits.
    #[error("server i/o error: {0}")]
    Io(std::io::Error),
    /// The store failed to open or to close cleanly.
    #[error(transparent)]
    Store(#[from] StoreError),
}
