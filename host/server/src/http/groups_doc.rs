//! The schemas of the consumer groups' JSON, for the API description only: the types
//! themselves live in cairn-groups, which knows nothing of OpenAPI.

#![allow(dead_code)]

use crate::http::openapi::EventDoc;

/// Any JSON object.
type Object = std::collections::BTreeMap<String, serde_json::Value>;

/// A group to make: its name and its config. Every field but `name` has a default.
#[derive(utoipa::ToSchema)]
#[schema(as = CreateGroup)]
pub(crate) struct CreateGroupDoc {
    /// 1 to 64 bytes: lowercase letters, digits, `_`, `-`, `.`.
    name: String,
    /// `{"categories": [...], "types": [...]}`; empty lists take everything.
    filter: Option<Object>,
    /// `"begin"` (the default), `"end"`, `{"position": P}` or `{"time": ms}`.
    start: Option<serde_json::Value>,
    /// `"stream"` (the default), `"category"` or `{"metadata": "field"}`.
    partition_key: Option<serde_json::Value>,
    /// How long a delivery may go unacknowledged (default 30,000).
    ack_timeout_ms: Option<u64>,
    /// Retries before `on_exhausted` applies (default 5).
    max_retries: Option<u32>,
    /// `park` (the default), `skip` or `stop`.
    on_exhausted: Option<String>,
    /// The first wait before a retry, doubling each time (default 200).
    retry_backoff_ms: Option<u64>,
    /// The longest wait before a retry (default 10,000).
    max_backoff_ms: Option<u64>,
    /// The most unacknowledged deliveries per member (default 1,000).
    max_in_flight: Option<u32>,
    /// A polling member that has not polled for this long has left (default 30,000).
    member_timeout_ms: Option<u64>,
}

/// What making a group did.
#[derive(utoipa::ToSchema)]
#[schema(as = GroupCreated)]
pub(crate) struct CreatedDoc {
    name: String,
    /// False when a group of this name and config was there already.
    created: bool,
    /// The position the group starts after.
    start_after: u64,
}

/// One event delivered to one member.
#[derive(utoipa::ToSchema)]
#[schema(as = Delivery)]
pub(crate) struct DeliveryDoc {
    /// The id to acknowledge it by.
    delivery: String,
    /// 1 the first time the event is delivered, more each time after.
    attempt: u32,
    /// The partition key: one event of a key is in flight at a time, in log order.
    key: String,
    /// Whether it is a parked event delivered again by a replay.
    replayed: bool,
    /// The event, as stored: its `id` and `position` let a consumer deduplicate.
    event: EventDoc,
}

/// A member of a group.
#[derive(utoipa::ToSchema)]
#[schema(as = GroupMember)]
pub(crate) struct MemberDoc {
    member: String,
    /// `poll` or `stream`.
    kind: String,
    in_flight: u32,
    /// Events of its keys ready for it.
    ready: u64,
}

/// Where a group is.
#[derive(utoipa::ToSchema)]
#[schema(as = GroupStatus)]
pub(crate) struct GroupStatusDoc {
    name: String,
    /// Its config, with the defaults filled in.
    config: Object,
    /// `catching_up`, `live` or `stopped`.
    state: String,
    /// When stopped: the `position`, the `reason` and `at` (ms).
    stopped: Option<Object>,
    /// The position before its lowest unacknowledged event.
    checkpoint: u64,
    /// The last position read.
    read_to: u64,
    head: u64,
    /// Positions between the checkpoint and the head.
    lag: u64,
    in_flight: u64,
    /// Events read and not yet settled.
    waiting: u64,
    parked: u64,
    /// How long the oldest parked event has been parked, in ms.
    oldest_parked_age_ms: Option<u64>,
    members: Vec<MemberDoc>,
    /// Since its task started: `delivered`, `acked`, `retried`, `parked`, `skipped`, `expired`.
    counts: Object,
    /// True when the head moved and the checkpoint did not, for 30 seconds.
    stalled: bool,
}

/// An event a group parked.
#[derive(utoipa::ToSchema)]
#[schema(as = GroupParkedEvent)]
pub(crate) struct ParkedGroupEventDoc {
    position: u64,
    event_id: String,
    stream: String,
    event_type: String,
    key: String,
    /// `nacked`, `exhausted`, or `behind` an earlier parked event of its key.
    reason: String,
    attempts: u32,
    last_error: Option<String>,
    first_parked_at: u64,
    parked_at: u64,
    /// Whether a replay released it and it waits to be delivered.
    released: bool,
}

/// A sink to make: its name, one target, and the settings of the group it runs.
#[derive(utoipa::ToSchema)]
#[schema(as = SinkConfig)]
pub(crate) struct SinkConfigDoc {
    /// 1 to 58 bytes: lowercase letters, digits, `_`, `-`, `.`.
    name: String,
    /// `{"brokers": "host:port", "topic": "...", "value": "event" or "data", "producer": {librdkafka settings}}`.
    kafka: Option<Object>,
    /// `{"url": "http://...", "timeout_ms": 10000, "headers": {...}}`.
    webhook: Option<Object>,
    /// `{"categories": [...], "types": [...]}`.
    filter: Option<Object>,
    /// `"begin"` (the default), `"end"`, `{"position": P}` or `{"time": ms}`.
    start: Option<serde_json::Value>,
    /// `"stream"` (the default), `"category"` or `{"metadata": "field"}`: the Kafka key, and
    /// what order is kept by.
    partition_key: Option<serde_json::Value>,
    /// Retries of an event the target refuses (default 5).
    max_retries: Option<u32>,
    /// `park` (the default), `skip` or `stop`.
    on_exhausted: Option<String>,
}

/// What making a sink did.
#[derive(utoipa::ToSchema)]
#[schema(as = SinkCreated)]
pub(crate) struct SinkCreatedDoc {
    name: String,
    created: bool,
    /// The group it runs: its parked events are under `/v1/groups/{group}/parked`.
    group: String,
}

/// Where a sink is.
#[derive(utoipa::ToSchema)]
#[schema(as = SinkStatus)]
pub(crate) struct SinkStatusDoc {
    name: String,
    /// `kafka` or `webhook`.
    kind: String,
    config: Object,
    /// `starting`, `running` or `waiting` (its target is down or has not answered for 5 s).
    state: String,
    /// Since when it has been waiting, in ms since the Unix epoch.
    waiting_since: Option<u64>,
    last_error: Option<String>,
    /// Events the target took since the node started.
    published: u64,
    /// Events the target refused (retried by the group, then parked by its policy).
    refused: u64,
    group: GroupStatusDoc,
}
