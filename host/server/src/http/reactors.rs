//! `GET /v1/reactors`, `GET /v1/reactors/{name}`, its parked events
//! (`GET .../parked`, `POST .../parked/{position}/retry`, `POST .../parked/retry-all`,
//! `DELETE .../parked/{position}`), and `POST /v1/reactors/{name}/reset`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use cairn_runtime::{ParkedEvent, ReactorError, ReactorStatus, RetryReport, TaskError};

use crate::http::error::ApiError;
use crate::http::extract::{PathParams, QueryParams};
use crate::http::parked_page::ParkedQuery;
use crate::http::state::AppState;

/// Every reactor's status.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ReactorList {
    #[schema(value_type = Vec<crate::http::openapi::ReactorStatusDoc>)]
    pub(crate) reactors: Vec<ReactorStatus>,
}

/// A page of a reactor's parked events.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ParkedList {
    #[schema(value_type = Vec<crate::http::openapi::ParkedEventDoc>)]
    pub(crate) parked: Vec<ParkedEvent>,
}

/// What a retry of parked events did.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct RetryDoc {
    /// Events retried that succeeded: they are parked no more, and their intents were
    /// executed once.
    succeeded: u64,
    /// Events that failed again, each with its position and error; they stay parked.
    failed: Vec<FailedAgain>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct FailedAgain {
    position: u64,
    error: String,
}

impl From<RetryReport> for RetryDoc {
    fn from(report: RetryReport) -> Self {
        Self {
            succeeded: report.succeeded,
            failed: report
                .failed
                .into_iter()
                .map(|(position, error)| FailedAgain { position, error })
                .collect(),
        }
    }
}

/// How many parked events a discard let go.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Discarded {
    discarded: usize,
}

/// Where a reset starts.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetQuery {
    /// React again to the events after this position (0, the default: all of them).
    from: Option<u64>,
}

/// Lists the reactors and where each is.
#[utoipa::path(
    get,
    path = "/v1/reactors",
    operation_id = "list_reactors",
    responses((status = 200, description = "Every reactor: state, position, lag, parked events, intents issued and executed, last error, stall alarm", body = ReactorList)),
    tag = "reactors"
)]
pub(crate) async fn list(State(state): State<AppState>) -> Json<ReactorList> {
    Json(ReactorList {
        reactors: state.reactors().list(),
    })
}

/// One reactor's status.
#[utoipa::path(
    get,
    path = "/v1/reactors/{name}",
    operation_id = "reactor_status",
    params(("name" = String, Path, description = "The reactor module")),
    responses(
        (status = 200, description = "State (`catching_up`, `live`, `faulted` with the position and error, or `stopped`), position, head, lag, parked, intents issued and executed, skipped, last error, stalled", body = crate::http::openapi::ReactorStatusDoc),
        (status = 404, description = "No reactor has this name", body = crate::http::error::ErrorBody),
    ),
    tag = "reactors"
)]
pub(crate) async fn status(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
) -> Result<Json<ReactorStatus>, ApiError> {
    state
        .reactors()
        .status(&name)
        .map(Json)
        .ok_or_else(|| unknown(&name))
}

/// The events a reactor parked, in log order, a page at a time (`after`, `limit`).
#[utoipa::path(
    get,
    path = "/v1/reactors/{name}/parked",
    operation_id = "list_parked",
    params(("name" = String, Path, description = "The reactor module"), ParkedQuery),
    responses(
        (status = 200, description = "A page of parked events: position, id, stream, type, key (the stream), reason (`exhausted`: `react` failed on it, or its commands failed for the host, which are then under `intents`; `behind` an earlier parked event of its stream), attempts, last error, when", body = ParkedList),
        (status = 404, description = "No reactor has this name", body = crate::http::error::ErrorBody),
    ),
    tag = "reactors"
)]
pub(crate) async fn parked(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    QueryParams(query): QueryParams<ParkedQuery>,
) -> Result<Json<ParkedList>, ApiError> {
    let (after, limit) = query.page()?;
    Ok(Json(ParkedList {
        parked: state.reactors().parked(&name, after, limit).await?,
    }))
}

