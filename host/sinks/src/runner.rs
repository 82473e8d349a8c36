//! A sink's task: the one member of its group (`sink.{name}`), holding a stream of deliveries.
//! It takes what has arrived as a batch and publishes it in a round of its own (up to
//! [`ROUNDS`] at once), which acknowledges what the target took,
//! nacks (`retry`) what it refused, and waits out a target that is down, publishing the rest
//! again with a backoff and saying so in its status, without spending the events' retries.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use cairn_groups::{Delivery, Groups, NackAction};
use tokio::sync::watch;

use crate::config::{SinkConfig, Target};
use crate::kafka::KafkaPublisher;
use crate::outcome::Outcome;
use crate::webhook::WebhookPublisher;

/// The most deliveries one publish takes.
const BATCH: usize = 5_000;
/// A publish unanswered for this long shows the sink as waiting.
const SLOW_ROUND: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long a new Kafka producer waits for a broker to answer before the sink shows waiting.
const CONNECT_WITHIN: Duration = Duration::from_secs(5);
/// Batches published at once.
const ROUNDS: usize = 8;
/// The member id the host takes in a sink's group.
pub(crate) const MEMBER: &str = "cairn-sink";

/// Where a sink's task is, for its status.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct RunState {
    /// `starting`, `running` or `waiting` (the target is down or slow).
    pub state: &'static str,
    /// Since when it has been waiting, in ms since the Unix epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_since: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Events the target took.
    pub published: u64,
    /// Events the target refused (each retried by the group, then parked by its policy).
    pub refused: u64,
    #[serde(skip)]
    round_started: Option<Instant>,
}

impl RunState {
    /// The state as shown: a publish in flight too long is waiting too.
    pub(crate) fn shown(&self) -> RunState {
        let mut shown = self.clone();
        if shown.state == "running"
            && shown
                .round_started
                .is_some_and(|at| at.elapsed() >= SLOW_ROUND)
        {
            shown.state = "waiting";
            shown
                .last_error
                .get_or_insert_with(|| "the target has not answered".into());
        }
        shown
    }
}

enum Publisher {
    Kafka(KafkaPublisher),
    Webhook(WebhookPublisher),
}

impl Publisher {
    /// A publisher to the sink's target, made at once.
    fn new(config: &SinkConfig) -> Result<Self, String> {
        Ok(match config.target() {
            Target::Kafka(kafka) => Publisher::Kafka(KafkaPublisher::new(kafka)?),
            Target::Webhook(webhook) => Publisher::Webhook(WebhookPublisher::new(webhook)?),
        })
    }

    /// A publisher to the sink's target; for Kafka, once a broker has answered for the topic.
    async fn connected(config: &SinkConfig) -> Result<Self, String> {
        Ok(match config.target() {
            Target::Kafka(kafka) => {
                Publisher::Kafka(KafkaPublisher::connect(kafka, CONNECT_WITHIN).await?)
            }
            Target::Webhook(_) => Self::new(config)?,
        })
    }

    async fn publish(&self, batch: &[Delivery]) -> Vec<Outcome> {
        match self {
            Publisher::Kafka(kafka) => kafka.publish(batch).await,
            Publisher::Webhook(webhook) => webhook.publish(batch).await,
        }
    }

    fn fatal(&self) -> Option<String> {
        match self {
            Publisher::Kafka(kafka) => kafka.fatal(),
            Publisher::Webhook(_) => None,
        }
    }
}

#[derive(Clone)]
pub(crate) struct Runner {
    pub config: Arc<SinkConfig>,
    pub groups: Groups,
    pub state: Arc<Mutex<RunState>>,
}

/// The publisher the rounds share; replaced when it fails for good.
type SharedPublisher = Arc<Mutex<Arc<Publisher>>>;

fn now_ms() -> u64 {
    cairn_store::Timestamp::now().as_millis()
}

