//! What an exported aggregate does, in plain Rust types. The export macro converts the
//! generated bindings' types to and from these; the testing harness calls them directly, so
//! native tests exercise the same encoding a module uses.
//!
//! Encodings:
//! - state bytes are the state as JSON (so `state_json` is the bytes as text);
//! - an event or a command is `(type name, JSON data)`, which serde sees as the adjacently
//!   tagged object `{"type": name, "data": data}`.

use crate::aggregate::Aggregate;

/// An event or command as it crosses the boundary: type name and JSON data.
pub type Tagged = (String, String);

/// Why `decide` gave no events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecideError {
    /// The aggregate refused the command.
    Rejected(String),
    /// The command or state could not be decoded.
    Invalid(String),
}

pub fn init<A: Aggregate>() -> Vec<u8> {
    encode_state(&A::State::default())
}

pub fn evolve<A: Aggregate>(
    state: &[u8],
    events: impl IntoIterator<Item = Tagged>,
) -> Result<Vec<u8>, String> {
    let mut state = decode_state::<A>(state)?;
    let mut buffer = String::new();
    for (index, (event_type, data)) in events.into_iter().enumerate() {
        let event: A::Event = decode_tagged(&mut buffer, &event_type, &data)
            .map_err(|e| format!("event {index} ({event_type}) does not decode: {e}"))?;
        A::evolve(&mut state, &event);
    }
    Ok(encode_state(&state))
}

pub fn decide<A: Aggregate>(
    state: &[u8],
    command_type: &str,
    data: &str,
) -> Result<Vec<Tagged>, DecideError> {
    let state = decode_state::<A>(state).map_err(DecideError::Invalid)?;
    let command: A::Command =
        decode_tagged(&mut String::new(), command_type, data).map_err(|e| {
            DecideError::Invalid(format!("command {command_type} does not decode: {e}"))
        })?;
    let events =
        A::decide(&state, command).map_err(|r| DecideError::Rejected(r.message().into()))?;
    events
        .iter()
        .map(encode_tagged)
        .collect::<Result<_, _>>()
        .map_err(DecideError::Invalid)
}

pub fn state_json<A: Aggregate>(state: &[u8]) -> Result<String, String> {
    String::from_utf8(state.to_vec()).map_err(|e| format!("state is not UTF-8 JSON: {e}"))
}

fn encode_state<S: serde::Serialize>(state: &S) -> Vec<u8> {
    // Serialising a value of a serde type to JSON fails only for maps with non-string keys, which
    // `serde_json::to_vec` reports; a state that cannot be stored is the author's bug.
    serde_json::to_vec(state)
        .unwrap_or_else(|e| panic!("the state does not serialise as JSON: {e}"))
}

pub(crate) fn decode_state<A: Aggregate>(state: &[u8]) -> Result<A::State, String> {
    serde_json::from_slice(state).map_err(|e| format!("state does not decode: {e}"))
}

/// Decodes `{"type": name, "data": data}` without building an intermediate value: the object's
/// text is written into `buffer` and parsed once.
pub(crate) fn decode_tagged<T: serde::de::DeserializeOwned>(
    buffer: &mut String,
    type_name: &str,
    data: &str,
) -> Result<T, serde_json::Error> {
    buffer.clear();
    buffer.push_str("{\"type\":");
    if type_name
        .bytes()
        .any(|b| b == b'"' || b == b'\\' || b < 0x20)
    {
        buffer.push_str(&serde_json::to_string(type_name)?);
    } else {
        // Nothing to escape (the usual case): no string is made for it.
        buffer.push('"');
        buffer.push_str(type_name);
        buffer.push('"');
    }
    if !data.trim().is_empty() && data.trim() != "null" {
        buffer.push_str(",\"data\":");
        buffer.push_str(data);
    }
    buffer.push('}');
    serde_json::from_str(buffer)
}

/// Encodes an adjacently tagged value as `(type, data)`. A value with no content (a unit
/// variant) has data `null`.
pub(crate) fn encode_tagged<T: serde::Serialize>(value: &T) -> Result<Tagged, String> {
    let json =
        serde_json::to_value(value).map_err(|e| format!("an event does not serialise: {e}"))?;
    let serde_json::Value::Object(mut object) = json else {
        return Err(not_tagged());
    };
    let Some(serde_json::Value::String(type_name)) = object.remove("type") else {
        return Err(not_tagged());
    };
    let data = object.remove("data").unwrap_or(serde_json::Value::Null);
    Ok((type_name, data.to_string()))
}

fn not_tagged() -> String {
    "events must serialise as {\"type\": ..., \"data\": ...}: mark the enum \
     #[serde(tag = \"type\", content = \"data\")]"
        .to_owned()
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::decode_tagged;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(tag = "type", content = "data")]
    enum Event {
        Plain {
            n: u32,
        },
        #[serde(rename = "with \"quotes\" and \\")]
        Quoted,
    }

    #[test]
    fn a_type_name_is_escaped_only_where_it_needs_to_be() {
        let mut buffer = String::new();
        assert_eq!(
            decode_tagged::<Event>(&mut buffer, "Plain", r#"{"n":3}"#).expect("plain"),
            Event::Plain { n: 3 }
        );
        assert_eq!(
            decode_tagged::<Event>(&mut buffer, "with \"quotes\" and \\", "null").expect("quoted"),
            Event::Quoted
        );
        assert!(decode_tagged::<Event>(&mut buffer, "Plain\"", "{}").is_err());
    }
}
