//! `GET /openapi.json`: the API description, generated from the handlers' annotations.
//!
//! The error responses come from the error table (`route_errors/`), so every status a route can
//! answer is declared on it.
//!
//! The store's reply types (events, stream pages, log pages) live in cairn-store, which knows
//! nothing of OpenAPI; the schemas below describe their JSON for the document only.

use axum::Json;
use utoipa::OpenApi;

use crate::http::route_errors::DeclareErrors;
use crate::http::{
    aggregates, all, backup, commands, error, groups, groups_doc, history, modules, ops, plan,
    projections, reactors, sinks, stats, stream_list, streams, subscribe,
};

/// The API description.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "cairn", description = "An event store and a runtime for event-sourced domain logic."),
    paths(
        streams::append, streams::read, stream_list::list, all::read, subscribe::subscribe,
        modules::upload, modules::list, modules::get, modules::remove, plan::plan,
        aggregates::command, aggregates::state, history::history, commands::read,
        projections::list, projections::status, projections::query,
        projections::pause, projections::resume, projections::reset,
        reactors::list, reactors::status, reactors::parked, reactors::retry,
        reactors::retry_all, reactors::discard, reactors::reset,
        groups::create, groups::list, groups::status, groups::delete, groups::poll,
        groups::deliveries, groups::ack, groups::nack, groups::leave, groups::parked,
        groups::replay, groups::discard, groups::reset, groups::resume,
        sinks::create, sinks::list, sinks::status, sinks::delete,
        stats::stats, stats::subscribe, backup::backup, ops::healthz, ops::metrics, openapi_json,
    ),
    components(schemas(error::ErrorBody, EventDoc, StreamPage, StreamListDoc, ListedStreamDoc, LogPage, ProjectionStatusDoc, ReactorStatusDoc, ParkedEventDoc, groups_doc::GroupStatusDoc, groups_doc::DeliveryDoc, groups_doc::ParkedGroupEventDoc, groups_doc::CreateGroupDoc, groups_doc::CreatedDoc, groups_doc::MemberDoc, groups_doc::SinkConfigDoc, groups_doc::SinkCreatedDoc, groups_doc::SinkStatusDoc)),
    modifiers(&BearerAuth, &DeclareErrors),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    responses((status = 200, description = "This API's OpenAPI 3.1 description", content_type = "application/json", body = Object)),
    tag = "operations"
)]
pub(super) async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// A stored event.
#[derive(utoipa::ToSchema)]
#[schema(as = Event)]
#[allow(dead_code)]
pub(crate) struct EventDoc {
    /// Its id (a UUID).
    id: String,
    /// The stream it belongs to.
    stream: String,
    /// Its version in the stream, from 1.
    version: u64,
    /// Its position in the global log, from 1.
    position: u64,
    /// Its type name.
    #[schema(rename = "type")]
    event_type: String,
    /// Its payload.
    data: Object,
    /// Its metadata. Events a command appended carry `command_id`, `module`, `module_hash` and
    /// `command_time`.
    metadata: Object,
    /// When it was stored, in milliseconds since the Unix epoch.
    recorded_at: u64,
    /// The type it was stored as, when an upcaster gave it (absent in raw reads and on events
    /// no upcaster reads). An upcast event keeps its stored event's version and position (and
    /// the first of several its id; the others have ids derived from it).
    upcast_from: Option<String>,
}

/// Any JSON object.
type Object = std::collections::BTreeMap<String, serde_json::Value>;

/// Part of a stream.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(super) struct StreamPage {
    stream: String,
    /// The stream's version when it was read (0 if it does not exist).
    version: u64,
    events: Vec<EventDoc>,
    /// Present and true when the page stopped at the read's byte budget (4 MiB of event
    /// bytes) before `limit`: read on from the version after (before, backward) the last
    /// event.
    truncated: Option<bool>,
    /// The last stored version the page covers (absent when it covers none). Upcasters may
    /// serve more or fewer events than were stored: read on from the version after this one.
    read_to: Option<u64>,
}

