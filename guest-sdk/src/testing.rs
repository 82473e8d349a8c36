//! Given/when/then tests for aggregates, run natively. Projections have theirs in
//! [`projection`], upcasters in [`upcaster`] ([`upcast`], and [`given_stored`] for an aggregate
//! over events stored before a change), reactors in [`reactor`].
//!
//! They go through the same glue and the same JSON encoding as a module in the host, so a
//! test that passes here exercises what the host will run. Every `given` also checks that
//! folding its events in one batch gives the same state as folding them one at a time, which
//! the host relies on when it batches events and takes snapshots.
//!
//! ```
//! # use cairn_sdk::{Aggregate, Rejection};
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
//! #         match c { Command::Add { by: 0 } => Err("add at least 1".into()), Command::Add { by } => Ok(vec![Event::Added { by }]) }
//! #     }
//! #     fn evolve(s: &mut Counter, e: &Event) { match e { Event::Added { by } => s.value += by } }
//! # }
//! use cairn_sdk::testing::given;
//!
//! given::<CounterAggregate>([Event::Added { by: 2 }])
//!     .when(Command::Add { by: 3 })
//!     .then_events([Event::Added { by: 3 }])
//!     .then_state(Counter { value: 5 });
//!
//! given::<CounterAggregate>([]).when(Command::Add { by: 0 }).then_rejected("at least 1");
//! ```

pub mod projection;
pub mod reactor;
pub mod upcaster;

pub use upcaster::{Upcast, given_stored, upcast};

use std::fmt::Debug;

use crate::aggregate::Aggregate;
use crate::glue::{self, DecideError, Tagged};

/// Starts a test from the events `history`.
pub fn given<A: Aggregate>(history: impl IntoIterator<Item = A::Event>) -> Given<A> {
    let history: Vec<Tagged> = history
        .into_iter()
        .map(|e| encode::<A::Event>(&e))
        .collect();
    given_tagged(&history)
}

/// Starts a test from `history` as it crosses the boundary: type names and JSON data.
fn given_tagged<A: Aggregate>(history: &[Tagged]) -> Given<A> {
    let state = fold_both_ways::<A>(&glue::init::<A>(), history);
    Given {
        state,
        marker: std::marker::PhantomData,
    }
}

/// The state a test starts from.
#[derive(Debug)]
pub struct Given<A: Aggregate> {
    state: Vec<u8>,
    marker: std::marker::PhantomData<A>,
}

impl<A: Aggregate> Given<A> {
    /// Decides `command` against the given state.
    pub fn when(self, command: A::Command) -> When<A>
    where
        A::Command: serde::Serialize,
    {
        let (command_type, data) = encode(&command);
        let outcome = glue::decide::<A>(&self.state, &command_type, &data);
        When {
            state: self.state,
            outcome,
            marker: std::marker::PhantomData,
        }
    }

    /// Asserts the state the history folds to.
    pub fn then_state(self, expected: A::State) -> Self
    where
        A::State: PartialEq + Debug,
    {
        assert_eq!(
            decode_state::<A>(&self.state),
            expected,
            "state after the given events"
        );
        self
    }
}

/// What a command did.
#[derive(Debug)]
pub struct When<A: Aggregate> {
    state: Vec<u8>,
    outcome: Result<Vec<Tagged>, DecideError>,
    marker: std::marker::PhantomData<A>,
}

impl<A: Aggregate> When<A> {
    /// Asserts that the command produced exactly these events, in this order.
    pub fn then_events(self, expected: impl IntoIterator<Item = A::Event>) -> Self
    where
        A::Event: PartialEq + Debug,
    {
        let expected: Vec<A::Event> = expected.into_iter().collect();
        let produced = self.events();
        let produced: Vec<A::Event> = produced.iter().map(decode::<A::Event>).collect();
        assert_eq!(produced, expected, "events decided");
        self
    }

    /// Asserts that the command was refused with a message containing `message`.
    pub fn then_rejected(self, message: &str) -> Self {
        match &self.outcome {
            Err(DecideError::Rejected(actual)) => assert!(
                actual.contains(message),
                "rejected with {actual:?}, which does not contain {message:?}"
            ),
            other => panic!("expected a rejection containing {message:?}, got {other:?}"),
        }
        self
    }

    /// Asserts the state after folding the decided events onto the given state.
    pub fn then_state(self, expected: A::State) -> Self
    where
        A::State: PartialEq + Debug,
    {
        let after = fold_both_ways::<A>(&self.state, self.events());
        assert_eq!(
            decode_state::<A>(&after),
            expected,
            "state after the decided events"
        );
        self
    }

    fn events(&self) -> &[Tagged] {
        match &self.outcome {
            Ok(events) => events,
            Err(error) => panic!("expected events, the command failed: {error:?}"),
        }
    }
}

/// Folds `events` onto `state` in one batch and one at a time; both must agree.
fn fold_both_ways<A: Aggregate>(state: &[u8], events: &[Tagged]) -> Vec<u8> {
    let batch = glue::evolve::<A>(state, events.iter().cloned())
        .unwrap_or_else(|e| panic!("folding the events failed: {e}"));
    let mut single = state.to_vec();
    for event in events {
        single = glue::evolve::<A>(&single, [event.clone()])
            .unwrap_or_else(|e| panic!("folding an event failed: {e}"));
    }
    assert_eq!(
        String::from_utf8_lossy(&batch),
        String::from_utf8_lossy(&single),
        "folding the events in one batch and one at a time must give the same state"
    );
    batch
}

// The test harness encodes and decodes exactly as a module does: through the glue.

fn encode<T: serde::Serialize>(value: &T) -> Tagged {
    glue::encode_tagged(value).unwrap_or_else(|e| panic!("{e}"))
}

fn decode<T: serde::de::DeserializeOwned>((type_name, data): &Tagged) -> T {
    glue::decode_tagged(&mut String::new(), type_name, data)
        .unwrap_or_else(|e| panic!("event {type_name} does not decode: {e}"))
}

fn decode_state<A: Aggregate>(state: &[u8]) -> A::State {
    glue::decode_state::<A>(state).unwrap_or_else(|e| panic!("{e}"))
}
