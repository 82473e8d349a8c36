//! Reads are bounded by bytes as well as by count: a read of large events returns fewer of
//! them and says it was cut, never returns nothing when an event is there, and paging on from
//! where it ended returns every event exactly once.

use cairn_store::{
    AllRead, DEFAULT_READ_BYTES, EventLog, EventStore, EventType, ExpectedVersion, Json, NewEvent,
    Position, RecordedEvent, StreamId, StreamRead, Version, VersionsRead,
};

use crate::Backend;
use crate::fixtures;

const KIB: usize = 1024;

/// An event whose data is a JSON string of `bytes` bytes, its quotes included.
fn sized_event(event_type: &str, bytes: usize) -> NewEvent {
    NewEvent::new(
        EventType::new(event_type).expect("valid"),
        Json::from_value(&"x".repeat(bytes - 2)).expect("serialises"),
    )
}

/// What a read's budget counts of an event: its type, data and metadata.
fn bytes_of(event: &RecordedEvent) -> usize {
    event.event_type.as_str().len() + event.data.as_str().len() + event.metadata.as_str().len()
}

fn versions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.version.get()).collect()
}

/// Stream `big-1`: 12 events of 10 to 120 KiB (the sizes vary, so pages cut in different
/// places), in appends of 1, 2, 3, 4 and 2 events.
async fn seeded(store: &impl EventStore) -> Vec<usize> {
    let sizes: Vec<usize> = (1..=12).map(|i| (i * 37 % 12 + 1) * 10 * KIB).collect();
    let mut at = 0;
    for count in [1, 2, 3, 4, 2] {
        let events = sizes[at..at + count]
            .iter()
            .map(|&size| sized_event("Big", size))
            .collect();
        store
            .append(fixtures::stream("big-1"), ExpectedVersion::Any, events)
            .await
            .expect("append");
        at += count;
    }
    sizes
}

/// Checks one page against its budget: at least one event, within the budget unless the page
/// is a single event, and cut only when an event was left out for its bytes.
fn check_page(events: &[RecordedEvent], truncated: bool, budget: usize, more: Option<usize>) {
    assert!(
        !events.is_empty(),
        "a read with events to return returned none"
    );
    let total: usize = events.iter().map(bytes_of).sum();
    assert!(
        events.len() == 1 || total <= budget,
        "{} events of {total} bytes over a budget of {budget}",
        events.len()
    );
    if let Some(next) = more {
        assert!(truncated, "cut by bytes but not marked");
        assert!(total + next > budget, "the next event fitted");
    }
}

/// EventLog promise 5 for streams: at budgets from 0 to 333 KiB, pages read forward and
/// backward are never empty, stay within the budget unless one event is over it, say when
/// they were cut, and together return every event whole, once, in order.
pub async fn a_stream_of_large_events_pages_by_bytes_forward_and_backward<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let sizes = seeded(&store).await;
    let stream = fixtures::stream("big-1");
    for budget in [0, 50 * KIB, 150 * KIB, 333 * KIB] {
        // Forward, as a loader reads after a snapshot: from the version after the last one.
        let mut read = Vec::new();
        let mut from = Version::new(1);
        let mut pages = 0;
        loop {
            let slice = store
                .read_stream(
                    stream.clone(),
                    StreamRead::forward().from(from).max_bytes(budget),
                )
                .await
                .expect("read");
            let Some(last) = slice.events.last() else {
                break;
            };
            let next = sizes.get(last.version.get() as usize).map(|s| s + 5);
            check_page(
                &slice.events,
                slice.truncated,
                budget,
                next.filter(|_| slice.truncated),
            );
            assert_eq!(
                slice.truncated,
                next.is_some(),
                "budget {budget}, page {pages}"
            );
            from = Version::new(last.version.get() + 1);
            read.extend(slice.events);
            pages += 1;
        }
        assert_eq!(
            versions(&read),
            (1..=12).collect::<Vec<_>>(),
            "budget {budget}"
        );
        assert!(pages > 1, "budget {budget} read all at once");
        let data: Vec<usize> = read.iter().map(|e| e.data.as_str().len()).collect();
        assert_eq!(data, sizes, "every event whole");

        // Backward, from the newest.
        let mut read = Vec::new();
        let mut from = Version::new(12);
        loop {
            let slice = store
                .read_stream(
                    stream.clone(),
                    StreamRead::backward().from(from).max_bytes(budget),
                )
                .await
                .expect("read");
            assert!(
                !slice.events.is_empty(),
                "budget {budget}: nothing at {from}"
            );
            let last = slice.events.last().expect("an event").version.get();
            let total: usize = slice.events.iter().map(bytes_of).sum();
            assert!(slice.events.len() == 1 || total <= budget);
            read.extend(slice.events);
            if last == 1 {
                assert!(!slice.truncated);
                break;
            }
            assert!(
                slice.truncated,
                "budget {budget}: stopped at {last}, not cut"
            );
            from = Version::new(last - 1);
        }
        assert_eq!(versions(&read), (1..=12).rev().collect::<Vec<_>>());
    }
}

