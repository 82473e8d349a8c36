//! Helpers shared by the store's integration tests.
#![allow(dead_code, unreachable_pub)]

use cairn_store::{
    AppendKind, AppendOutcome, EventId, EventType, Json, NewEvent, RedbOptions, RedbStore, StreamId,
};

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

/// `outcome` as a retry of its append gets it: the same, recognised rather than written.
pub fn recognised(outcome: &AppendOutcome) -> AppendOutcome {
    assert_eq!(
        outcome.kind,
        AppendKind::Written,
        "the original append wrote"
    );
    AppendOutcome {
        kind: AppendKind::Recognised,
        ..outcome.clone()
    }
}

/// Asserts that of the outcomes of racing copies of one append, exactly one wrote and every
/// other recognised it: the same outcome, recognised.
pub fn assert_one_written(outcomes: &[AppendOutcome]) {
    let written: Vec<_> = outcomes
        .iter()
        .filter(|outcome| outcome.kind == AppendKind::Written)
        .collect();
    assert_eq!(written.len(), 1, "one copy wrote: {outcomes:?}");
    let recognised = recognised(written[0]);
    assert!(
        outcomes
            .iter()
            .all(|outcome| outcome == written[0] || *outcome == recognised),
        "the others were recognised: {outcomes:?}"
    );
}

pub async fn open(dir: &std::path::Path) -> RedbStore {
    RedbStore::open(dir, RedbOptions::default())
        .await
        .expect("store opens")
}