/// A page of streams listed by name.
#[derive(utoipa::ToSchema)]
#[schema(as = StreamList)]
#[allow(dead_code)]
pub(super) struct StreamListDoc {
    /// The streams, ascending by name (descending when read `before` a name).
    streams: Vec<ListedStreamDoc>,
    /// Whether more streams of the prefix follow the last one, in the order read: page on
    /// with `after` (or `before`) its name.
    more: bool,
}

/// A stream of a listing.
#[derive(utoipa::ToSchema)]
#[schema(as = ListedStream)]
#[allow(dead_code)]
pub(super) struct ListedStreamDoc {
    /// Its name.
    stream: String,
    /// Its version: how many events it holds.
    version: u64,
}

/// Part of the global log.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(super) struct LogPage {
    events: Vec<EventDoc>,
    /// The last position examined: the next page starts after it.
    scanned_to: u64,
    /// The newest position when the page was read.
    head: u64,
    /// Present and true when the page stopped at the read's byte budget (4 MiB of event
    /// bytes) before `limit`; `scanned_to` is then its last event.
    truncated: Option<bool>,
}

/// A projection's status.
#[derive(utoipa::ToSchema)]
#[schema(as = ProjectionStatus)]
#[allow(dead_code)]
pub(crate) struct ProjectionStatusDoc {
    name: String,
    /// The module version whose read model serves queries.
    version: u64,
    /// The read model's generation: each new version and each reset starts the next.
    generation: u64,
    /// That read model's name, `{name}#g{generation}`.
    model: String,
    /// `catching_up`, `live`, `faulted` or `paused`.
    state: String,
    /// The position the read model reflects.
    position: u64,
    /// The newest position when the runner last looked.
    head: u64,
    lag_events: u64,
    /// How old the last event reflected is, while catching up.
    lag_ms: u64,
    events_per_s: f64,
    /// When faulted: `error`, `position` and `event_type`.
    fault: Option<Object>,
    /// A generation being built beside this one (a new version or a reset), with the same
    /// fields but `name`; it takes over when it has caught up.
    rebuilding: Option<Object>,
}

/// A reactor's status.
#[derive(utoipa::ToSchema)]
#[schema(as = ReactorStatus)]
#[allow(dead_code)]
pub(crate) struct ReactorStatusDoc {
    name: String,
    /// The module version running.
    version: u64,
    /// `catching_up`, `live`, `faulted` or `stopped`.
    state: String,
    /// When faulted: the `position` of the event it stopped at, and the `error`.
    fault: Option<Object>,
    /// The position of the last event reacted to, parked or skipped.
    position: u64,
    /// The newest position when the status was taken.
    head: u64,
    /// Positions between the checkpoint and the head.
    lag: u64,
    /// Parked events.
    parked: u64,
    intents_issued: u64,
    intents_executed: u64,
    /// Events skipped under `on_failure = "skip"`.
    skipped: u64,
    /// Why the last failure happened.
    last_error: Option<String>,
    /// The head moved past the checkpoint and the checkpoint did not move for longer than
    /// `[reactors] stall_after_ms`.
    stalled: bool,
}

/// An event a reactor gave up on, under `on_failure = "park"`.
#[derive(utoipa::ToSchema)]
#[schema(as = ParkedEvent)]
#[allow(dead_code)]
pub(crate) struct ParkedEventDoc {
    position: u64,
    event_id: String,
    stream: String,
    /// Empty for an event parked because its commands failed for the host.
    event_type: String,
    /// What its order is kept by: its stream.
    key: String,
    /// `exhausted` (`react` failed on it, or its commands failed for the host, which are then
    /// under `intents`) or `behind` (an earlier event of its stream is parked, and it waits
    /// behind it: a retry of that one takes it after).
    reason: String,
    /// The commands a retry executes again, under their keys; absent when a retry reacts to the
    /// event again.
    intents: Option<Vec<Object>>,
    /// How many times it was tried.
    attempts: u32,
    last_error: Option<String>,
    /// When it was first parked, in ms since the Unix epoch.
    first_parked_at: u64,
    /// When it was last parked.
    parked_at: u64,
}