/// Retries the event parked at a position: `react` again on the state as it is now (or, for
/// an event whose commands failed for the host, those commands again, under their keys); then
/// the events of its stream parked behind it, in order, until one fails again. An event that
/// waits behind another is not retried before it: the report says which one to retry.
#[utoipa::path(
    post,
    path = "/v1/reactors/{name}/parked/{position}/retry",
    operation_id = "retry_parked",
    params(
        ("name" = String, Path, description = "The reactor module"),
        ("position" = u64, Path, description = "The parked event's position"),
    ),
    responses(
        (status = 200, description = "What the retry did", body = RetryDoc),
        (status = 404, description = "No reactor has this name, or no event is parked at the position", body = crate::http::error::ErrorBody),
    ),
    tag = "reactors"
)]
pub(crate) async fn retry(
    State(state): State<AppState>,
    PathParams((name, position)): PathParams<(String, u64)>,
) -> Result<Json<RetryDoc>, ApiError> {
    let report = state.reactors().retry(&name, Some(position)).await?;
    if report.succeeded == 0 && report.failed.is_empty() {
        return Err(not_parked(&name, position));
    }
    Ok(Json(report.into()))
}

/// Retries every parked event of a reactor: each stream's in order, from its first, until one
/// fails again.
#[utoipa::path(
    post,
    path = "/v1/reactors/{name}/parked/retry-all",
    operation_id = "retry_all_parked",
    params(("name" = String, Path, description = "The reactor module")),
    responses(
        (status = 200, description = "What the retries did", body = RetryDoc),
        (status = 404, description = "No reactor has this name", body = crate::http::error::ErrorBody),
    ),
    tag = "reactors"
)]
pub(crate) async fn retry_all(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
) -> Result<Json<RetryDoc>, ApiError> {
    Ok(Json(state.reactors().retry(&name, None).await?.into()))
}

/// Discards the event parked at a position: the reactor will not react to it.
#[utoipa::path(
    delete,
    path = "/v1/reactors/{name}/parked/{position}",
    operation_id = "discard_parked",
    params(
        ("name" = String, Path, description = "The reactor module"),
        ("position" = u64, Path, description = "The parked event's position"),
    ),
    responses(
        (status = 200, description = "How many events were parked there and are let go", body = Discarded),
        (status = 404, description = "No reactor has this name, or no event is parked at the position", body = crate::http::error::ErrorBody),
    ),
    tag = "reactors"
)]
pub(crate) async fn discard(
    State(state): State<AppState>,
    PathParams((name, position)): PathParams<(String, u64)>,
) -> Result<Json<Discarded>, ApiError> {
    match state.reactors().discard(&name, position).await? {
        0 => Err(not_parked(&name, position)),
        discarded => Ok(Json(Discarded { discarded })),
    }
}

/// Replays a reactor from a position, with an empty state. Its intents carry the keys they had
/// the first time: a command the aggregate recorded under its key is answered by the key, not
/// executed again.
#[utoipa::path(
    post,
    path = "/v1/reactors/{name}/reset",
    operation_id = "reset_reactor",
    params(("name" = String, Path, description = "The reactor module"), ResetQuery),
    responses(
        (status = 202, description = "The replay has started; the status", body = crate::http::openapi::ReactorStatusDoc),
        (status = 404, description = "No reactor has this name", body = crate::http::error::ErrorBody),
    ),
    tag = "reactors"
)]
pub(crate) async fn reset(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    QueryParams(query): QueryParams<ResetQuery>,
) -> Result<(StatusCode, Json<ReactorStatus>), ApiError> {
    let from = query.from.unwrap_or(0);
    Ok((
        StatusCode::ACCEPTED,
        Json(state.reactors().reset(&name, from).await?),
    ))
}

pub(super) fn unknown(name: &str) -> ApiError {
    ApiError::not_found("unknown_reactor", format!("no reactor is named '{name}'"))
}

pub(super) fn not_parked(name: &str, position: u64) -> ApiError {
    ApiError::not_found(
        "not_parked",
        format!("reactor '{name}' has no event parked at position {position}"),
    )
}

impl From<ReactorError> for ApiError {
    fn from(error: ReactorError) -> Self {
        match error {
            ReactorError::UnknownReactor(name) => unknown(&name),
            error @ ReactorError::RunsElsewhere(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "runs_elsewhere",
                error.to_string(),
            ),
            error @ ReactorError::NotRunning(_) => ApiError::new(
                StatusCode::CONFLICT,
                "reactor_not_running",
                error.to_string(),
            ),
            ReactorError::Storage(e) | ReactorError::Task(TaskError::Storage(e)) => e.into(),
            ReactorError::Task(error @ TaskError::Faulted) => ApiError::new(
                StatusCode::CONFLICT,
                "reactor_not_running",
                error.to_string(),
            ),
            ReactorError::Task(error @ TaskError::Host(_)) => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                error.to_string(),
            ),
        }
    }
}
