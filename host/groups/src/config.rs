//! What a group is made with ([`GroupConfig`]): which events it takes ([`Filter`]), where it
//! starts ([`Start`]), what its order is kept by ([`PartitionKey`]), and its leases, retries
//! and what happens when they run out ([`Exhausted`]). The config is checked once, when the
//! group is made, and kept as JSON in the group's `g` row (`rows.rs`).

use std::time::Duration;

use cairn_store::{EventType, RecordedEvent};
use serde::{Deserialize, Serialize};

use crate::error::GroupError;

/// Which events a group takes: those of any of `categories` (all if empty) and of any of
/// `types` (all if empty).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub types: Vec<String>,
}

impl Filter {
    pub fn matches(&self, event: &RecordedEvent) -> bool {
        (self.categories.is_empty() || self.categories.iter().any(|c| c == event.stream.category()))
            && (self.types.is_empty() || self.types.iter().any(|t| t == event.event_type.as_str()))
    }

    fn check(&self) -> Result<(), GroupError> {
        for category in &self.categories {
            if category.is_empty() || category.contains('-') || category.starts_with('$') {
                return Err(GroupError::InvalidConfig(format!(
                    "filter: {category:?} is not a category (the part of a stream name before its first `-`, not reserved with `$`)"
                )));
            }
        }
        for event_type in &self.types {
            EventType::new(event_type).map_err(|e| {
                GroupError::InvalidConfig(format!(
                    "filter: {event_type:?} is not an event type: {e}"
                ))
            })?;
        }
        Ok(())
    }
}

/// Where a new group starts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Start {
    /// From the first event of the log.
    #[default]
    Begin,
    /// After the newest event when the group is made.
    End,
    /// After this position.
    Position(u64),
    /// From the first event recorded at or after this time (ms since the Unix epoch).
    Time(u64),
}

/// The longest partition key, in bytes; it fits a read model's key with room to spare.
pub const MAX_KEY_BYTES: usize = 512;

/// What a group keeps order by: events with one key are delivered one at a time, in log order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartitionKey {
    /// The event's stream (the default).
    #[default]
    Stream,
    /// The stream's category.
    Category,
    /// A string field of the event's metadata; an event without it is keyed by its stream.
    Metadata(String),
}

impl PartitionKey {
    /// The key of `event`. A metadata value longer than [`MAX_KEY_BYTES`] is cut there (at a
    /// character's boundary): keys that share those bytes then share an order, which keeps
    /// every promise of order and only spreads less.
    pub fn key_of(&self, event: &RecordedEvent) -> String {
        let mut key = self.full_key_of(event);
        if key.len() > MAX_KEY_BYTES {
            let mut end = MAX_KEY_BYTES;
            while !key.is_char_boundary(end) {
                end -= 1;
            }
            key.truncate(end);
        }
        key
    }

    fn full_key_of(&self, event: &RecordedEvent) -> String {
        match self {
            PartitionKey::Stream => event.stream.to_string(),
            PartitionKey::Category => event.stream.category().to_owned(),
            PartitionKey::Metadata(field) => event
                .metadata
                .to_value::<serde_json::Value>()
                .ok()
                .and_then(|m| m.get(field).and_then(|v| v.as_str()).map(str::to_owned))
                .unwrap_or_else(|| event.stream.to_string()),
        }
    }
}

/// What happens to an event whose retries have run out: a group's `on_exhausted`, a
/// reactor's `on_failure`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exhausted {
    /// Park it, with the events of its key behind it (the default).
    #[default]
    Park,
    /// Count it as acknowledged.
    Skip,
    /// Stop the group at it, until it is resumed.
    Stop,
}

/// The wait before retry `retry` (1 for the first): `first_ms`, doubled for each retry after
/// the first, at most `max_ms`. Groups and reactors back off alike.
pub fn backoff(first_ms: u64, max_ms: u64, retry: u32) -> Duration {
    let doubled = first_ms.saturating_mul(1u64 << retry.saturating_sub(1).min(32));
    Duration::from_millis(doubled.min(max_ms))
}

/// A group's `name` with its config's keys beside it, as `POST /v1/groups` and a cairn.toml's
/// `[[groups]]` give them.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "serde_json::Map<String, serde_json::Value>")]
pub struct NamedGroup {
    pub name: String,
    pub config: GroupConfig,
}

impl TryFrom<serde_json::Map<String, serde_json::Value>> for NamedGroup {
    type Error = String;

    /// Takes `name` out, and reads the other keys as the config (an unknown one is refused).
    fn try_from(mut fields: serde_json::Map<String, serde_json::Value>) -> Result<Self, String> {
        let name = match fields.remove("name") {
            Some(serde_json::Value::String(name)) => name,
            _ => return Err("`name` (a string) is required".into()),
        };
        let config = serde_json::from_value(serde_json::Value::Object(fields))
            .map_err(|e| format!("invalid group config: {e}"))?;
        Ok(Self { name, config })
    }
}

