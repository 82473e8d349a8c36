//! The order of one stream's events behind a parked one (invariant 7 of `ledger.rs`): which
//! streams of a batch have parked events, the rows that park a batch's events behind them, and
//! the chains a retry takes parked events in.

use std::collections::{BTreeMap, BTreeSet};

use cairn_store::{ModelRead, ModelWrite, RecordedEvent, StorageError};

use crate::reactors::ledger::{self, ParkedEvent, ParkedStep};

/// The streams of `events` with parked events, each with how many.
pub(crate) fn waiting_streams(
    view: &dyn ModelRead,
    events: &[RecordedEvent],
) -> Result<BTreeMap<String, u64>, StorageError> {
    let mut waiting = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for event in events {
        let stream = event.stream.as_str();
        if seen.insert(stream) {
            let count = ledger::waiting(view, stream)?;
            if count > 0 {
                waiting.insert(stream.to_owned(), count);
            }
        }
    }
    Ok(waiting)
}

/// Parked events in their streams' chains: each stream's in position order, the chains in the
/// order of their first events. A row written before streams were kept is a chain alone.
pub(crate) fn chains(parked: Vec<ParkedEvent>) -> Vec<Vec<ParkedEvent>> {
    let mut by_stream: BTreeMap<(String, u64), Vec<ParkedEvent>> = BTreeMap::new();
    for entry in parked {
        let alone = if entry.stream.is_empty() {
            entry.position
        } else {
            0
        };
        by_stream
            .entry((entry.stream.clone(), alone))
            .or_default()
            .push(entry);
    }
    let mut chains: Vec<Vec<ParkedEvent>> = by_stream.into_values().collect();
    for chain in &mut chains {
        chain.sort_by_key(|e| e.position);
    }
    chains.sort_by_key(|chain| chain[0].position);
    chains
}

/// The writes that set each stream's `w` row to the number of its `p` rows, where they differ.
pub(crate) fn recount(view: &dyn ModelRead) -> Result<Vec<ModelWrite>, StorageError> {
    let mut counted: BTreeMap<String, u64> = BTreeMap::new();
    for (_, entry) in ledger::rows::<ParkedEvent>(view, ledger::PARKED)? {
        if !entry.stream.is_empty() {
            *counted.entry(entry.stream).or_default() += 1;
        }
    }
    let mut kept: BTreeMap<String, u64> = BTreeMap::new();
    for (key, value) in ledger::entries(view, ledger::WAITING)? {
        let stream = String::from_utf8_lossy(&key[1..]).into_owned();
        kept.insert(stream, ledger::decode(&value)?);
    }
    let mut writes = Vec::new();
    for (stream, count) in &counted {
        if kept.get(stream) != Some(count) {
            writes.extend(ledger::waiting_write(stream, *count));
        }
    }
    for stream in kept.keys().filter(|s| !counted.contains_key(*s)) {
        writes.extend(ledger::waiting_write(stream, 0));
    }
    Ok(writes)
}

/// The writes that park `events` behind the parked events of their streams, which had
/// `waiting` parked (by stream).
pub(crate) fn park_behind(
    events: &[RecordedEvent],
    waiting: &BTreeMap<String, u64>,
) -> Result<Vec<ModelWrite>, StorageError> {
    let entries: Vec<ParkedEvent> = events
        .iter()
        .map(|event| {
            let why = format!(
                "it waits behind an earlier parked event of stream {}",
                event.stream
            );
            ParkedEvent::new(event, ParkedStep::Behind, 0, why)
        })
        .collect();
    ledger::park(&entries, |stream| {
        Ok(waiting.get(stream).copied().unwrap_or(0))
    })
}

#[cfg(test)]
mod tests {
    use cairn_store::{EventId, EventType, Json, Position, StreamId, Timestamp, Version};

    use super::*;
    use crate::projections::model_overlay::tests::Committed;

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

    fn apply(model: &mut Committed, writes: Vec<ModelWrite>) {
        for write in writes {
            match write {
                ModelWrite::Put { key, value } => model.0.insert(key, value),
                ModelWrite::Delete { key } => model.0.remove(&key),
            };
        }
    }

