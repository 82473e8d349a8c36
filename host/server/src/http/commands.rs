//! `GET /v1/commands/{id}`: a command from the command log, what came of it, and the events it
//! appended. An event's provenance (`metadata.command_id`) names its command, so this answers
//! "which command made this event, and what else did it make?".

use axum::Json;
use axum::extract::State;
use cairn_store::{
    CommandEntry, CommandId, Json as JsonText, NothingAppended, RecordedEvent, Verdict,
};
use serde::Deserialize;

use crate::http::error::ApiError;
use crate::http::extract::{PathParams, QueryParams};
use crate::http::state::AppState;

/// A command read takes no query parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CommandQuery {}

/// Reads a command from the command log.
#[utoipa::path(
    get,
    path = "/v1/commands/{id}",
    params(("id" = String, Path, description = "The command's id (a UUID), as its events' `metadata.command_id` names it")),
    responses(
        (status = 200, description = "The command, its verdict, and the events it appended", body = CommandReply),
    ),
    tag = "aggregates"
)]
pub(super) async fn read(
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
    QueryParams(CommandQuery {}): QueryParams<CommandQuery>,
) -> Result<Json<CommandReply>, ApiError> {
    let id = command_id(&id)?;
    let entry = state.store.command(id).await?.ok_or_else(|| unknown(id))?;
    let events = match &entry.verdict {
        Verdict::Appended {
            first_version,
            last_version,
            ..
        } => {
            let stream = entry.command.stream.clone();
            state
                .store
                .read_versions(stream, *first_version, *last_version)
                .await?
        }
        Verdict::NothingAppended(_) => Vec::new(),
    };
    Ok(Json(CommandReply::new(entry, events)))
}

/// The id from the path, or a 400 naming what is wrong with it.
pub(super) fn command_id(text: &str) -> Result<CommandId, ApiError> {
    CommandId::parse(text).map_err(|e| {
        ApiError::bad_request(
            "invalid_command_id",
            format!("'{text}' is not a command id, which is a UUID: {e}"),
        )
    })
}

/// The 404 for an id the command log does not hold.
pub(super) fn unknown(id: CommandId) -> ApiError {
    ApiError::not_found(
        "unknown_command",
        format!(
            "the command log holds no command {id}: it was never sent, or it appended nothing \
             while the log kept only accepted commands (`[commands] log`)"
        ),
    )
}

/// A command from the log.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(super) struct CommandReply {
    /// Its id (a UUID).
    pub id: String,
    /// Its type name.
    #[serde(rename = "type")]
    pub command_type: String,
    /// Its payload.
    #[schema(value_type = Object)]
    pub data: JsonText,
    /// The `Idempotency-Key` it was sent with, if any.
    pub idempotency_key: Option<String>,
    /// Its time, in milliseconds since the Unix epoch: what the module's clock read.
    pub time: u64,
    /// The aggregate module it was sent to.
    pub aggregate: String,
    /// The aggregate's id.
    pub aggregate_id: String,
    /// The aggregate's stream, `{aggregate}-{aggregate_id}`.
    pub stream: String,
    /// The aggregate's version it was decided at.
    pub decided_at: u64,
    /// The hash of the module version that decided it.
    pub module_hash: String,
    /// `appended`, `unchanged` (accepted with no events), `rejected` or `invalid`.
    pub verdict: &'static str,
    /// The module's message, for a rejected or invalid command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The events it appended, in order (none unless `appended`).
    #[schema(value_type = Vec<crate::http::openapi::EventDoc>)]
    pub events: Vec<RecordedEvent>,
}

impl CommandReply {
    fn new(entry: CommandEntry, events: Vec<RecordedEvent>) -> Self {
        let command = entry.command;
        let (verdict, message) = match entry.verdict {
            Verdict::Appended { .. } => ("appended", None),
            Verdict::NothingAppended(NothingAppended::Unchanged) => ("unchanged", None),
            Verdict::NothingAppended(NothingAppended::Rejected { message }) => {
                ("rejected", Some(message))
            }
            Verdict::NothingAppended(NothingAppended::Invalid { message }) => {
                ("invalid", Some(message))
            }
        };
        Self {
            id: command.id.to_string(),
            command_type: command.command_type.to_string(),
            aggregate_id: command.aggregate_id().to_owned(),
            data: command.data,
            idempotency_key: command.idempotency_key.map(|key| key.to_string()),
            time: command.time.as_millis(),
            aggregate: command.aggregate.to_string(),
            stream: command.stream.to_string(),
            decided_at: command.decided_at.get(),
            module_hash: command.module_hash.to_string(),
            verdict,
            message,
            events,
        }
    }
}