/// EventLog promise 5: an event larger than the budget is returned alone, and cut; a read cut
/// by its count, or one that reached the end, is not truncated (and only a cut read says so
/// when serialised).
pub async fn an_event_larger_than_the_budget_is_returned_alone_and_a_count_cut_is_not_truncated<
    B: Backend,
>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let stream = fixtures::stream("huge-1");
    store
        .append(
            stream.clone(),
            ExpectedVersion::NoStream,
            vec![sized_event("Huge", 200 * KIB), sized_event("Small", 10)],
        )
        .await
        .expect("append");
    let slice = store
        .read_stream(stream.clone(), StreamRead::forward().max_bytes(KIB))
        .await
        .expect("read");
    assert_eq!(versions(&slice.events), [1]);
    assert!(slice.truncated);
    let all = store
        .read_all(AllRead::after(Position::START).max_bytes(KIB))
        .await
        .expect("read");
    assert_eq!(all.events.len(), 1);
    assert!(all.truncated);
    assert_eq!(all.scanned_to, Position::new(1));

    // Cut by the count, or at the end: not truncated.
    let by_count = store
        .read_stream(stream.clone(), StreamRead::forward().limit(1))
        .await
        .expect("read");
    assert_eq!((by_count.events.len(), by_count.truncated), (1, false));
    let whole = store
        .read_stream(stream, StreamRead::forward())
        .await
        .expect("read");
    assert_eq!((whole.events.len(), whole.truncated), (2, false));
    let json = serde_json::to_value(&whole).expect("serialises");
    assert!(json.get("truncated").is_none(), "only a cut read says so");
    let json = serde_json::to_value(&all).expect("serialises");
    assert_eq!(json["truncated"], true);
}

/// EventLog promise 5 for the global log: paging by bytes, with and without a category
/// filter, returns every matching event exactly once and in order; a cut page goes on after
/// its last event, and an unfiltered page is never empty while events remain.
pub async fn the_log_pages_by_bytes_with_and_without_filters<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    seeded(&store).await;
    // Small events of another category between the large ones.
    for n in 0..5 {
        store
            .append(
                fixtures::stream(&format!("small-{n}")),
                ExpectedVersion::Any,
                vec![sized_event("Small", 100)],
            )
            .await
            .expect("append");
    }
    for (category, expected) in [(None, 17), (Some("big"), 12), (Some("small"), 5)] {
        let mut after = Position::START;
        let mut read = Vec::new();
        loop {
            let mut request = AllRead::after(after).max_bytes(100 * KIB);
            if let Some(category) = category {
                request = request.category(category);
            }
            let slice = store.read_all(request).await.expect("read");
            if slice.scanned_to == after {
                assert!(slice.events.is_empty());
                break;
            }
            if after < slice.head && category.is_none() {
                assert!(!slice.events.is_empty(), "nothing returned after {after}");
            }
            let total: usize = slice.events.iter().map(bytes_of).sum();
            assert!(slice.events.len() <= 1 || total <= 100 * KIB);
            if slice.truncated {
                let last = slice.events.last().expect("a cut read returned an event");
                assert_eq!(
                    slice.scanned_to, last.position,
                    "a cut read goes on after its last"
                );
            }
            after = slice.scanned_to;
            read.extend(slice.events);
        }
        let mut positions: Vec<u64> = read.iter().map(|e| e.position.get()).collect();
        assert_eq!(positions.len(), expected, "{category:?}");
        let before = positions.clone();
        positions.dedup();
        assert_eq!(positions, before, "{category:?}: an event read twice");
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{category:?}");
    }
}

