//! `POST /v1/streams/{stream}` (append) and `GET /v1/streams/{stream}` (read).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use cairn_store::{
    AppendOutcome, Direction, EventId, EventType, ExpectedVersion, Json as JsonText, NewEvent,
    StreamId, StreamRead, Version,
};
use serde::Deserialize;

use crate::http::error::ApiError;
use crate::http::extract::{JsonBody, PathParams, QueryParams};
use crate::http::served::{ServedStreamSlice, Serving};
use crate::http::state::AppState;
use crate::telemetry;

/// The most events one read returns, and the default.
pub(super) const MAX_READ: usize = 10_000;
pub(super) const DEFAULT_READ: usize = 1_000;

/// An append.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AppendRequest {
    /// `"any"` (the default), `"no_stream"`, `"exists"`, or the exact version the stream must be
    /// at.
    #[serde(default = "any")]
    #[schema(value_type = Object, example = json!("no_stream"))]
    pub expected_version: ExpectedVersion,
    /// The events, at most 1,000.
    pub events: Vec<EventInput>,
}

fn any() -> ExpectedVersion {
    ExpectedVersion::Any
}

/// An event to append.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct EventInput {
    /// Its id. Choose it to make the append idempotent; the server makes one if it is missing.
    pub id: Option<uuid::Uuid>,
    /// Its type name, such as `CustomerCreated`.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub event_type: EventType,
    /// Its payload: any JSON.
    #[schema(value_type = Object)]
    pub data: JsonText,
    /// Its metadata: a JSON object.
    #[schema(value_type = Object)]
    pub metadata: Option<JsonText>,
}

/// What an append did.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(super) struct AppendReply {
    pub stream: String,
    pub first_version: u64,
    pub last_version: u64,
    pub first_position: u64,
    pub last_position: u64,
}

/// Where a stream read starts, how far, and which way.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ReadQuery {
    /// The first version to return; by default the first event going forward and the last
    /// going backward.
    pub from: Option<u64>,
    /// The most events to return (default 1,000, at most 10,000).
    pub limit: Option<usize>,
    /// `forward` (the default) or `backward`.
    #[param(value_type = Option<String>)]
    pub direction: Option<Direction>,
    /// The events as stored, not read through the upcasters.
    #[serde(default)]
    pub raw: bool,
}

/// A stream name from a path, or a 400 `invalid_stream`.
pub(super) fn stream_name(name: &str) -> Result<StreamId, ApiError> {
    StreamId::new(name)
        .map_err(|e| ApiError::bad_request("invalid_stream", format!("invalid stream name: {e}")))
}

/// A `limit` parameter: the default when missing, a 400 `invalid_query` when out of range.
pub(super) fn read_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    match limit.unwrap_or(DEFAULT_READ) {
        0 => Err(ApiError::bad_request(
            "invalid_query",
            "limit must be at least 1",
        )),
        n if n > MAX_READ => Err(ApiError::bad_request(
            "invalid_query",
            format!("limit is at most {MAX_READ}; page with `from` or `after`"),
        )),
        n => Ok(n),
    }
}

/// Appends events to a stream.
#[utoipa::path(
    post,
    path = "/v1/streams/{stream}",
    params(("stream" = String, Path, description = "The stream's name")),
    request_body = AppendRequest,
    responses(
        (status = 201, description = "Appended (or an exact retry of an earlier append)", body = AppendReply),
        (status = 400, description = "Bad stream name or malformed JSON", body = crate::http::error::ErrorBody),
        (status = 409, description = "Wrong expected version, with `expected` and `actual`", body = crate::http::error::ErrorBody),
        (status = 413, description = "Body or event too large", body = crate::http::error::ErrorBody),
        (status = 422, description = "A body of the wrong shape, no events, over 1,000 events", body = crate::http::error::ErrorBody),
    ),
    tag = "streams"
)]
pub(super) async fn append(
    State(state): State<AppState>,
    PathParams(stream): PathParams<String>,
    JsonBody(request): JsonBody<AppendRequest>,
) -> Result<(StatusCode, Json<AppendReply>), ApiError> {
    let stream = stream_name(&stream)?;
    let events: Vec<NewEvent> = request
        .events
        .into_iter()
        .map(|e| {
            let event = NewEvent::new(e.event_type, e.data);
            let event = match e.id {
                Some(id) => event.with_id(EventId::from(id)),
                None => event,
            };
            match e.metadata {
                Some(metadata) => event.with_metadata(metadata),
                None => event,
            }
        })
        .collect();
    let started = std::time::Instant::now();
    let outcome = state
        .store
        .append(stream, request.expected_version, events)
        .await;
    telemetry::appended(&outcome, started.elapsed());
    Ok((StatusCode::CREATED, Json(AppendReply::from(outcome?))))
}

impl From<AppendOutcome> for AppendReply {
    fn from(o: AppendOutcome) -> Self {
        Self {
            stream: o.stream.to_string(),
            first_version: o.first_version.get(),
            last_version: o.last_version.get(),
            first_position: o.first_position.get(),
            last_position: o.last_position.get(),
        }
    }
}

/// Reads a stream.
#[utoipa::path(
    get,
    path = "/v1/streams/{stream}",
    operation_id = "read_stream",
    params(("stream" = String, Path, description = "The stream's name"), ReadQuery),
    responses(
        (status = 200, description = "The stream's version and the events asked for, read through the upcasters (as stored with `raw=true`); a missing stream is version 0 with no events", body = crate::http::openapi::StreamPage),
        (status = 400, description = "Bad stream name or query", body = crate::http::error::ErrorBody),
    ),
    tag = "streams"
)]
pub(super) async fn read(
    State(state): State<AppState>,
    PathParams(stream): PathParams<String>,
    QueryParams(query): QueryParams<ReadQuery>,
) -> Result<Json<ServedStreamSlice>, ApiError> {
    let stream = stream_name(&stream)?;
    let mut read = StreamRead::forward().limit(read_limit(query.limit)?);
    read.direction = query.direction.unwrap_or_default();
    if let Some(from) = query.from {
        read = read.from(Version::new(from));
    }
    let slice = state.store.read_stream(stream, read).await?;
    Ok(Json(Serving::new(&state, query.raw).stream(slice).await?))
}
