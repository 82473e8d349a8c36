//! Given/then tests for projections, run natively against a read model in memory.
//!
//! They go through the same glue and JSON encoding as a module in the host. Every `given` also
//! checks that applying its events in one batch gives the same read model as applying them one
//! at a time, which the host relies on when it batches events.
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

/// Applies `events`, given as (stream, event) in global order, to an empty read model.
pub fn given<'a, P>(events: impl IntoIterator<Item = (&'a str, P::Event)>) -> Given<P>
where
    P: Projection,
    P::Event: Serialize,
{
    let mut versions: HashMap<String, u64> = HashMap::new();
    let raw: Vec<RawEvent> = events
        .into_iter()
        .zip(1u64..)
        .map(|((stream, event), position)| {
            let (event_type, data) = encode_tagged(&event)
                .unwrap_or_else(|e| panic!("event {position} does not encode: {e}"));
            let version = versions.entry(stream.to_owned()).or_insert(0);
            *version += 1;
            RawEvent {
                stream: stream.to_owned(),
                version: *version,
                position,
                event_type,
                data,
                metadata: "{}".to_owned(),
                recorded_at: 1_700_000_000_000 + position,
            }
        })
        .collect();
    let mut batched = MemoryKv::default();
    let applied = projection_glue::apply::<P>(&mut batched, raw.clone());
    if applied.is_ok() {
        let mut single = MemoryKv::default();
        for event in raw {
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

    /// Asserts that applying the events failed at event `index` (from 0), with a message
    /// containing `text`.
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
