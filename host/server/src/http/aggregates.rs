//! `POST /v1/aggregates/{name}/{id}/commands` and `GET /v1/aggregates/{name}/{id}`.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use cairn_runtime::{AggregateState, Command, CommandOutcome};
use cairn_store::{IdempotencyKey, Json as JsonText, RecordedEvent, Version};
use serde::Deserialize;

use crate::http::error::ApiError;
use crate::http::extract::{JsonBody, PathParams, QueryParams};
use crate::http::state::AppState;
use crate::telemetry;

/// A command: its type name and its payload, as the module's `Command` type reads them.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"type": "Deposit", "data": {"amount": 500}}))]
pub(super) struct CommandRequest {
    /// The command's type name, such as `Deposit`.
    #[serde(rename = "type")]
    pub command_type: String,
    /// Its payload; leave it out for a command with none.
    #[serde(default = "no_data")]
    #[schema(value_type = Object)]
    pub data: JsonText,
}

/// `null`: the data of a command that carries none.
fn no_data() -> JsonText {
    JsonText::from_value(&()).unwrap_or_else(|_| JsonText::empty_object())
}

/// Optional checks on a command.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct CommandQuery {
    /// The aggregate must be at exactly this version, or the command is a 409.
    pub expected_version: Option<u64>,
}

/// Runs a command against an aggregate.
#[utoipa::path(
    post,
    path = "/v1/aggregates/{name}/{id}/commands",
    params(
        ("name" = String, Path, description = "The aggregate module"),
        ("id" = String, Path, description = "The aggregate's id; its stream is `{name}-{id}`"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key gets the original result and appends nothing"),
        CommandQuery,
    ),
    request_body = CommandRequest,
    responses(
        (status = 200, description = "The aggregate's new version and the events appended", body = CommandReply),
        (status = 404, description = "No aggregate module has this name", body = crate::http::error::ErrorBody),
        (status = 409, description = "The aggregate is not at `expected_version`, or writers kept racing", body = crate::http::error::ErrorBody),
        (status = 422, description = "`rejected` with the module's message, or `invalid_command`", body = crate::http::error::ErrorBody),
        (status = 500, description = "The module failed (`module_*`: a trap, out of fuel or memory), or the host failed around the call (`internal`); nothing was appended", body = crate::http::error::ErrorBody),
        (status = 503, description = "The host's fault (`storage_failed`, `host_backstop`); nothing was appended, and a retry may succeed", body = crate::http::error::ErrorBody),
    ),
    tag = "aggregates"
)]
pub(super) async fn command(
    State(state): State<AppState>,
    PathParams((name, id)): PathParams<(String, String)>,
    QueryParams(query): QueryParams<CommandQuery>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<CommandRequest>,
) -> Result<Json<CommandReply>, ApiError> {
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| IdempotencyKey::new(v).ok())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_idempotency_key",
                        "Idempotency-Key must be 1 to 200 bytes of printable text",
                    )
                })?,
        ),
    };
    let command = Command {
        command_type: request.command_type,
        data: request.data,
        expected_version: query.expected_version.map(Version::new),
        idempotency_key,
    };
    let started = std::time::Instant::now();
    let outcome = state.command_path.execute(&name, &id, command).await;
    telemetry::commanded(&name, &outcome, started.elapsed());
    Ok(Json(CommandReply::from(outcome?)))
}

/// Reads an aggregate's current state.
#[utoipa::path(
    get,
    path = "/v1/aggregates/{name}/{id}",
    params(
        ("name" = String, Path, description = "The aggregate module"),
        ("id" = String, Path, description = "The aggregate's id"),
    ),
    responses(
        (status = 200, description = "The stream, its version and the state as JSON", body = StateReply),
        (status = 404, description = "No aggregate module has this name", body = crate::http::error::ErrorBody),
    ),
    tag = "aggregates"
)]
pub(super) async fn state(
    State(state): State<AppState>,
    PathParams((name, id)): PathParams<(String, String)>,
) -> Result<Json<StateReply>, ApiError> {
    let result = state.command_path.state(&name, &id).await;
    if let Err(cairn_runtime::CommandError::Module(e)) = &result {
        telemetry::trapped(&name, e);
    }
    Ok(Json(StateReply::from(result?)))
}

/// What a command did.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(super) struct CommandReply {
    /// The aggregate's stream, `{name}-{id}`.
    pub stream: String,
    /// The aggregate's version after the command.
    pub version: u64,
    /// The events the command appended (none if it changed nothing).
    #[schema(value_type = Vec<crate::http::openapi::EventDoc>)]
    pub events: Vec<RecordedEvent>,
}

impl From<CommandOutcome> for CommandReply {
    fn from(o: CommandOutcome) -> Self {
        Self {
            stream: o.stream.to_string(),
            version: o.version.get(),
            events: o.events,
        }
    }
}

/// An aggregate's state.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(super) struct StateReply {
    /// The aggregate's stream, `{name}-{id}`.
    pub stream: String,
    /// The version the state is at (0 for an aggregate with no events).
    pub version: u64,
    /// The state as the module shows it.
    #[schema(value_type = Object)]
    pub state: JsonText,
}

impl From<AggregateState> for StateReply {
    fn from(s: AggregateState) -> Self {
        Self {
            stream: s.stream.to_string(),
            version: s.version.get(),
            state: s.state,
        }
    }
}
