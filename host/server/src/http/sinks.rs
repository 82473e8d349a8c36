//! Sinks over HTTP: `POST /v1/sinks` makes one (a Kafka sink's brokers must answer first),
//! `GET /v1/sinks` and `GET /v1/sinks/{name}` show them with their groups' status, and
//! `DELETE /v1/sinks/{name}` removes one. A sink's parked events are its group's
//! (`/v1/groups/sink.{name}/parked`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use cairn_sinks::{SinkConfig, SinkCreated, SinkError, SinkStatus};

use crate::http::error::ApiError;
use crate::http::extract::{JsonBody, PathParams};
use crate::http::state::AppState;

/// Every sink's status.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct SinkList {
    #[schema(value_type = Vec<crate::http::groups_doc::SinkStatusDoc>)]
    sinks: Vec<SinkStatus>,
}

/// Makes a sink and starts it.
#[utoipa::path(
    post,
    path = "/v1/sinks",
    operation_id = "create_sink",
    request_body(content = crate::http::groups_doc::SinkConfigDoc, description = "`name`, one target (`kafka` or `webhook`), and the settings of its group: `filter`, `start`, `partition_key`, `max_retries`, `on_exhausted`"),
    responses(
        (status = 201, description = "Made and started; `group` is the group it runs", body = crate::http::groups_doc::SinkCreatedDoc),
        (status = 200, description = "A sink of this name and config was there already", body = crate::http::groups_doc::SinkCreatedDoc),
    ),
    tag = "sinks"
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    JsonBody(config): JsonBody<SinkConfig>,
) -> Result<(StatusCode, Json<SinkCreated>), ApiError> {
    let created = state.sinks().create(config, true).await?;
    let status = if created.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(created)))
}

/// Every sink and where it is.
#[utoipa::path(
    get,
    path = "/v1/sinks",
    operation_id = "list_sinks",
    responses((status = 200, description = "Every sink's status", body = SinkList)),
    tag = "sinks"
)]
pub(crate) async fn list(State(state): State<AppState>) -> Json<SinkList> {
    Json(SinkList {
        sinks: state.sinks().list().await,
    })
}

/// One sink's status: `running`, or `waiting` for its target (since when, and why), what it
/// published, and its group's status (lag, in flight, parked).
#[utoipa::path(
    get,
    path = "/v1/sinks/{name}",
    operation_id = "sink_status",
    params(("name" = String, Path, description = "The sink")),
    responses((status = 200, description = "The sink's status", body = crate::http::groups_doc::SinkStatusDoc)),
    tag = "sinks"
)]
pub(crate) async fn status(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
) -> Result<Json<SinkStatus>, ApiError> {
    Ok(Json(state.sinks().status(&name).await?))
}

/// Removes a sink and its group.
#[utoipa::path(
    delete,
    path = "/v1/sinks/{name}",
    operation_id = "delete_sink",
    params(("name" = String, Path, description = "The sink")),
    responses((status = 204, description = "Removed")),
    tag = "sinks"
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    state.sinks().delete(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

impl From<SinkError> for ApiError {
    fn from(error: SinkError) -> Self {
        let message = error.to_string();
        match error {
            SinkError::Invalid(_) => ApiError::bad_request("invalid_sink", message),
            SinkError::NotFound(_) => ApiError::not_found("unknown_sink", message),
            SinkError::Exists(_) => ApiError::new(StatusCode::CONFLICT, "sink_exists", message),
            SinkError::Unreachable(_) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "target_unreachable", message)
            }
            SinkError::Group(e) => e.into(),
            SinkError::Storage(e) => e.into(),
            SinkError::Model(_) => {
                tracing::error!(%message, "a sink's write was refused");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
            }
        }
    }
}
