//! The order of one stream's events behind a parked one (invariant 7 of `ledger.rs`): which
//! streams of a batch have parked events, and the rows that park a batch's events behind them.
//! The rows are the parked ledger of [`cairn_groups::parked`], keyed by stream.

use std::collections::BTreeSet;

use cairn_groups::{ParkReason, parked};
use cairn_store::{ModelRead, ModelWrite, RecordedEvent, StorageError};

use crate::reactors::ledger::ParkedEvent;

/// The streams of `events` with parked events.
pub(crate) fn parked_streams(
    view: &dyn ModelRead,
    events: &[RecordedEvent],
) -> Result<BTreeSet<String>, StorageError> {
    let mut parked_streams = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for event in events {
        let stream = event.stream.as_str();
        if seen.insert(stream) && parked::first_of_key(view, stream)?.is_some() {
            parked_streams.insert(stream.to_owned());
        }
    }
    Ok(parked_streams)
}

/// `event`, parked under its stream for `reason` after `attempts` tries.
pub(crate) fn parked_event(
    event: &RecordedEvent,
    reason: ParkReason,
    attempts: u32,
    last_error: Option<String>,
) -> ParkedEvent {
    let now = cairn_store::Timestamp::now().as_millis();
    ParkedEvent::new(
        event,
        event.stream.as_str(),
        reason,
        attempts,
        last_error,
        now,
    )
}

/// The writes that park `events` behind the parked events of their streams.
pub(crate) fn park_behind(events: &[RecordedEvent]) -> Vec<ModelWrite> {
    events
        .iter()
        .flat_map(|event| parked::park(&parked_event(event, ParkReason::Behind, 0, None)))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use cairn_store::{EventId, EventType, Json, Position, StreamId, Timestamp, Version};

    use super::*;
    use cairn_store::ModelRows;

    fn event(stream: &str, position: u64) -> RecordedEvent {
        RecordedEvent {
            id: EventId::new(),
            stream: StreamId::new(stream).expect("a stream"),
            version: Version::new(1),
            position: Position::new(position),
            event_type: EventType::new("Happened").expect("a type"),
            data: Json::parse("{}").expect("json"),
            metadata: Json::parse("{}").expect("json"),
            recorded_at: Timestamp::now(),
        }
    }

    #[test]
    fn a_streams_later_events_park_behind_its_first_and_go_with_their_rows() {
        let mut model = ModelRows(BTreeMap::new());
        let first = parked_event(
            &event("a-1", 3),
            ParkReason::Exhausted,
            2,
            Some("trap".into()),
        );
        model.apply(parked::park(&first));

        let batch = [event("a-1", 5), event("b-1", 6), event("a-1", 7)];
        let waiting = parked_streams(&model, &batch).expect("reads");
        assert_eq!(waiting, BTreeSet::from(["a-1".to_owned()]));
        let behind: Vec<RecordedEvent> = batch
            .iter()
            .filter(|e| waiting.contains(e.stream.as_str()))
            .cloned()
            .collect();
        model.apply(park_behind(&behind));
        assert_eq!(
            parked::positions_of_key(&model, "a-1", None, 10).expect("reads"),
            [3, 5, 7]
        );
        assert_eq!(parked::first_of_key(&model, "b-1").expect("reads"), None);
        let reasons: Vec<(u64, ParkReason)> =
            parked::page::<crate::reactors::ledger::HeldIntents>(&model, 0, 10)
                .expect("reads")
                .iter()
                .map(|p| (p.position, p.reason))
                .collect();
        assert_eq!(
            reasons,
            [
                (3, ParkReason::Exhausted),
                (5, ParkReason::Behind),
                (7, ParkReason::Behind)
            ]
        );

        for position in [3, 5, 7] {
            model.apply(parked::let_go("a-1", position));
        }
        assert!(model.0.is_empty(), "no row is left: {:?}", model.0.keys());
    }
}
