//! Given/then tests for projections, run natively against a read model in memory.
//!
//! They go through the same glue and JSON encoding as a module in the host. The given events are
//! the global log: each gets its position in it and its version in its stream, and only those
//! the projection's [`subscription`](Projection::subscription) admits are applied, as the host
//! delivers only those (an event of another category or type is skipped in a test as it is in
//! production). Every `given` also checks that applying them in one batch gives the same read
//! model as applying them one at a time, which the host relies on when it batches events.
//!
//! ```
//! # use cairn_sdk::{Projection, ProjectionError, ReadModel, Recorded};
//! # use serde::{Deserialize, Serialize};
//! # #[derive(Serialize, Deserialize)]
//! # #[serde(tag = "type", content = "data")]
//! # pub enum Event { Added { by: i64 } }
//! # #[derive(Serialize, Deserialize)]
//! # pub enum Query { Total }
//! # pub struct Totals;
//! # impl Projection for Totals {
//! #     type Event = Event; type Query = Query; type Answer = i64;
//! #     fn apply(model: &mut ReadModel<'_>, e: Recorded<Event>) -> Result<(), ProjectionError> {
//! #         match e.event { Event::Added { by } => model.add("total", by).map(|_| ()) }
//! #     }
//! #     fn query(model: &ReadModel<'_>, _: Query) -> Result<i64, ProjectionError> {
//! #         Ok(model.get_json("total")?.unwrap_or(0))
//! #     }
//! # }
//! use cairn_sdk::testing::projection::given;
//!
//! given::<Totals>([("counter-1", Event::Added { by: 2 }), ("counter-2", Event::Added { by: 3 })])
//!     .then_query(Query::Total, 5);
//! ```

use std::collections::HashMap;
use std::fmt::Debug;

use serde::Serialize;

use crate::glue::encode_tagged;
use crate::projection::Projection;
use crate::projection_glue::{self, RawEvent};
use crate::read_model::MemoryKv;

/// Applies `events`, given as (stream, event) in global order, to an empty read model: those
/// the projection's subscription admits, as the host does.
pub fn given<'a, P>(events: impl IntoIterator<Item = (&'a str, P::Event)>) -> Given<P>
where
    P: Projection,
    P::Event: Serialize,
{
    let subscription = P::subscription();
    let mut versions: HashMap<String, u64> = HashMap::new();
    // Each delivered event with its index among the given ones, so a failure names that index.
    let (given_index, delivered): (Vec<u32>, Vec<RawEvent>) = events
        .into_iter()
        .zip(1u64..)
        .zip(0u32..)
        .map(|(((stream, event), position), index)| {
            let (event_type, data) = encode_tagged(&event)
                .unwrap_or_else(|e| panic!("event {index} does not encode: {e}"));
            let version = versions.entry(stream.to_owned()).or_insert(0);
            *version += 1;
            let raw = RawEvent {
                stream: stream.to_owned(),
                version: *version,
                position,
                event_type,
                data,
                metadata: "{}".to_owned(),
                recorded_at: 1_700_000_000_000 + position,
            };
            (index, raw)
        })
        .filter(|(_, raw)| subscription.admits(&raw.stream, &raw.event_type))
        .unzip();
    let mut batched = MemoryKv::default();
    let applied =
        projection_glue::apply::<P>(&mut batched, delivered.clone()).map_err(|(at, message)| {
            let index = given_index.get(at as usize).copied().unwrap_or(at);
            (index, message)
        });
    if applied.is_ok() {
        let mut single = MemoryKv::default();
        for event in delivered {
            if let Err((_, message)) = projection_glue::apply::<P>(&mut single, [event]) {
                panic!("applying one event at a time failed where one batch did not: {message}");
            }
        }
        assert_eq!(
            batched, single,
            "applying the events in one batch and one at a time gave different read models"
        );
    }
    Given {
        model: batched,
        applied,
        marker: std::marker::PhantomData,
    }
}

/// A read model after the given events.
#[derive(Debug)]
pub struct Given<P: Projection> {
    model: MemoryKv,
    applied: Result<(), (u32, String)>,
    marker: std::marker::PhantomData<P>,
}

impl<P: Projection> Given<P> {
    /// Asserts that `query` is answered with `expected` (compared as JSON).
    #[track_caller]
    pub fn then_query(mut self, query: impl Serialize, expected: P::Answer) -> Self
    where
        P::Answer: Debug,
    {
        if let Err((index, message)) = &self.applied {
            panic!("applying the events failed at event {index}: {message}");
        }
        let request = serde_json::to_string(&query)
            .unwrap_or_else(|e| panic!("the query does not encode: {e}"));
        let answer = projection_glue::query::<P>(&mut self.model, &request)
            .unwrap_or_else(|e| panic!("the query {request} failed: {e}"));
        let expected_json = serde_json::to_value(&expected)
            .unwrap_or_else(|e| panic!("the expected answer does not encode: {e}"));
        let answer_json: serde_json::Value =
            serde_json::from_str(&answer).unwrap_or_else(|e| panic!("the answer is not JSON: {e}"));
        assert_eq!(
            answer_json, expected_json,
            "query {request}: expected {expected:?}"
        );
        self
    }

