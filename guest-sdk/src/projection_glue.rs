//! What an exported projection does, in plain Rust types: the export macro converts the
//! generated bindings' types to and from these, and the testing harness calls them directly.

use crate::glue::decode_tagged;
use crate::projection::{Projection, Recorded, Subscription};
use crate::read_model::{Kv, ReadModel};

/// An event as it crosses the boundary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawEvent {
    pub stream: String,
    pub version: u64,
    pub position: u64,
    pub event_type: String,
    pub data: String,
    pub metadata: String,
    pub recorded_at: u64,
}

pub fn subscription<P: Projection>() -> Subscription {
    P::subscription()
}

/// Applies `events` in order. Events of types `P::Event` does not name are skipped. On an error,
/// returns the index of the event that failed and why.
pub fn apply<P: Projection>(
    kv: &mut dyn Kv,
    events: impl IntoIterator<Item = RawEvent>,
) -> Result<(), (u32, String)> {
    let mut model = ReadModel::new(kv);
    let mut buffer = String::new();
    for (index, raw) in events.into_iter().enumerate() {
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        let event: P::Event = match decode_tagged(&mut buffer, &raw.event_type, &raw.data) {
            Ok(event) => event,
            Err(e) if e.to_string().starts_with("unknown variant") => continue,
            Err(e) => {
                return Err((
                    index,
                    format!("event {} does not decode: {e}", raw.event_type),
                ));
            }
        };
        let recorded = Recorded {
            stream: raw.stream,
            version: raw.version,
            position: raw.position,
            recorded_at: raw.recorded_at,
            metadata: raw.metadata,
            event,
        };
        P::apply(&mut model, recorded).map_err(|e| (index, e.message().to_owned()))?;
    }
    Ok(())
}

/// Answers the JSON `request`.
pub fn query<P: Projection>(kv: &mut dyn Kv, request: &str) -> Result<String, String> {
    let query: P::Query =
        serde_json::from_str(request).map_err(|e| format!("the query does not decode: {e}"))?;
    let model = ReadModel::new(kv);
    let answer = P::query(&model, query).map_err(|e| e.message().to_owned())?;
    serde_json::to_string(&answer).map_err(|e| format!("the answer does not encode: {e}"))
}
