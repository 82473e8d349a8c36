//! A test projection that counts events by type and fails on an event of type `Poison`,
//! unless built with the `fixed` feature (as `picky-projection-fixed` is). The pair lets the
//! tests fault a projection and then upload its fix.
//!
//! Read model keys: `count/{event type}`, `seen/{event type}`, and `kinds`: how many event types
//! it has seen, counted by a scan of `seen/` in `apply` (so a scan is shown to see the batch's
//! own writes). Queries: `{"type": "count", "event_type": "X"}` answers `{"count": n}`,
//! `{"type": "kinds"}` answers `{"count": kinds}`, and `{"type": "spin"}` never answers: it
//! loops until the host stops it. An event of type `Spin` loops the same way in `apply`, and
//! one of type `Panic` panics there (in both builds).

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
    Kinds,
    Spin,
}

/// Runs until the host takes the call's fuel or its time away.
fn spin() -> ! {
    let mut turns: u64 = 0;
    loop {
        turns = std::hint::black_box(turns.wrapping_add(1));
    }
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
        if event_type == "Spin" {
            spin();
        }
        if event_type == "Panic" {
            panic!("picky cannot bear a Panic event");
        }
        if event_type == "Poison" && !cfg!(feature = "fixed") {
            return Err("this build cannot apply Poison".into());
        }
        model.add(&format!("count/{event_type}"), 1)?;
        model.put_json(&format!("seen/{event_type}"), &())?;
        let kinds = model.scan(b"seen/", None, 1_000).len();
        model.put_json("kinds", &kinds)
    }

    fn query(model: &ReadModel<'_>, query: CountQuery) -> Result<CountAnswer, ProjectionError> {
        let key = match query {
            CountQuery::Count { event_type } => format!("count/{event_type}"),
            CountQuery::Kinds => "kinds".to_owned(),
            CountQuery::Spin => spin(),
        };
        Ok(CountAnswer {
            count: model.get_json(&key)?.unwrap_or(0),
        })
    }
}

cairn_sdk::export_projection!(Picky);
