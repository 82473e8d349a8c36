//! [`GroupStatus`]: where a group is, as `GET /v1/groups/{name}` shows it.

use serde::Serialize;

use crate::config::GroupConfig;
use crate::dispatch::Counts;
use crate::dispatch::members::MemberStatus;
use crate::name::GroupName;
use crate::rows::Stopped;

#[derive(Clone, Debug, Serialize)]
pub struct GroupStatus {
    pub name: GroupName,
    pub config: GroupConfig,
    /// `live` (its checkpoint at the head), `catching_up`, or `stopped`.
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<Stopped>,
    /// The position before the lowest unacknowledged event.
    pub checkpoint: u64,
    /// The last position read into the window.
    pub read_to: u64,
    pub head: u64,
    /// Events of the log past the checkpoint.
    pub lag: u64,
    /// Deliveries out to members, not yet acknowledged.
    pub in_flight: usize,
    /// Events read and not yet settled, in flight or not.
    pub waiting: usize,
    pub parked: u64,
    /// How long the oldest parked event has been parked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_parked_age_ms: Option<u64>,
    pub members: Vec<MemberStatus>,
    /// What the group did since its task started.
    pub counts: Counts,
    /// The head moved and the checkpoint did not, for 30 seconds.
    pub stalled: bool,
}
