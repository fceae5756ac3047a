//! Extractors whose rejections are [`ApiError`]s, so malformed input gets the same JSON error
//! shape as everything else instead of axum's plain-text rejections.

use crate::AppState;
use crate::error::ApiError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// `Json<T>` with JSON errors: 400 malformed, 422 wrong shape, 413 too big, 415 not JSON.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let read = axum::Json::<T>::from_request(req, state);
        match tokio::time::timeout(state.config.body_timeout, read).await {
            Err(_) => Err(ApiError::BodyTimeout(state.config.body_timeout.as_secs())),
            Ok(Ok(axum::Json(v))) => Ok(ApiJson(v)),
            Ok(Err(rejection)) => Err(json_rejection(rejection, state.config.max_body_bytes)),
        }
    }
}

fn json_rejection(rejection: JsonRejection, limit: usize) -> ApiError {
    let text = rejection.body_text();
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(limit),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
        StatusCode::UNPROCESSABLE_ENTITY => ApiError::InvalidBody(lowercase_first(&text)),
        _ => match rejection {
            JsonRejection::JsonSyntaxError(_) => ApiError::MalformedJson(lowercase_first(&text)),
            _ => ApiError::MalformedJson(format!("cannot read request body: {text}")),
        },
    }
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The `{number}` path parameter: a positive case number.
#[derive(Debug, Clone, Copy)]
pub struct CaseNumber(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for CaseNumber {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::BadParameter(lowercase_first(&e.body_text())))?;
        match raw.parse::<i64>() {
            Ok(n) if n > 0 => Ok(CaseNumber(n)),
            _ => Err(ApiError::BadParameter(format!(
                "case number must be a positive integer, got {raw:?}"
            ))),
        }
    }
}

/// Query string into `T`, with a 400 JSON error naming the problem.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::BadParameter(lowercase_first(&e.body_text())))
    }
}

/// A JSON body that may be left out entirely (then `T::default()`); content-type is not
/// required for an empty body.
#[derive(Debug)]
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default> FromRequest<AppState> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let limit = state.config.max_body_bytes;
        let read = axum::body::Bytes::from_request(req, state);
        let bytes = tokio::time::timeout(state.config.body_timeout, read)
            .await
            .map_err(|_| ApiError::BodyTimeout(state.config.body_timeout.as_secs()))?
            .map_err(|e| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(limit),
                _ => {
                    ApiError::MalformedJson(format!("cannot read request body: {}", e.body_text()))
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        axum::Json::<T>::from_bytes(&bytes)
            .map(|j| OptionalJson(j.0))
            .map_err(|r| json_rejection(r, limit))
    }
}

/// A text path parameter (e.g. a queue name) with a JSON error if it cannot be decoded.
#[derive(Debug)]
pub struct PathText(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathText {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|p| PathText(p.0))
            .map_err(|e| ApiError::BadParameter(lowercase_first(&e.body_text())))
    }
}
