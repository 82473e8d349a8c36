//! What an exported reactor does, in plain Rust types: the export macro converts the generated
//! bindings' types to and from these, and the testing harness calls them directly.

use crate::glue::decode_tagged;
use crate::projection::{Recorded, Subscription};
use crate::projection_glue::RawEvent;
use crate::reactor::{Intent, Reactor};
use crate::read_model::{Kv, ReadModel};

pub fn subscription<R: Reactor>() -> Subscription {
    R::subscription()
}

/// Reacts to one event. An event of a type `R::Event` does not name gives no intents.
pub fn react<R: Reactor>(kv: &mut dyn Kv, raw: RawEvent) -> Result<Vec<Intent>, String> {
    let mut buffer = String::new();
    let event: R::Event = match decode_tagged(&mut buffer, &raw.event_type, &raw.data) {
        Ok(event) => event,
        Err(e) if e.to_string().starts_with("unknown variant") => return Ok(Vec::new()),
        Err(e) => return Err(format!("event {} does not decode: {e}", raw.event_type)),
    };
    let recorded = Recorded {
        stream: raw.stream,
        version: raw.version,
        position: raw.position,
        recorded_at: raw.recorded_at,
        metadata: raw.metadata,
        event,
    };
    let mut state = ReadModel::new(kv);
    R::react(&mut state, recorded).map_err(|e| e.message().to_owned())
}
