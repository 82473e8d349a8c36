//! Given/then tests for upcasters, run natively: [`upcast`] one stored event and assert what
//! readers see in its place, or start an aggregate's test from a stream stored before a change
//! with [`given_stored`].
//!
//! They go through the same glue and JSON encoding as a module in the host.
//!
//! ```
//! # use cairn_sdk::{Aggregate, Rejection, StoredEvent, UpcastError, Upcaster};
//! # use serde::{Deserialize, Serialize};
//! # #[derive(Default, Serialize, Deserialize, PartialEq, Debug)]
//! # pub struct Counter { value: u64 }
//! # #[derive(Serialize, Deserialize)]
//! # #[serde(tag = "type", content = "data")]
//! # pub enum Command { Add { by: u64 } }
//! # #[derive(Serialize, Deserialize, PartialEq, Debug)]
//! # #[serde(tag = "type", content = "data")]
//! # pub enum Event { Added { by: u64 } }
//! # pub struct CounterAggregate;
//! # impl Aggregate for CounterAggregate {
//! #     type State = Counter; type Command = Command; type Event = Event;
//! #     fn decide(_: &Counter, c: Command) -> Result<Vec<Event>, Rejection> {
//! #         match c { Command::Add { by } => Ok(vec![Event::Added { by }]) }
//! #     }
//! #     fn evolve(s: &mut Counter, e: &Event) { match e { Event::Added { by } => s.value += by } }
//! # }
//! /// The first version stored `Incremented` (by one) and `Noted` (which nothing reads).
//! pub struct CounterUpcaster;
//!
//! impl Upcaster for CounterUpcaster {
//!     const CATEGORY: &'static str = "counter";
//!     const EVENT_TYPES: &'static [&'static str] = &["Incremented", "Noted"];
//!     type Event = Event;
//!
//!     fn upcast(stored: &StoredEvent) -> Result<Vec<Event>, UpcastError> {
//!         match stored.event_type() {
//!             "Incremented" => Ok(vec![Event::Added { by: 1 }]),
//!             _ => Ok(Vec::new()),
//!         }
//!     }
//! }
//!
//! use cairn_sdk::testing::{given_stored, upcast};
//! use serde_json::json;
//!
//! upcast::<CounterUpcaster>("Incremented", json!(null)).then_events([Event::Added { by: 1 }]);
//! upcast::<CounterUpcaster>("Noted", json!({"note": "hi"})).then_nothing();
//! upcast::<CounterUpcaster>("Added", json!({"by": 2})).then_error("not an event type");
//!
//! // A stream stored before the change: v1 events are upcast, current ones read as stored.
//! given_stored::<CounterUpcaster, CounterAggregate>([
//!     ("Incremented", json!(null)),
//!     ("Noted", json!({"note": "hi"})),
//!     ("Added", json!({"by": 2})),
//! ])
//! .then_state(Counter { value: 3 })
//! .when(Command::Add { by: 3 })
//! .then_events([Event::Added { by: 3 }])
//! .then_state(Counter { value: 6 });
//! ```

use serde::Serialize;

use super::{Given, given_tagged};
use crate::aggregate::Aggregate;
use crate::glue::{Tagged, encode_tagged};
use crate::upcaster::Upcaster;
use crate::upcaster_glue;

/// Upcasts one stored event of `event_type` with `data`, as the host would.
pub fn upcast<U: Upcaster>(event_type: &str, data: impl Serialize) -> Upcast<U> {
    let stored = (event_type.to_owned(), json_text(&data));
    let outcome = upcaster_glue::upcast::<U>([stored.clone()])
        .map(|mut lists| lists.pop().unwrap_or_default())
        .map_err(|(_, message)| message);
    Upcast {
        stored,
        outcome,
        marker: std::marker::PhantomData,
    }
}

/// Starts an aggregate's test from a stream stored before a change: each stored
/// `(type, data)`, in order, is upcast by `U` if its type is one of `U::EVENT_TYPES`, and read
/// as stored otherwise, and what results is folded as [`given`](super::given) folds its events.
pub fn given_stored<'a, U, A>(
    stored: impl IntoIterator<Item = (&'a str, impl Serialize)>,
) -> Given<A>
where
    U: Upcaster,
    A: Aggregate,
{
    let mut history: Vec<Tagged> = Vec::new();
    for (index, (event_type, data)) in stored.into_iter().enumerate() {
        let stored = (event_type.to_owned(), json_text(&data));
        if !U::EVENT_TYPES.contains(&event_type) {
            history.push(stored);
            continue;
        }
        let lists = upcaster_glue::upcast::<U>([stored]).unwrap_or_else(|(_, message)| {
            panic!("stored event {index} ({event_type}) does not upcast: {message}")
        });
        history.extend(lists.into_iter().flatten());
    }
    given_tagged(&history)
}

/// What one stored event was upcast to.
#[derive(Debug)]
pub struct Upcast<U: Upcaster> {
    stored: Tagged,
    outcome: Result<Vec<Tagged>, String>,
    marker: std::marker::PhantomData<U>,
}

impl<U: Upcaster> Upcast<U> {
    /// Asserts that readers see exactly these events, in this order, in the stored one's place.
    #[track_caller]
    pub fn then_events(self, expected: impl IntoIterator<Item = U::Event>) -> Self {
        let expected: Vec<String> = expected
            .into_iter()
            .map(|event| shown(&encode_tagged(&event).unwrap_or_else(|e| panic!("{e}"))))
            .collect();
        let produced: Vec<String> = self.events().iter().map(shown).collect();
        assert_eq!(produced, expected, "{} upcast", shown(&self.stored));
        self
    }

