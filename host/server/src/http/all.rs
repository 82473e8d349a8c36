//! `GET /v1/all`: the global log after a position, in order, optionally filtered.

use axum::Json;
use axum::extract::State;
use cairn_store::{AllRead, EventType, Position};
use serde::Deserialize;

use crate::http::error::ApiError;
use crate::http::extract::QueryParams;
use crate::http::served::{ServedAllSlice, Serving};
use crate::http::state::AppState;
use crate::http::streams::read_limit;

/// The most log positions one read examines. A filter that matches little then costs bounded
/// work per request; the reply's `scanned_to` says where the next read goes on.
pub(crate) const SCAN_LIMIT: usize = 100_000;

/// Where a read of the global log starts, and which events it keeps.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct AllQuery {
    /// Return events after this position (default 0: from the start).
    pub after: Option<u64>,
    /// The most events to return (default 1,000, at most 10,000).
    pub limit: Option<usize>,
    /// Only events of streams in this category: the part of the stream name before the first
    /// `-`.
    pub category: Option<String>,
    /// Only events of this type.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<String>,
    /// The events as stored, not read through the upcasters.
    #[serde(default)]
    pub raw: bool,
}

/// The read a category and type filter make, after `after`.
pub(super) fn filtered(
    after: Position,
    category: Option<String>,
    event_type: Option<String>,
) -> Result<AllRead, ApiError> {
    let mut read = AllRead::after(after).scan_limit(SCAN_LIMIT);
    if let Some(category) = category {
        read = read.category(category);
    }
    if let Some(event_type) = event_type {
        let event_type = EventType::new(&event_type).map_err(|e| {
            ApiError::bad_request("invalid_query", format!("invalid event type: {e}"))
        })?;
        read = read.event_type(event_type);
    }
    Ok(read)
}

/// Reads the global log.
#[utoipa::path(
    get,
    path = "/v1/all",
    operation_id = "read_all",
    params(AllQuery),
    responses(
        (status = 200, description = "The events after `after`, in position order, read through the upcasters (as stored with `raw=true`); `scanned_to` is where the next page starts (past the last event when filters skipped some), `head` the newest position", body = crate::http::openapi::LogPage),
        (status = 400, description = "Bad query", body = crate::http::error::ErrorBody),
    ),
    tag = "streams"
)]
pub(super) async fn read(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<AllQuery>,
) -> Result<Json<ServedAllSlice>, ApiError> {
    let read = filtered(
        Position::new(query.after.unwrap_or(0)),
        query.category,
        query.event_type,
    )?
    .limit(read_limit(query.limit)?);
    let serving = Serving::new(&state, query.raw);
    let slice = state.store.read_all(serving.store_read(&read)).await?;
    Ok(Json(serving.all(slice, &read).await?))
}
