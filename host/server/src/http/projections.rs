//! `GET /v1/projections`, `GET /v1/projections/{name}`, and `POST /v1/projections/{name}/`
//! `query`, `reset`, `pause` and `resume`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use cairn_runtime::{ControlError, ProjectionStatus, QueryError};
use cairn_store::Json as JsonText;

use crate::http::error::ApiError;
use crate::http::extract::{JsonBody, PathParams};
use crate::http::state::AppState;

/// Every projection's status.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ProjectionList {
    #[schema(value_type = Vec<crate::http::openapi::ProjectionStatusDoc>)]
    pub(crate) projections: Vec<ProjectionStatus>,
}

/// Lists the projections and where each is.
#[utoipa::path(
    get,
    path = "/v1/projections",
    operation_id = "list_projections",
    responses((status = 200, description = "Every projection: position, head, lag, state, and a rebuild in progress", body = ProjectionList)),
    tag = "projections"
)]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<ProjectionList>, ApiError> {
    Ok(Json(ProjectionList {
        projections: state.projections().list().await?,
    }))
}

/// One projection's status.
#[utoipa::path(
    get,
    path = "/v1/projections/{name}",
    params(("name" = String, Path, description = "The projection module")),
    responses(
        (status = 200, description = "Position, head, lag in events and ms, state (`catching_up`, `live`, `faulted` with the error, position and event type), events per second", body = crate::http::openapi::ProjectionStatusDoc),
        (status = 404, description = "No projection has this name", body = crate::http::error::ErrorBody),
    ),
    tag = "projections"
)]
pub(crate) async fn status(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
) -> Result<Json<ProjectionStatus>, ApiError> {
    state
        .projections()
        .status(&name)
        .await?
        .map(Json)
        .ok_or_else(|| unknown(&name))
}

/// Asks a projection a question.
#[utoipa::path(
    post,
    path = "/v1/projections/{name}/query",
    params(("name" = String, Path, description = "The projection module")),
    request_body(content = Object, description = "The request, as the module's Query type reads it, such as {\"type\": \"count\"}"),
    responses(
        (status = 200, description = "The module's answer", body = Object),
        (status = 404, description = "No projection has this name", body = crate::http::error::ErrorBody),
        (status = 422, description = "`query_refused`: the module could not answer, with its reason", body = crate::http::error::ErrorBody),
        (status = 500, description = "The module failed (`module_*`), or the host failed around the call (`internal`)", body = crate::http::error::ErrorBody),
        (status = 503, description = "`storage_failed`: the store failed under the query; a retry may succeed", body = crate::http::error::ErrorBody),
    ),
    tag = "projections"
)]
pub(crate) async fn query(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    JsonBody(request): JsonBody<JsonText>,
) -> Result<Json<JsonText>, ApiError> {
    match state.projections().query(&name, request).await {
        Ok(answer) => Ok(Json(answer)),
        Err(error) => Err(query_failed(&name, error)),
    }
}

/// The reply to a query of projection `name` that failed (the runtime counts a module's
/// failure where the call is made).
pub(super) fn query_failed(name: &str, error: QueryError) -> ApiError {
    match error {
        QueryError::UnknownProjection(_) => unknown(name),
        QueryError::Refused(message) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "query_refused", message)
        }
        QueryError::Module(e) => e.into(),
        QueryError::Storage(e) => e.into(),
    }
}

pub(super) fn unknown(name: &str) -> ApiError {
    ApiError::not_found(
        "unknown_projection",
        format!("no projection is named '{name}'"),
    )
}

impl From<ControlError> for ApiError {
    fn from(error: ControlError) -> Self {
        match error {
            ControlError::UnknownProjection(name) => unknown(&name),
            error @ ControlError::RunsElsewhere(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "runs_elsewhere",
                error.to_string(),
            ),
            ControlError::Storage(e) => e.into(),
        }
    }
}

/// Pauses a projection: its runners stop between batches; queries are still answered. The
/// pause is kept across restarts.
#[utoipa::path(
    post,
    path = "/v1/projections/{name}/pause",
    params(("name" = String, Path, description = "The projection module")),
    responses(
        (status = 200, description = "Paused; the status", body = crate::http::openapi::ProjectionStatusDoc),
        (status = 404, description = "No projection has this name", body = crate::http::error::ErrorBody),
    ),
    tag = "projections"
)]
pub(crate) async fn pause(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
) -> Result<Json<ProjectionStatus>, ApiError> {
    Ok(Json(state.projections().pause(&name).await?))
}

/// Resumes a paused projection from its checkpoint.
#[utoipa::path(
    post,
    path = "/v1/projections/{name}/resume",
    params(("name" = String, Path, description = "The projection module")),
    responses(
        (status = 200, description = "Resumed; the status", body = crate::http::openapi::ProjectionStatusDoc),
        (status = 404, description = "No projection has this name", body = crate::http::error::ErrorBody),
    ),
    tag = "projections"
)]
pub(crate) async fn resume(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
) -> Result<Json<ProjectionStatus>, ApiError> {
    Ok(Json(state.projections().resume(&name).await?))
}

/// Rebuilds a projection from position 0. The new read model is built beside the serving one,
/// which answers queries until the new one has caught up; then it takes over. Progress shows
/// under `rebuilding` in the status.
#[utoipa::path(
    post,
    path = "/v1/projections/{name}/reset",
    params(("name" = String, Path, description = "The projection module")),
    responses(
        (status = 202, description = "The rebuild has started; the status, with the new generation under `rebuilding` (or serving, if nothing served)", body = crate::http::openapi::ProjectionStatusDoc),
        (status = 404, description = "No projection has this name", body = crate::http::error::ErrorBody),
    ),
    tag = "projections"
)]
pub(crate) async fn reset(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
) -> Result<(StatusCode, Json<ProjectionStatus>), ApiError> {
    Ok((
        StatusCode::ACCEPTED,
        Json(state.projections().reset(&name).await?),
    ))
}
