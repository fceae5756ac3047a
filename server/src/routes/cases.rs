//! `GET /api/v1/cases/{number}`: the public status of one case.

use crate::AppState;
use crate::error::ApiError;
use crate::extract::CaseNumber;
use crate::model::PublicCase;
use axum::Json;
use axum::extract::State;

/// The public view: status and timestamps, no personal data.
pub async fn show(
    State(state): State<AppState>,
    CaseNumber(number): CaseNumber,
) -> Result<Json<PublicCase>, ApiError> {
    let case = state.store.get_case(number).await?;
    Ok(Json(PublicCase::from(&case)))
}
