//! What a sink is made with ([`SinkConfig`]): its name, where it publishes ([`KafkaTarget`] or
//! [`WebhookTarget`]), and which events, in what order and with what policy (the settings of
//! the consumer group it runs, [`SinkConfig::group_config`]). Given over HTTP as JSON or in
//! cairn.toml as `[[sinks]]`; checked once, when the sink is made.

use std::collections::BTreeMap;

use cairn_groups::{Exhausted, Filter, GroupConfig, GroupName, PartitionKey, Start};
use serde::{Deserialize, Serialize};

use crate::error::SinkError;

/// How long a sink's delivery may stay unacknowledged: the sink itself waits out an
/// unavailable target, so only a sink that is gone lets its leases run out.
const SINK_ACK_TIMEOUT_MS: u64 = 3_600_000;
/// The most events a sink holds unacknowledged.
const SINK_IN_FLIGHT: u32 = 20_000;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    /// 1 to 58 bytes of lowercase letters, digits, `_`, `-`, `.`; its group is `sink.{name}`.
    pub name: String,
    /// Publish to a Kafka topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka: Option<KafkaTarget>,
    /// POST to a URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookTarget>,
    #[serde(default)]
    pub filter: Filter,
    #[serde(default)]
    pub start: Start,
    #[serde(default)]
    pub partition_key: PartitionKey,
    /// Retries of an event the target refuses (a target that is down is waited for, not
    /// retried against this) before `on_exhausted` applies.
    #[serde(default = "default_retries")]
    pub max_retries: u32,
    #[serde(default)]
    pub on_exhausted: Exhausted,
}

fn default_retries() -> u32 {
    5
}

/// What a Kafka message's value holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KafkaValue {
    /// The event as JSON, as `GET /v1/streams` shows it (the default).
    #[default]
    Event,
    /// Only the event's data.
    Data,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaTarget {
    /// `host:port[,host:port...]`.
    pub brokers: String,
    pub topic: String,
    #[serde(default)]
    pub value: KafkaValue,
    /// More librdkafka producer settings, such as `compression.type`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub producer: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookTarget {
    /// An `http://` or `https://` URL each event is POSTed to.
    pub url: String,
    /// How long one POST may take.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Headers sent with every POST, such as an `authorization`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

fn default_timeout() -> u64 {
    10_000
}

/// Where a sink publishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    Kafka(&'a KafkaTarget),
    Webhook(&'a WebhookTarget),
}

impl SinkConfig {
    /// The sink's target; [`SinkConfig::check`] makes sure there is exactly one.
    pub fn target(&self) -> Target<'_> {
        match (&self.kafka, &self.webhook) {
            (Some(kafka), _) => Target::Kafka(kafka),
            (None, Some(webhook)) => Target::Webhook(webhook),
            (None, None) => unreachable!("a checked sink has a target"),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self.target() {
            Target::Kafka(_) => "kafka",
            Target::Webhook(_) => "webhook",
        }
    }

    /// The group the sink runs.
    pub fn group_name(&self) -> Result<GroupName, SinkError> {
        GroupName::new(&format!("sink.{}", self.name))
            .map_err(|e| SinkError::Invalid(e.to_string()))
    }

    /// The settings of the group the sink runs.
    pub fn group_config(&self) -> GroupConfig {
        GroupConfig {
            filter: self.filter.clone(),
            start: self.start.clone(),
            partition_key: self.partition_key.clone(),
            ack_timeout_ms: SINK_ACK_TIMEOUT_MS,
            max_retries: self.max_retries,
            on_exhausted: self.on_exhausted,
            max_in_flight: SINK_IN_FLIGHT,
            ..GroupConfig::default()
        }
    }

    /// Checks every field, naming the first that is wrong.
    pub fn check(&self) -> Result<(), SinkError> {
        let bad = |why: String| Err(SinkError::Invalid(why));
        if self.name.is_empty() || self.name.len() > 58 {
            return bad(format!("sink name {:?}: must be 1 to 58 bytes", self.name));
        }
        self.group_name()?;
        self.group_config()
            .check()
            .map_err(|e| SinkError::Invalid(e.to_string()))?;
        match (&self.kafka, &self.webhook) {
            (Some(kafka), None) => {
                if kafka.brokers.trim().is_empty() {
                    return bad("kafka.brokers: give host:port of at least one broker".into());
                }
                let topic_ok = !kafka.topic.is_empty()
                    && kafka.topic.len() <= 249
                    && kafka
                        .topic
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
                if !topic_ok {
                    return bad(format!(
                        "kafka.topic {:?}: 1 to 249 of letters, digits, `.`, `_`, `-`",
                        kafka.topic
                    ));
                }
            }
            (None, Some(webhook)) => {
                let url = reqwest::Url::parse(&webhook.url).map_err(|e| {
                    SinkError::Invalid(format!("webhook.url {:?}: {e}", webhook.url))
                })?;
                if !matches!(url.scheme(), "http" | "https") {
                    return bad(format!(
                        "webhook.url {:?}: must be http or https",
                        webhook.url
                    ));
                }
                if !(100..=300_000).contains(&webhook.timeout_ms) {
                    return bad("webhook.timeout_ms must be 100 to 300,000".into());
                }
                for name in webhook.headers.keys() {
                    reqwest::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                        SinkError::Invalid(format!(
                            "webhook.headers: {name:?} is not a header name"
                        ))
                    })?;
                }
            }
            _ => return bad("give exactly one target: `kafka` or `webhook`".into()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> SinkConfig {
        serde_json::from_str(json).expect("JSON")
    }

    #[test]
    fn a_sink_has_exactly_one_target() {
        assert!(parse(r#"{"name":"s"}"#).check().is_err());
        let both =
            r#"{"name":"s","webhook":{"url":"http://x/"},"kafka":{"brokers":"b:1","topic":"t"}}"#;
        assert!(parse(both).check().is_err());
        assert!(
            parse(r#"{"name":"s","webhook":{"url":"http://127.0.0.1:1/in"}}"#)
                .check()
                .is_ok()
        );
    }

    #[test]
    fn bad_targets_are_named() {
        let err = parse(r#"{"name":"s","webhook":{"url":"ftp://x/"}}"#)
            .check()
            .expect_err("it is refused");
        assert!(err.to_string().contains("http or https"), "{err}");
        let err = parse(r#"{"name":"s","kafka":{"brokers":"b:1","topic":"a b"}}"#)
            .check()
            .expect_err("it is refused");
        assert!(err.to_string().contains("kafka.topic"), "{err}");
        let err = parse(r#"{"name":"S","kafka":{"brokers":"b:1","topic":"t"}}"#)
            .check()
            .expect_err("it is refused");
        assert!(err.to_string().contains("group name"), "{err}");
    }

    #[test]
    fn a_sink_runs_a_group_with_long_leases() {
        let config = parse(r#"{"name":"s","webhook":{"url":"http://x/"},"max_retries":2}"#);
        let group = config.group_config();
        assert_eq!(group.max_retries, 2);
        assert_eq!(group.ack_timeout_ms, SINK_ACK_TIMEOUT_MS);
        assert_eq!(config.group_name().expect("a string").as_str(), "sink.s");
    }
}