    /// Asserts that readers see nothing in the stored event's place.
    #[track_caller]
    pub fn then_nothing(self) -> Self {
        let produced: Vec<String> = self.events().iter().map(shown).collect();
        assert!(
            produced.is_empty(),
            "{} upcast to {produced:?}, not to nothing",
            shown(&self.stored)
        );
        self
    }

    /// Asserts that the upcaster failed with a message containing `message`.
    #[track_caller]
    pub fn then_error(self, message: &str) -> Self {
        match &self.outcome {
            Err(actual) => assert!(
                actual.contains(message),
                "failed with {actual:?}, which does not contain {message:?}"
            ),
            Ok(events) => panic!(
                "expected an error containing {message:?}, {} upcast to {:?}",
                shown(&self.stored),
                events.iter().map(shown).collect::<Vec<_>>()
            ),
        }
        self
    }

    #[track_caller]
    fn events(&self) -> &[Tagged] {
        match &self.outcome {
            Ok(events) => events,
            Err(error) => panic!(
                "expected events, upcasting {} failed: {error}",
                shown(&self.stored)
            ),
        }
    }
}

fn json_text(data: &impl Serialize) -> String {
    serde_json::to_string(data).unwrap_or_else(|e| panic!("the stored data does not encode: {e}"))
}

/// An event as `Type {"json":"data"}`, its data re-encoded so equal data reads the same.
fn shown((event_type, data): &Tagged) -> String {
    match serde_json::from_str::<serde_json::Value>(data) {
        Ok(value) => format!("{event_type} {value}"),
        Err(_) => format!("{event_type} {data} (not JSON)"),
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    use super::{given_stored, upcast};
    use crate::{Aggregate, Rejection, StoredEvent, UpcastError, Upcaster};

    /// A to-do list: v1 stored `Listed { items }`, v2 stores one `Added` an item.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "type", content = "data")]
    enum Event {
        Added { item: String },
        Cleared,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(tag = "type", content = "data")]
    enum Command {
        Add { item: String },
    }

    struct Todo;

    impl Aggregate for Todo {
        type State = Vec<String>;
        type Command = Command;
        type Event = Event;

        fn decide(items: &Vec<String>, command: Command) -> Result<Vec<Event>, Rejection> {
            let Command::Add { item } = command;
            if items.contains(&item) {
                return Err(format!("{item} is listed already").into());
            }
            Ok(vec![Event::Added { item }])
        }

        fn evolve(items: &mut Vec<String>, event: &Event) {
            match event {
                Event::Added { item } => items.push(item.clone()),
                Event::Cleared => items.clear(),
            }
        }
    }

    struct TodoV1;

    impl Upcaster for TodoV1 {
        const CATEGORY: &'static str = "todo";
        const EVENT_TYPES: &'static [&'static str] = &["Listed", "Forgotten"];
        type Event = Event;

        fn upcast(stored: &StoredEvent) -> Result<Vec<Event>, UpcastError> {
            #[derive(Deserialize)]
            struct Listed {
                items: Vec<String>,
            }
            match stored.event_type() {
                "Listed" => {
                    let Listed { items } = stored.data()?;
                    Ok(items
                        .into_iter()
                        .map(|item| Event::Added { item })
                        .collect())
                }
                _ => Err("forgotten events cannot be read".into()),
            }
        }
    }

    #[test]
    fn one_stored_event_upcasts_to_none_one_or_several() {
        upcast::<TodoV1>("Listed", json!({"items": ["milk", "eggs"]})).then_events([
            Event::Added {
                item: "milk".into(),
            },
            Event::Added {
                item: "eggs".into(),
            },
        ]);
        upcast::<TodoV1>("Listed", json!({"items": []})).then_nothing();
        upcast::<TodoV1>("Listed", json!({"things": []})).then_error("the stored Listed");
        upcast::<TodoV1>("Forgotten", json!(null)).then_error("cannot be read");
        upcast::<TodoV1>("Added", json!({"item": "x"})).then_error("Added is not an event type");
    }

    #[test]
    #[should_panic(expected = "upcasting Forgotten null failed: forgotten events")]
    fn expecting_events_of_a_failed_upcast_fails() {
        upcast::<TodoV1>("Forgotten", json!(null)).then_events([]);
    }

    #[test]
    #[should_panic(expected = "upcast")]
    fn expecting_other_events_fails() {
        upcast::<TodoV1>("Listed", json!({"items": ["milk"]})).then_events([Event::Cleared]);
    }

    #[test]
    fn an_aggregate_reads_a_stream_stored_before_the_change() {
        given_stored::<TodoV1, Todo>([
            ("Listed", json!({"items": ["milk", "eggs"]})),
            ("Cleared", json!(null)),
            ("Added", json!({"item": "tea"})),
            ("Listed", json!({"items": ["jam"]})),
        ])
        .then_state(vec!["tea".into(), "jam".into()])
        .when(Command::Add { item: "jam".into() })
        .then_rejected("listed already");
    }

    #[test]
    #[should_panic(expected = "stored event 1 (Forgotten) does not upcast")]
    fn a_stored_event_that_does_not_upcast_fails_the_test() {
        given_stored::<TodoV1, Todo>([
            ("Added", json!({"item": "tea"})),
            ("Forgotten", json!(null)),
        ]);
    }
}
