//! `GET /v1/aggregates/{name}/{id}/history`: time travel, the aggregate's state after each
//! event of a range of its stream, and the event that moved it there.

use axum::Json;
use axum::extract::State;
use cairn_runtime::{History, HistoryRead, MAX_HISTORY_STEPS, StepFailure};
use cairn_store::{Json as JsonText, RecordedEvent, Version};
use serde::Deserialize;

use crate::http::aggregates::ModuleParam;
use crate::http::error::ApiError;
use crate::http::extract::{PathParams, QueryParams};
use crate::http::state::AppState;

/// The steps a history returns when the query does not say.
pub(super) const DEFAULT_HISTORY_STEPS: usize = 1_000;

/// Which steps to read.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct HistoryQuery {
    /// The first version (default 1).
    pub from: Option<u64>,
    /// The last version (default the aggregate's version).
    pub to: Option<u64>,
    /// The most steps to return (default 1,000, at most 10,000); `next` says where to go on.
    pub limit: Option<usize>,
    /// `recorded` (the default): each state computed with the module version that wrote its
    /// event, from the event's provenance; `current`: with the installed version.
    #[param(value_type = Option<String>)]
    pub module: Option<ModuleParam>,
}

/// Reads the aggregate's states over a range of its stream.
#[utoipa::path(
    get,
    path = "/v1/aggregates/{name}/{id}/history",
    params(
        ("name" = String, Path, description = "The aggregate module"),
        ("id" = String, Path, description = "The aggregate's id"),
        HistoryQuery,
    ),
    responses(
        (status = 200, description = "One step per event: the event and the state after it", body = HistoryReply),
    ),
    tag = "aggregates"
)]
pub(super) async fn history(
    State(state): State<AppState>,
    PathParams((name, id)): PathParams<(String, String)>,
    QueryParams(query): QueryParams<HistoryQuery>,
) -> Result<Json<HistoryReply>, ApiError> {
    let read = history_read(&query)?;
    let history = state.command_path.history(&name, &id, &read).await?;
    Ok(Json(HistoryReply::new(history, &read)))
}

/// The read the query asks for, or a 400 saying what is wrong with it.
pub(super) fn history_read(query: &HistoryQuery) -> Result<HistoryRead, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_HISTORY_STEPS);
    if !(1..=MAX_HISTORY_STEPS).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("`limit` is 1 to {MAX_HISTORY_STEPS}, not {limit}"),
        ));
    }
    let from = query.from.unwrap_or(1);
    if from == 0 || query.to.is_some_and(|to| to < from) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "versions start at 1, and `to` is at least `from`",
        ));
    }
    Ok(HistoryRead {
        from: Version::new(from),
        to: query.to.map(Version::new),
        limit,
        module: query.module.unwrap_or_default().into(),
    })
}

/// An aggregate's states over a range of its stream.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(super) struct HistoryReply {
    /// The aggregate's stream.
    pub stream: String,
    /// Its version now.
    pub version: u64,
    /// `recorded` or `current`: which module version computed the states.
    pub module: &'static str,
    /// One per event, in order.
    pub steps: Vec<StepReply>,
    /// Where computing the states stopped: a module version could not fold an event, or show
    /// the state after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureReply>,
    /// The first version after these steps, to read on from; `null` at the end of the stream.
    pub next: Option<u64>,
}

/// The state after one event.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(super) struct StepReply {
    /// The version the event moved the aggregate to.
    pub version: u64,
    /// The event.
    #[schema(value_type = crate::http::openapi::EventDoc)]
    pub event: RecordedEvent,
    /// The hash of the module version that computed the state.
    pub module_hash: String,
    /// The state after the event.
    #[schema(value_type = Object)]
    pub state: JsonText,
}

/// Where a module version could not go on.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(super) struct FailureReply {
    /// The version of the event it failed on.
    pub version: u64,
    /// That event's type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The module version's hash.
    pub module_hash: String,
    /// What went wrong.
    pub error: String,
}

impl HistoryReply {
    fn new(history: History, read: &HistoryRead) -> Self {
        Self {
            stream: history.stream.to_string(),
            version: history.version.get(),
            module: match read.module {
                cairn_runtime::ModuleChoice::AsRecorded => "recorded",
                cairn_runtime::ModuleChoice::Current => "current",
            },
            steps: history
                .steps
                .into_iter()
                .map(|step| StepReply {
                    version: step.event.version.get(),
                    module_hash: step.module_hash.to_string(),
                    event: step.event,
                    state: step.state,
                })
                .collect(),
            failure: history.failure.map(|f: StepFailure| FailureReply {
                version: f.version.get(),
                event_type: f.event_type.to_string(),
                module_hash: f.module_hash.to_string(),
                error: f.error,
            }),
            next: history.next.map(Version::get),
        }
    }
}
