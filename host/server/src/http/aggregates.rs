//! `POST /v1/aggregates/{name}/{id}/commands` and `GET /v1/aggregates/{name}/{id}` (the state
//! now, or at a version).

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use cairn_runtime::{AggregateState, Command, CommandOutcome, ModuleChoice};
use cairn_store::{CommandType, IdempotencyKey, Json as JsonText, RecordedEvent, Version};
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
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct CommandQuery {
    /// The aggregate must be at exactly this version, or the command is a 409.
    pub expected_version: Option<u64>,
}

/// Which state to read. A parameter it does not know (`?version=`, say) is refused rather than
/// ignored, so nobody reads a state they did not ask for.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct StateQuery {
    /// The state at this version (0: before any event) instead of the current one.
    pub at: Option<u64>,
    /// With `at`: `recorded` (the default) computes the state with the module version that
    /// wrote the event at `at`, `current` with the installed one.
    #[param(value_type = Option<String>)]
    pub module: Option<ModuleParam>,
}

/// Which module version computes a past state: `?module=recorded|current`.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum ModuleParam {
    #[default]
    Recorded,
    Current,
}

impl From<ModuleParam> for ModuleChoice {
    fn from(param: ModuleParam) -> Self {
        match param {
            ModuleParam::Recorded => ModuleChoice::AsRecorded,
            ModuleParam::Current => ModuleChoice::Current,
        }
    }
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
        command_type: command_type(&request.command_type)?,
        data: request.data,
        expected_version: query.expected_version.map(Version::new),
        idempotency_key,
    };
    let started = std::time::Instant::now();
    let outcome = state.command_path.execute(&name, &id, command).await;
    telemetry::commanded(&name, &outcome, started.elapsed());
    if matches!(
        outcome,
        Ok(_) | Err(cairn_runtime::CommandError::Rejected(_))
    ) {
        state.stats.command_decided();
    }
    match outcome {
        Ok(outcome) => Ok(Json(CommandReply::from(outcome))),
        Err(cairn_runtime::CommandError::UnknownModule(_)) => Err(not_an_aggregate(&state, &name)),
        Err(error) => Err(error.into()),
    }
}

/// The command's type, or a 400 saying what is wrong with it.
pub(super) fn command_type(text: &str) -> Result<CommandType, ApiError> {
    CommandType::new(text).map_err(|e| {
        ApiError::bad_request(
            "invalid_command_type",
            format!("the command's type {e}; it names one of the module's commands"),
        )
    })
}

/// Reads an aggregate's current state, or its state at a version.
#[utoipa::path(
    get,
    path = "/v1/aggregates/{name}/{id}",
    params(
        ("name" = String, Path, description = "The aggregate module"),
        ("id" = String, Path, description = "The aggregate's id"),
        StateQuery,
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
    QueryParams(query): QueryParams<StateQuery>,
) -> Result<Json<StateReply>, ApiError> {
    let Some(at) = query.at else {
        if query.module.is_some() {
            return Err(ApiError::bad_request(
                "invalid_query",
                "`module` chooses the module version of a past state: give `at` with it",
            ));
        }
        let result = state.command_path.state(&name, &id).await;
        return Ok(Json(StateReply::from(result?)));
    };
    let choice = query.module.unwrap_or_default().into();
    let past = state
        .command_path
        .state_at(&name, &id, Version::new(at), choice)
        .await?;
    match past {
        Some(past) => Ok(Json(StateReply::from(past))),
        None => {
            let now = state.command_path.version(&name, &id).await?;
            Err(ApiError::bad_request(
                "invalid_query",
                format!(
                    "the aggregate is at version {now}; `at` goes from 0 (before its first \
                     event) to {now}, not {at}"
                ),
            ))
        }
    }
}

/// The 404 for a command to `name`, which names no aggregate: what it is if it is a
/// projection, and the aggregate it most likely meant.
fn not_an_aggregate(state: &AppState, name: &str) -> ApiError {
    let registry = state.command_path.registry();
    let aggregates: Vec<String> = registry
        .list()
        .into_iter()
        .filter(|m| m.kind == cairn_runtime::ModuleKind::Aggregate)
        .map(|m| m.name.to_string())
        .collect();
    let mut message = if registry.kind_of(name) == Some(cairn_runtime::ModuleKind::Projection) {
        format!(
            "'{name}' is a projection, not an aggregate: it takes queries \
             (POST /v1/projections/{name}/query), not commands"
        )
    } else if registry.kind_of(name) == Some(cairn_runtime::ModuleKind::Upcaster) {
        format!(
            "'{name}' is an upcaster, not an aggregate: it reads old events as new ones, and \
             takes no commands"
        )
    } else {
        format!("no aggregate module is named '{name}'")
    };
    match closest(name, &aggregates) {
        Some(near) => message.push_str(&format!("; did you mean the aggregate '{near}'?")),
        None if aggregates.is_empty() => message.push_str("; no aggregate is loaded"),
        None => message.push_str(&format!("; the aggregates are {}", aggregates.join(", "))),
    }
    ApiError::not_found("unknown_module", message)
}

/// The name in `names` nearest to `name`, if one is near enough to be a slip: within a third
/// of its length in edits, after `-` is read as `_` (module names use `_`).
fn closest<'a>(name: &str, names: &'a [String]) -> Option<&'a str> {
    let name = name.replace('-', "_");
    names
        .iter()
        .map(|candidate| (strsim::levenshtein(&name, candidate), candidate))
        .filter(|(distance, _)| *distance <= name.len().div_ceil(3))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate.as_str())
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
