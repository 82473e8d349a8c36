//! Consumer groups over HTTP, so a consumer in any language needs no client library:
//! `POST /v1/groups` makes one; a member long-polls `POST /v1/groups/{name}/poll` or holds
//! `GET /v1/groups/{name}/deliveries` (SSE); it answers with `POST .../ack` and `POST .../nack`
//! by delivery id. Status, parked events (listed, replayed, discarded), reset, resume, leave
//! and delete complete it. The groups themselves are in cairn-groups.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use cairn_groups::{
    Created, Delivery, GroupError, GroupStatus, NackAction, NamedGroup, ParkedEntry, Selection,
    Start,
};
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;

use crate::http::error::ApiError;
use crate::http::extract::{JsonBody, PathParams, QueryParams};
use crate::http::parked_page::ParkedQuery;
use crate::http::state::AppState;

/// How long a poll waits for a first delivery when the body does not say.
const DEFAULT_WAIT: Duration = Duration::from_secs(10);
/// How many deliveries a poll returns at most when the body does not say.
const DEFAULT_MAX: usize = 100;

/// Every group's status.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct GroupList {
    #[schema(value_type = Vec<crate::http::groups_doc::GroupStatusDoc>)]
    groups: Vec<GroupStatus>,
}

/// A poll: who polls, how many deliveries at most, and how long to wait for the first.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PollBody {
    /// The member's id, chosen by the consumer; it joins on its first poll.
    member: String,
    /// The most deliveries to return (default 100, at most 10,000).
    max: Option<usize>,
    /// How long to wait for a first delivery, in ms (default 10,000, at most 60,000).
    wait_ms: Option<u64>,
}

/// Deliveries for a member.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Deliveries {
    #[schema(value_type = Vec<crate::http::groups_doc::DeliveryDoc>)]
    deliveries: Vec<Delivery>,
}

/// Deliveries to acknowledge.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AckBody {
    /// Delivery ids, as the deliveries gave them.
    deliveries: Vec<String>,
}

/// Deliveries to acknowledge negatively, and what to do with their events.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NackBody {
    deliveries: Vec<String>,
    /// `retry` (after a backoff), `park`, `skip` or `stop` (the group, until resumed).
    #[schema(value_type = String)]
    action: NackAction,
    /// Why, kept with a parked event as its last error.
    reason: Option<String>,
}

/// How many deliveries an acknowledgement settled.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Settled {
    settled: usize,
}

/// Which parked events: `positions`, the first `limit`, or `all`; exactly one of them.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SelectionBody {
    positions: Option<Vec<u64>>,
    limit: Option<u64>,
    all: Option<bool>,
}

impl SelectionBody {
    fn selection(self) -> Result<Selection, ApiError> {
        match (self.positions, self.limit, self.all) {
            (Some(positions), None, None) if !positions.is_empty() => {
                Ok(Selection::Positions(positions))
            }
            (None, Some(limit), None) if limit > 0 => Ok(Selection::First(limit)),
            (None, None, Some(true)) => Ok(Selection::All),
            _ => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                "give exactly one of `positions` (not empty), `limit` (above 0) or `all: true`",
            )),
        }
    }
}

/// How many parked events were replayed or discarded.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Counted {
    count: u64,
}

/// A page of parked events.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ParkedPage {
    #[schema(value_type = Vec<crate::http::groups_doc::ParkedGroupEventDoc>)]
    parked: Vec<ParkedEntry>,
}

/// Where a reset starts the group.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetBody {
    /// `"begin"`, `"end"`, `{"position": P}` or `{"time": ms}`.
    #[schema(value_type = Object)]
    start: Start,
}

/// Where the group starts after a reset.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ResetDone {
    start_after: u64,
}

/// Whether a resume found the group stopped.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Resumed {
    resumed: bool,
}

/// Who streams deliveries.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct StreamQuery {
    /// The member's id; it leaves when the stream closes.
    member: String,
}

/// Makes a group. The body is its config with its `name`.
#[utoipa::path(
    post,
    path = "/v1/groups",
    operation_id = "create_group",
    request_body(content = crate::http::groups_doc::CreateGroupDoc, description = "`name`, and the config: `filter` (`categories`, `types`), `start`, `partition_key`, `ack_timeout_ms`, `max_retries`, `on_exhausted`, `retry_backoff_ms`, `max_backoff_ms`, `max_in_flight`, `member_timeout_ms`"),
    responses(
        (status = 201, description = "Made; `start_after` is the position it starts after", body = crate::http::groups_doc::CreatedDoc),
        (status = 200, description = "A group of this name and config was there already", body = crate::http::groups_doc::CreatedDoc),
    ),
    tag = "groups"
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let serde_json::Value::Object(fields) = body else {
        return Err(invalid_body("the body is a JSON object"));
    };
    let NamedGroup { name, config } = NamedGroup::try_from(fields).map_err(|e| invalid_body(&e))?;
    let created = state.groups().create(&name, config).await?;
    let status = if created.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(created)))
}

fn invalid_body(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", message)
}

