//! `GET /v1/streams`: the streams whose names begin with a prefix (or are in a category), a
//! page at a time, forward after a name or backward before one.

use axum::Json;
use axum::extract::State;
use cairn_store::{MAX_STREAMS_PER_LISTING, StreamsPage, StreamsRead};
use serde::Deserialize;

use crate::http::error::ApiError;
use crate::http::extract::QueryParams;
use crate::http::state::AppState;

/// The streams a listing returns unless it says otherwise.
pub(crate) const DEFAULT_LISTING: usize = 100;

/// Which streams to list, and from where.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Only streams whose names begin with this (default: every stream).
    pub prefix: Option<String>,
    /// Only streams of this category: the prefix `{category}-`. Not with `prefix`.
    pub category: Option<String>,
    /// Streams after this name, ascending (the default starts at the first).
    pub after: Option<String>,
    /// Streams before this name, descending. Not with `after`.
    pub before: Option<String>,
    /// The most streams to return (default 100, at most 1,000).
    pub limit: Option<usize>,
}

/// The store's listing a query asks for, or a 400 `invalid_query`.
pub(crate) fn listing(query: ListQuery) -> Result<StreamsRead, ApiError> {
    let invalid = |message: String| ApiError::bad_request("invalid_query", message);
    let prefix = match (query.prefix, query.category) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "give `prefix` or `category`, not both: a category is the prefix `{category}-`"
                    .into(),
            ));
        }
        (Some(prefix), None) => prefix,
        (None, Some(category)) if category.is_empty() || category.contains('-') => {
            return Err(invalid(format!(
                "category {category:?} is not a category: it is the part of a stream name \
                 before its first `-`"
            )));
        }
        (None, Some(category)) => format!("{category}-"),
        (None, None) => String::new(),
    };
    let limit = match query.limit.unwrap_or(DEFAULT_LISTING) {
        0 => return Err(invalid("limit must be at least 1".into())),
        n if n > MAX_STREAMS_PER_LISTING => {
            return Err(invalid(format!(
                "limit is at most {MAX_STREAMS_PER_LISTING}; page with `after` or `before`"
            )));
        }
        n => n,
    };
    let read = StreamsRead::prefixed(prefix, limit);
    Ok(match (query.after, query.before) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "give `after` (paging forward) or `before` (paging backward), not both".into(),
            ));
        }
        (Some(after), None) => read.from(after),
        (None, Some(before)) => read.from(before).backward(),
        (None, None) => read,
    })
}

/// Lists streams by name.
#[utoipa::path(
    get,
    path = "/v1/streams",
    operation_id = "list_streams",
    params(ListQuery),
    responses(
        (status = 200, description = "The streams, each with its version, ascending (descending with `before`); `more` says whether more follow in that direction", body = crate::http::openapi::StreamListDoc),
    ),
    tag = "streams"
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<StreamsPage>, ApiError> {
    let read = listing(query)?;
    Ok(Json(state.store.list_streams(read).await?))
}
