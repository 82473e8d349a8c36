//! Bad appends are typed errors, never a panic, and store nothing. (That names, event types
//! and JSON are checked when they are made is the store's own, tested in `host/store/tests`.)

use cairn_store::{
    AppendError, EventLog, EventType, ExpectedVersion, Json, MAX_EVENT_BYTES,
    MAX_EVENTS_PER_APPEND, NewEvent, Position,
};

use crate::Backend;
use crate::fixtures;

/// EventLog promise 1 (an append stores all of its events or none): appends to a reserved
/// stream, of no events, of too many, with one id twice, with metadata that is not an object,
/// or with an event too large are each refused by a typed error and store nothing; an append
/// of exactly the most events allowed is stored.
pub async fn refused_appends_store_nothing<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let ok_stream = fixtures::stream("good-1");
    for reserved in ["$", "$$", "$all", "$system-1"] {
        let result = store
            .append(
                fixtures::stream(reserved),
                ExpectedVersion::Any,
                vec![fixtures::event("E", "{}")],
            )
            .await;
        assert!(
            matches!(result, Err(AppendError::ReservedStream(_))),
            "{reserved}: {result:?}"
        );
    }
    let result = store
        .append(ok_stream.clone(), ExpectedVersion::Any, vec![])
        .await;
    assert!(matches!(result, Err(AppendError::NoEvents)));
    let too_many: Vec<_> = (0..=MAX_EVENTS_PER_APPEND)
        .map(|_| fixtures::event("E", "{}"))
        .collect();
    let result = store
        .append(ok_stream.clone(), ExpectedVersion::Any, too_many)
        .await;
    assert!(matches!(
        result,
        Err(AppendError::TooManyEvents {
            count: 1_001,
            max: 1_000
        })
    ));
    let twice = fixtures::event("E", "{}");
    let result = store
        .append(
            ok_stream.clone(),
            ExpectedVersion::Any,
            vec![twice.clone(), twice],
        )
        .await;
    assert!(matches!(result, Err(AppendError::DuplicateEventId { .. })));
    let bad_meta = NewEvent::new(EventType::new("E").expect("valid"), Json::empty_object())
        .with_metadata(Json::parse("42").expect("valid"));
    let result = store
        .append(ok_stream.clone(), ExpectedVersion::Any, vec![bad_meta])
        .await;
    assert!(matches!(
        result,
        Err(AppendError::MetadataNotObject { index: 0 })
    ));
    let huge = Json::from_value(&"x".repeat(MAX_EVENT_BYTES)).expect("serialises");
    let result = store
        .append(
            ok_stream.clone(),
            ExpectedVersion::Any,
            vec![
                fixtures::event("E", "{}"),
                NewEvent::new(EventType::new("Big").expect("valid"), huge),
            ],
        )
        .await;
    assert!(
        matches!(result, Err(AppendError::EventTooLarge { index: 1, .. })),
        "{result:?}"
    );
    assert_eq!(store.head(), Position::START, "nothing was stored");
    assert!(
        !store
            .stream_info(ok_stream.clone())
            .await
            .expect("info")
            .exists()
    );

    // The limit itself is fine, and the store still works.
    let full: Vec<_> = (0..MAX_EVENTS_PER_APPEND)
        .map(|_| fixtures::event("E", "{}"))
        .collect();
    store
        .append(ok_stream, ExpectedVersion::NoStream, full)
        .await
        .expect("1,000 events");
    assert_eq!(store.head(), Position::new(1_000));
}