/// Every group and where it is.
#[utoipa::path(
    get,
    path = "/v1/groups",
    operation_id = "list_groups",
    responses((status = 200, description = "Every group's status", body = GroupList)),
    tag = "groups"
)]
pub(crate) async fn list(State(state): State<AppState>) -> Json<GroupList> {
    Json(GroupList {
        groups: state.groups().list().await,
    })
}

/// One group's status.
#[utoipa::path(
    get,
    path = "/v1/groups/{name}",
    operation_id = "group_status",
    params(("name" = String, Path, description = "The group")),
    responses((status = 200, description = "State, checkpoint, head, lag, in flight, parked (count and oldest age), members, counts, stall alarm", body = crate::http::groups_doc::GroupStatusDoc)),
    tag = "groups"
)]
pub(crate) async fn status(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
) -> Result<Json<GroupStatus>, ApiError> {
    Ok(Json(state.groups().status(&name).await?))
}

/// Removes a group, with its checkpoint and parked events.
#[utoipa::path(
    delete,
    path = "/v1/groups/{name}",
    operation_id = "delete_group",
    params(("name" = String, Path, description = "The group")),
    responses((status = 204, description = "Removed")),
    tag = "groups"
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    state.groups().delete(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Long-polls for deliveries. Returns at once when some are ready for the member, or after
/// `wait_ms` with none. A client that goes away while it waits makes the member leave, and
/// its deliveries in flight go to the others at once.
#[utoipa::path(
    post,
    path = "/v1/groups/{name}/poll",
    operation_id = "poll_group",
    params(("name" = String, Path, description = "The group")),
    request_body = PollBody,
    responses((status = 200, description = "Deliveries, each with its id, attempt, key, and the event (with its id and position)", body = Deliveries)),
    tag = "groups"
)]
pub(crate) async fn poll(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    JsonBody(body): JsonBody<PollBody>,
) -> Result<Json<Deliveries>, ApiError> {
    let wait = body.wait_ms.map_or(DEFAULT_WAIT, Duration::from_millis);
    let deliveries = state
        .groups()
        .poll(&name, &body.member, body.max.unwrap_or(DEFAULT_MAX), wait)
        .await?;
    Ok(Json(Deliveries { deliveries }))
}

/// Streams deliveries to a member as server-sent events, as many as the group's
/// `max_in_flight` allows unacknowledged. The member leaves when the stream closes.
#[utoipa::path(
    get,
    path = "/v1/groups/{name}/deliveries",
    operation_id = "stream_group",
    params(("name" = String, Path, description = "The group"), StreamQuery),
    responses((status = 200, description = "`text/event-stream`: one `delivery` event per delivery, `id:` its delivery id, `data:` the delivery as JSON", content_type = "text/event-stream", body = String)),
    tag = "groups"
)]
pub(crate) async fn deliveries(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    QueryParams(query): QueryParams<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let member = state.groups().stream(&name, &query.member).await?;
    let events = stream::unfold(member, |mut member| async move {
        let delivery = member.next().await?;
        Some((Ok(to_sse(&delivery)), member))
    })
    .take_until(state.shutting_down());
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn to_sse(delivery: &Delivery) -> Event {
    let data = serde_json::to_string(delivery).unwrap_or_else(|e| {
        tracing::error!(error = %e, "a delivery does not serialise");
        String::from("{}")
    });
    Event::default()
        .event("delivery")
        .id(delivery.id.to_string())
        .data(data)
}

/// Acknowledges deliveries, all or none; answers once that is durable.
#[utoipa::path(
    post,
    path = "/v1/groups/{name}/ack",
    operation_id = "ack_group",
    params(("name" = String, Path, description = "The group")),
    request_body = AckBody,
    responses((status = 200, description = "Acknowledged", body = Settled)),
    tag = "groups"
)]
pub(crate) async fn ack(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    JsonBody(body): JsonBody<AckBody>,
) -> Result<Json<Settled>, ApiError> {
    let settled = state.groups().ack(&name, &body.deliveries).await?;
    Ok(Json(Settled { settled }))
}

/// Acknowledges deliveries negatively, all or none: `retry` after a backoff (the group's
/// `on_exhausted` applies after `max_retries`), `park` with the key's later events behind it,
/// `skip`, or `stop` the group until it is resumed.
#[utoipa::path(
    post,
    path = "/v1/groups/{name}/nack",
    operation_id = "nack_group",
    params(("name" = String, Path, description = "The group")),
    request_body = NackBody,
    responses((status = 200, description = "Settled as asked", body = Settled)),
    tag = "groups"
)]
pub(crate) async fn nack(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    JsonBody(body): JsonBody<NackBody>,
) -> Result<Json<Settled>, ApiError> {
    let settled = state
        .groups()
        .nack(&name, &body.deliveries, body.action, body.reason)
        .await?;
    Ok(Json(Settled { settled }))
}

