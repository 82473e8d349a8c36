//! The [`Upcaster`] trait: events stored in an older shape, read as the current one.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Reads the events a stream category stored in an older shape as the current ones.
///
/// The host calls it for each stored event of [`CATEGORY`](Upcaster::CATEGORY) whose type is
/// one of [`EVENT_TYPES`](Upcaster::EVENT_TYPES), on every read (aggregate loads, projections,
/// the HTTP reads and subscriptions), and gives readers the events it returns in its place:
/// none, one or several, of any type. Events of other types reach readers as stored. What it
/// returns is not upcast again, and the stored events are never rewritten.
///
/// `upcast` must be pure: the same stored event always gives the same events.
///
/// ```
/// use cairn_sdk::{StoredEvent, UpcastError, Upcaster};
/// use serde::{Deserialize, Serialize};
///
/// /// The current events of `counter` streams.
/// #[derive(Serialize)]
/// #[serde(tag = "type", content = "data")]
/// pub enum CounterEvent { Added { by: u64 } }
///
/// /// `Incremented` (no data, always by one) was the first version's only event.
/// pub struct CounterUpcaster;
///
/// impl Upcaster for CounterUpcaster {
///     const CATEGORY: &'static str = "counter";
///     const EVENT_TYPES: &'static [&'static str] = &["Incremented", "AddedMany"];
///     type Event = CounterEvent;
///
///     fn upcast(stored: &StoredEvent) -> Result<Vec<CounterEvent>, UpcastError> {
///         match stored.event_type() {
///             "Incremented" => Ok(vec![CounterEvent::Added { by: 1 }]),
///             "AddedMany" => {
///                 #[derive(Deserialize)]
///                 struct AddedMany { amounts: Vec<u64> }
///                 let AddedMany { amounts } = stored.data()?;
///                 Ok(amounts.into_iter().map(|by| CounterEvent::Added { by }).collect())
///             }
///             other => Err(UpcastError::new(format!("{other} is not upgraded here"))),
///         }
///     }
/// }
///
/// // In the module's crate (crate-type = ["cdylib", "rlib"]):
/// // cairn_sdk::export_upcaster!(CounterUpcaster);
/// ```
pub trait Upcaster {
    /// The stream category whose events it reads: the part of a stream name before the first
    /// `-`, which for an aggregate's streams is the aggregate's name.
    const CATEGORY: &'static str;
    /// The stored event types it upgrades.
    const EVENT_TYPES: &'static [&'static str];
    /// The current events; adjacently tagged, `#[serde(tag = "type", content = "data")]`.
    type Event: Serialize;

    /// The events a reader sees in place of `stored`, whose type is one of `EVENT_TYPES`.
    fn upcast(stored: &StoredEvent) -> Result<Vec<Self::Event>, UpcastError>;
}

/// An event as it was stored: its type name and its JSON data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    event_type: String,
    data: String,
}

impl StoredEvent {
    /// An event of `event_type` with the JSON text `data`.
    pub fn new(event_type: impl Into<String>, data: impl Into<String>) -> Self {
        Self {
            event_type: event_type.into(),
            data: data.into(),
        }
    }

    /// Its type name, such as `CustomerUpdated`.
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    /// Its data decoded as `T`, or an error naming the event's type and why it does not decode.
    pub fn data<T: DeserializeOwned>(&self) -> Result<T, UpcastError> {
        serde_json::from_str(&self.data).map_err(|e| {
            UpcastError::new(format!(
                "the stored {} does not decode: {e}",
                self.event_type
            ))
        })
    }

    /// Its data, as the JSON text stored.
    pub fn json(&self) -> &str {
        &self.data
    }
}

/// Why a stored event could not be upcast. The host reports the read as failed, with this
/// message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpcastError(String);

impl UpcastError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for UpcastError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UpcastError {}

impl From<&str> for UpcastError {
    fn from(message: &str) -> Self {
        Self::new(message)
    }
}

impl From<String> for UpcastError {
    fn from(message: String) -> Self {
        Self(message)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::StoredEvent;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Named {
        name: String,
    }

    #[test]
    fn stored_data_decodes_or_says_which_event_did_not() {
        let stored = StoredEvent::new("CustomerCreated", r#"{"name":"Ada"}"#);
        assert_eq!(stored.event_type(), "CustomerCreated");
        assert_eq!(stored.json(), r#"{"name":"Ada"}"#);
        assert_eq!(
            stored.data::<Named>().expect("decodes"),
            Named { name: "Ada".into() }
        );
        let error = StoredEvent::new("CustomerCreated", r#"{"nom":"Ada"}"#)
            .data::<Named>()
            .expect_err("no name");
        assert!(
            error
                .to_string()
                .starts_with("the stored CustomerCreated does not decode: missing field `name`"),
            "{error}"
        );
    }
}
