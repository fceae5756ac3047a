//! `POST /api/v1/contacts`: intake from every channel.

use crate::AppState;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::model::ContactInput;
use crate::store::IdempotencyKey;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Header that makes a POST safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Response header set when the answer is a replay of an earlier request.
pub const REPLAYED: &str = "idempotent-replayed";
/// Longest accepted idempotency key.
pub const MAX_KEY_LEN: usize = 255;

/// Takes a token from the client's bucket before the body is even read.
pub struct RateChecked;

impl FromRequestParts<AppState> for RateChecked {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(limiter) = &state.limiter else {
            return Ok(RateChecked);
        };
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        limiter.check(ip).map_err(ApiError::RateLimited)?;
        Ok(RateChecked)
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| {
            !k.is_empty() && k.len() <= MAX_KEY_LEN && k.bytes().all(|b| b.is_ascii_graphic())
        })
        .ok_or_else(|| {
            ApiError::BadHeader(format!(
                "idempotency-key must be 1 to {MAX_KEY_LEN} visible ascii characters"
            ))
        })?;
    Ok(Some(key.to_owned()))
}

/// Creates a case; with an `Idempotency-Key`, a retry gets the first answer back.
pub async fn create(
    State(state): State<AppState>,
    _rate: RateChecked,
    headers: HeaderMap,
    ApiJson(input): ApiJson<ContactInput>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let contact = input.validate().map_err(ApiError::InvalidField)?;
    let key = key.map(|key| {
        // The digest of the validated contact: the same request re-sent with other whitespace
        // or field order is still the same request.
        let canonical = serde_json::to_vec(&contact).unwrap_or_default();
        IdempotencyKey {
            key,
            request_digest: Sha256::digest(&canonical).into(),
        }
    });
    let created = state.store.create_case(contact, key).await?;
    let location = format!("{}/cases/{}", super::API, created.receipt.number);
    let mut response = (StatusCode::CREATED, axum::Json(&created.receipt)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    if created.replayed {
        response
            .headers_mut()
            .insert(REPLAYED, HeaderValue::from_static("true"));
    }
    Ok(response)
}
