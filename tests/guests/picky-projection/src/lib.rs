//! A test projection that counts events by type and fails on an event of type `Poison`,
//! unless built with the `fixed` feature (as `picky-projection-fixed` is). The pair lets the
//! tests fault a projection and then upload its fix.
//!
//! Read model keys: `count/{event type}`. Query: `{"type": "count", "event_type": "X"}` answers
//! `{"count": n}`.

use cairn_sdk::{Projection, ProjectionError, ReadModel, Recorded};
use serde::{Deserialize, Serialize};

/// Any event: only its type is read.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct AnyEvent {
    #[serde(rename = "type")]
    pub event_type: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CountQuery {
    Count { event_type: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CountAnswer {
    pub count: i64,
}

pub struct Picky;

impl Projection for Picky {
    type Event = AnyEvent;
    type Query = CountQuery;
    type Answer = CountAnswer;

    fn apply(model: &mut ReadModel<'_>, event: Recorded<AnyEvent>) -> Result<(), ProjectionError> {
        let event_type = event.event.event_type;
        if event_type == "Poison" && !cfg!(feature = "fixed") {
            return Err("this build cannot apply Poison".into());
        }
        model.add(&format!("count/{event_type}"), 1).map(|_| ())
    }

    fn query(model: &ReadModel<'_>, query: CountQuery) -> Result<CountAnswer, ProjectionError> {
        let CountQuery::Count { event_type } = query;
        Ok(CountAnswer {
            count: model.get_json(&format!("count/{event_type}"))?.unwrap_or(0),
        })
    }
}

cairn_sdk::export_projection!(Picky);