/// A member leaves now; its deliveries in flight go to the others.
#[utoipa::path(
    delete,
    path = "/v1/groups/{name}/members/{member}",
    operation_id = "leave_group",
    params(("name" = String, Path, description = "The group"), ("member" = String, Path, description = "The member")),
    responses((status = 204, description = "Left (or was not a member)")),
    tag = "groups"
)]
pub(crate) async fn leave(
    State(state): State<AppState>,
    PathParams((name, member)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.groups().leave(&name, &member)?;
    Ok(StatusCode::NO_CONTENT)
}

/// A page of the group's parked events, in log order.
#[utoipa::path(
    get,
    path = "/v1/groups/{name}/parked",
    operation_id = "group_parked",
    params(("name" = String, Path, description = "The group"), ParkedQuery),
    responses((status = 200, description = "Each parked event: position, event id, stream, type, key, reason (`nacked`, `exhausted`, or `behind` an earlier one of its key), attempts, last error, when, whether a replay released it", body = ParkedPage)),
    tag = "groups"
)]
pub(crate) async fn parked(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    QueryParams(query): QueryParams<ParkedQuery>,
) -> Result<Json<ParkedPage>, ApiError> {
    let (after, limit) = query.page()?;
    let parked = state.groups().parked(&name, after, limit).await?;
    Ok(Json(ParkedPage { parked }))
}

/// Replays parked events: each is delivered once more, in its key's order. A chosen event
/// that waits behind an unchosen one of its key is refused, naming it.
#[utoipa::path(
    post,
    path = "/v1/groups/{name}/parked/replay",
    operation_id = "replay_group_parked",
    params(("name" = String, Path, description = "The group")),
    request_body = SelectionBody,
    responses((status = 200, description = "How many were released", body = Counted)),
    tag = "groups"
)]
pub(crate) async fn replay(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    JsonBody(body): JsonBody<SelectionBody>,
) -> Result<Json<Counted>, ApiError> {
    let count = state.groups().replay(&name, body.selection()?).await?;
    Ok(Json(Counted { count }))
}

/// Discards parked events.
#[utoipa::path(
    post,
    path = "/v1/groups/{name}/parked/discard",
    operation_id = "discard_group_parked",
    params(("name" = String, Path, description = "The group")),
    request_body = SelectionBody,
    responses((status = 200, description = "How many were discarded", body = Counted)),
    tag = "groups"
)]
pub(crate) async fn discard(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    JsonBody(body): JsonBody<SelectionBody>,
) -> Result<Json<Counted>, ApiError> {
    let count = state.groups().discard(&name, body.selection()?).await?;
    Ok(Json(Counted { count }))
}

/// Starts the group again from a position or a time: its acknowledgements, parked events and
/// deliveries in flight are dropped; its members stay.
#[utoipa::path(
    post,
    path = "/v1/groups/{name}/reset",
    operation_id = "reset_group",
    params(("name" = String, Path, description = "The group")),
    request_body = ResetBody,
    responses((status = 200, description = "Where it starts now", body = ResetDone)),
    tag = "groups"
)]
pub(crate) async fn reset(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    JsonBody(body): JsonBody<ResetBody>,
) -> Result<Json<ResetDone>, ApiError> {
    let start_after = state.groups().reset(&name, &body.start).await?;
    Ok(Json(ResetDone { start_after }))
}

/// Resumes a group a member stopped; the event it stopped at is delivered again.
#[utoipa::path(
    post,
    path = "/v1/groups/{name}/resume",
    operation_id = "resume_group",
    params(("name" = String, Path, description = "The group")),
    responses((status = 200, description = "Whether it was stopped", body = Resumed)),
    tag = "groups"
)]
pub(crate) async fn resume(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
) -> Result<Json<Resumed>, ApiError> {
    let resumed = state.groups().resume(&name).await?;
    Ok(Json(Resumed { resumed }))
}

impl From<GroupError> for ApiError {
    fn from(error: GroupError) -> Self {
        let message = error.to_string();
        match error {
            GroupError::InvalidName(_) => ApiError::bad_request("invalid_group_name", message),
            GroupError::InvalidMember(_) => ApiError::bad_request("invalid_member", message),
            GroupError::InvalidDelivery(_) => ApiError::bad_request("invalid_delivery", message),
            GroupError::InvalidConfig(_) => ApiError::bad_request("invalid_group_config", message),
            GroupError::BadRequest(_) => ApiError::bad_request("invalid_request", message),
            GroupError::NotFound(_) => ApiError::not_found("unknown_group", message),
            GroupError::RunsElsewhere => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "runs_elsewhere", message)
            }
            GroupError::NotParked(_) => ApiError::not_found("not_parked", message),
            GroupError::Exists(_) => ApiError::new(StatusCode::CONFLICT, "group_exists", message),
            GroupError::UnknownDeliveries(_) => {
                ApiError::new(StatusCode::CONFLICT, "not_in_flight", message)
            }
            GroupError::Behind { .. } => {
                ApiError::new(StatusCode::CONFLICT, "parked_behind", message)
            }
            GroupError::Gone | GroupError::Failed(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "group_unavailable",
                message,
            ),
            GroupError::Storage(e) => e.into(),
            GroupError::Model(_) => {
                tracing::error!(%message, "a group's write was refused");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
            }
        }
    }
}
