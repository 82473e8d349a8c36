//! Given/then tests for reactors, run natively against a state in memory.
//!
//! They go through the same glue and JSON encoding as a module in the host. The given events are
//! the global log: each gets its position in it and its version in its stream, and only those
//! the reactor's [`subscription`](Reactor::subscription) admits are delivered, one at a time,
//! over the state the events before them left, as the host does.
//!
//! ```
//! # use cairn_sdk::{Intent, Reactor, ReactorError, ReadModel, Recorded};
//! # use serde::{Deserialize, Serialize};
//! # #[derive(Serialize, Deserialize)]
//! # #[serde(tag = "type", content = "data")]
//! # pub enum Event { Shipped { order: String } }
//! # #[derive(Serialize)]
//! # #[serde(tag = "type", content = "data")]
//! # pub enum Notify { Notify { order: String } }
//! # pub struct Shipping;
//! # impl Reactor for Shipping {
//! #     type Event = Event;
//! #     fn react(_: &mut ReadModel<'_>, e: Recorded<Event>) -> Result<Vec<Intent>, ReactorError> {
//! #         match e.event { Event::Shipped { order } => Ok(vec![Intent::command("customer", "c1", &Notify::Notify { order })?]) }
//! #     }
//! # }
//! use cairn_sdk::testing::reactor::given;
//!
//! given::<Shipping>([("orders-o1", Event::Shipped { order: "o1".into() })])
//!     .then_intents([Intent::raw("customer", "c1", "Notify", r#"{"order":"o1"}"#)]);
//! ```

use std::collections::HashMap;

use serde::Serialize;

use crate::glue::encode_tagged;
use crate::projection_glue::RawEvent;
use crate::reactor::{Intent, Reactor};
use crate::reactor_glue;
use crate::read_model::MemoryKv;

/// Delivers `events`, given as (stream, event) in global order, to the reactor one at a time,
/// over one state: those its subscription admits, as the host does. It stops at the first
/// event the reactor fails on.
pub fn given<'a, R>(events: impl IntoIterator<Item = (&'a str, R::Event)>) -> Given<R>
where
    R: Reactor,
    R::Event: Serialize,
{
    given_with_metadata::<R>(
        events
            .into_iter()
            .map(|(stream, event)| (stream, event, "{}")),
    )
}

/// [`given`], with each event's metadata (a JSON object as text), as the host stores it: for a
/// reactor that follows a chain of commands by its correlation id
/// ([`Recorded::correlation_id`](crate::Recorded::correlation_id)), say
/// `{"command_id": "c1"}` for the first event and `{"correlation_id": "c1"}` for the events
/// the chain's commands appended.
pub fn given_with_metadata<'a, R>(
    events: impl IntoIterator<Item = (&'a str, R::Event, &'a str)>,
) -> Given<R>
where
    R: Reactor,
    R::Event: Serialize,
{
    let subscription = R::subscription();
    let mut versions: HashMap<String, u64> = HashMap::new();
    let mut state = MemoryKv::default();
    let mut intents = Vec::new();
    let mut failed = None;
    for (((stream, event, metadata), position), index) in events.into_iter().zip(1u64..).zip(0u32..)
    {
        let (event_type, data) =
            encode_tagged(&event).unwrap_or_else(|e| panic!("event {index} does not encode: {e}"));
        let version = versions.entry(stream.to_owned()).or_insert(0);
        *version += 1;
        if !subscription.admits(stream, &event_type) {
            continue;
        }
        let raw = RawEvent {
            stream: stream.to_owned(),
            version: *version,
            position,
            event_type,
            data,
            metadata: metadata.to_owned(),
            recorded_at: 1_700_000_000_000 + position,
        };
        // The host discards a failed event's writes: react on a copy, keep it if it succeeds.
        let mut attempt = state.clone();
        match reactor_glue::react::<R>(&mut attempt, raw) {
            Ok(issued) => {
                state = attempt;
                intents.extend(issued);
            }
            Err(message) => {
                failed = Some((index, message));
                break;
            }
        }
    }
    Given {
        intents,
        failed,
        marker: std::marker::PhantomData,
    }
}

/// What a reactor did with the given events.
#[derive(Debug)]
pub struct Given<R: Reactor> {
    intents: Vec<Intent>,
    failed: Option<(u32, String)>,
    marker: std::marker::PhantomData<R>,
}

impl<R: Reactor> Given<R> {
    /// Asserts that the events gave exactly `expected`, in order, over all of them. Data is
    /// compared as JSON.
    #[track_caller]
    pub fn then_intents(self, expected: impl IntoIterator<Item = Intent>) -> Self {
        if let Some((index, message)) = &self.failed {
            panic!("the reactor failed at event {index}: {message}");
        }
        let json = |i: &Intent| {
            let data: serde_json::Value = serde_json::from_str(&i.data)
                .unwrap_or_else(|e| panic!("an intent's data is not JSON: {e}"));
            (i.module.clone(), i.id.clone(), i.command_type.clone(), data)
        };
        let expected: Vec<_> = expected.into_iter().collect();
        assert_eq!(
            self.intents.iter().map(json).collect::<Vec<_>>(),
            expected.iter().map(json).collect::<Vec<_>>(),
            "the intents differ"
        );
        self
    }

    /// The intents the events gave, in order.
    pub fn intents(&self) -> &[Intent] {
        &self.intents
    }

    /// Asserts that the reactor failed at event `index` of the given ones (from 0), with a
    /// message containing `text`.
    #[track_caller]
    pub fn then_fails_at(self, index: u32, text: &str) -> Self {
        match &self.failed {
            None => panic!("the reactor failed on no event"),
            Some((at, message)) => {
                assert_eq!(*at, index, "failed at another event: {message}");
                assert!(message.contains(text), "{message:?} lacks {text:?}");
            }
        }
        self
    }
}
