//! The [`Projection`] trait: a read model folded from the global log and queried with JSON.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::read_model::ReadModel;

/// A projection: it folds events, in global order, into its read model, and answers queries
/// from it.
///
/// `Event` is adjacently tagged, like an aggregate's (`#[serde(tag = "type", content =
/// "data")]`). It names only the events the projection uses: events of other types are
/// skipped. `subscription` tells the host which categories and types to deliver at all.
pub trait Projection {
    /// The events this projection folds.
    type Event: DeserializeOwned;
    /// The questions it answers, decoded from the request JSON.
    type Query: DeserializeOwned;
    /// Its answers, encoded as the response JSON.
    type Answer: Serialize;

    /// Which events the host delivers; everything by default.
    fn subscription() -> Subscription {
        Subscription::everything()
    }

    /// Folds one event into the read model. An error stops the projection at this event (it is
    /// marked faulted, and the batch's writes are discarded) until a fixed module is uploaded.
    fn apply(
        model: &mut ReadModel<'_>,
        event: Recorded<Self::Event>,
    ) -> Result<(), ProjectionError>;

    /// Answers a query. The read model is read-only here.
    fn query(model: &ReadModel<'_>, query: Self::Query) -> Result<Self::Answer, ProjectionError>;
}

/// An event from the global log, with where and when it was stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded<E> {
    /// Its stream, such as `customers-c1`.
    pub stream: String,
    /// Its version in the stream, from 1.
    pub version: u64,
    /// Its position in the global log, from 1.
    pub position: u64,
    /// When it was stored, in milliseconds since the Unix epoch.
    pub recorded_at: u64,
    /// Its metadata, a JSON object as text.
    pub metadata: String,
    /// The event.
    pub event: E,
}

impl<E> Recorded<E> {
    /// The stream's category, the part of its name before the first `-`: for an aggregate's
    /// event, the aggregate module's name (`bank_account` for `bank_account-7`). Module names
    /// never hold `-`, so this is the host's rule (`StreamId::category` in cairn-store).
    pub fn aggregate(&self) -> &str {
        self.stream
            .split_once('-')
            .map_or(self.stream.as_str(), |(category, _)| category)
    }

    /// The part of the stream name after its category: for an aggregate's event, the
    /// aggregate's id, whole even when it holds `-` (`1b4e-28ba` for `orders-1b4e-28ba`).
    pub fn id(&self) -> &str {
        self.stream
            .split_once('-')
            .map_or(self.stream.as_str(), |(_, id)| id)
    }

    /// The correlation id of the chain of commands this event belongs to, from its metadata:
    /// the `correlation_id` the host puts on events a reactor's command appended, else the
    /// `command_id` of the command that appended it (the first of its chain). `None` for an
    /// event appended directly, not by a command.
    pub fn correlation_id(&self) -> Option<String> {
        let metadata: serde_json::Value = serde_json::from_str(&self.metadata).ok()?;
        ["correlation_id", "command_id"]
            .iter()
            .find_map(|field| metadata.get(field).and_then(|v| v.as_str()))
            .map(str::to_owned)
    }
}

/// Which events a projection receives. An empty list lets everything through.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subscription {
    /// Stream categories: the part of a stream name before the first `-`.
    pub categories: Vec<String>,
    /// Event type names.
    pub event_types: Vec<String>,
}

impl Subscription {
    /// Every event.
    pub fn everything() -> Self {
        Self::default()
    }

    /// Only events of streams in `category` (add more with `and_category`).
    pub fn category(category: &str) -> Self {
        Self::default().and_category(category)
    }

    /// Events of streams in `category` too.
    pub fn and_category(mut self, category: &str) -> Self {
        self.categories.push(category.to_owned());
        self
    }

    /// Only events of these types.
    pub fn event_types<'a>(mut self, types: impl IntoIterator<Item = &'a str>) -> Self {
        self.event_types
            .extend(types.into_iter().map(str::to_owned));
        self
    }

    /// Whether an event of `event_type` in `stream` gets through: the host's rule
    /// (`ProjectionFilter::admits` in cairn-runtime), which the native tests apply too.
    pub fn admits(&self, stream: &str, event_type: &str) -> bool {
        let category = stream.split_once('-').map_or(stream, |(c, _)| c);
        (self.categories.is_empty() || self.categories.iter().any(|c| c == category))
            && (self.event_types.is_empty() || self.event_types.iter().any(|t| t == event_type))
    }
}

/// Why a projection could not apply an event or answer a query. The message is shown in the
/// projection's status, or returned to the caller of a query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectionError(String);

impl ProjectionError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    pub fn message(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ProjectionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ProjectionError {
    fn from(message: &str) -> Self {
        Self::new(message)
    }
}

impl From<String> for ProjectionError {
    fn from(message: String) -> Self {
        Self(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(stream: &str) -> Recorded<()> {
        Recorded {
            stream: stream.into(),
            version: 1,
            position: 1,
            recorded_at: 0,
            metadata: "{}".into(),
            event: (),
        }
    }

    #[test]
    fn an_aggregates_event_names_its_module_and_its_whole_id() {
        let uuid = recorded("orders-1b4e28ba-2fa1-11d2-883f-0016d3cca427");
        assert_eq!(uuid.aggregate(), "orders");
        assert_eq!(uuid.id(), "1b4e28ba-2fa1-11d2-883f-0016d3cca427");
        let snake = recorded("bank_account-i1");
        assert_eq!((snake.aggregate(), snake.id()), ("bank_account", "i1"));
        let plain = recorded("loner");
        assert_eq!((plain.aggregate(), plain.id()), ("loner", "loner"));
        assert!(Subscription::category("bank_account").admits("bank_account-i1", "Opened"));
        assert!(!Subscription::category("bank").admits("bank_account-i1", "Opened"));
    }

    #[test]
    fn the_correlation_is_the_chains_else_the_commands() {
        let mut event = recorded("transfer-t1");
        assert_eq!(event.correlation_id(), None);
        event.metadata = r#"{"command_id":"c1"}"#.into();
        assert_eq!(event.correlation_id().as_deref(), Some("c1"));
        event.metadata = r#"{"command_id":"c2","correlation_id":"c1"}"#.into();
        assert_eq!(event.correlation_id().as_deref(), Some("c1"));
    }
}