    #[test]
    fn a_streams_count_follows_its_parked_rows_and_is_gone_at_zero() {
        let mut model = Committed(BTreeMap::new());
        let first = ParkedEvent::new(&event("a-1", 3), ParkedStep::React, 2, "trap".into());
        apply(
            &mut model,
            ledger::park(&[first], |_| Ok(0)).expect("parks"),
        );

        let batch = [event("a-1", 5), event("b-1", 6), event("a-1", 7)];
        let waiting = waiting_streams(&model, &batch).expect("reads");
        assert_eq!(waiting, BTreeMap::from([("a-1".to_owned(), 1)]));
        let behind: Vec<RecordedEvent> = batch
            .iter()
            .filter(|e| waiting.contains_key(e.stream.as_str()))
            .cloned()
            .collect();
        apply(&mut model, park_behind(&behind, &waiting).expect("parks"));
        assert_eq!(ledger::waiting(&model, "a-1").expect("reads"), 3);
        assert_eq!(ledger::waiting(&model, "b-1").expect("reads"), 0);

        let parked: Vec<ParkedEvent> = ledger::rows(&model, ledger::PARKED)
            .expect("reads")
            .into_iter()
            .map(|(_, entry)| entry)
            .collect();
        let steps: Vec<(u64, ParkedStep)> = parked
            .iter()
            .map(|p| (p.position, p.step.clone()))
            .collect();
        assert_eq!(
            steps,
            [
                (3, ParkedStep::React),
                (5, ParkedStep::Behind),
                (7, ParkedStep::Behind)
            ]
        );

        apply(
            &mut model,
            ledger::let_go(&[&parked[0]], |_| Ok(3)).expect("lets go"),
        );
        assert_eq!(ledger::waiting(&model, "a-1").expect("reads"), 2);
        apply(
            &mut model,
            ledger::let_go(&[&parked[1], &parked[2]], |_| Ok(2)).expect("lets go"),
        );
        assert_eq!(ledger::waiting(&model, "a-1").expect("reads"), 0);
        assert!(model.0.is_empty(), "no row is left: {:?}", model.0.keys());
    }

    #[test]
    fn a_recount_sets_each_streams_count_to_its_parked_rows() {
        let mut model = Committed(BTreeMap::new());
        let parked = |stream: &str, position| {
            ParkedEvent::new(
                &event(stream, position),
                ParkedStep::React,
                1,
                "trap".into(),
            )
        };
        // Rows written before streams were counted, and a stray count.
        for entry in [parked("a-1", 3), parked("a-1", 4), parked("b-1", 5)] {
            apply(&mut model, vec![ledger::put_parked(&entry)]);
        }
        apply(
            &mut model,
            ledger::waiting_write("b-1", 7).into_iter().collect(),
        );
        apply(
            &mut model,
            ledger::waiting_write("gone-1", 2).into_iter().collect(),
        );
        let writes = recount(&model).expect("reads");
        apply(&mut model, writes);
        let counts: Vec<u64> = ["a-1", "b-1", "gone-1"]
            .iter()
            .map(|s| ledger::waiting(&model, s).expect("reads"))
            .collect();
        assert_eq!(counts, [2, 1, 0]);
        assert!(
            recount(&model).expect("reads").is_empty(),
            "nothing left to set"
        );
    }

    #[test]
    fn chains_take_each_streams_events_in_order_and_the_streams_by_their_first() {
        let entry = |stream: &str, position| {
            let mut entry =
                ParkedEvent::new(&event("any-1", position), ParkedStep::Behind, 0, "".into());
            entry.stream = stream.to_owned();
            entry
        };
        let parked = vec![
            entry("a-1", 9),
            entry("b-1", 3),
            entry("a-1", 4),
            entry("", 1),
            entry("", 2),
        ];
        let chains: Vec<Vec<(String, u64)>> = chains(parked)
            .into_iter()
            .map(|chain| chain.into_iter().map(|e| (e.stream, e.position)).collect())
            .collect();
        let at = |stream: &str, position| (stream.to_owned(), position);
        assert_eq!(
            chains,
            [
                vec![at("", 1)],
                vec![at("", 2)],
                vec![at("b-1", 3)],
                vec![at("a-1", 4), at("a-1", 9)],
            ]
        );
    }
}
