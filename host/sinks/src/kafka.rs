//! The Kafka publisher: each event becomes one message of the topic, keyed by its partition
//! key (so a key's events share a partition and keep their order), with the event as JSON (or
//! its data) as the value, and headers naming its id, type, stream, version and position.
//!
//! The producer is librdkafka's idempotent one (`enable.idempotence`, `acks=all`): its own
//! retries never duplicate or reorder a message. The group has one event of a key in flight
//! at a time, and the next is sent only after the broker has acknowledged it, so the order of
//! a key holds across the sink's retries too. Duplicates come only from the window between a
//! broker's acknowledgement and the group's commit of it, at a crash.

use std::time::Duration;

use cairn_groups::Delivery;
use futures_util::future::join_all;
use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};

use crate::config::{KafkaTarget, KafkaValue};
use crate::outcome::Outcome;

/// How long librdkafka tries to deliver a message before it reports it failed: never (0).
/// While the brokers are away the publish waits, and the sink shows `waiting` once it has
/// waited a few seconds; a message that timed out would instead make the idempotent producer
/// bump its epoch, which some brokers answer by fencing it.
const MESSAGE_TIMEOUT_MS: &str = "0";

pub(crate) struct KafkaPublisher {
    producer: FutureProducer,
    topic: String,
    value: KafkaValue,
    /// An error said this producer's idempotence state is gone: a new one is needed.
    spent: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for KafkaPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaPublisher")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

/// The producer's settings: cairn's, then the target's own over them.
fn client_config(target: &KafkaTarget) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &target.brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        // A key's next event waits for this one's acknowledgement, so the linger is in every
        // key's round trip; 5 ms fills the broker's batches from the many keys out at once
        // (measured: 43k events/s with 1 ms, 52k with 5 ms, on `cairn bench groups`).
        .set("linger.ms", "5")
        .set("message.timeout.ms", MESSAGE_TIMEOUT_MS)
        .set("queue.buffering.max.messages", "1000000")
        .set("client.id", "cairn-sink");
    for (key, value) in &target.producer {
        config.set(key, value);
    }
    config
}

impl KafkaPublisher {
    pub(crate) fn new(target: &KafkaTarget) -> Result<Self, String> {
        let producer: FutureProducer = client_config(target)
            .create()
            .map_err(|e| format!("the Kafka producer could not be made: {e}"))?;
        Ok(Self {
            producer,
            topic: target.topic.clone(),
            value: target.value,
            spent: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Asks the brokers for the topic's metadata: whether they can be reached at all.
    pub(crate) async fn reachable(target: &KafkaTarget, within: Duration) -> Result<(), String> {
        Self::connect(target, within).await.map(drop)
    }

    /// Makes the producer and waits until a broker has answered for the topic. The answer
    /// also has the idempotent producer ask for its id at once: left to itself, librdkafka
    /// first asks 500 ms after the producer is made (and again each 500 ms while no broker is
    /// up), and a sink's first events waited that long (measured: 0.9 s for the first batch).
    pub(crate) async fn connect(target: &KafkaTarget, within: Duration) -> Result<Self, String> {
        let publisher = Self::new(target)?;
        let producer = publisher.producer.clone();
        let (topic, brokers) = (target.topic.clone(), target.brokers.clone());
        tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_metadata(Some(&topic), within)
                .map(drop)
                .map_err(|e| {
                    format!("no Kafka broker answered at {brokers} within {within:?}: {e}")
                })
        })
        .await
        .map_err(|e| e.to_string())??;
        Ok(publisher)
    }

    /// Whether the producer hit an error it cannot go on from; a new one is then made.
    pub(crate) fn fatal(&self) -> Option<String> {
        if let Some((code, text)) = self.producer.client().fatal_error() {
            return Some(format!("{code:?}: {text}"));
        }
        self.spent
            .load(std::sync::atomic::Ordering::Relaxed)
            .then(|| "the broker no longer knows this producer's id or epoch".to_owned())
    }

    /// Sorts `error` into an outcome, and notes a producer whose idempotence state is gone.
    fn outcome(&self, error: &KafkaError) -> Outcome {
        let spent = matches!(
            error.rdkafka_error_code(),
            Some(
                RDKafkaErrorCode::ProducerFenced
                    | RDKafkaErrorCode::InvalidProducerEpoch
                    | RDKafkaErrorCode::UnknownProducerId
                    | RDKafkaErrorCode::OutOfOrderSequenceNumber
                    | RDKafkaErrorCode::InvalidProducerIdMapping
            )
        );
        if spent {
            self.spent.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        classify(error)
    }

    pub(crate) async fn publish(&self, batch: &[Delivery]) -> Vec<Outcome> {
        let mut pending = Vec::with_capacity(batch.len());
        for delivery in batch {
            let event = &delivery.event;
            let value = match self.value {
                KafkaValue::Event => serde_json::to_vec(&**event).unwrap_or_default(),
                KafkaValue::Data => event.data.as_str().as_bytes().to_vec(),
            };
            let id = event.id.to_string();
            let version = event.version.get().to_string();
            let position = event.position.get().to_string();
            let headers = OwnedHeaders::new_with_capacity(5)
                .insert(Header {
                    key: "cairn-event-id",
                    value: Some(&id),
                })
                .insert(Header {
                    key: "cairn-event-type",
                    value: Some(event.event_type.as_str()),
                })
                .insert(Header {
                    key: "cairn-stream",
                    value: Some(event.stream.as_str()),
                })
                .insert(Header {
                    key: "cairn-version",
                    value: Some(&version),
                })
                .insert(Header {
                    key: "cairn-position",
                    value: Some(&position),
                });
            let record = FutureRecord::to(&self.topic)
                .key(delivery.key.as_bytes())
                .payload(&value)
                .headers(headers);
            pending.push(self.producer.send_result(record).map_err(|(e, _)| e));
        }
        let mut outcomes = vec![Outcome::Delivered; batch.len()];
        let mut waiting = Vec::new();
        for (index, sent) in pending.into_iter().enumerate() {
            match sent {
                Ok(future) => waiting.push((index, future)),
                Err(error) => outcomes[index] = self.outcome(&error),
            }
        }
        let (indices, futures): (Vec<usize>, Vec<_>) = waiting.into_iter().unzip();
        for (index, result) in indices.into_iter().zip(join_all(futures).await) {
            outcomes[index] = match result {
                Ok(Ok(_)) => Outcome::Delivered,
                Ok(Err((error, _))) => self.outcome(&error),
                Err(_) => Outcome::Unavailable("the producer went away".into()),
            };
        }
        outcomes
    }
}

/// An error of the message itself refuses it; any other means the brokers are not able now.
fn classify(error: &KafkaError) -> Outcome {
    let refused = matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::InvalidMessage
                | RDKafkaErrorCode::InvalidRecord
                | RDKafkaErrorCode::MessageBatchTooLarge
                | RDKafkaErrorCode::InvalidTimestamp
        )
    );
    if refused {
        Outcome::Refused(error.to_string())
    } else {
        Outcome::Unavailable(error.to_string())
    }
}