/// A group's settings, as given to `POST /v1/groups` and kept in its `g` row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    #[serde(default)]
    pub filter: Filter,
    #[serde(default)]
    pub start: Start,
    #[serde(default)]
    pub partition_key: PartitionKey,
    /// How long a delivery may go unacknowledged before it is delivered again.
    #[serde(default = "defaults::ack_timeout_ms")]
    pub ack_timeout_ms: u64,
    /// How many times an event is delivered again (after a `retry` or a lease that ran out)
    /// before `on_exhausted` applies.
    #[serde(default = "defaults::max_retries")]
    pub max_retries: u32,
    #[serde(default)]
    pub on_exhausted: Exhausted,
    /// The first wait before a retried event is delivered again; it doubles with each retry.
    #[serde(default = "defaults::retry_backoff_ms")]
    pub retry_backoff_ms: u64,
    /// The longest wait before a retry.
    #[serde(default = "defaults::max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// The most unacknowledged deliveries one member holds.
    #[serde(default = "defaults::max_in_flight")]
    pub max_in_flight: u32,
    /// A polling member that has not polled for this long has left, and its leases go back.
    #[serde(default = "defaults::member_timeout_ms")]
    pub member_timeout_ms: u64,
}

mod defaults {
    pub(super) fn ack_timeout_ms() -> u64 {
        30_000
    }
    pub(super) fn max_retries() -> u32 {
        5
    }
    pub(super) fn retry_backoff_ms() -> u64 {
        200
    }
    pub(super) fn max_backoff_ms() -> u64 {
        10_000
    }
    pub(super) fn max_in_flight() -> u32 {
        1_000
    }
    pub(super) fn member_timeout_ms() -> u64 {
        30_000
    }
}

impl Default for GroupConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("the defaults make a config")
    }
}

impl GroupConfig {
    /// Checks every field, naming the first that is wrong.
    pub fn check(&self) -> Result<(), GroupError> {
        self.filter.check()?;
        let bad = |what: &str| Err(GroupError::InvalidConfig(what.to_owned()));
        if !(100..=3_600_000).contains(&self.ack_timeout_ms) {
            return bad("ack_timeout_ms must be 100 to 3,600,000");
        }
        if self.max_retries > 1_000 {
            return bad("max_retries must be at most 1,000");
        }
        if self.retry_backoff_ms > self.max_backoff_ms || self.max_backoff_ms > 3_600_000 {
            return bad("retry_backoff_ms must be at most max_backoff_ms, at most 3,600,000");
        }
        if !(1..=100_000).contains(&self.max_in_flight) {
            return bad("max_in_flight must be 1 to 100,000");
        }
        if !(1_000..=3_600_000).contains(&self.member_timeout_ms) {
            return bad("member_timeout_ms must be 1,000 to 3,600,000");
        }
        if let PartitionKey::Metadata(field) = &self.partition_key
            && (field.is_empty() || field.len() > 256)
        {
            return bad("partition_key: a metadata field name is 1 to 256 bytes");
        }
        Ok(())
    }

    pub(crate) fn ack_timeout(&self) -> Duration {
        Duration::from_millis(self.ack_timeout_ms)
    }

    pub(crate) fn member_timeout(&self) -> Duration {
        Duration::from_millis(self.member_timeout_ms)
    }

    /// The wait before delivering again after the `retry`th retry (1-based).
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        backoff(self.retry_backoff_ms, self.max_backoff_ms, retry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_pass_their_own_check() {
        let config = GroupConfig::default();
        config.check().expect("valid");
        assert_eq!(config.partition_key, PartitionKey::Stream);
        assert_eq!(config.on_exhausted, Exhausted::Park);
    }

    #[test]
    fn a_bad_filter_is_named() {
        let config: GroupConfig =
            serde_json::from_str(r#"{"filter":{"categories":["a-b"]}}"#).expect("JSON");
        let err = config.check().expect_err("it is refused").to_string();
        assert!(err.contains("a-b"), "{err}");
        let config: GroupConfig =
            serde_json::from_str(r#"{"filter":{"types":[""]}}"#).expect("JSON");
        assert!(config.check().is_err());
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let config = GroupConfig::default();
        assert_eq!(config.backoff(1), Duration::from_millis(200));
        assert_eq!(config.backoff(2), Duration::from_millis(400));
        assert_eq!(config.backoff(60), Duration::from_millis(10_000));
    }

    #[test]
    fn a_named_group_takes_its_name_out_of_the_config() {
        let named: NamedGroup =
            serde_json::from_str(r#"{"name":"g","start":"end"}"#).expect("JSON");
        assert_eq!(
            (named.name.as_str(), &named.config.start),
            ("g", &Start::End)
        );
        assert!(serde_json::from_str::<NamedGroup>(r#"{"start":"end"}"#).is_err());
        assert!(serde_json::from_str::<NamedGroup>(r#"{"name":"g","colour":1}"#).is_err());
    }

    #[test]
    fn start_and_key_read_as_documented() {
        let config: GroupConfig = serde_json::from_str(
            r#"{"start":{"position":7},"partition_key":{"metadata":"tenant"},"on_exhausted":"stop"}"#,
        )
        .expect("JSON");
        assert_eq!(config.start, Start::Position(7));
        assert_eq!(
            config.partition_key,
            PartitionKey::Metadata("tenant".into())
        );
        assert_eq!(config.on_exhausted, Exhausted::Stop);
        let end: GroupConfig = serde_json::from_str(r#"{"start":"end"}"#).expect("JSON");
        assert_eq!(end.start, Start::End);
    }
}