    /// Asserts that `query` fails with a message containing `text`.
    #[track_caller]
    pub fn then_query_fails(mut self, query: impl Serialize, text: &str) -> Self {
        let request = serde_json::to_string(&query)
            .unwrap_or_else(|e| panic!("the query does not encode: {e}"));
        match projection_glue::query::<P>(&mut self.model, &request) {
            Ok(answer) => panic!("the query {request} was answered ({answer}), not refused"),
            Err(message) => assert!(message.contains(text), "{message:?} lacks {text:?}"),
        }
        self
    }

    /// Asserts that applying the events failed at event `index` of the given ones (from 0),
    /// with a message containing `text`.
    #[track_caller]
    pub fn then_fails_at(self, index: u32, text: &str) -> Self {
        match &self.applied {
            Ok(()) => panic!("applying the events succeeded"),
            Err((at, message)) => {
                assert_eq!(*at, index, "failed at another event: {message}");
                assert!(message.contains(text), "{message:?} lacks {text:?}");
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::given;
    use crate::{Projection, ProjectionError, ReadModel, Recorded, Subscription};

    #[derive(Serialize, Deserialize)]
    #[serde(tag = "type", content = "data")]
    enum Event {
        Placed {
            cents: i64,
        },
        Cancelled,
        /// A type this projection's subscription leaves out; applying it fails.
        Poisoned,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Query {
        Total,
        /// What the last applied event was: its stream, version and position.
        Last,
    }

    /// Sums the `Placed` and counts the `Cancelled` events of `orders` streams, and remembers
    /// where the last event it applied was.
    struct OrderTotals;

    impl Projection for OrderTotals {
        type Event = Event;
        type Query = Query;
        type Answer = serde_json::Value;

        fn subscription() -> Subscription {
            Subscription::category("orders").event_types(["Placed", "Cancelled"])
        }

        fn apply(model: &mut ReadModel<'_>, event: Recorded<Event>) -> Result<(), ProjectionError> {
            let last = (event.stream.clone(), event.version, event.position);
            match event.event {
                Event::Placed { cents } => model.add("total", cents)?,
                Event::Cancelled => model.add("cancelled", 1)?,
                Event::Poisoned => return Err("a poisoned event was applied".into()),
            };
            model.put_json("last", &last)
        }

        fn query(
            model: &ReadModel<'_>,
            query: Query,
        ) -> Result<serde_json::Value, ProjectionError> {
            Ok(match query {
                Query::Total => serde_json::json!({
                    "total": model.get_json::<i64>("total")?.unwrap_or(0),
                    "cancelled": model.get_json::<i64>("cancelled")?.unwrap_or(0),
                }),
                Query::Last => model.get_json("last")?.unwrap_or_default(),
            })
        }
    }

    #[test]
    fn an_event_of_a_category_outside_the_subscription_is_not_applied() {
        given::<OrderTotals>([
            ("orders-1", Event::Placed { cents: 500 }),
            ("refunds-1", Event::Placed { cents: 7 }),
            ("orders_archive-1", Event::Placed { cents: 9 }),
            ("orders", Event::Placed { cents: 20 }),
        ])
        .then_query(
            Query::Total,
            serde_json::json!({"total": 520, "cancelled": 0}),
        );
    }

    #[test]
    fn an_event_of_a_type_outside_the_subscription_is_not_applied() {
        given::<OrderTotals>([
            ("orders-1", Event::Placed { cents: 500 }),
            ("orders-1", Event::Poisoned),
            ("orders-2", Event::Cancelled),
        ])
        .then_query(
            Query::Total,
            serde_json::json!({"total": 500, "cancelled": 1}),
        );
    }

    #[test]
    fn an_admitted_event_keeps_its_place_in_the_log_and_its_stream() {
        // The skipped events still hold positions in the log and versions in their streams.
        given::<OrderTotals>([
            ("refunds-1", Event::Placed { cents: 7 }),
            ("orders-1", Event::Poisoned),
            ("orders-1", Event::Placed { cents: 1 }),
        ])
        .then_query(Query::Last, serde_json::json!(["orders-1", 2, 3]));
    }

    #[test]
    fn a_failure_names_the_given_events_index() {
        struct Strict;
        impl Projection for Strict {
            type Event = Event;
            type Query = Query;
            type Answer = i64;
            fn subscription() -> Subscription {
                Subscription::category("orders")
            }
            fn apply(_: &mut ReadModel<'_>, event: Recorded<Event>) -> Result<(), ProjectionError> {
                match event.event {
                    Event::Poisoned => Err(format!("{} is poisoned", event.stream).into()),
                    _ => Ok(()),
                }
            }
            fn query(_: &ReadModel<'_>, _: Query) -> Result<i64, ProjectionError> {
                Ok(0)
            }
        }
        // The poisoned event of another category is skipped; the one in `orders` fails, and
        // is named by its index among the given events.
        given::<Strict>([
            ("refunds-1", Event::Poisoned),
            ("orders-1", Event::Placed { cents: 1 }),
            ("orders-2", Event::Poisoned),
        ])
        .then_fails_at(2, "orders-2 is poisoned");
    }
}