/// Stream `name`, made of `count` events of type `event_type` and `bytes` bytes each.
async fn sized_stream(
    store: &impl EventStore,
    name: &str,
    (count, event_type, bytes): (usize, &str, usize),
) -> StreamId {
    let stream = fixtures::stream(name);
    let events = (0..count).map(|_| sized_event(event_type, bytes)).collect();
    store
        .append(stream.clone(), ExpectedVersion::NoStream, events)
        .await
        .expect("append");
    stream
}

/// EventLog promise 5 with the default budget ([`DEFAULT_READ_BYTES`], 4 MiB): a read asking
/// for 10,000 events of 1 MiB returns three, cut, from a stream and from the log.
pub async fn reads_are_bounded_by_default<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let stream = sized_stream(&store, "mega-1", (6, "Mega", 1024 * KIB)).await;
    let slice = store
        .read_stream(stream, StreamRead::forward().limit(10_000))
        .await
        .expect("read");
    let total: usize = slice.events.iter().map(bytes_of).sum();
    assert_eq!(slice.events.len(), 3, "four events are past 4 MiB");
    assert!(total <= DEFAULT_READ_BYTES && slice.truncated);
    let all = store
        .read_all(AllRead::after(Position::START).limit(10_000))
        .await
        .expect("read");
    assert_eq!((all.events.len(), all.truncated), (3, true));
    assert_eq!(all.scanned_to, Position::new(3));
}

/// `EventLog::read_versions` and `EventLog::read_versions_of` as their docs promise: versions
/// `first..=last` whole, paging on past the default budget; fewer where the stream ends
/// before `last`; none of a missing stream; and, for many reads, one answer each, in the
/// order asked.
pub async fn versions_are_read_whole_past_the_byte_budget_one_stream_or_many<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let mega = sized_stream(&store, "mega-1", (6, "Mega", 1024 * KIB)).await;
    let small = sized_stream(&store, "small-1", (4, "Small", 100)).await;

    let whole = store
        .read_versions(mega.clone(), Version::new(1), Version::new(6))
        .await
        .expect("read");
    assert_eq!(versions(&whole), [1, 2, 3, 4, 5, 6], "past 4 MiB, paged on");
    let part = store
        .read_versions(mega.clone(), Version::new(2), Version::new(5))
        .await
        .expect("read");
    assert_eq!(versions(&part), [2, 3, 4, 5]);

    let reads = vec![
        VersionsRead {
            stream: small.clone(),
            first: Version::new(2),
            last: Version::new(9),
        },
        VersionsRead {
            stream: fixtures::stream("nobody-1"),
            first: Version::new(1),
            last: Version::new(3),
        },
        VersionsRead {
            stream: mega.clone(),
            first: Version::new(1),
            last: Version::new(6),
        },
        VersionsRead {
            stream: small.clone(),
            first: Version::new(3),
            last: Version::new(3),
        },
    ];
    let answers = store.read_versions_of(reads).await.expect("read");
    let answered: Vec<Vec<u64>> = answers.iter().map(|events| versions(events)).collect();
    assert_eq!(
        answered,
        [vec![2, 3, 4], vec![], vec![1, 2, 3, 4, 5, 6], vec![3]],
        "one answer a read, in order"
    );
    assert!(answers[0].iter().all(|e| e.stream == small));
    assert_eq!(answers[2], whole, "the same events as the read alone");
    assert!(
        store
            .read_versions_of(Vec::new())
            .await
            .expect("read")
            .is_empty()
    );
}
