//! Operator endpoints (bearer token): the front/back-office workflow and the queues.
//!
//! received --take--> front_office --answer--> closed (by the FO)
//!                    front_office --escalate--> back_office --close--> closed (by the BO)
//!
//! Any other move is a 409 that names the case's status and the one the move needs.

use crate::AppState;
use crate::auth::Operator;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, CaseNumber, OptionalJson, PathText};
use crate::model::{CaseStatus, MAX_NOTE, OperatorCase, Transition, check_text};
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

/// Default and largest page of a queue listing.
pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 500;

/// Body of `answer` and `close`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolutionBody {
    pub resolution: String,
}

/// Body of `escalate`; the note for the back office is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalateBody {
    #[serde(default)]
    pub note: Option<String>,
}

/// Paging of a queue: cases with number > `after`, at most `limit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueParams {
    #[serde(default)]
    pub after: Option<i64>,
    #[serde(default)]
    pub limit: Option<u32>,
}

/// One page of a queue.
#[derive(Debug, Serialize)]
pub struct QueuePage {
    pub status: CaseStatus,
    pub cases: Vec<OperatorCase>,
    /// Pass as `after` for the next page; null on the last page.
    pub next_after: Option<i64>,
}

async fn apply(
    state: &AppState,
    number: i64,
    operator: String,
    transition: Transition,
) -> Result<Json<OperatorCase>, ApiError> {
    tracing::info!(case = number, %operator, verb = transition.verb(), "transition");
    let case = state.store.transition(number, operator, transition).await?;
    Ok(Json(OperatorCase::from(&case)))
}

fn resolution(body: ResolutionBody) -> Result<String, ApiError> {
    check_text("resolution", &body.resolution, MAX_NOTE, true).map_err(ApiError::InvalidField)
}

/// The full case, with text and contact details.
pub async fn show(
    State(state): State<AppState>,
    Operator(_): Operator,
    CaseNumber(number): CaseNumber,
) -> Result<Json<OperatorCase>, ApiError> {
    let case = state.store.get_case(number).await?;
    Ok(Json(OperatorCase::from(&case)))
}

/// received -> front_office.
pub async fn take(
    State(state): State<AppState>,
    Operator(op): Operator,
    CaseNumber(number): CaseNumber,
) -> Result<Json<OperatorCase>, ApiError> {
    apply(&state, number, op, Transition::Take).await
}

/// front_office -> closed, answered by the front office.
pub async fn answer(
    State(state): State<AppState>,
    Operator(op): Operator,
    CaseNumber(number): CaseNumber,
    ApiJson(body): ApiJson<ResolutionBody>,
) -> Result<Json<OperatorCase>, ApiError> {
    let resolution = resolution(body)?;
    apply(&state, number, op, Transition::Answer { resolution }).await
}

/// front_office -> back_office.
pub async fn escalate(
    State(state): State<AppState>,
    Operator(op): Operator,
    CaseNumber(number): CaseNumber,
    OptionalJson(body): OptionalJson<EscalateBody>,
) -> Result<Json<OperatorCase>, ApiError> {
    let note = match body.note {
        Some(n) => Some(check_text("note", &n, MAX_NOTE, false).map_err(ApiError::InvalidField)?)
            .filter(|n| !n.is_empty()),
        None => None,
    };
    apply(&state, number, op, Transition::Escalate { note }).await
}

/// back_office -> closed, by the back office.
pub async fn close(
    State(state): State<AppState>,
    Operator(op): Operator,
    CaseNumber(number): CaseNumber,
    ApiJson(body): ApiJson<ResolutionBody>,
) -> Result<Json<OperatorCase>, ApiError> {
    let resolution = resolution(body)?;
    apply(&state, number, op, Transition::Close { resolution }).await
}

/// One page of the cases in a status, oldest first.
pub async fn queue(
    State(state): State<AppState>,
    Operator(_): Operator,
    PathText(status): PathText,
    ApiQuery(params): ApiQuery<QueueParams>,
) -> Result<Json<QueuePage>, ApiError> {
    let status = CaseStatus::parse(&status).map_err(ApiError::BadParameter)?;
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::BadParameter(format!(
            "limit must be between 1 and {MAX_PAGE}, got {limit}"
        )));
    }
    let after = params.after.unwrap_or(0).max(0);
    let cases = state.store.list_queue(status, after, limit).await?;
    let next_after = (cases.len() == limit as usize)
        .then(|| cases.last().map(|c| c.number))
        .flatten();
    Ok(Json(QueuePage {
        status,
        cases: cases.iter().map(OperatorCase::from).collect(),
        next_after,
    }))
}
