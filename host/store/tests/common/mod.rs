//! Helpers shared by the integration tests of the redb backend itself: its file format and
//! migrations, damaged files, opening and closing, record decoding and name validation.
//!
//! What every backend must do (appends, races, idempotency, reads, byte budgets, snapshots,
//! modules, read models, durability across reopening, failing storage, and the model test) is
//! tested by the contract suite in `host/store-contract`, which `host/store-contract/tests/redb.rs`
//! runs on [`RedbStore`].
#![allow(dead_code, unreachable_pub)]

use cairn_store::{EventId, EventType, Json, NewEvent, RedbOptions, RedbStore, StreamId};

pub fn stream(name: &str) -> StreamId {
    StreamId::new(name).expect("test stream names are valid")
}

pub fn event(event_type: &str, data: &str) -> NewEvent {
    NewEvent::new(
        EventType::new(event_type).expect("test event types are valid"),
        Json::parse(data).expect("test data is JSON"),
    )
}

pub fn event_with_id(id: u128, event_type: &str, data: &str) -> NewEvent {
    event(event_type, data).with_id(EventId::from(uuid::Uuid::from_u128(id)))
}

pub async fn open(dir: &std::path::Path) -> RedbStore {
    RedbStore::open(dir, RedbOptions::default())
        .await
        .expect("store opens")
}