impl Runner {
    fn update(&self, change: impl FnOnce(&mut RunState)) {
        change(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner));
    }

    fn waiting(&self, error: String) {
        tracing::warn!(sink = %self.config.name, %error, "sink waiting for its target");
        self.update(|state| {
            state.state = "waiting";
            state.waiting_since.get_or_insert_with(now_ms);
            state.last_error = Some(error);
            state.round_started = None;
        });
    }

    /// Runs until `stop` is set. Up to [`ROUNDS`] batches are published at once: the group has
    /// one event of a key out at a time, so two rounds never hold the same key, and each key's
    /// order holds.
    pub(crate) async fn run(self, mut stop: watch::Receiver<bool>) {
        let group = self.config.group_name().expect("a checked sink");
        self.update(|state| state.state = "starting");
        while !*stop.borrow() {
            let publisher: SharedPublisher = match Publisher::connected(&self.config).await {
                Ok(publisher) => Arc::new(Mutex::new(Arc::new(publisher))),
                Err(error) => {
                    self.waiting(error);
                    if pause(Duration::from_secs(1), &mut stop).await {
                        return;
                    }
                    continue;
                }
            };
            let mut member = match self.groups.stream(group.as_str(), MEMBER).await {
                Ok(member) => member,
                Err(error) => {
                    self.waiting(format!("its group: {error}"));
                    if pause(Duration::from_secs(1), &mut stop).await {
                        return;
                    }
                    continue;
                }
            };
            self.update(|state| {
                if state.state == "starting" {
                    state.state = "running";
                }
            });
            let mut rounds = tokio::task::JoinSet::new();
            loop {
                while rounds.len() >= ROUNDS {
                    rounds.join_next().await;
                }
                let first = tokio::select! {
                    delivery = member.next() => delivery,
                    _ = stop.changed() => {
                        rounds.shutdown().await;
                        return;
                    }
                };
                // The group's task started again (after a failure): join it again.
                let Some(first) = first else { break };
                let mut batch = vec![first];
                while batch.len() < BATCH {
                    let Some(next) = member.try_next() else { break };
                    batch.push(next);
                }
                let round = self.clone();
                let (publisher, stop) = (Arc::clone(&publisher), stop.clone());
                rounds.spawn(async move { round.settle(publisher, batch, stop).await });
            }
            rounds.shutdown().await;
        }
    }

    /// Publishes `batch` until the target has taken or refused every event in it, or `stop`
    /// is set.
    async fn settle(
        &self,
        publisher: SharedPublisher,
        mut batch: Vec<Delivery>,
        mut stop: watch::Receiver<bool>,
    ) {
        let group = self.config.group_name().expect("a checked sink");
        let mut backoff = Duration::from_millis(100);
        loop {
            let current = Arc::clone(&publisher.lock().unwrap_or_else(PoisonError::into_inner));
            let round = Instant::now();
            self.update(|state| state.round_started = Some(round));
            let outcomes = current.publish(&batch).await;
            tracing::debug!(sink = %self.config.name, events = batch.len(), ms = round.elapsed().as_secs_f64() * 1e3, "published a batch");
            let mut delivered = Vec::new();
            let mut again = Vec::new();
            let mut last_error = None;
            for (delivery, outcome) in batch.into_iter().zip(outcomes) {
                match outcome {
                    Outcome::Delivered => delivered.push(delivery.id.to_string()),
                    Outcome::Refused(reason) => {
                        self.update(|state| state.refused += 1);
                        let nacked = self
                            .groups
                            .nack(
                                group.as_str(),
                                &[delivery.id.to_string()],
                                NackAction::Retry,
                                Some(reason),
                            )
                            .await;
                        if let Err(error) = nacked {
                            tracing::warn!(sink = %self.config.name, %error, "a refused event could not be nacked; its lease will run out");
                        }
                    }
                    Outcome::Unavailable(error) => {
                        last_error = Some(error);
                        again.push(delivery);
                    }
                }
            }
            if !delivered.is_empty() {
                self.acknowledge(group.as_str(), delivered).await;
            }
            let Some(error) = last_error else {
                self.update(|state| {
                    state.state = "running";
                    state.waiting_since = None;
                    state.round_started = None;
                });
                return;
            };
            self.waiting(error);
            if pause(backoff, &mut stop).await {
                return;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            if let Some(fatal) = current.fatal() {
                tracing::error!(sink = %self.config.name, %fatal, "the producer failed for good; making a new one");
                let mut shared = publisher.lock().unwrap_or_else(PoisonError::into_inner);
                // Another round may have replaced it already.
                if Arc::ptr_eq(&shared, &current) {
                    match Publisher::new(&self.config) {
                        Ok(fresh) => *shared = Arc::new(fresh),
                        Err(error) => self.waiting(error),
                    }
                }
            }
            batch = again;
        }
    }

    /// Acknowledges what the target took. The group applies it when it is sent, so the next
    /// event of each key goes out while it commits; the round waits for it to be durable
    /// before it ends, so a crash before the commit only publishes those events again.
    async fn acknowledge(&self, group: &str, delivered: Vec<String>) {
        let count = delivered.len() as u64;
        match self.groups.ack(group, &delivered).await {
            Ok(_) => {
                metrics::counter!("cairn_sink_published_total", "sink" => self.config.name.clone())
                    .increment(count);
                self.update(|state| state.published += count);
            }
            // Its leases went back (the group started again): delivered again, and published
            // again; the target sees a duplicate, never a gap.
            Err(error) => {
                tracing::warn!(sink = %self.config.name, %error, "published events could not be acknowledged")
            }
        }
    }
}

/// Sleeps for `wait`; returns whether `stop` was set meanwhile.
async fn pause(wait: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(wait) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}
